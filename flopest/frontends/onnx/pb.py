"""ONNX's protobuf classes without `import onnx`'s start-up cost.

`import onnx` runs its package `__init__`, which imports `onnx.helper` and through it
`ml_dtypes`' extension: 0.5–0.7 s on the development machine, more than flopest takes to read
a 650 MB export's graph. flopest's ONNX front end needs only the message classes
(ModelProto, AttributeProto, TensorProto, ...), which live in onnx's generated module
`onnx/onnx_ml_pb2.py` and depend on `google.protobuf` alone. That module is loaded here under
its own name (`onnx.onnx_ml_pb2`), so that a later `import onnx` in the same process reuses it
(one descriptor pool entry, the same classes: `onnx.ModelProto is pb.ModelProto`).

`full()` is the real `onnx` package, imported on first use by the paths that need its
library code (shape inference, operator schemas, function inlining, tensors of the dtypes
`ml_dtypes` defines).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading

_LOCK = threading.RLock()   # one load of each module per process, whichever thread asks first
_LOADED = ("onnx_ml_pb2", "onnx_cpp2py_export")


def full():
    """The `onnx` package (imported on first use)."""
    import onnx
    return onnx


def _load(name: str, filename_of):
    """The module `onnx.<name>` of onnx's package folder without the package `__init__`
    (`filename_of(folder)` lists the candidate files); the already imported one when onnx is
    imported; None when it cannot be loaded so."""
    full_name = f"onnx.{name}"
    with _LOCK:   # two threads must not load one extension twice (nanobind refuses the second)
        mod = sys.modules.get(full_name)
        if mod is not None:
            return mod
        if "onnx" in sys.modules:
            return importlib.import_module(full_name)
        try:
            spec = importlib.util.find_spec("onnx")
            for folder in list(spec.submodule_search_locations or []) if spec else []:
                for path in filename_of(folder):
                    sub = importlib.util.spec_from_file_location(full_name, path)
                    if sub is None or sub.loader is None:
                        continue
                    mod = importlib.util.module_from_spec(sub)
                    sub.loader.exec_module(mod)
                    sys.modules[full_name] = mod   # only once whole: no thread sees it half-built
                    _bind_on_import()
                    return mod
        except Exception:   # an onnx build laid out otherwise: import onnx
            return None
        return None


class _BindSubmodules(importlib.abc.MetaPathFinder):
    """When the `onnx` package is imported after pb loaded some of its modules, set them as its
    attributes once its `__init__` has run (`onnx.onnx_cpp2py_export.checker`, which code reaches
    through the package, as the import system does for the submodules it loads itself)."""

    def find_spec(self, name, path=None, target=None):
        if name != "onnx":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            loader = spec.loader
            run = getattr(loader, "exec_module", None)
            if run is not None:
                def exec_module(module, _run=run):
                    _run(module)
                    for sub in _LOADED:
                        loaded = sys.modules.get(f"onnx.{sub}")
                        if loaded is not None and not hasattr(module, sub):
                            setattr(module, sub, loaded)
                    _unbind()
                loader.exec_module = exec_module
            return spec
        return None


_FINDER = _BindSubmodules()


def _bind_on_import() -> None:
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def _unbind() -> None:
    try:
        sys.meta_path.remove(_FINDER)
    except ValueError:
        pass


def _extension_files(folder: str) -> list:
    import importlib.machinery
    import os
    return [os.path.join(folder, f"onnx_cpp2py_export{s}") for s in importlib.machinery.EXTENSION_SUFFIXES
            if os.path.isfile(os.path.join(folder, f"onnx_cpp2py_export{s}"))]


def infer_shapes(model, check_type: bool = False, strict_mode: bool = False, data_prop: bool = False):
    """`onnx.shape_inference.infer_shapes` of a ModelProto: onnx's C++ inference, called through
    its extension module (loaded without the package `__init__`)."""
    ext = _load("onnx_cpp2py_export", _extension_files)
    if ext is None:
        return full().shape_inference.infer_shapes(model, check_type=check_type, strict_mode=strict_mode,
                                                   data_prop=data_prop)
    out = ModelProto()
    out.ParseFromString(ext.shape_inference.infer_shapes(model.SerializeToString(), check_type, strict_mode,
                                                         data_prop))
    return out


_pb = _load("onnx_ml_pb2", lambda folder: [f"{folder}/onnx_ml_pb2.py"]) or full()

ModelProto = _pb.ModelProto
GraphProto = _pb.GraphProto
NodeProto = _pb.NodeProto
AttributeProto = _pb.AttributeProto
TensorProto = _pb.TensorProto
TypeProto = _pb.TypeProto
ValueInfoProto = _pb.ValueInfoProto
FunctionProto = _pb.FunctionProto


# ----------------------------------------------------------------------------- values
def attribute_value(a):
    """The value of an AttributeProto, as `onnx.helper.get_attribute_value` gives it."""
    if a.ref_attr_name:
        raise ValueError(f"cannot get the value of reference attribute {a.name!r}")
    t = a.type
    A = AttributeProto
    one = {A.FLOAT: "f", A.INT: "i", A.STRING: "s", A.TENSOR: "t", A.SPARSE_TENSOR: "sparse_tensor",
           A.GRAPH: "g", A.TYPE_PROTO: "tp"}
    many = {A.FLOATS: "floats", A.INTS: "ints", A.STRINGS: "strings", A.TENSORS: "tensors",
            A.SPARSE_TENSORS: "sparse_tensors", A.GRAPHS: "graphs", A.TYPE_PROTOS: "type_protos"}
    if t in one:
        return getattr(a, one[t])
    if t in many:
        return list(getattr(a, many[t]))
    if t == A.UNDEFINED:
        return None
    raise ValueError(f"unsupported ONNX attribute type {t} ({a.name!r})")


# element types numpy holds natively: (numpy dtype, the TensorProto field of typed values, the
# integer type of that field's entries) - onnx/_mapping.py's TENSOR_TYPE_MAP for these types
_NATIVE = {1: ("float32", "float_data", None), 2: ("uint8", "int32_data", None),
           3: ("int8", "int32_data", None), 4: ("uint16", "int32_data", "bits16"),
           5: ("int16", "int32_data", "bits16"), 6: ("int32", "int32_data", None),
           7: ("int64", "int64_data", None), 9: ("bool", "int32_data", "bits8"),
           10: ("float16", "int32_data", "bits16"), 11: ("float64", "double_data", None),
           12: ("uint32", "uint64_data", None), 13: ("uint64", "uint64_data", None)}
# bytes per element of every ONNX element type (onnx.helper.tensor_dtype_to_np_dtype's itemsize;
# the 4-bit and 2-bit types are held one per byte there too; strings as numpy object pointers)
ELEMENT_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 8: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8,
                 14: 8, 15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1, 21: 1, 22: 1, 23: 1, 24: 1,
                 25: 1, 26: 1, 27: 1, 28: 1}


def to_array(t):
    """The values of a TensorProto as a NumPy array, as `onnx.numpy_helper.to_array` gives them:
    read here for the element types NumPy holds natively (little-endian, data in the model);
    every other case (bfloat16, float8 and the sub-byte types, strings, external data,
    segments) through onnx itself."""
    import numpy as np
    spec = _NATIVE.get(t.data_type)
    if (spec is None or sys.byteorder != "little" or t.HasField("segment")
            or t.data_location == TensorProto.EXTERNAL or len(t.external_data)):
        from onnx import numpy_helper
        return numpy_helper.to_array(t)
    dtype, field, stored = spec
    dims = tuple(t.dims)
    if t.HasField("raw_data"):
        return np.frombuffer(t.raw_data, dtype=dtype).reshape(dims)
    values = getattr(t, field)
    if stored == "bits16":     # 16-bit bit patterns in int32 slots
        return np.array(values, dtype=np.int32).view(np.uint32).astype(np.uint16).reshape(dims).view(dtype)
    if stored == "bits8":
        return np.array(values, dtype=np.int32).view(np.uint32).astype(np.uint8).view(dtype).reshape(dims)
    storage = {"float_data": np.float32, "int32_data": np.int32, "int64_data": np.int64,
               "double_data": np.float64, "uint64_data": np.uint64}[field]
    return np.asarray(values, dtype=storage).astype(dtype).reshape(dims)


def element_bytes(dt: int) -> int:
    """Bytes per element of the ONNX element type `dt` (4 for an unknown one)."""
    return ELEMENT_BYTES.get(int(dt), 4)
