"""The cost formulas of one OpTable row, in plain Python: per-row FLOPs, matmul FLOPs and bytes
by cost kind (``flopest.kinds.FORMULAS``).

One source, two tiers. Called from Python, `mul`, `add`, `sub` and `fdiv` are Python's
operators on unbounded ints: `cost` is exact at any size (the interpreted tier of
:mod:`flopest.kernel`, and the exact recomputation of a row the compiled tier saturates).
Compiled by Numba (kernel/_jit.py), the same functions become LLVM's overflow-checked int64
operations that saturate at SAT. This module imports neither Numba nor llvmlite, so that a
small table is costed without paying their import.
"""

from ..kinds import (ATTENTION, ATTN_EXTRA_FLOPS_PER_SCORE, CONV, ELEMENTWISE, GATHER, GEMM, MOVE,
                     NORM, NORM_FLOPS_PER_GROUP, POOL, REDUCE, REPEAT, RNN, SOFTMAX,
                     SOFTMAX_FLOPS_PER_ELEM)

SAT = 2**63 - 1
INDEX_BYTES = 8


# ---------------------------------------------------------------- arithmetic (saturating once compiled)
def mul(a, b):
    return int(a) * int(b)


def add(a, b):
    return int(a) + int(b)


def sub(a, b):
    return int(a) - int(b)


def fdiv(a, b):
    return int(a) // int(b)


def mul3(a, b, c):
    return mul(mul(a, b), c)


# ---------------------------------------------------------------- per-row costs
def causal_pairs(lq, lk, off):
    """Query i (0-based) sees keys j <= i + off: Σ_i clamp(i + off + 1, 0, lk)
    = i1·(i1 + 2·off + 1)/2 + (lq − i1)·lk with i1 = clamp(lk − off − 1, 0, lq), once the
    first −off queries (a negative offset: they see no key) are dropped."""
    if off < 0:
        skip = sub(0, off)
        if skip > lq:
            skip = lq
        lq = sub(lq, skip)
        off = add(off, skip)
    i1 = sub(sub(lk, off), 1)
    if i1 < 0:
        i1 = 0
    if i1 > lq:
        i1 = lq
    tri = fdiv(mul(i1, add(add(i1, mul(2, off)), 1)), 2)
    return add(tri, mul(sub(lq, i1), lk))


def cost(kind, p, es, eo):
    """(flops, matmul_flops, bytes) of one row; p = its NPARAM parameters, es / eo the
    element sizes of its inputs / outputs."""
    f = 0
    m = 0
    b = 0
    if kind == GEMM:
        bt, mm, nn, kk, ab, bb = p[0], p[1], p[2], p[3], p[4], p[5]
        m = mul(2, mul(mul(bt, mm), mul(nn, kk)))
        f = m
        b = add(mul(add(mul3(ab, mm, kk), mul3(bb, kk, nn)), es), mul(mul3(bt, mm, nn), eo))
    elif kind == CONV:
        n, ci, co, g, osp, ksp, isp, tr = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
        if tr == 0:
            m = mul(2, mul(mul3(n, co, osp), mul(fdiv(ci, g), ksp)))
            w = mul3(co, fdiv(ci, g), ksp)
        else:
            m = mul(2, mul(mul3(n, ci, isp), mul(fdiv(co, g), ksp)))
            w = mul3(ci, fdiv(co, g), ksp)
        f = m
        b = add(mul(add(mul3(n, ci, isp), w), es), mul(mul3(n, co, osp), eo))
    elif kind == ATTENTION:
        bh, lq, lk, dqk, dv, causal, bkv, off = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
        if causal == 0:
            pairs = mul(lq, lk)
        else:   # causal >= 2: a window of causal - 1 keys ending at the causal frontier
            pairs = causal_pairs(lq, lk, off)
            if causal > 1:
                pairs = sub(pairs, causal_pairs(lq, lk, add(sub(off, causal), 1)))
        scores = mul(bh, pairs)
        m = mul(mul(2, scores), add(dqk, dv))
        f = add(m, mul(ATTN_EXTRA_FLOPS_PER_SCORE, scores))
        b = add(mul(add(mul3(bh, lq, dqk), mul3(bkv, lk, add(dqk, dv))), es), mul(mul3(bh, lq, dv), eo))
    elif kind == ELEMENTWISE:
        f = mul(p[0], p[1])
        b = add(mul(p[2], es), mul(mul(p[0], 1 - p[3]), eo))
    elif kind == REDUCE:
        f = mul(p[0], p[2])
        b = add(mul(p[0], es), mul(p[1], eo))
    elif kind == SOFTMAX:
        f = mul(SOFTMAX_FLOPS_PER_ELEM, p[0])
        b = mul(p[0], add(es, eo))
    elif kind == NORM:
        f = add(mul(p[0], p[1]), mul(NORM_FLOPS_PER_GROUP, p[2]))
        b = add(mul(add(p[0], p[3]), es), mul(p[0], eo))
    elif kind == POOL:
        f = mul(p[0], p[1])
        b = add(mul(p[2], es), mul(p[0], eo))
    elif kind == GATHER:
        b = add(mul(p[0], add(es, eo)), mul(INDEX_BYTES, p[1]))
    elif kind == MOVE:
        b = mul(p[0], add(es, eo))
    elif kind == RNN:
        seq, bt, inp, hid, gates, dirs, ew = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
        steps = mul(seq, dirs)
        weights = mul3(gates, hid, add(inp, hid))
        m = mul(mul(2, steps), mul(bt, weights))
        f = add(m, mul(steps, mul3(bt, hid, ew)))
        b = mul(steps, add(mul(add(add(weights, mul(bt, inp)), mul(bt, hid)), es), mul(mul(bt, hid), eo)))
    r = p[REPEAT]
    return mul(f, r), mul(m, r), mul(b, r)
