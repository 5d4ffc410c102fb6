"""flopest: what training and serving a model will cost, read off its graph before it runs.

>>> import flopest
>>> c = flopest.count("model.onnx", dims={"batch": 8, "sequence": 512})
>>> c.flops, c.matmul_flops, c.bytes, c.unknown_ops

Importing flopest imports neither torch nor numba (the kernel compiles on first use).
"""

__version__ = "0.1.0"

from .errors import (FlopestError, InputError, ModelReadError, UnboundDimError,  # noqa: E402
                     UnknownOperatorError)


def count(model, dims=None, strict: bool = False, causal: bool = False):
    """FLOPs, bytes and params of `model` (an .onnx path, an onnx.ModelProto, or "zoo:NAME").

    dims: values of the model's symbolic dims ({"batch": 8, "sequence": 512}).
    strict: raise UnknownOperatorError when any operator is not costed.
    causal: count attention operators flagged causal over the unmasked pairs only.
    Returns a :class:`flopest.counts.Counts`; ``.at(**dims)`` re-binds without re-reading.
    """
    from .counts import count_onnx
    from .zoo import is_zoo, resolve
    if is_zoo(model):   # "zoo:gpt2": the zoo model's ONNX export, its example dims as defaults
        model, defaults = resolve(model)
        from .counts import parse_dims
        dims = {**defaults, **parse_dims(dims)}
    return count_onnx(model, dims=dims, strict=strict, causal=causal)


__all__ = ["count", "FlopestError", "InputError", "ModelReadError", "UnboundDimError",
           "UnknownOperatorError", "__version__"]
