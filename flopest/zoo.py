"""`zoo:NAME` model specs: a model of the repository's `model_zoo/` exported to ONNX (once, into
the cache: $FLOPEST_CACHE or ~/.cache/flopest/onnx) and counted with the dims of its example
inputs as defaults. Needs the `torch` extra (the export runs the model's PyTorch code)."""

from __future__ import annotations

import sys

from .errors import InputError, did_you_mean

PREFIX = "zoo:"


def is_zoo(spec) -> bool:
    return isinstance(spec, str) and spec.startswith(PREFIX)


def _zoo():
    try:
        import model_zoo
    except ImportError as exc:
        raise InputError(f"zoo models need the torch extra and the model_zoo package "
                         f"({exc.name or exc}); install with: pip install 'flopest[torch]'") from None
    return model_zoo


def names() -> list:
    return list(_zoo().MODELS)


def resolve(spec: str, size: str = "full", exporter: str = "torchscript", quiet: bool = False):
    """(path to the cached ONNX export, default dims from the example inputs)."""
    name = spec[len(PREFIX):]
    zoo = _zoo()
    if name not in zoo.MODELS:
        raise InputError(f"unknown zoo model {name!r}{did_you_mean(name, zoo.MODELS)} "
                         f"(zoo models: {', '.join(zoo.MODELS)})")
    from model_zoo.export import export, output_path
    module, example, input_names, dynamic_axes = zoo.get(name, size=size)
    dims = {}
    for i, n in enumerate(input_names):
        for axis, dim in (dynamic_axes.get(n) or {}).items():
            dims.setdefault(dim, int(example[i].shape[int(axis)]))
    path = output_path(name, exporter=exporter, size=size)
    if not path.exists() and not quiet:
        print(f"flopest: exporting zoo model {name!r} to ONNX once ({path})…", file=sys.stderr, flush=True)
    return str(export(name, exporter=exporter, size=size)), dims
