"""Slow, obviously correct reference for the cost kernel, written from the documentation in
:mod:`flopest.kinds` (``LAYOUT`` and ``FORMULAS``), not from the kernel's code.

Plain Python ints throughout: nothing overflows, nothing is rounded. ``tests/kernel`` checks
that :func:`flopest.kernel.evaluate` agrees with :func:`naive_evaluate` row by row and in total.
"""

from __future__ import annotations

from flopest import kinds
from flopest.dims import evaluate as eval_dim
from flopest.kinds import (ATTENTION, CONV, ELEMENTWISE, FREE, GATHER, GEMM, MOVE, NORM, POOL,
                           REDUCE, REPEAT, RNN, SOFTMAX)

INDEX_BYTES = 8  # GATHER: indices are int64, whatever the data's element size


def _named(kind: int, params) -> dict:
    """The row's parameters by their LAYOUT names, plus ``repeat``."""
    d = {name: int(params[j]) for j, name in enumerate(kinds.LAYOUT[kind])}
    d["repeat"] = int(params[REPEAT])
    return d


def causal_pairs(q: int, kv: int, off: int = 0) -> int:
    """(query, key) pairs a causal mask keeps when query i sees keys j <= i + off (off = 0:
    top-left aligned, as ONNX Attention without a cache and torch SDPA; off = kv - q:
    bottom-right, a cache of kv - q earlier keys).

    Counted as all pairs minus the masked ones: query i masks max(0, M - i) keys with
    M = kv - off - 1, so masked = Σ_{i<n} (M - i) = n·M - n(n-1)/2 with n = min(q, M)."""
    if off < 0:   # the first -off queries see no key
        skip = min(q, -off)
        q, off = q - skip, off + skip
    m = kv - off - 1
    if m <= 0:
        return q * kv
    n = min(q, m)
    return q * kv - (n * m - n * (n - 1) // 2)


def causal_pairs_brute(q: int, kv: int, off: int = 0, window: int | None = None) -> int:
    """The same count by enumerating the mask (small sizes only); `window`: only the keys
    i + off − window <= j are seen too."""
    return sum(1 for i in range(q) for j in range(kv)
               if j <= i + off and (window is None or j >= i + off - window))


def attention_pairs(q: int, kv: int, causal: int, off: int) -> int:
    """Pairs of an ATTENTION row: causal 0 = all, 1 = causal frontier j <= i + off,
    c >= 2 = a band of c - 1 keys ending at the frontier (sliding window)."""
    if causal == 0:
        return q * kv
    pairs = causal_pairs(q, kv, off)
    if causal > 1:
        pairs -= causal_pairs(q, kv, off - causal + 1)
    return pairs


def naive_costs(kind: int, params, elsize: int, outsize: int | None = None) -> tuple:
    """(flops, matmul_flops, bytes) of one row, as Python ints (see ``kinds.FORMULAS``);
    inputs are read at `elsize` bytes per element, outputs written at `outsize`."""
    kind = int(kind)
    es = int(elsize)
    eo = es if outsize is None else int(outsize)
    if kind not in kinds.LAYOUT:
        raise ValueError(f"unknown cost kind {kind!r}")
    p = _named(kind, params)
    flops = matmul = nbytes = 0

    if kind == FREE:
        pass

    elif kind == GEMM:
        # flops = 2·batch·m·n·k; bytes = (a_batch·m·k + b_batch·k·n + batch·m·n)·size
        matmul = 2 * p["batch"] * p["m"] * p["n"] * p["k"]
        flops = matmul
        a = p["a_batch"] * p["m"] * p["k"]
        b = p["b_batch"] * p["k"] * p["n"]
        c = p["batch"] * p["m"] * p["n"]
        nbytes = (a + b) * es + c * eo

    elif kind == CONV:
        n, c_in, c_out, g = p["n"], p["c_in"], p["c_out"], p["groups"]
        if g <= 0 or c_in % g or c_out % g:
            raise ValueError(f"conv groups={g} must divide c_in={c_in} and c_out={c_out}")
        k = p["kernel_spatial"]
        if p["transposed"]:
            # 2·n·c_in·in_spatial·(c_out/groups)·kernel_spatial; weight (c_in, c_out/g, *kernel)
            matmul = 2 * n * c_in * p["in_spatial"] * (c_out // g) * k
            weight = c_in * (c_out // g) * k
        else:
            # 2·n·c_out·out_spatial·(c_in/groups)·kernel_spatial; weight (c_out, c_in/g, *kernel)
            matmul = 2 * n * c_out * p["out_spatial"] * (c_in // g) * k
            weight = c_out * (c_in // g) * k
        flops = matmul
        x = n * c_in * p["in_spatial"]
        y = n * c_out * p["out_spatial"]
        nbytes = (x + weight) * es + y * eo

    elif kind == ATTENTION:
        bh, q, kv = p["batch_heads"], p["q_len"], p["kv_len"]
        dqk, dv, bkv = p["d_qk"], p["d_v"], p["batch_kv_heads"]
        pairs = attention_pairs(q, kv, p["causal"], p["causal_offset"])
        matmul = 2 * bh * pairs * (dqk + dv)           # QKᵀ and AV
        flops = matmul + (1 + 5) * bh * pairs          # + scale and softmax, per score
        qb = bh * q * dqk
        kb = bkv * kv * dqk
        vb = bkv * kv * dv
        ob = bh * q * dv
        nbytes = (qb + kb + vb) * es + ob * eo

    elif kind == ELEMENTWISE:
        flops = p["out_elems"] * p["flops_per_elem"]
        written = 0 if p["fused"] else p["out_elems"]   # fused into the previous row's output
        nbytes = p["in_elems"] * es + written * eo

    elif kind == REDUCE:
        flops = p["in_elems"] * p["flops_per_elem"]
        nbytes = p["in_elems"] * es + p["out_elems"] * eo

    elif kind == SOFTMAX:
        flops = 5 * p["elems"]
        nbytes = p["elems"] * es + p["elems"] * eo

    elif kind == NORM:
        flops = p["elems"] * p["flops_per_elem"] + 4 * p["groups"]
        nbytes = (p["elems"] + p["param_elems"]) * es + p["elems"] * eo

    elif kind == POOL:
        flops = p["out_elems"] * p["window"]
        nbytes = p["in_elems"] * es + p["out_elems"] * eo

    elif kind == GATHER:
        nbytes = p["out_elems"] * (es + eo) + INDEX_BYTES * p["index_elems"]

    elif kind == MOVE:
        nbytes = p["elems"] * es + p["elems"] * eo

    elif kind == RNN:
        seq, dirs = p["seq"], p["directions"]
        b, i, h, gates = p["batch"], p["input"], p["hidden"], p["gates"]
        steps = seq * dirs
        # per step and direction: gates·hidden outputs, each a dot product over input + hidden
        matmul = steps * 2 * b * gates * h * (i + h)
        flops = matmul + steps * b * h * p["elem_flops_per_hidden"]
        # per step and direction: the weights gates·hidden·(input+hidden), x (batch·input)
        # and h (batch·hidden) read, h written
        weights = gates * h * (i + h)
        nbytes = steps * ((weights + b * i + b * h) * es + b * h * eo)

    r = p["repeat"]
    return flops * r, matmul * r, nbytes * r


def bind_row(table, i: int, values=None) -> list:
    """Row ``i``'s NPARAM parameters with symbolic entries evaluated under ``values``."""
    out = []
    for j in range(kinds.NPARAM):
        s = int(table.sym[i, j])
        out.append(eval_dim(table.symbols[s], values or {}) if s >= 0 else int(table.params[i, j]))
    return out


def active_rows(table, row_flops) -> list:
    """True for every row that counts: in each If group only the branch with the most FLOPs
    (its own rows plus the winners of the groups nested in it) counts; on a tie the lowest
    branch number wins."""
    n = len(table)
    groups = list(table.groups)

    def branch_flops(g, b):
        own = sum(row_flops[i] for i in range(n) if table.group[i] == g and table.branch[i] == b)
        nested = sum(best_flops(c) for c, par in enumerate(groups) if tuple(par) == (g, b))
        return own + nested

    def branches(g):
        bs = {int(table.branch[i]) for i in range(n) if table.group[i] == g}
        bs |= {int(par[1]) for par in groups if par[0] == g}
        return sorted(bs)

    def winner(g):
        best = None
        for b in branches(g):                  # ascending: strict > keeps the lowest on ties
            f = branch_flops(g, b)
            if best is None or f > best[1]:
                best = (b, f)
        return best

    def best_flops(g):
        w = winner(g)
        return 0 if w is None else w[1]

    def alive(g, b):
        while g >= 0:
            w = winner(g)
            if w is None or w[0] != b:
                return False
            g, b = groups[g]
        return True

    return [int(table.group[i]) < 0 or alive(int(table.group[i]), int(table.branch[i]))
            for i in range(n)]


def naive_evaluate(table, values=None) -> tuple:
    """(rows, totals): ``rows`` the per-row (flops, matmul_flops, bytes) triples, ``totals``
    the dict of exact sums over the rows that count (losing If branches left out)."""
    rows = [naive_costs(int(table.kind[i]), bind_row(table, i, values), int(table.elsize[i]),
                        int(table.outsize[i]))
            for i in range(len(table))]
    act = active_rows(table, [r[0] for r in rows]) if table.groups else [True] * len(rows)
    totals = {
        name: sum(r[j] for r, a in zip(rows, act) if a)
        for j, name in enumerate(("flops", "matmul_flops", "bytes"))
    }
    return rows, totals
