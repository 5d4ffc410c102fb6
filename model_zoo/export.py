"""Export zoo models to ONNX (cached on disk).

    python -m model_zoo.export gpt2 --exporter dynamo --size tiny
    python -m model_zoo.export --all --exporter both --size both

Files are written to ``<out_dir>/<name>-<size>-<exporter>.onnx``; ``out_dir`` defaults to
``$FLOPEST_CACHE`` or ``~/.cache/flopest/onnx``.  An existing file is reused (``force=True``
re-exports).  Files are written to a temporary name in the same folder and renamed, so a
crashed/concurrent export never leaves a truncated ``.onnx`` behind.  Weights are always
embedded in the single file (every zoo model is far below the 2 GB protobuf limit).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pathlib
import sys
import tempfile
import time
import warnings

import torch

from model_zoo import MODELS, SIZES, get

__all__ = ["EXPORTERS", "default_out_dir", "export", "onnx_op_types", "output_path"]

EXPORTERS = ("torchscript", "dynamo")
DEFAULT_OPSET = {"torchscript": 17, "dynamo": 18}
_MAX_EMBEDDED_BYTES = 2 * 1024**3 - 64 * 1024**2  # stay clear of protobuf's 2 GiB limit

log = logging.getLogger("model_zoo.export")

_NOISY_LOGGERS = (
    "torch.onnx", "torch._dynamo", "torch._export", "torch.export", "torch.fx",
    "torch._subclasses", "torch.fx.experimental.symbolic_shapes", "onnxscript", "onnx_ir", "transformers",
)


def default_out_dir() -> pathlib.Path:
    env = os.environ.get("FLOPEST_CACHE")
    return pathlib.Path(env) if env else pathlib.Path.home() / ".cache" / "flopest" / "onnx"


def output_path(name: str, exporter: str = "torchscript", size: str = "full", out_dir=None) -> pathlib.Path:
    out = pathlib.Path(out_dir) if out_dir is not None else default_out_dir()
    return out / f"{name}-{size}-{exporter}.onnx"


@contextlib.contextmanager
def _quiet():
    """Silence exporter warnings / progress logging; errors still propagate."""
    saved = {}
    for n in _NOISY_LOGGERS:
        lg = logging.getLogger(n)
        saved[n] = lg.level
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarning, UserWarning, DeprecationWarning, FutureWarning, ...
            yield
    finally:
        for n, lvl in saved.items():
            logging.getLogger(n).setLevel(lvl)


def _export_torchscript(module, args, input_names, output_names, dynamic_axes, path, opset, rebuild=None):
    torch.onnx.export(
        module, args, str(path),
        dynamo=False,
        input_names=input_names,
        output_names=output_names,
        dynamic_axes=dynamic_axes,
        opset_version=opset,
        do_constant_folding=True,
        verbose=False,
    )
    return True


def _dynamic_shapes(input_names, dynamic_axes):
    """torchscript-style ``dynamic_axes`` -> positional ``dynamic_shapes`` for torch.export."""
    from torch.export import Dim

    dims: dict[str, Dim] = {}
    shapes = []
    for n in input_names:
        axes = dynamic_axes.get(n, {})
        if not isinstance(axes, dict):
            axes = {a: f"{n}_dim{a}" for a in axes}
        shapes.append({a: dims.setdefault(d, Dim(d)) for a, d in axes.items()} or None)
    return tuple(shapes)


def _specialized(program, input_names, dynamic_axes) -> list[str]:
    """Requested dynamic input dims that came out as fixed integers in the ONNX graph."""
    lost = []
    for value, name in zip(program.model.graph.inputs, input_names):
        axes = dynamic_axes.get(name, {})
        shape = value.shape
        if shape is None:
            continue
        for axis, dim_name in (axes.items() if isinstance(axes, dict) else ((a, a) for a in axes)):
            if axis < len(shape) and isinstance(shape[axis], int):
                lost.append(f"{name}[{axis}] ({dim_name}) = {shape[axis]}")
    return lost


def _grow_unit_dims(args, input_names, dynamic_axes):
    """Copy of ``args`` where every requested-dynamic axis of size 1 is doubled (or None if none)."""
    out, changed = [], False
    for t, name in zip(args, input_names):
        axes = dynamic_axes.get(name, {})
        for axis in axes:
            if isinstance(t, torch.Tensor) and t.shape[axis] == 1:
                t = torch.cat([t, t], dim=axis)
                changed = True
        out.append(t)
    return tuple(out) if changed else None


def _reset_rnn_dispatch_cache() -> None:
    """Work around stale dispatch caches for aten.lstm / aten.gru (torch 2.13).

    torch.onnx wraps dynamic-shape captures in ``torch.export._patches.register_*_while_loop_decomposition``,
    which swaps ``OpOverload.py_kernels`` entries without clearing ``OpOverload._dispatch_cache``.  After
    the first export in a process the stale cache makes later LSTM exports ignore the while-loop
    decomposition and pin the sequence length.  Clearing the cache before each export avoids that.
    """
    for packet, overload in (("lstm", "input"), ("lstm", "data"), ("gru", "input"), ("gru", "data")):
        try:
            getattr(getattr(torch.ops.aten, packet), overload)._dispatch_cache.clear()
        except AttributeError:  # private API; nothing to do if it moved
            pass


def _onnx_dynamo(module, args, **kwargs):
    _reset_rnn_dispatch_cache()
    return torch.onnx.export(module, args, **kwargs)


def _export_dynamo(module, args, input_names, output_names, dynamic_axes, path, opset, rebuild=None):
    """Returns True if the graph kept dynamic axes, False if it fell back to static shapes.

    ``rebuild()`` returns a fresh copy of the module: an export attempt can leave state behind
    (e.g. nn.LSTM's ``_flat_weights`` get reassigned), so retries never reuse the module.
    """
    rebuild = rebuild or (lambda: module)
    common = dict(
        dynamo=True, input_names=input_names, output_names=output_names, opset_version=opset,
        external_data=False, optimize=True, verbose=False, report=False,
    )
    if not dynamic_axes:
        program = _onnx_dynamo(module, args, **common)
        program.save(str(path), external_data=False)
        return False

    shapes = _dynamic_shapes(input_names, dynamic_axes)
    errors = []
    program = None
    try:
        program = _onnx_dynamo(module, args, dynamic_shapes=shapes, **common)
    except Exception as exc:  # noqa: BLE001 - retried below, re-raised if all attempts fail
        errors.append(f"[dynamic] {type(exc).__name__}: {exc}")
        log.warning("dynamo export (dynamic shapes) failed: %s", str(exc).splitlines()[0] if str(exc) else exc)

    # torch.onnx silently specialises dims that torch.export pins (e.g. nn.LSTM pins a batch of 1
    # through its while-loop decomposition).  Retrying with size-1 dynamic axes doubled usually
    # keeps them symbolic; the ONNX graph does not depend on the example values.
    lost = _specialized(program, input_names, dynamic_axes) if program is not None else None
    if program is None or lost:
        grown = _grow_unit_dims(args, input_names, dynamic_axes)
        if grown is not None:
            try:
                retry = _onnx_dynamo(rebuild(), grown, dynamic_shapes=_dynamic_shapes(input_names, dynamic_axes), **common)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"[dynamic, size-1 axes doubled] {type(exc).__name__}: {exc}")
            else:
                retry_lost = _specialized(retry, input_names, dynamic_axes)
                if program is None or len(retry_lost) < len(lost):
                    program, lost = retry, retry_lost
    if program is not None:
        if lost:
            log.warning("dynamo export specialised requested dynamic dims: %s", ", ".join(lost))
        program.save(str(path), external_data=False)
        return True

    try:
        program = _onnx_dynamo(rebuild(), args, **common)
    except Exception as exc:  # noqa: BLE001
        errors.append(f"[static] {type(exc).__name__}: {exc}")
        raise RuntimeError("dynamo export failed:\n" + "\n\n".join(errors)) from exc
    log.warning("dynamo export fell back to static shapes")
    program.save(str(path), external_data=False)
    return False


def export(
    name: str,
    exporter: str = "torchscript",
    size: str = "full",
    out_dir=None,
    opset: int | None = None,
    force: bool = False,
) -> pathlib.Path:
    """Export zoo model ``name`` and return the path of ``<out_dir>/<name>-<size>-<exporter>.onnx``."""
    if name not in MODELS:
        raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(MODELS)}")
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    opset = DEFAULT_OPSET[exporter] if opset is None else int(opset)

    path = output_path(name, exporter, size, out_dir)
    if path.exists() and not force:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)

    entry = MODELS[name]
    module, args, input_names, dynamic_axes = get(name, size)
    nbytes = sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])
    if nbytes > _MAX_EMBEDDED_BYTES:
        raise ValueError(f"{name}-{size}: {nbytes / 2**30:.2f} GiB of weights cannot be embedded in one file")

    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".onnx.tmp", dir=path.parent)
    os.close(fd)
    tmp = pathlib.Path(tmp_name)
    fn = _export_torchscript if exporter == "torchscript" else _export_dynamo
    t0 = time.perf_counter()
    try:
        with _quiet(), torch.no_grad():
            dynamic = fn(
                module, args, input_names, list(entry.output_names), dynamic_axes, tmp, opset,
                rebuild=lambda: get(name, size)[0],
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        # an exporter that decided to spill weights anyway would leave side files behind
        for side in tmp.parent.glob(tmp.name + "*.data"):
            side.unlink(missing_ok=True)
    log.info(
        "exported %s (%s, opset %d%s) in %.1fs, %.1f MB", path, exporter, opset,
        "" if dynamic else ", static shapes", time.perf_counter() - t0, path.stat().st_size / 1e6,
    )
    return path


def onnx_op_types(path_or_model) -> set[str]:
    """Op types used in an ONNX model, recursing into subgraphs and local functions.

    Default-domain ops are plain ``op_type``; others are ``domain:op_type``.
    """
    import onnx

    model = path_or_model
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(path_or_model), load_external_data=False)
    ops: set[str] = set()

    def walk(graph_nodes):
        for node in graph_nodes:
            ops.add(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}:{node.op_type}")
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    walk(attr.g.node)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    for g in attr.graphs:
                        walk(g.node)

    walk(model.graph.node)
    for fn in model.functions:
        walk(fn.node)
    return ops


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m model_zoo.export", description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", metavar="NAME", help=f"zoo models: {', '.join(MODELS)}")
    p.add_argument("--all", action="store_true", help="export every zoo model")
    p.add_argument("--exporter", choices=[*EXPORTERS, "both"], default="torchscript")
    p.add_argument("--size", choices=[*SIZES, "both"], default="full")
    p.add_argument("--out-dir", default=None, help="default: $FLOPEST_CACHE or ~/.cache/flopest/onnx")
    p.add_argument("--opset", type=int, default=None, help="default: 17 (torchscript) / 18 (dynamo)")
    p.add_argument("--force", action="store_true", help="re-export even if the file exists")
    p.add_argument("--ops", action="store_true", help="also print the op types of each file")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO if a.verbose else logging.WARNING)
    log.propagate = False
    names = list(MODELS) if a.all else a.names
    if not names:
        p.error("give at least one NAME or --all")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        p.error(f"unknown model(s) {unknown}; known: {', '.join(MODELS)}")
    exporters = EXPORTERS if a.exporter == "both" else (a.exporter,)
    sizes = SIZES if a.size == "both" else (a.size,)

    failed = 0
    for n in names:
        for s in sizes:
            for e in exporters:
                try:
                    path = export(n, e, s, a.out_dir, a.opset, force=a.force)
                except Exception as exc:  # noqa: BLE001 - keep going, report at the end
                    failed += 1
                    msg = str(exc)
                    if len(msg) > 2000 and not a.verbose:  # torchscript errors embed the whole graph
                        msg = msg[:1000] + "\n[...]\n" + msg[-1000:]
                    print(f"FAILED {n} {s} {e}: {type(exc).__name__}: {msg}", file=sys.stderr)
                    continue
                print(path, flush=True)
                if a.ops:
                    print("  " + " ".join(sorted(onnx_op_types(path))), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
