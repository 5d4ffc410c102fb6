"""Keras 3 models, counted through the PyTorch front end on Keras's torch backend.

On ``KERAS_BACKEND=torch`` a ``keras.Model`` (and every ``keras.Layer``) is a
``torch.nn.Module``, and its forward is torch operators: the capture records them like any
module's. Three things differ from a plain module, and are handled here:

- **the device**: Keras moves every tensor to *its* device (``keras.device``, default CPU),
  so a meta input would be materialised on the CPU. Models are built inside
  ``keras.device("meta")`` (no weight allocated or initialised) and captured with Keras's device
  set to meta in a form that runs the model's own operators (``_MetaDevice``; Keras's random
  generators, which cannot live on meta, are bypassed): no input is made real;
- **the weights**: Keras layers read their ``Variable``s, not the module's parameters, so
  ``torch.func.functional_call`` alone would not swap them. A ``keras.StatelessScope`` maps
  each variable to the capture's meta tensor of it (gradients flow to those; updates such as
  batch-norm statistics stay in the scope and never reach the model);
- **training**: Keras takes ``training`` as a call argument, not from ``Module.train()``.

``.keras`` files are read without their weights: the archive's ``config.json`` is
deserialised (``safe_mode``: no lambda is run) on the meta device; ``model.weights.h5`` is
never opened. Keras must be imported on the torch backend: flopest sets ``KERAS_BACKEND``
before the first import, and says so when Keras was already imported on another backend.
"""

from __future__ import annotations

import contextlib
import json
import re
import zipfile

import torch

from ...errors import InputError, ModelReadError, ModelRunError
from ...validate import regular_file
from ..keras_backend import BACKEND, backend_of, is_keras, on_meta, other_backend_message, prepare_backend
from .inputs import TensorSpec

__all__ = ["import_keras", "is_keras", "on_meta", "load", "read_config", "example_inputs", "build",
           "param_counts", "capture_scope", "reason_of", "other_backend_message", "prepare_backend"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")   # Keras prints the reason in bold
CONFIG_MEMBER = "config.json"
CONFIG_LIMIT_BYTES = 64 * 2**20   # a model's config.json; the weights are another member
KERAS_DTYPES = ("float32", "float16", "bfloat16", "float64", "int32", "int64", "int8", "uint8", "bool")


def import_keras():
    """(keras, note): Keras 3 on the torch backend, imported now if it was not; InputError naming
    the fix when Keras is missing, is Keras 2, or was imported on another backend."""
    note = prepare_backend()
    try:
        import keras
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "keras":
            raise
        raise InputError("Keras models need the keras extra (keras is not installed): "
                         "pip install 'flopest[keras]'") from None
    backend = backend_of(keras)
    major = str(getattr(keras, "__version__", "3")).split(".")[0]
    if major.isdigit() and int(major) < 3:
        raise InputError(f"keras {keras.__version__} is Keras 2 (tf.keras): flopest counts Keras 3 models on the "
                         f"torch backend; export a Keras 2 model with tf2onnx and count the .onnx file")
    if backend != BACKEND:
        raise InputError(other_backend_message(backend))
    return keras, note


# ----------------------------------------------------------------------------- building
def _regular_file(path: str) -> None:
    regular_file(path, "model file", "the .keras file (model.save('model.keras'))", ModelReadError)


def read_config(path: str) -> dict:
    """The model config of a ``.keras`` archive (its ``config.json``); the weights are not read."""
    _regular_file(path)
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                info = zf.getinfo(CONFIG_MEMBER)
            except KeyError:
                raise ModelReadError(f"{path!r} is a zip archive without {CONFIG_MEMBER}: not a Keras 3 "
                                     f".keras file (save it with model.save('model.keras'))") from None
            if info.file_size > CONFIG_LIMIT_BYTES:
                raise ModelReadError(f"{path!r}: {CONFIG_MEMBER} declares {info.file_size:,} bytes (limit "
                                     f"{CONFIG_LIMIT_BYTES:,}); not a model config")
            with zf.open(info) as f:
                text = f.read(CONFIG_LIMIT_BYTES + 1)
    except zipfile.BadZipFile:
        raise ModelReadError(f"{path!r} is not a Keras 3 .keras file (not a zip archive); a Keras 2 .h5 or "
                             f"SavedModel can be exported with tf2onnx and counted as .onnx") from None
    except OSError as exc:
        raise ModelReadError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    if len(text) > CONFIG_LIMIT_BYTES:
        raise ModelReadError(f"{path!r}: {CONFIG_MEMBER} is over {CONFIG_LIMIT_BYTES:,} bytes; not a model config")
    try:
        config = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelReadError(f"{path!r}: {CONFIG_MEMBER} is not JSON ({exc})") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelReadError(f"{path!r}: {CONFIG_MEMBER} holds no Keras object (no class_name)")
    return config


def load(path: str, meta: bool = True) -> tuple:
    """(model, notes) of a ``.keras`` file, built from its config on the meta device (`meta`
    False: on Keras's device, with initialised weights; the archive's weights are never read)."""
    config = read_config(path)
    keras, note = import_keras()
    config = dict(config)
    config["compile_config"] = None   # the optimizer and losses are not part of the count
    try:
        from keras.src.saving.object_registration import ObjectSharingScope
    except ImportError:   # a future layout: sharing of objects between layers is then not restored
        ObjectSharingScope = contextlib.nullcontext
    try:
        with (on_meta() if meta else contextlib.nullcontext()), ObjectSharingScope():
            model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except InputError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        hint = (" (a custom layer: import the module that registers it with "
                "@keras.saving.register_keras_serializable, or count a package.module:factory that builds "
                "the model)" if "Unknown" in first or "custom" in first.lower() else "")
        raise ModelReadError(f"cannot rebuild the Keras model of {path!r} from its config "
                             f"({type(exc).__name__}: {first}){hint}") from None
    if not isinstance(model, keras.Model):
        raise ModelReadError(f"{path!r} holds a {type(model).__name__}, not a keras.Model")
    notes = [f"{path}: {type(model).__name__} {model.name!r} rebuilt from its config" +
             (" on the meta device" if meta else "") + " (the weights in the archive were not read)"]
    return model, notes + ([note] if note else [])


# ----------------------------------------------------------------------------- inputs
def example_inputs(model, batch: int | None = None) -> tuple:
    """(args, reason): example inputs from a built model's declared inputs (``model.inputs``),
    with `batch` (default 1) for an unknown leading dim. InputError when the model declares no
    inputs or a dim other than the batch is unknown."""
    try:
        declared = list(model.inputs)
    except (AttributeError, ValueError):
        declared = []
    if not declared:
        raise InputError(f"the Keras model {getattr(model, 'name', '')!r} declares no inputs (a subclassed or "
                         f"unbuilt model): give its example inputs with --input SHAPE (API: "
                         f"flopest.count(model, flopest.spec(SHAPE)))")
    specs = []
    for x in declared:
        shape = tuple(x.shape)
        if len(shape) >= 1 and shape[0] is None:
            shape = (batch or 1,) + shape[1:]
        elif batch is not None and len(shape) >= 1 and shape[0] != batch:
            raise InputError(f"the Keras model's input {x.name!r} has a fixed batch of {shape[0]}; "
                             f"--batch-size {batch} cannot re-batch it (give --input)")
        if any(d is None for d in shape):
            raise InputError(f"the Keras model's input {x.name!r} has shape {tuple(x.shape)} with an unknown dim "
                             f"besides the batch: give the inputs with --input SHAPE (e.g. the sequence length)")
        dtype = str(getattr(x, "dtype", "float32"))
        if dtype not in KERAS_DTYPES:
            raise InputError(f"the Keras model's input {x.name!r} has dtype {x.dtype!r}, which flopest does "
                             f"not know: give the inputs with --input and --input-dtype")
        specs.append(TensorSpec(tuple(int(d) for d in shape), dtype))
    # a functional model takes one positional argument: its input, or the list of its inputs
    return (specs[0],) if len(specs) == 1 else (specs,)


# ----------------------------------------------------------------------------- capturing
def _layers(model, prefix: str, out: dict, depth: int = 0) -> None:
    """{layer: dotted path of Keras layer names} of `model`'s sublayers (nested models and blocks)."""
    if depth > 64:
        return
    for layer in getattr(model, "_layers", None) or []:
        if isinstance(layer, torch.nn.Module) and layer not in out:
            path = f"{prefix}.{layer.name}" if prefix else str(layer.name)
            out[layer] = path
            _layers(layer, path, out, depth + 1)


def build(model, args, kwargs, default_dtype) -> None:
    """Make the weights of a Keras model that has none yet (a subclassed model, a Sequential
    without ``keras.Input``: Keras builds them at the first call) with one call on meta inputs,
    on the meta device, before the capture counts its parameters."""
    if getattr(model, "built", True):
        return
    from .inputs import to_meta_inputs
    try:
        with on_meta():
            model(*to_meta_inputs(tuple(args), default_dtype), **to_meta_inputs(dict(kwargs), default_dtype))
    except (InputError, ModelRunError):
        raise
    except Exception as exc:   # the user's model raised while it built its weights
        raise ModelRunError(f"building the Keras model {getattr(model, 'name', '')!r} on its example inputs "
                            f"raised {type(exc).__name__}: {reason_of(exc)}") from None


def reason_of(exc) -> str:
    """The first line of an exception's message that says something: Keras wraps what a layer
    raised as "Exception encountered when calling X.call().", then the reason."""
    lines = [ln.strip() for ln in _ANSI.sub("", str(exc)).splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].startswith("Exception encountered when calling"):
        return f"{lines[1][:300]} (in {lines[0].rpartition('calling ')[2].rstrip('.')})"
    return lines[0][:300] if lines else type(exc).__name__


def param_counts(model) -> tuple:
    """(weights, trainable weights) elements, as Keras counts them (``model.weights``): random
    seed states, which Keras keeps as variables too, are not weights."""
    total = sum(int(torch.Size(v.shape).numel()) for v in model.weights)
    trainable = sum(int(torch.Size(v.shape).numel()) for v in model.trainable_weights)
    return total, trainable


@contextlib.contextmanager
def capture_scope(model, state: dict, mode: str, training: bool, kwargs: dict, attribution):
    """While capturing a Keras `model`: Keras's device is meta (or the CPU for a real run), its
    variables read the capture's tensors of them (`state`, by parameter name), the call gets
    ``training``, and module paths are Keras layer names. `kwargs` is the capture's own copy of
    the keyword inputs (``training`` is added to it)."""
    keras, _ = import_keras()
    # Keras internals (keras.src): the device is set as an object, not through keras.device (which
    # lowercases a name into a plain string), and the random generators are bypassed on meta
    by_tensor = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        by_tensor.setdefault(id(p), name)
    paths = {}
    _layers(model, "", paths)
    mapping, params = [], {}
    for v in model.variables:
        name = by_tensor.get(id(getattr(v, "_value", None)))
        if name is None or name not in state:
            continue
        t = state[name]
        mapping.append((v, t))
        params[id(t)] = str(v.path).rpartition("/")[0].replace("/", ".")   # conv2d/kernel -> conv2d
    attribution.name_modules(paths, params)
    if training:
        kwargs.setdefault("training", True)
    from keras.src.backend.common import global_state
    from keras.src.backend.torch import image as kimage, random as krandom
    prev = global_state.get_global_attribute("torch_device", None)
    seeds = krandom.torch_seed_generator, getattr(kimage, "_torch_seed_generator", None)
    global_state.set_global_attribute("torch_device", "cpu" if mode == "real" else _MetaDevice("meta"))
    if mode != "real":   # a torch.Generator cannot live on meta, and a seed's value cannot be read
        krandom.torch_seed_generator = _no_generator
        if seeds[1] is not None:
            kimage._torch_seed_generator = _no_generator
    scope = keras.StatelessScope()
    for v, t in mapping:   # as given: Keras's conversion would copy them (and cut their gradient)
        scope.state_mapping[id(v)] = t
    try:
        with scope:
            yield
    finally:
        global_state.set_global_attribute("torch_device", prev)
        krandom.torch_seed_generator = seeds[0]
        if seeds[1] is not None:
            kimage._torch_seed_generator = seeds[1]


def _no_generator(seed):
    return None


class _MetaDevice(str):
    """Keras's device during a capture: the name "meta", equal to ``torch.device("meta")`` and to
    nothing else.

    Keras's torch backend moves a tensor when ``x.device != get_device()``; a torch device never
    equals a plain string, so on the device "meta" every meta tensor would be replaced by a fresh
    ``empty_like`` (a new leaf: the autograd graph cut at each layer). And where
    ``get_device() == "meta"`` Keras takes its shape-inference shortcuts (pooling run on an
    uninitialised CPU tensor of the input's size, outputs made without their operators): with
    this name it runs the model's real operators, on meta tensors."""

    def __eq__(self, other):
        return isinstance(other, torch.device) and other.type == "meta"

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__
