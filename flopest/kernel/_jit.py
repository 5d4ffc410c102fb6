"""Numba kernels: typed arrays in, arrays out; no Python objects, no op names.

Per-row FLOPs, matmul FLOPs and bytes by cost kind (formulas: ``flopest.kinds.FORMULAS``).
Each row is computed first in float64; when every figure stays below 2**62 it is recomputed
exactly in int64, else the row is flagged ``overflow`` and the Python wrapper recomputes it
with unbounded ints. Totals are summed exactly by splitting each value into 31-bit halves.
"""

import numpy as np
from numba import njit

from ..kinds import (ATTENTION, ATTN_EXTRA_FLOPS_PER_SCORE, CONV, ELEMENTWISE, GATHER, GEMM, MOVE,
                     NORM, NORM_FLOPS_PER_GROUP, POOL, REDUCE, REPEAT, RNN, SOFTMAX,
                     SOFTMAX_FLOPS_PER_ELEM)

LIMIT = 2.0 ** 62


@njit(cache=True, inline="always")
def _cost(kind, p, es):
    """(flops, matmul_flops, bytes) of one row; `p` is float64 or int64, the result too."""
    z = p[0] * 0
    f = z
    m = z
    b = z
    if kind == GEMM:
        bt, mm, nn, kk, ab, bb = p[0], p[1], p[2], p[3], p[4], p[5]
        m = 2 * bt * mm * nn * kk
        f = m
        b = (ab * mm * kk + bb * kk * nn + bt * mm * nn) * es
    elif kind == CONV:
        n, ci, co, g, osp, ksp, isp, tr = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
        if tr == 0:
            m = 2 * n * co * osp * (ci // g) * ksp
            w = co * (ci // g) * ksp
        else:
            m = 2 * n * ci * isp * (co // g) * ksp
            w = ci * (co // g) * ksp
        f = m
        b = (n * ci * isp + w + n * co * osp) * es
    elif kind == ATTENTION:
        bh, lq, lk, dqk, dv, causal, bkv = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
        if causal == 0:
            pairs = lq * lk
        elif lq <= lk:
            pairs = lq * lk - (lq * (lq - 1)) // 2
        else:
            pairs = (lk * (lk + 1)) // 2
        m = 2 * bh * pairs * (dqk + dv)
        f = m + ATTN_EXTRA_FLOPS_PER_SCORE * bh * pairs
        b = (bh * lq * dqk + bkv * lk * (dqk + dv) + bh * lq * dv) * es
    elif kind == ELEMENTWISE:
        f = p[0] * p[1]
        b = (p[2] + p[0]) * es
    elif kind == REDUCE:
        f = p[0] * p[2]
        b = (p[0] + p[1]) * es
    elif kind == SOFTMAX:
        f = SOFTMAX_FLOPS_PER_ELEM * p[0]
        b = 2 * p[0] * es
    elif kind == NORM:
        f = p[0] * p[1] + NORM_FLOPS_PER_GROUP * p[2]
        b = (2 * p[0] + p[3]) * es
    elif kind == POOL:
        f = p[0] * p[1]
        b = (p[2] + p[0]) * es
    elif kind == GATHER:
        b = 2 * p[0] * es + 8 * p[1]
    elif kind == MOVE:
        b = 2 * p[0] * es
    elif kind == RNN:
        seq, bt, inp, hid, gates, dirs, ew = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
        m = 2 * seq * dirs * bt * gates * hid * (inp + hid)
        f = m + seq * dirs * bt * hid * ew
        b = seq * dirs * (gates * hid * (inp + hid) + bt * inp + 2 * bt * hid) * es
    r = p[REPEAT]
    return f * r, m * r, b * r


@njit(cache=True)
def row_costs(kind, params, elsize, flops, mmflops, nbytes, overflow):
    """Per-row flops, matmul flops and bytes of a table whose parameters are all bound."""
    n, width = params.shape
    pf = np.empty(width, dtype=np.float64)
    for i in range(n):
        for j in range(width):
            pf[j] = params[i, j]
        es = elsize[i]
        k = kind[i]
        ff, mf, bf = _cost(k, pf, np.float64(es))
        if ff < LIMIT and bf < LIMIT:
            fi, mi, bi = _cost(k, params[i], np.int64(es))
            flops[i] = fi
            mmflops[i] = mi
            nbytes[i] = bi
            overflow[i] = False
        else:
            flops[i] = 0
            mmflops[i] = 0
            nbytes[i] = 0
            overflow[i] = True


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
