"""Public face of the cost kernel: binds symbolic parameters, validates the arrays (naming the
bad row, since a jitted kernel can only raise constant messages), costs every row and returns
exact per-row costs and totals (Python ints: no overflow at any scale).

Two tiers run the one source of the formulas (kernel/formulas.py). A process costs its first
rows in the interpreter (`cost` on Python ints: exact, and nothing to import); once it has
costed PYTHON_TIER_ROWS rows, or meets a larger table, it loads the Numba kernels (kernel/_jit.py:
0.3–0.5 s of import and cache load, then 15–150 M rows/s) and keeps them. A one-off count of a
graph of a few thousand rows, the common case at the command line, never pays that load; a sweep
of re-bindings pays it once. FLOPEST_KERNEL=python or =jit fixes the tier (tests).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

import numpy as np

from .. import dims, kinds
from . import formulas
from ..errors import KernelInputError, UnboundDimError

_lock = threading.Lock()
_loaded: dict = {}


def load(name: str):
    """Import a Numba kernel module of this package (`_jit`, `_mc`) once per process, under a
    lock: its first import compiles the kernels or loads them from the cache."""
    mod = _loaded.get(name)
    if mod is None:
        with _lock:
            mod = _loaded.get(name)
            if mod is None:
                import importlib
                import warnings

                from numba.core.errors import NumbaIRAssumptionWarning
                # numba's internal pedantic SSA check warns about our kernels' loop variables when it
                # compiles them ("variable ... is not in scope"): nothing for a user to act on
                warnings.filterwarnings("ignore", category=NumbaIRAssumptionWarning)
                mod = _loaded[name] = importlib.import_module(f".kernel.{name}", "flopest")
    return mod


def _kernels():
    """The cost kernels (kernel/_jit.py)."""
    return load("_jit")


# rows the interpreted tier costs in one process before the compiled kernels are loaded: about
# as long as loading them takes (~1 us a row against 0.3-0.5 s; measured on GPT-2's export,
# 2,455 rows: 2.3 ms interpreted, 0.15 ms compiled once loaded), so that a process never spends
# more than about twice the better of the two (the ski-rental rule)
PYTHON_TIER_ROWS = 300_000
_python_rows = 0


def _compiled(rows: int = 0) -> bool:
    """Whether `rows` more rows are costed by the compiled tier (loading it if so)."""
    mode = os.environ.get("FLOPEST_KERNEL", "").strip().lower()
    if mode == "python":
        return False
    if mode == "jit" or "_jit" in _loaded or _python_rows + rows > PYTHON_TIER_ROWS:
        _kernels()
        return True
    return False


@dataclass
class RowCosts:
    """Per-row costs: int64 arrays, with the rows too large for int64 kept exactly in `big`."""
    flops: np.ndarray
    matmul_flops: np.ndarray
    bytes: np.ndarray
    active: np.ndarray                         # bool: False for the losing branch of an If
    big: dict = field(default_factory=dict)    # row -> (flops, matmul_flops, bytes) as ints
    params: np.ndarray | None = None           # the table's parameters with its dims bound

    def total(self, name: str, mask=None) -> int:
        arr = getattr(self, name)
        m = self.active if mask is None else (self.active & mask)
        if _compiled():
            hi, lo = _kernels().split_sum(arr, m)
            t = int(hi) * (1 << 31) + int(lo)
        else:
            t = sum(arr[m].tolist())   # Python ints: exact
        j = ("flops", "matmul_flops", "bytes").index(name)
        for i, v in self.big.items():
            if m[i]:
                t += v[j]
        return t

    def by(self, key: np.ndarray, nkeys: int, name: str) -> list:
        """Exact per-key totals (Python ints) of one measure."""
        arr = getattr(self, name)
        if _compiled():
            hi, lo = _kernels().group_sums(key.astype(np.int64), nkeys, arr, self.active)
            out = [int(h) * (1 << 31) + int(l) for h, l in zip(hi.tolist(), lo.tolist())]
        else:
            out = [0] * nkeys
            for k, v, a in zip(key.tolist(), arr.tolist(), self.active.tolist()):
                if a:
                    out[k] += v
        j = ("flops", "matmul_flops", "bytes").index(name)
        for i, v in self.big.items():
            if self.active[i]:
                out[int(key[i])] += v[j]
        return out


def bind(table, values=None) -> np.ndarray:
    """Parameters with every symbolic entry replaced by its value under `values`."""
    if not table.symbols:
        return table.params
    values = values or {}
    missing = sorted(table.free_dims() - set(values))
    if missing:
        raise UnboundDimError(f"symbolic dims {missing} have no value; bind each one "
                              f"(e.g. {missing[0]}=1)")
    memo: dict = {}   # the opaque atoms' values, shared by the symbols of this binding
    exact = [dims.evaluate(s, values, memo) for s in table.symbols]   # Python ints
    for k, v in enumerate(exact):
        if not -(1 << 63) <= v < (1 << 63):
            i, j = (int(x) for x in np.argwhere(table.sym == k)[0])
            raise KernelInputError(f"{_row(table, i)}: parameter {_pname(table, i, j)} = "
                                   f"{str(table.symbols[k])!r} is {v} with {dict(values)}, "
                                   f"beyond int64; check the dims bound to the model")
    symvals = np.array(exact, dtype=np.int64)
    bound = table.params.copy()
    m = table.sym >= 0
    bound[m] = symvals[table.sym[m]]
    return bound


def validate(table, params: np.ndarray) -> None:
    n = len(table)
    if params.shape != (n, kinds.NPARAM) or params.dtype != np.int64:
        raise KernelInputError(f"params must be int64 of shape ({n}, {kinds.NPARAM}), got "
                               f"{params.dtype} {params.shape}")
    for name in ("kind", "elsize", "outsize", "phase", "module", "op", "node", "group", "branch"):
        a = getattr(table, name)
        if a.shape != (n,):
            raise KernelInputError(f"column {name!r} has shape {a.shape}, expected ({n},)")
    bad = np.flatnonzero((table.kind < 0) | (table.kind >= kinds.NKINDS))
    if bad.size:
        raise KernelInputError(f"{_row(table, bad[0])}: unknown cost kind {int(table.kind[bad[0]])}")
    if params.size and params.min() < 0:   # min() is one pass; argwhere alone costs 7x more
        i, j = (int(x) for x in np.argwhere(params < 0)[0])
        raise KernelInputError(f"{_row(table, i)}: parameter {_pname(table, i, j)} is negative "
                               f"({int(params[i, j])}); check the dims bound to the model")
    bad = np.flatnonzero((table.elsize <= 0) | (table.outsize <= 0))
    if bad.size:
        raise KernelInputError(f"{_row(table, bad[0])}: element size must be positive")
    conv = table.kind == kinds.CONV
    if conv.any():
        g = params[conv, 3]
        cin, cout = params[conv, 1], params[conv, 2]
        ok = (g > 0) & (cin % np.maximum(g, 1) == 0) & (cout % np.maximum(g, 1) == 0)
        if not ok.all():
            i = int(np.flatnonzero(conv)[np.flatnonzero(~ok)[0]])
            raise KernelInputError(f"{_row(table, i)}: groups={int(params[i, 3])} must be positive "
                                   f"and divide c_in={int(params[i, 1])} and c_out={int(params[i, 2])}")


def _pname(table, i, j):
    lay = kinds.LAYOUT[int(table.kind[i])]
    return "repeat" if j == kinds.REPEAT else (lay[j] if j < len(lay) else f"#{j}")


def _row(table, i) -> str:
    i = int(i)
    return (f"row {i} ({kinds.NAMES[int(table.kind[i])] if 0 <= table.kind[i] < kinds.NKINDS else '?'}"
            f", op {table.ops[table.op[i]]!r}, node {table.nodes[table.node[i]]!r})")


def evaluate(table, values=None) -> RowCosts:
    """Per-row costs of `table` with its symbolic dims bound to `values` (name -> int)."""
    global _python_rows
    params = bind(table, values)
    validate(table, params)
    n = len(table)
    big = {}
    if _compiled(n):
        flops = np.empty(n, dtype=np.int64)
        mm = np.empty(n, dtype=np.int64)
        nb = np.empty(n, dtype=np.int64)
        ov = np.empty(n, dtype=np.bool_)
        _kernels().row_costs(table.kind, np.ascontiguousarray(params), table.elsize, table.outsize, flops, mm, nb,
                             ov)
        for i in np.flatnonzero(ov).tolist():   # saturated: recomputed exactly on Python ints
            big[i] = tuple(int(x) for x in formulas.cost(int(table.kind[i]), [int(x) for x in params[i]],
                                                         int(table.elsize[i]), int(table.outsize[i])))
    else:
        _python_rows += n
        fl, mml, nbl = [0] * n, [0] * n, [0] * n
        cost, sat = formulas.cost, formulas.SAT
        for i, (k, p, es, eo) in enumerate(zip(table.kind.tolist(), params.tolist(), table.elsize.tolist(),
                                               table.outsize.tolist())):
            f, m, b = cost(k, p, es, eo)
            if f >= sat or m >= sat or b >= sat:   # beyond int64: kept exactly, 0 in the arrays
                big[i] = (f, m, b)
            else:
                fl[i], mml[i], nbl[i] = f, m, b
        flops = np.array(fl, dtype=np.int64)
        mm = np.array(mml, dtype=np.int64)
        nb = np.array(nbl, dtype=np.int64)
    rc = RowCosts(flops, mm, nb, np.ones(n, dtype=np.bool_), big, params)
    if table.groups:
        rc.active = _alternatives(table, rc)
    return rc


def _alternatives(table, rc: RowCosts) -> np.ndarray:
    """Keep, in each If group, only the branch with the most FLOPs (nested groups resolved
    bottom-up: a branch's cost includes the winning branches of the groups inside it)."""
    ng = len(table.groups)
    active = np.ones(len(table), dtype=np.bool_)
    flops_of = rc.flops.astype(object)
    for i, v in rc.big.items():
        flops_of[i] = v[0]
    direct = {}   # (group, branch) -> flops of its own rows
    for i in np.flatnonzero(table.group >= 0).tolist():
        k = (int(table.group[i]), int(table.branch[i]))
        direct[k] = direct.get(k, 0) + int(flops_of[i])
    children = {}  # (group, branch) -> child groups
    for g, parent in enumerate(table.groups):
        if parent[0] >= 0:
            children.setdefault(tuple(parent), []).append(g)
    winner = {}

    def cost(g, b):
        return direct.get((g, b), 0) + sum(best(c) for c in children.get((g, b), []))

    def best(g):
        branches = {b for (gg, b) in direct if gg == g} | {b for (gg, b) in children if gg == g}
        if not branches:
            winner[g] = 0
            return 0
        costs = {b: cost(g, b) for b in sorted(branches)}
        winner[g] = max(costs, key=lambda b: (costs[b], -b))
        return costs[winner[g]]

    for g in range(ng):
        if table.groups[g][0] < 0:
            best(g)

    def alive(g, b):
        if winner.get(g) != b:
            return False
        pg, pb = table.groups[g]
        return True if pg < 0 else alive(pg, pb)

    for i in np.flatnonzero(table.group >= 0).tolist():
        if not alive(int(table.group[i]), int(table.branch[i])):
            active[i] = False
    return active
