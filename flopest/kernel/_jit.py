"""Numba kernels: typed arrays in, arrays out; no Python objects, no op names.

Per-row FLOPs, matmul FLOPs and bytes by cost kind (formulas: ``flopest.kinds.FORMULAS``),
in int64 with saturating arithmetic: `mul`, `add`, `sub`, `fdiv` are plain Python operators
when called from Python (so the same `_cost` computes a row exactly with unbounded ints) and,
inside jitted code, LLVM's overflow-checked operations that saturate at ``SAT``. A row whose
figure reaches SAT is flagged `overflow` and recomputed exactly in Python by the wrapper.
Totals are summed exactly by splitting each value into 31-bit halves.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from ..kinds import (ATTENTION, ATTN_EXTRA_FLOPS_PER_SCORE, CONV, ELEMENTWISE, GATHER, GEMM, MOVE,
                     NORM, NORM_FLOPS_PER_GROUP, POOL, REDUCE, REPEAT, RNN, SOFTMAX,
                     SOFTMAX_FLOPS_PER_ELEM)

SAT = np.int64(2**63 - 1)
INDEX_BYTES = 8


# ---------------------------------------------------------------- saturating int64 arithmetic
def mul(a, b):
    return int(a) * int(b)


def add(a, b):
    return int(a) + int(b)


def sub(a, b):
    return int(a) - int(b)


def fdiv(a, b):
    return int(a) // int(b)


def _with_overflow(name):
    @intrinsic
    def op(typingctx, a, b):
        sig = types.Tuple((types.int64, types.boolean))(types.int64, types.int64)

        def codegen(context, builder, signature, args):
            fn = getattr(builder, name)
            res = fn(args[0], args[1])
            val = builder.extract_value(res, 0)
            ovf = builder.extract_value(res, 1)
            return context.make_tuple(builder, signature.return_type, [val, ovf])

        return sig, codegen
    return op


_smul = _with_overflow("smul_with_overflow")
_sadd = _with_overflow("sadd_with_overflow")


# All operands are non-negative. SAT·x overflows for x >= 2 and SAT + x for x >= 1, so a
# saturated value stays SAT through later products and sums with no test of its own; SAT·0 = 0
# is exact (a huge count times zero). Only sub and fdiv test for SAT explicitly.
@overload(mul, inline="always")
def _mul_impl(a, b):
    def impl(a, b):
        v, o = _smul(np.int64(a), np.int64(b))
        m = -np.int64(o)                 # all ones on overflow: branch-free saturation
        return (v & ~m) | (SAT & m)
    return impl


@overload(add, inline="always")
def _add_impl(a, b):
    def impl(a, b):
        v, o = _sadd(np.int64(a), np.int64(b))
        m = -np.int64(o)
        return (v & ~m) | (SAT & m)
    return impl


@overload(sub, inline="always")
def _sub_impl(a, b):
    def impl(a, b):
        if a == SAT or b == SAT:
            return SAT
        return np.int64(a - b)
    return impl


@overload(fdiv, inline="always")
def _fdiv_impl(a, b):
    def impl(a, b):
        if a == SAT:
            return SAT
        return np.int64(a // b)
    return impl


def _mul3(a, b, c):
    return mul(mul(a, b), c)


overload(_mul3, inline="always")(lambda a, b, c: _mul3)


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


overload(causal_pairs, inline="always")(lambda lq, lk, off: causal_pairs)


@njit(cache=True, inline="always")
def _cost(kind, p, es, eo):
    """(flops, matmul_flops, bytes) of one row; p = its NPARAM parameters, es / eo the
    element sizes of its inputs / outputs."""
    f = 0
    m = 0
    b = 0
    if kind == GEMM:
        bt, mm, nn, kk, ab, bb = p[0], p[1], p[2], p[3], p[4], p[5]
        m = mul(2, mul(mul(bt, mm), mul(nn, kk)))
        f = m
        b = add(mul(add(_mul3(ab, mm, kk), _mul3(bb, kk, nn)), es), mul(_mul3(bt, mm, nn), eo))
    elif kind == CONV:
        n, ci, co, g, osp, ksp, isp, tr = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
        if tr == 0:
            m = mul(2, mul(_mul3(n, co, osp), mul(fdiv(ci, g), ksp)))
            w = _mul3(co, fdiv(ci, g), ksp)
        else:
            m = mul(2, mul(_mul3(n, ci, isp), mul(fdiv(co, g), ksp)))
            w = _mul3(ci, fdiv(co, g), ksp)
        f = m
        b = add(mul(add(_mul3(n, ci, isp), w), es), mul(_mul3(n, co, osp), eo))
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
        b = add(mul(add(_mul3(bh, lq, dqk), _mul3(bkv, lk, add(dqk, dv))), es), mul(_mul3(bh, lq, dv), eo))
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
        weights = _mul3(gates, hid, add(inp, hid))
        m = mul(mul(2, steps), mul(bt, weights))
        f = add(m, mul(steps, _mul3(bt, hid, ew)))
        b = mul(steps, add(mul(add(add(weights, mul(bt, inp)), mul(bt, hid)), es), mul(mul(bt, hid), eo)))
    r = p[REPEAT]
    return mul(f, r), mul(m, r), mul(b, r)


@njit(cache=True)
def row_costs(kind, params, elsize, outsize, flops, mmflops, nbytes, overflow):
    """Per-row flops, matmul flops and bytes of a table whose parameters are all bound."""
    n = params.shape[0]
    for i in range(n):
        fi, mi, bi = _cost(kind[i], params[i], np.int64(elsize[i]), np.int64(outsize[i]))
        if fi >= SAT or bi >= SAT or mi >= SAT:   # > only without the JIT (Python ints)
            flops[i] = 0
            mmflops[i] = 0
            nbytes[i] = 0
            overflow[i] = True
        else:
            flops[i] = fi
            mmflops[i] = mi
            nbytes[i] = bi
            overflow[i] = False


@njit(cache=True)
def split_sum(values, mask):
    """Exact sum of non-negative int64 `values` where `mask` is True, as (hi, lo) with
    total = hi·2**31 + lo; safe for fewer than 2**32 rows."""
    hi = 0
    lo = 0
    low_mask = (1 << 31) - 1
    for i in range(values.shape[0]):
        if mask[i]:
            v = values[i]
            hi += v >> 31
            lo += v & low_mask
    return hi, lo


@njit(cache=True)
def group_sums(key, nkeys, values, mask):
    """Per-key exact sums (hi, lo arrays) for breakdowns by op, kind, module or node."""
    hi = np.zeros(nkeys, dtype=np.int64)
    lo = np.zeros(nkeys, dtype=np.int64)
    low_mask = (1 << 31) - 1
    for i in range(values.shape[0]):
        if mask[i]:
            v = values[i]
            hi[key[i]] += v >> 31
            lo[key[i]] += v & low_mask
    return hi, lo
