"""Numba kernels: typed arrays in, arrays out; no Python objects, no op names.

The compiled tier of the cost kernel. Per-row FLOPs, matmul FLOPs and bytes come from the one
source of the formulas, kernel/formulas.py, compiled here: its `mul`, `add`, `sub`, `fdiv`
(plain Python operators when called from Python, so that the same `cost` computes a row exactly
with unbounded ints) become, inside jitted code, LLVM's overflow-checked int64 operations that
saturate at ``SAT``. A row whose figure reaches SAT is flagged `overflow` and recomputed
exactly in Python by the wrapper. Totals are summed exactly by splitting each value into 31-bit
halves.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from . import formulas
from .formulas import INDEX_BYTES, mul3, add, causal_pairs, fdiv, mul, sub  # noqa: F401 (INDEX_BYTES: docs)

SAT = np.int64(formulas.SAT)


# ---------------------------------------------------------------- saturating int64 arithmetic
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


overload(mul3, inline="always")(lambda a, b, c: mul3)
overload(causal_pairs, inline="always")(lambda lq, lk, off: causal_pairs)
_cost = njit(cache=True, inline="always")(formulas.cost)


# ---------------------------------------------------------------- per-row costs
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


# ---------------------------------------------------------------- the compiled tier against its source
def _canary():
    """(kind, params, elsize, outsize) rows that take every branch of formulas.cost: each kind,
    causal and windowed attention with negative and positive offsets, a fused elementwise row,
    a transposed convolution; arrays of the dtypes OpTable holds (int8 kinds and sizes)."""
    from .. import kinds
    rows = []
    for k in range(kinds.NKINDS):
        p = [3, 6, 4, 2, 13, 5, 17, 0, 2][: kinds.NPARAM]
        if k == kinds.ELEMENTWISE:
            rows += [(k, p[:3] + [0] + p[4:]), (k, p[:3] + [1] + p[4:])]
        elif k == kinds.CONV:
            rows += [(k, p), (k, p[:7] + [1] + p[8:])]
        elif k == kinds.ATTENTION:
            for causal, off in ((0, 0), (1, 0), (1, -2), (1, 5), (4, 0), (4, -3)):
                rows.append((k, [3, 7, 9, 4, 5, causal, 2, off, 2]))
        else:
            rows.append((k, p))
    kind = np.array([r[0] for r in rows], dtype=np.int8)
    params = np.array([r[1] for r in rows], dtype=np.int64)
    size = np.array([2 + (i % 3) for i in range(len(rows))], dtype=np.int8)
    return kind, params, size, size[::-1].copy()


def _matches_source() -> bool:
    kind, params, es, eo = _canary()
    n = len(kind)
    out = [np.empty(n, dtype=np.int64) for _ in range(3)] + [np.empty(n, dtype=np.bool_)]
    row_costs(kind, params, es, eo, *out)
    want = [formulas.cost(int(kind[i]), [int(x) for x in params[i]], int(es[i]), int(eo[i])) for i in range(n)]
    return all((int(out[0][i]), int(out[1][i]), int(out[2][i])) == tuple(want[i]) and not out[3][i] for i in range(n))


# Numba's cache is keyed to this file's source, not to formulas.py or kinds.py, whose functions and
# constants row_costs inlines: after either changes (an upgrade), a cached row_costs would cost
# the old formulas while the interpreted tier costs the new ones. Checked once a process against
# the source on rows that take every branch, and recompiled (the cache rewritten) when it differs.
if not _matches_source():
    row_costs.recompile()
    if not _matches_source():
        raise RuntimeError("flopest's compiled cost kernel disagrees with kernel/formulas.py after recompiling: "
                           "report this (FLOPEST_KERNEL=python avoids the compiled tier)")
