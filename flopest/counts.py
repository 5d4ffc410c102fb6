"""`Counts`: the FLOPs, bytes and coverage of one model at one binding of its dims.

Totals are Python ints (exact at any scale). A symbolic model is read and lowered once;
:meth:`Counts.at` re-binds its dims and runs only the kernel.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import kernel, kinds
from .version import __version__
from .dims import dim_name, examples_at
from .errors import FlopestError, InputError, UnboundDimError, did_you_mean
from .validate import error

CONVENTIONS = (
    "1 multiply-add = 2 FLOPs. flops = all floating-point work, with per-element constants per "
    "operator (add 1, sigmoid 4, gelu 5, softmax 5, layer norm 5-7; see flopest.ops); "
    "matmul_flops = matrix products only (MatMul/Gemm/Einsum, convolution, attention QKᵀ and AV, "
    "RNN gates), the figure other counters report; macs = matmul_flops / 2. "
    "bytes = every operator's inputs read + outputs written at their element size, no fusion "
    "(an upper bound). Attention: {attention}. If: the costlier branch; Loop: body × constant "
    "trip count. params = elements of floating-point initializers, a tied weight stored twice counted once."
)

BY_CHOICES = ("op", "kind", "node", "module")


def parse_dims(dims) -> dict:
    """{'name': int} from a dict or 'name=value' strings; InputError names a bad entry."""
    out: dict = {}
    if dims is None:
        return out
    if isinstance(dims, str):   # one "name=value"
        dims = [dims]
    if not isinstance(dims, dict) and not isinstance(dims, (list, tuple, set, frozenset)):
        raise InputError(f"dims must be a dict such as {{'batch': 8}} or a list of 'NAME=VALUE' "
                         f"strings, got {type(dims).__name__}")
    items = dims.items() if isinstance(dims, dict) else [_split(d) for d in dims]
    for k, v in items:
        if isinstance(v, bool):
            raise InputError(f"dim {k!r} must be a non-negative integer, got {v!r} (e.g. --dim {k}=8)")
        if not isinstance(v, (int, np.integer)):
            try:
                fv = float(v)
                if not fv.is_integer():
                    raise ValueError
                v = int(fv)
            except (TypeError, ValueError):
                raise InputError(f"dim {k!r} must be a non-negative integer, got {v!r} "
                                 f"(e.g. --dim {k}=8)") from None
        if v < 0:
            raise InputError(f"dim {k!r} must be a non-negative integer, got {v!r} (e.g. --dim {k}=8)")
        k = dim_name(k)   # "batch-size" is the model's dim batch_size (flopest.dims.parse_dim_param)
        if k in out and out[k] != int(v):   # --dim batch=8 --dim batch=16: which one?
            raise InputError(f"dim {k!r} is given twice ({out[k]} and {int(v)}): give it once")
        out[k] = int(v)
    return out


def given_examples_reason(n: int, read, how: str) -> str:
    """How an examples-per-pass given by the user is known: "given", and, when the inputs read
    another number, that it overrides it (said, never silent)."""
    if read is None or read == n:
        return "given"
    return f"given, NOT the {read:,} that {how or 'the inputs'} reads: the FLOPs per example are the pass's / {n:,}"


def _split(text: str):
    if "=" not in str(text):
        raise InputError(f"dim {text!r} must look like NAME=VALUE, e.g. --dim batch=8")
    k, v = str(text).split("=", 1)
    k = k.strip()
    if not k:
        raise InputError(f"dim {text!r} has no name; write NAME=VALUE, e.g. --dim batch=8")
    return k, v.strip()


@dataclass
class Counts:
    """FLOPs and bytes of a model. Totals are exact Python ints."""

    table: object
    params: int
    unknown_ops: dict
    node_count: int
    costed_nodes: int
    dims: dict
    model_dims: list
    notes: list = field(default_factory=list)
    source: str = ""
    causal: bool = False
    _rebind: Callable | None = None     # concrete-mode models: re-read at new dims
    _rc: object = None
    concrete: bool = False              # shapes fixed at capture (no dims to re-bind)
    examples_per_pass: int | None = None   # examples one counted pass processes (None: unknown)
    examples_reason: str = ""           # how examples_per_pass was found, or why it is unknown
    examples_dim: str | None = None     # the symbolic dim that is examples_per_pass (re-bound by .at)
    examples_given_at: tuple | None = None   # (dim, value) the model read when examples_per_pass was given
    tokens_per_example: int | None = None   # tokens in one example, when the model says (hf: text models)
    optimizer: str | None = None        # the optimizer whose step a training capture holds
    checkpointing: bool = False         # captured with activation checkpointing
    saved_bytes_by_module: dict = field(default_factory=dict)   # what autograd keeps for backward (training)
    module_input_bytes: dict = field(default_factory=dict)      # first tensor input of each module's call

    # ---------------------------------------------------------------- evaluation
    def _check_dims(self) -> None:
        needed = self.table.free_dims()
        unknown = [k for k in self.dims if k not in needed and k not in self.model_dims]
        if unknown:
            k = unknown[0]
            known = sorted(set(self.model_dims) | needed)
            raise InputError(f"dim {k!r} is not a dim of this model{did_you_mean(k, known)} "
                             f"(its dims: {', '.join(known) if known else 'none, all shapes are static'})")
        missing = sorted(needed - set(self.dims))
        if missing:
            flags = " ".join(f"--dim {m}=VALUE" for m in missing)
            raise UnboundDimError(
                f"the model has symbolic dims without a value: {', '.join(missing)} — bind them "
                f"with {flags} (API: dims={{{', '.join(repr(m) + ': ...' for m in missing)}}})")

    def evaluate(self) -> "Counts":
        if self._rc is None:
            self._check_dims()
            tab = self.table
            if not self.causal and (tab.kind == kinds.ATTENTION).any():
                import copy
                tab = copy.copy(tab)
                tab.params = tab.params.copy()
                tab.sym = tab.sym.copy()
                att = tab.kind == kinds.ATTENTION
                tab.params[att, 5] = 0
                tab.sym[att, 5] = -1
            try:
                self._rc = kernel.evaluate(tab, self.dims)
            except FlopestError:
                raise
            except (ArithmeticError, TypeError, ValueError, KeyError, NameError,
                    RecursionError) as exc:
                # a dim expression the model declares ("n // 0", "max(n)") fails at these values
                raise InputError(f"a symbolic dim expression of the model cannot be evaluated at "
                                 f"{dict(self.dims)} ({type(exc).__name__}: {exc}); check the "
                                 f"model's dim_param expressions") from None
        return self

    def at(self, **dims) -> "Counts":
        """The same model at other dim values (unspecified dims keep their value)."""
        new = dict(self.dims)
        new.update(parse_dims(dims))
        if self.concrete:
            raise InputError("this count was captured at concrete shapes: count again with other example "
                             "inputs (or count an ONNX export, whose dims can be re-bound)")
        if self.examples_given_at is not None:
            dim, was = self.examples_given_at
            now = examples_at(dim, new)
            if now != was:   # the given examples_per_pass was for the old binding: it does not scale by itself
                raise InputError(f"examples_per_pass={self.examples_per_pass} was given for {dim}={was}; at {dim}={now} "
                                 f"give it again: flopest.count(..., dims={{...}}, examples_per_pass=N)")
        if self._rebind is not None:
            return self._rebind(new)
        return Counts(self.table, self.params, self.unknown_ops, self.node_count, self.costed_nodes,
                      new, self.model_dims, self.notes, self.source, self.causal,
                      examples_per_pass=(self.examples_per_pass if self.examples_dim is None
                                         else examples_at(self.examples_dim, new)),
                      tokens_per_example=self.tokens_per_example,
                      examples_reason=self.examples_reason, examples_dim=self.examples_dim,
                      examples_given_at=self.examples_given_at).evaluate()

    # ---------------------------------------------------------------- figures
    @property
    def flops(self) -> int:
        return self.evaluate()._rc.total("flops")

    @property
    def matmul_flops(self) -> int:
        return self.evaluate()._rc.total("matmul_flops")

    @property
    def macs(self) -> int:
        return self.matmul_flops // 2

    @property
    def bytes(self) -> int:
        return self.evaluate()._rc.total("bytes")

    def _phase_flops(self, phase: int) -> int:
        self.evaluate()
        return self._rc.total("flops", self.table.phase == phase)

    @property
    def forward_flops(self) -> int:
        return self._phase_flops(kinds.FORWARD)

    @property
    def backward_flops(self) -> int:
        return self._phase_flops(kinds.BACKWARD)

    @property
    def optimizer_flops(self) -> int:
        return self._phase_flops(kinds.OPTIMIZER)

    @property
    def coverage(self) -> float:
        return 1.0 if self.node_count == 0 else self.costed_nodes / self.node_count

    @property
    def conventions(self) -> str:
        fused = bool((self.table.kind == kinds.ATTENTION).any())
        if self.causal and not fused:   # causal applies to fused attention rows: none here
            att = ("causal asked, but no fused attention operator: attention written as matrix products is "
                   "counted over every query-key pair")
        else:
            att = ("causal attention counts only unmasked query-key pairs" if self.causal else
                   "full count of every query-key pair, causal masking ignored (causal=True to count "
                   "the unmasked triangle)")
        return CONVENTIONS.format(attention=att)

    @property
    def version(self) -> str:
        return __version__

    def roofline_factor(self, peak_flops: float, bandwidth: float, byte_scale: float = 1.0,
                        fused: bool = False) -> float:
        """Σ over nodes of max(FLOPs / peak, bytes × byte_scale / bandwidth), divided by
        Σ FLOPs / peak: how much longer the counted pass takes than if every node were
        compute-bound (1 = GEMM-bound). A node's rows (a lowering's parts) form one kernel.
        peak in FLOP/s, bandwidth in bytes/s; byte_scale rescales bytes to another element size.
        fused: the glue nodes (elementwise, reduce, softmax, norm, pool, copies: no matrix,
        attention, recurrent, gather or optimizer row) move no bytes of their own, as if fused
        into the matrix kernels around them."""
        if not (peak_flops > 0 and bandwidth > 0 and byte_scale > 0):
            raise InputError(f"roofline needs a positive peak, bandwidth and byte scale, got "
                             f"{peak_flops!r}, {bandwidth!r}, {byte_scale!r}")
        self.evaluate()
        t, rc = self.table, self._rc
        m = rc.active
        if not m.any():
            return 1.0
        f = rc.flops.astype(np.float64)
        b = rc.bytes.astype(np.float64)
        for i, v in rc.big.items():   # rows beyond int64, kept exactly apart
            f[i], b[i] = float(v[0]), float(v[2])
        node = t.node[m].astype(np.int64)
        nf = np.bincount(node, weights=f[m])
        nb = np.bincount(node, weights=b[m])
        if fused:   # a node is glue unless one of its rows is a matrix, attention, RNN, gather or optimizer row
            heavy = np.isin(t.kind, (kinds.GEMM, kinds.CONV, kinds.ATTENTION, kinds.RNN, kinds.GATHER))
            opt = np.array([str(n).startswith("optimizer.") for n in t.ops], dtype=bool)
            if len(opt):
                heavy |= opt[t.op.astype(np.int64)]
            nb[np.bincount(node, weights=heavy[m].astype(np.float64), minlength=len(nb)) == 0] = 0.0
        compute = nf.sum() / peak_flops
        if compute <= 0:
            return 1.0
        return max(1.0, float(np.maximum(nf / peak_flops, nb * byte_scale / bandwidth).sum() / compute))

    def breakdown(self, by: str = "op", depth: int | None = None) -> list:
        """Rows {name, kind, count, flops, bytes}, largest FLOPs first; unknown ops last
        with flops and bytes None. by="module" with `depth` folds module paths deeper than
        `depth` components into their ancestor (totals still sum to the whole)."""
        if by not in BY_CHOICES:
            raise error(f"by {by!r} is not one of {', '.join(BY_CHOICES)}{did_you_mean(by, BY_CHOICES)}", "by")
        if depth is not None and by != "module":   # module paths are what a depth folds
            raise error(f"depth folds module paths: give by='module' with it (by={by!r})", "depth")
        self.evaluate()
        t, rc = self.table, self._rc
        if by == "kind":
            key, names = t.kind.astype(np.int64), list(kinds.NAMES)
        else:
            key = {"op": t.op, "node": t.node, "module": t.module}[by].astype(np.int64)
            names = {"op": t.ops, "node": t.nodes, "module": t.modules}[by]
            if by == "module":
                names = [n or "(top)" for n in names]
                if depth is not None:
                    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0:
                        raise error(f"depth must be a whole number >= 0, got {depth!r}", "depth")
                    folded = [n if n == "(top)" else (".".join(n.split(".")[:depth]) or "(top)")
                              for n in names]
                    uniq = list(dict.fromkeys(folded))
                    remap = np.array([uniq.index(f) for f in folded], dtype=np.int64)
                    key = remap[key] if len(key) else key
                    names = uniq
        nk = len(names)
        flops = rc.by(key, nk, "flops")
        byts = rc.by(key, nk, "bytes")
        active = rc.active
        # count = distinct nodes per key; kind = the kind carrying most FLOPs (or the first)
        counts = [0] * nk
        if len(t):
            pairs = np.unique(np.stack([key[active], t.node[active].astype(np.int64)]), axis=1)
            for k in pairs[0].tolist():
                counts[k] += 1
        main_kind: dict = {}
        kflops = Counter()
        for k, kd, f in zip(key[active].tolist(), t.kind[active].tolist(), rc.flops[active].tolist()):
            kflops[(k, kd)] += f
            main_kind.setdefault(k, kd)
        for (k, kd), f in kflops.items():
            if f > kflops[(k, main_kind[k])]:
                main_kind[k] = kd
        rows = [{"name": names[k], "kind": kinds.NAMES[main_kind[k]], "count": counts[k],
                 "flops": flops[k], "bytes": byts[k]} for k in range(nk) if counts[k]]
        rows.sort(key=lambda r: (-r["flops"], -r["bytes"], r["name"]))
        if by in ("op", "kind"):
            for op, n in sorted(self.unknown_ops.items()):
                rows.append({"name": op, "kind": "unknown", "count": n, "flops": None, "bytes": None})
        return rows

    def to_dict(self, by: str | None = None, depth: int | None = None) -> dict:
        d = {
            "flops": self.flops,
            "forward_flops": self.forward_flops,
            "backward_flops": self.backward_flops,
            "optimizer_flops": self.optimizer_flops,
            "matmul_flops": self.matmul_flops,
            "macs": self.macs,
            "bytes": self.bytes,
            "params": self.params,
            "unknown_ops": dict(sorted(self.unknown_ops.items())),
            "coverage": self.coverage,
            "conventions": self.conventions,
            "version": self.version,
            "dims": dict(self.dims),
            "examples_per_pass": self.examples_per_pass,
            "tokens_per_example": self.tokens_per_example,
            "notes": list(self.notes),
        }
        if by:
            d["breakdown"] = self.breakdown(by, depth=depth)
        elif depth is not None:
            raise error("depth folds the breakdown by module: give by='module' with it", "depth")
        return d

    def _repr_html_(self) -> str:
        """The count in a notebook: its totals and the breakdown by operator (flopest.report)."""
        from . import views
        d = self.to_dict(by="op")
        d["source"] = self.source
        return views.render("counts", "html", d)

    def __repr__(self) -> str:
        try:
            return (f"Counts(flops={self.flops:.4g}, matmul_flops={self.matmul_flops:.4g}, "
                    f"bytes={self.bytes:.4g}, params={self.params}, coverage={self.coverage:.1%}, "
                    f"unknown_ops={self.unknown_ops})")
        except Exception as exc:
            return f"Counts(<unevaluated: {exc}>)"
