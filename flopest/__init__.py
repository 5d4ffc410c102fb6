"""flopest: what training and serving a model will cost, read off its graph before it runs.

>>> import flopest
>>> c = flopest.count("model.onnx", dims={"batch": 8, "sequence": 512})
>>> c.flops, c.matmul_flops, c.bytes, c.unknown_ops

Importing flopest imports neither torch nor numba (the kernel compiles on first use).
"""

__version__ = "0.1.0"

from .errors import (FlopestError, InputError, ModelReadError, UnboundDimError,  # noqa: E402
                     UnknownOperatorError)


def count(model, *args, dims=None, strict: bool = False, causal: bool = False,
          training: bool = False, loss_fn=None, optimizer: str | None = None,
          checkpointing: bool = False, materialize: bool = False, **kwargs):
    """FLOPs, bytes and params of `model`.

    model: an .onnx path, an onnx.ModelProto, "zoo:NAME", or a torch.nn.Module followed by its
    example inputs (tensors, ``flopest.spec(shape, dtype)``, dicts, keyword arguments as
    Hugging Face models take them), captured on meta tensors: no weight allocated.
    dims: values of an ONNX model's symbolic dims ({"batch": 8, "sequence": 512}).
    strict: raise UnknownOperatorError when any operator is not costed.
    causal: count attention operators flagged causal over the unmasked pairs only.
    training (PyTorch): forward + backward through autograd (loss = loss_fn(output), default the
    sum of the outputs); optimizer "sgd" | "sgd-momentum" | "adam" | "adamw" adds its step;
    checkpointing adds the recomputed forward. materialize: run models whose control flow
    depends on data on real CPU tensors (small models only).
    Returns a :class:`flopest.counts.Counts`; for ONNX, ``.at(**dims)`` re-binds without re-reading.
    """
    if _is_torch_module(model):
        from .counts import count_torch
        return count_torch(model, args, kwargs, strict=strict, causal=causal, training=training,
                           loss_fn=loss_fn, optimizer=optimizer, checkpointing=checkpointing,
                           materialize=materialize)
    if args or kwargs:
        raise InputError("example inputs are for PyTorch modules; an ONNX model takes dims={...}")
    from .counts import count_onnx
    from .zoo import is_zoo, resolve
    if is_zoo(model):   # "zoo:gpt2": the zoo model's ONNX export, its example dims as defaults
        model, defaults = resolve(model)
        from .counts import parse_dims
        dims = {**defaults, **parse_dims(dims)}
    return count_onnx(model, dims=dims, strict=strict, causal=causal)


def _is_torch_module(obj) -> bool:
    import sys
    torch = sys.modules.get("torch")   # a Module can only exist if torch was imported
    return torch is not None and isinstance(obj, torch.nn.Module)


def estimate(counts_or_workload=None, **kw):
    """Time, energy, CO₂eq by scope and water with p5/p50/p95 (see flopest.impact.estimate):
    ``flopest.estimate(counts, dataset_size=1.2e6, epochs=3, device="h100-sxm", region="FR")``,
    ``flopest.estimate(params=7e9, tokens=2e12, device=..., n_devices=..., region=...)`` or
    ``flopest.estimate(accelerator_hours=1.08e6, device=..., region=...)``."""
    from .impact import estimate as _estimate
    return _estimate(counts_or_workload, **kw)


def spec(shape, dtype=None):
    """An example input by shape for PyTorch capture: ``flopest.spec((8, 3, 224, 224))``,
    ``flopest.spec((1, 128), "int64")``."""
    from .frontends.torch import spec as _spec
    return _spec(shape, dtype)


__all__ = ["count", "estimate", "spec", "FlopestError", "InputError", "ModelReadError", "UnboundDimError",
           "UnknownOperatorError", "__version__"]
