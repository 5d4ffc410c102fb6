"""The cost kernel against the plain-Python reference in ``tests/naive.py``: per-row figures,
exact totals past int64 (1e25 and beyond), symbolic binding, If alternatives, validation."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]

from flopest import kinds  # noqa: E402
from flopest.dims import Sym  # noqa: E402
from flopest.errors import KernelInputError, UnboundDimError  # noqa: E402
from flopest.kernel import _kernels, evaluate  # noqa: E402
from flopest.kinds import (ATTENTION, CONV, ELEMENTWISE, FREE, GATHER, GEMM, MOVE,  # noqa: E402
                           NORM, POOL, REDUCE, RNN, SOFTMAX)
from flopest.optable import TableBuilder  # noqa: E402
from tests.naive import (active_rows, attention_pairs, causal_pairs, causal_pairs_brute,  # noqa: E402
                         naive_costs, naive_evaluate)

MEASURES = ("flops", "matmul_flops", "bytes")
INT64_MAX = 2**63 - 1
FAST = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# helpers ------------------------------------------------------------------------------------
def build(rows, *, groups=None):
    """rows: (kind, params, repeat, elsize[, group, branch]) -> OpTable."""
    b = TableBuilder()
    for parent in groups or []:
        b.new_group(parent)
    for i, r in enumerate(rows):
        kind, params, repeat, es = r[:4]
        g, br = (r[4], r[5]) if len(r) > 4 else (-1, -1)
        b.add(kind, params, repeat=repeat, elsize=es, op=f"op_{kinds.NAMES[kind]}",
              node=f"node{i}", module=f"m{i % 3}", group=g, branch=br)
    return b.build()


def kernel_rows(rc) -> list:
    """Per-row exact (flops, matmul_flops, bytes) from RowCosts, big rows included."""
    out = []
    for i in range(len(rc.flops)):
        if i in rc.big:
            out.append(tuple(rc.big[i]))
        else:
            out.append((int(rc.flops[i]), int(rc.matmul_flops[i]), int(rc.bytes[i])))
    return out


def assert_agrees(table, values=None):
    rc = evaluate(table, values)
    rows, totals = naive_evaluate(table, values)
    assert kernel_rows(rc) == rows
    for name in MEASURES:
        assert rc.total(name) == totals[name], name
    return rc, rows


# strategies ---------------------------------------------------------------------------------
SMALL = st.integers(0, 12)
# values just around 2**20, 2**31, 2**40, 2**60: products of a few of them straddle 2**62 and
# 2**63, so some rows go through the exact big-int fallback and some stay just inside int64
BIG = st.sampled_from([2**20, 2**31, 2**40, 2**60]).flatmap(lambda c: st.integers(c - 3, c + 3))
VALUE = st.one_of(st.just(0), SMALL, st.integers(0, 5000), BIG)
REPEAT = st.one_of(st.just(1), st.just(0), SMALL, BIG)
ELSIZE = st.sampled_from([1, 2, 4, 8])


@st.composite
def row(draw, kind=None):
    k = draw(st.integers(0, kinds.NKINDS - 1)) if kind is None else kind
    vals = [draw(VALUE) for _ in kinds.LAYOUT[k]]
    if k == CONV:   # groups must divide c_in and c_out; keep every parameter inside int64
        g = draw(st.one_of(st.integers(1, 8), st.integers(2**20 - 2, 2**20 + 2)))
        mult = st.one_of(SMALL, st.integers(0, 2**40))
        vals[1], vals[2], vals[3] = g * draw(mult), g * draw(mult), g
        vals[7] = draw(st.sampled_from([0, 1]))
    elif k == ATTENTION:
        vals[5] = draw(st.sampled_from([0, 1]))
    elif k == ELEMENTWISE:
        vals[3] = draw(st.sampled_from([0, 1]))
    return (k, vals, draw(REPEAT), draw(ELSIZE))


ROWS = st.lists(row(), min_size=1, max_size=20)


# hand-computed examples ---------------------------------------------------------------------
HAND = [
    # GEMM b=2,m=3,n=4,k=5 (A batched, B shared), fp32: 2*2*3*4*5 = 240 flops;
    # bytes (2*3*5 + 1*5*4 + 2*3*4)*4 = (30+20+24)*4 = 296
    (GEMM, [2, 3, 4, 5, 2, 1], 1, 4, (240, 240, 296)),
    # same, repeat 3: 3*240 = 720, 3*296 = 888
    (GEMM, [2, 3, 4, 5, 2, 1], 3, 4, (720, 720, 888)),
    # CONV n=1, 4->6 channels, groups 2, out 3x3=9, kernel 2x2=4, in 4x4=16, fp16:
    # 2*1*6*9*(4/2)*4 = 864; weight 6*2*4 = 48, in 1*4*16 = 64, out 1*6*9 = 54: (64+48+54)*2 = 332
    (CONV, [1, 4, 6, 2, 9, 4, 16, 0], 1, 2, (864, 864, 332)),
    # transposed CONV n=1, 4->6, groups 2, in 16, out 25, kernel 4, fp32:
    # 2*1*4*16*(6/2)*4 = 1536; weight 4*3*4 = 48, in 64, out 6*25 = 150: (64+48+150)*4 = 1048
    (CONV, [1, 4, 6, 2, 25, 4, 16, 1], 1, 4, (1536, 1536, 1048)),
    # ATTENTION bh=2, q=kv=3, d_qk=4, d_v=5, fp16: pairs 9; matmul 2*2*9*(4+5) = 324;
    # flops 324 + 6*2*9 = 432; bytes (Q 2*3*4 + KV 2*3*(4+5) + O 2*3*5)*2 = (24+54+30)*2 = 216
    (ATTENTION, [2, 3, 3, 4, 5, 0, 2], 1, 2, (432, 324, 216)),
    # causal, q=kv=4: pairs 1+2+3+4 = 10 = 16 - 4*3/2; matmul 2*1*10*(2+2) = 80;
    # flops 80 + 6*10 = 140; bytes (1*4*2 + 1*4*(2+2) + 1*4*2)*1 = 32
    (ATTENTION, [1, 4, 4, 2, 2, 1, 1], 1, 1, (140, 80, 32)),
    # causal decode with a cache, q=2, kv=5, offset 3 (bottom-right): query 0 sees 4 keys,
    # query 1 sees 5: pairs 9 = 10 - 2*1/2; matmul 2*9*(1+1) = 36; flops 36 + 54 = 90;
    # bytes (2+5*2+2)*2 = 28
    (ATTENTION, [1, 2, 5, 1, 1, 1, 1, 3], 1, 2, (90, 36, 28)),
    # the same shapes top-left aligned (offset 0): query 0 sees 1 key, query 1 sees 2: pairs 3;
    # matmul 2*3*2 = 12; flops 12 + 6*3 = 30; bytes 28 as above
    (ATTENTION, [1, 2, 5, 1, 1, 1, 1, 0], 1, 2, (30, 12, 28)),
    # causal, q=5 > kv=2, offset 0: queries see 1, 2, 2, 2, 2 keys: pairs 9;
    # matmul 2*9*2 = 36; flops 36 + 54 = 90; bytes (5 + 2*2 + 5)*1 = 14
    (ATTENTION, [1, 5, 2, 1, 1, 1, 1], 1, 1, (90, 36, 14)),
    # ELEMENTWISE fused (a bias added in place): out 10, 1 flop each, reads 5 bias values,
    # fp32: 10 flops; bytes 5*4 = 20 (the output is the previous row's)
    (ELEMENTWISE, [10, 1, 5, 1], 1, 4, (10, 0, 20)),
    # ELEMENTWISE out 10, 3 flops each, in 20, fp32: 30 flops; (20+10)*4 = 120 bytes
    (ELEMENTWISE, [10, 3, 20], 1, 4, (30, 0, 120)),
    # REDUCE 12 -> 3, 1 flop per input, fp32: 12 flops; (12+3)*4 = 60 bytes
    (REDUCE, [12, 3, 1], 1, 4, (12, 0, 60)),
    # SOFTMAX 7 elems, fp16: 5*7 = 35 flops; 2*7*2 = 28 bytes
    (SOFTMAX, [7], 1, 2, (35, 0, 28)),
    # NORM 8 elems, 5 flops each, 2 groups, 4 params, fp32: 8*5 + 4*2 = 48; (2*8+4)*4 = 80
    (NORM, [8, 5, 2, 4], 1, 4, (48, 0, 80)),
    # POOL out 4, window 3x3=9, in 16, int8: 4*9 = 36 flops; 16+4 = 20 bytes
    (POOL, [4, 9, 16], 1, 1, (36, 0, 20)),
    # GATHER 6 out elems, 3 int64 indices, fp16: 2*6*2 + 8*3 = 48 bytes
    (GATHER, [6, 3], 1, 2, (0, 0, 48)),
    # MOVE 5 elems fp64: 2*5*8 = 80 bytes
    (MOVE, [5], 1, 8, (0, 0, 80)),
    # bidirectional LSTM seq 3, batch 2, input 4, hidden 5, 4 gates, 10 elementwise flops per
    # hidden unit, fp32: steps 3*2 = 6; matmul 6*2*2*4*5*(4+5) = 4320; + 6*2*5*10 = 600 -> 4920;
    # bytes 6*(weights 4*5*9 + x 2*4 + h 2*2*5)*4 = 6*(180+8+20)*4 = 4992
    (RNN, [3, 2, 4, 5, 4, 2, 10], 1, 4, (4920, 4320, 4992)),
    # FREE: nothing, whatever the params
    (FREE, [], 7, 4, (0, 0, 0)),
]


@pytest.mark.parametrize("kind,params,repeat,es,expected", HAND,
                         ids=[f"{kinds.NAMES[h[0]]}{i}" for i, h in enumerate(HAND)])
def test_hand_examples(kind, params, repeat, es, expected):
    full = list(params) + [0] * (kinds.REPEAT - len(params)) + [repeat]
    assert naive_costs(kind, full, es) == expected
    rc = evaluate(build([(kind, params, repeat, es)]))
    assert kernel_rows(rc) == [expected]


def test_causal_pairs_closed_form():
    rows, want = [], []
    for q in range(13):
        for kv in range(13):
            for off in range(-15, 15):   # negative: the first -off queries see no key
                assert causal_pairs(q, kv, off) == causal_pairs_brute(q, kv, off), (q, kv, off)
                for w in range(0, 6):    # a sliding window of w + 1 keys: causal code w + 2
                    assert attention_pairs(q, kv, w + 2, off) == causal_pairs_brute(q, kv, off, w), \
                        (q, kv, off, w)
                for code in (1, 2, 5) if off >= 0 else ():   # the kernel refuses negative params
                    rows.append((ATTENTION, [2, q, kv, 3, 5, code, 2, off], 1, 4))
                    # 2 heads: matmul = 2·2·pairs·(3 + 5)
                    want.append(2 * 2 * causal_pairs_brute(q, kv, off, None if code == 1 else code - 2) * 8)
            if q <= kv:   # bottom-right: q·kv − (masked upper triangle)
                assert causal_pairs(q, kv, kv - q) == q * kv - q * (q - 1) // 2
    assert [r[1] for r in kernel_rows(evaluate(build(rows)))] == want


# (kind, params, elsize, outsize, expected): inputs and outputs of different element sizes
MIXED = [
    # Cast fp32 -> fp16 of 6 elements: ELEMENTWISE 0 flops; bytes 6*4 + 6*2 = 36
    (ELEMENTWISE, [6, 0, 6], 4, 2, (0, 0, 36)),
    # ArgMax of 40 fp32 -> 8 int64: REDUCE 40 flops; bytes 40*4 + 8*8 = 224
    (REDUCE, [40, 8, 1], 4, 8, (40, 0, 224)),
    # GEMM 1x(2x3 @ 3x4) int8 in, int32 out: 2*2*4*3 = 48; bytes (6 + 12)*1 + 8*4 = 50
    (GEMM, [1, 2, 4, 3, 1, 1], 1, 4, (48, 48, 50)),
    # MOVE 10 elements fp16 -> fp32: 10*2 + 10*4 = 60
    (MOVE, [10], 2, 4, (0, 0, 60)),
]


@pytest.mark.parametrize("kind,params,es,eo,expected", MIXED)
def test_mixed_element_sizes(kind, params, es, eo, expected):
    full = list(params) + [0] * (kinds.REPEAT - len(params)) + [1]
    assert naive_costs(kind, full, es, eo) == expected
    b = TableBuilder()
    b.add(kind, params, elsize=es, outsize=eo, op="x")
    assert kernel_rows(evaluate(b.build())) == [expected]


@given(st.lists(st.tuples(st.integers(1, kinds.NKINDS - 1),
                          st.lists(st.integers(0, 2**21), min_size=8, max_size=8),
                          st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2, 4, 8])),
                min_size=1, max_size=12))
@FAST
def test_kernel_equals_naive_with_mixed_sizes(rows):
    b = TableBuilder()
    for kind, vals, es, eo in rows:
        vals = list(vals[: len(kinds.LAYOUT[kind])])
        if kind == CONV:
            vals[3] = 1
        if kind == ELEMENTWISE:
            vals[3] %= 2
        b.add(kind, vals, elsize=es, outsize=eo, op="x")
    t = b.build()
    rc = evaluate(t)
    naive_rows, totals = naive_evaluate(t)
    assert kernel_rows(rc) == naive_rows
    assert rc.total("bytes") == totals["bytes"]


# kernel == naive ----------------------------------------------------------------------------
@FAST
@given(ROWS)
def test_kernel_matches_naive(rows):
    table = build(rows)
    rc, exact = assert_agrees(table)
    for i, r in enumerate(exact):
        if max(r) > INT64_MAX:           # cannot sit in an int64 column: must be in `big`
            assert i in rc.big
        if i in rc.big:
            assert rc.flops[i] == rc.matmul_flops[i] == rc.bytes[i] == 0
    # breakdown by operator name and by module, exact
    for key, names in ((table.op, table.ops), (table.module, table.modules)):
        for name in MEASURES:
            want = [0] * len(names)
            for i, r in enumerate(exact):
                want[int(key[i])] += r[MEASURES.index(name)]
            assert rc.by(key, len(names), name) == want


@settings(max_examples=25, deadline=None)
@given(st.lists(row(CONV), min_size=1, max_size=10) | st.lists(row(ATTENTION), min_size=1,
                                                                max_size=10))
def test_conv_and_attention_match_naive(rows):
    assert_agrees(build(rows))


@pytest.mark.parametrize("elems,es", [
    (2**60 - 1, 2), (2**60, 2), (2**60 + 1, 2),       # bytes 2*e*2 around 2**62
    (2**61 - 1, 2), (2**61, 2), (2**62 - 1, 1),       # around 2**63 (int64 max + 1)
    (2**62 - 1, 8), (INT64_MAX, 8),                   # far beyond
])
def test_int64_boundary_exact(elems, es):
    # MOVE: bytes = 2*elems*es, right at the float-check limit and the int64 limit
    rc, rows = assert_agrees(build([(MOVE, [elems], 1, es)]))
    assert rows[0][2] == 2 * elems * es


def test_huge_partial_products_times_zero():
    # wrapped int64 intermediates (2**60 * 2**60 ...) multiplied by a zero factor must give 0:
    # GEMM with k=0 and no batch, causal attention with no heads, anything with repeat 0
    h = 2**60
    rows = [(GEMM, [0, h, h, 0, h, h], 1, 8),
            (ATTENTION, [0, h, h, h, h, 1, 0], 1, 8),
            (RNN, [h, h, h, h, h, h, h], 0, 8),
            (CONV, [h, 2**20, 2**20, 2**20, h, h, h, 1], 0, 8)]
    rc, exact = assert_agrees(build(rows))
    assert exact == [(0, 0, 0)] * 4


# exact totals -------------------------------------------------------------------------------
def test_total_of_1e25_is_exact():
    # GEMM b=5e6, m=n=k=1e6: 2*5e6*1e6*1e6*1e6 = 1e25 flops, + one elementwise flop
    rows = [(GEMM, [5 * 10**6, 10**6, 10**6, 10**6, 1, 1], 1, 2),
            (ELEMENTWISE, [1, 1, 1], 1, 2)]
    rc, _ = assert_agrees(build(rows))
    assert rc.total("flops") == 10**25 + 1           # float64 cannot hold this number
    assert str(rc.total("flops")) == "1" + "0" * 24 + "1"
    assert rc.total("matmul_flops") == 10**25


def test_total_of_many_rows_just_below_int64_is_exact():
    # 2000 rows of 2**61 - 8 bytes each (MOVE elems 2**58 - 1, es 4: 2*(2**58 - 1)*4), all on
    # the int64 path: total 2000*(2**61 - 8) ≈ 4.6e21, beyond int64, summed exactly in 31-bit
    # halves
    n = 2000
    rc, _ = assert_agrees(build([(MOVE, [2**58 - 1], 1, 4)] * n))
    assert not rc.big
    assert rc.total("bytes") == n * (2**61 - 8)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**62 - 1), max_size=200), st.data())
def test_split_sum_exact(values, data):
    mask = data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    hi, lo = _kernels().split_sum(np.array(values, dtype=np.int64), np.array(mask, dtype=np.bool_))
    assert int(hi) * 2**31 + int(lo) == sum(v for v, m in zip(values, mask) if m)


# invariances --------------------------------------------------------------------------------
@FAST
@given(ROWS, st.randoms(use_true_random=False))
def test_row_order_invariance(rows, rnd):
    perm = list(range(len(rows)))
    rnd.shuffle(perm)
    a = evaluate(build(rows))
    b = evaluate(build([rows[p] for p in perm]))
    ra, rb = kernel_rows(a), kernel_rows(b)
    assert sorted(ra) == sorted(rb)   # the builder groups rows by kind: compare as multisets
    for name in MEASURES:
        assert a.total(name) == b.total(name)


@FAST
@given(st.integers(0, 2**31), st.integers(0, 2**31), VALUE, VALUE, VALUE, ELSIZE, REPEAT)
def test_gemm_batch_split_is_additive(b1, b2, m, n, k, es, r):
    # one batched GEMM of b1+b2 (A and B both batched) == two GEMMs of b1 and b2
    whole = evaluate(build([(GEMM, [b1 + b2, m, n, k, b1 + b2, b1 + b2], r, es)]))
    split = evaluate(build([(GEMM, [b1, m, n, k, b1, b1], r, es),
                            (GEMM, [b2, m, n, k, b2, b2], r, es)]))
    for name in MEASURES:
        assert whole.total(name) == split.total(name)
    # with B shared (weights, b_batch=1) FLOPs still add up; bytes read the weights twice
    whole = evaluate(build([(GEMM, [b1 + b2, m, n, k, b1 + b2, 1], r, es)]))
    split = evaluate(build([(GEMM, [b1, m, n, k, b1, 1], r, es),
                            (GEMM, [b2, m, n, k, b2, 1], r, es)]))
    assert whole.total("flops") == split.total("flops")
    assert split.total("bytes") - whole.total("bytes") == k * n * es * r


@FAST
@given(row(), st.integers(0, 2**40), st.integers(0, 2**40))
def test_repeat_split_is_additive(r, r1, r2):
    kind, params, _, es = r
    whole = evaluate(build([(kind, params, r1 + r2, es)]))
    split = evaluate(build([(kind, params, r1, es), (kind, params, r2, es)]))
    for name in MEASURES:
        assert whole.total(name) == split.total(name)


# flags and groups are not sizes: turning causal on, or raising groups, lowers the cost
NOT_MONOTONE = {CONV: {3, 7}, ATTENTION: {5}, ELEMENTWISE: {3}}


@settings(max_examples=80, deadline=None)
@given(st.integers(1, kinds.NKINDS - 1).flatmap(row), st.data())
def test_monotone_in_every_size(r, data):
    kind, params, rep, es = r
    sizes = [j for j in range(len(params)) if j not in NOT_MONOTONE.get(kind, ())]
    sizes.append(kinds.REPEAT)
    j = data.draw(st.sampled_from(sizes))
    step = data.draw(st.sampled_from([1, 2, 1000, 2**40]))
    if kind == CONV and j in (1, 2):
        step *= params[3]             # keep channels divisible by groups
    p2, rep2 = list(params), rep
    if j == kinds.REPEAT:
        rep2 += step
    else:
        p2[j] += step
    a = kernel_rows(evaluate(build([(kind, params, rep, es)])))[0]
    b = kernel_rows(evaluate(build([(kind, p2, rep2, es)])))[0]
    assert all(y >= x for x, y in zip(a, b)), (kinds.LAYOUT[kind], j, a, b)


# symbolic binding ---------------------------------------------------------------------------
B, S = Sym.name("b"), Sym.name("s")


@st.composite
def sym_value(draw):
    """(Dim, function of (b, s) giving its value): a non-negative polynomial in b and s, or an
    opaque floor division (kept as an atom by flopest.dims)."""
    c = draw(st.lists(st.integers(0, 3), min_size=4, max_size=4))
    if draw(st.booleans()):
        d = draw(st.integers(2, 5))
        off = draw(st.integers(0, 3))
        return (S + off) // d, lambda b, s: (s + off) // d
    dim = c[0] + c[1] * B + c[2] * S + c[3] * B * S
    return dim, lambda b, s: c[0] + c[1] * b + c[2] * s + c[3] * b * s


@st.composite
def sym_row(draw):
    kind, params, rep, es = draw(row())
    dims, fns = list(params), [lambda b, s, v=v: v for v in params]
    for j in range(len(params)):
        if kind == CONV and j in (3, 7) or kind == ATTENTION and j == 5 or kind == ELEMENTWISE and j == 3:
            continue
        if draw(st.booleans()):
            dim, fn = draw(sym_value())
            if kind == CONV and j in (1, 2):       # channels: groups * polynomial
                g = params[3]
                dim, fn = dim * g, (lambda b, s, f=fn, g=g: f(b, s) * g)
            dims[j], fns[j] = dim, fn
    rdim, rfn = rep, (lambda b, s: rep)
    if draw(st.booleans()):
        rdim, rfn = draw(sym_value())
    return kind, dims, fns, rdim, rfn, es


@FAST
@given(st.lists(sym_row(), min_size=1, max_size=12),
       st.lists(st.tuples(st.integers(0, 64), st.integers(0, 2**20)), min_size=1, max_size=4))
def test_symbolic_binding_equals_concrete(rows, points):
    table = build([(k, dims, rdim, es) for k, dims, _, rdim, _, es in rows])
    for b, s in points:
        concrete = build([(k, [f(b, s) for f in fns], rfn(b, s), es)
                          for k, _, fns, _, rfn, es in rows])
        got = evaluate(table, {"b": b, "s": s})
        want = evaluate(concrete)
        assert kernel_rows(got) == kernel_rows(want)
        for name in MEASURES:
            assert got.total(name) == want.total(name)
        assert_agrees(table, {"b": b, "s": s})


def test_symbolic_gemm_by_hand():
    # GEMM batch b, m=s, n=64, k=2s+1: at b=2, s=3: 2*2*3*64*7 = 5376 flops
    table = build([(GEMM, [B, S, 64, 2 * S + 1, B, 1], 1, 2)])
    assert evaluate(table, {"b": 2, "s": 3}).total("flops") == 5376
    # at s=10: 2*2*10*64*21 = 53760
    assert evaluate(table, {"b": 2, "s": 10}).total("flops") == 53760


# validation ---------------------------------------------------------------------------------
def test_negative_param_after_binding_names_the_row():
    b = TableBuilder()
    b.add(GEMM, [1, 2, 2, 2, 1, 1], elsize=4, op="MatMul", node="ok")
    b.add(GEMM, [1, S - 10, 4, 4, 1, 1], elsize=4, op="MatMul", node="/layer1/mm")
    table = b.build()
    assert evaluate(table, {"s": 12}).total("flops") == 16 + 2 * 2 * 4 * 4   # 16 + 64
    with pytest.raises(KernelInputError, match=r"row \d+ .*'MatMul'.*'/layer1/mm'.*parameter m .*-7"):
        evaluate(table, {"s": 3})


def test_negative_repeat_names_the_row():
    b = TableBuilder()
    b.add(MOVE, [4], elsize=4, op="Concat", node="cat", repeat=S - 5)
    with pytest.raises(KernelInputError, match=r"row \d+ .*'Concat'.*repeat.*-5"):
        evaluate(b.build(), {"s": 0})


@pytest.mark.parametrize("c_in,c_out,groups", [(6, 8, 4), (8, 6, 4), (8, 8, 0)])
def test_conv_groups_must_divide_channels(c_in, c_out, groups):
    b = TableBuilder()
    b.add(ELEMENTWISE, [1, 1, 1], elsize=4, op="Relu", node="relu")
    b.add(CONV, [1, c_in, c_out, groups, 9, 9, 9, 0], elsize=4, op="Conv", node="conv3")
    with pytest.raises(KernelInputError, match=rf"row \d+ .*'Conv'.*'conv3'.*groups={groups}"):
        evaluate(b.build())


@pytest.mark.parametrize("bad", [kinds.NKINDS, -1, 100])
def test_bad_kind_names_the_row(bad):
    b = TableBuilder()
    b.add(MOVE, [4], elsize=4, op="Identity", node="a")
    b.add(bad, [4], elsize=4, op="Mystery", node="b")
    with pytest.raises(KernelInputError, match=rf"row \d+ .*'Mystery'.*unknown cost kind {bad}"):
        evaluate(b.build())


def test_zero_elsize_names_the_row():
    b = TableBuilder()
    b.add(MOVE, [4], elsize=0, op="Identity", node="a")
    with pytest.raises(KernelInputError, match=r"row \d+ .*'Identity'.*element size"):
        evaluate(b.build())


def test_unbound_dim_is_named():
    table = build([(GEMM, [B, S, 4, 4, 1, 1], 1, 4)])
    with pytest.raises(UnboundDimError, match=r"'s'"):
        evaluate(table, {"b": 1})


def test_bound_value_beyond_int64_names_the_row():
    b = TableBuilder()
    b.add(GEMM, [1, S * S, 4, 4, 1, 1], elsize=4, op="MatMul", node="mm")
    with pytest.raises(KernelInputError, match=r"row \d+ .*'MatMul'.*parameter m"):
        evaluate(b.build(), {"s": 2**40})


# If alternatives ----------------------------------------------------------------------------
def test_if_costlier_branch_counts():
    b = TableBuilder()
    g = b.new_group()
    # then: GEMM 2*1*2*2*2 = 16 flops, bytes (4+4+4)*4 = 48
    b.add(GEMM, [1, 2, 2, 2, 1, 1], elsize=4, op="MatMul", node="then", group=g, branch=0)
    # else: GEMM 2*1*4*4*4 = 128 flops, bytes (16+16+16)*4 = 192
    b.add(GEMM, [1, 4, 4, 4, 1, 1], elsize=4, op="MatMul", node="else", group=g, branch=1)
    # outside the If: 10 flops, (10+10)*4 = 80 bytes
    b.add(ELEMENTWISE, [10, 1, 10], elsize=4, op="Add", node="add")
    table = b.build()
    rc = evaluate(table)
    assert rc.active.tolist() == [False, True, True]
    assert rc.total("flops") == 128 + 10
    assert rc.total("bytes") == 192 + 80
    assert naive_evaluate(table)[1] == {"flops": 138, "matmul_flops": 128, "bytes": 272}


def test_if_nested_groups():
    def table(outer_else_flops):
        b = TableBuilder()
        g0 = b.new_group()
        g1 = b.new_group(parent=(g0, 0))
        # outer then-branch: 10 flops of its own + inner If (100 vs 50 -> 100) = 110
        b.add(ELEMENTWISE, [10, 1, 0], elsize=1, op="Add", node="t", group=g0, branch=0)
        b.add(ELEMENTWISE, [100, 1, 0], elsize=1, op="Mul", node="tt", group=g1, branch=0)
        b.add(ELEMENTWISE, [50, 1, 0], elsize=1, op="Mul", node="te", group=g1, branch=1)
        # outer else-branch
        b.add(ELEMENTWISE, [outer_else_flops, 1, 0], elsize=1, op="Sub", node="e",
              group=g0, branch=1)
        return b.build()

    t = table(105)                        # 110 > 105: then wins, and its inner then
    rc = evaluate(t)
    assert rc.active.tolist() == [True, True, False, False]
    assert rc.total("flops") == 110 == naive_evaluate(t)[1]["flops"]
    t = table(200)                        # 200 > 110: the whole then-branch drops out
    rc = evaluate(t)
    assert rc.active.tolist() == [False, False, False, True]
    assert rc.total("flops") == 200 == naive_evaluate(t)[1]["flops"]


@st.composite
def grouped_rows(draw):
    """Rows spread over up to 3 If groups (the later ones possibly nested) and 3 branches."""
    ng = draw(st.integers(1, 3))
    groups = [(-1, -1)]
    for g in range(1, ng):
        groups.append(draw(st.sampled_from([(-1, -1)] + [(p, b) for p in range(g)
                                                          for b in range(3)])))
    rows = []
    for r in draw(st.lists(row(), min_size=1, max_size=15)):
        if draw(st.booleans()):
            r = r + (draw(st.integers(0, ng - 1)), draw(st.integers(0, 2)))
        rows.append(r)
    return rows, groups


@FAST
@given(grouped_rows())
def test_if_alternatives_match_naive(case):
    rows, groups = case
    table = build(rows, groups=groups)
    rc, _ = assert_agrees(table)
    assert rc.active.tolist() == active_rows(table, [r[0] for r in kernel_rows(rc)])
