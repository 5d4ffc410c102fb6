"""Matrix products: MatMul, Gemm, Einsum. 1 multiply-add = 2 FLOPs."""

from __future__ import annotations

import re

from .. import kinds
from ..dims import broadcast_dim, broadcast_shapes, prod, same_dim
from ..errors import InputError
from . import Ctx, ShapeUnknown, lowering, rebind, tshape


def _mm_rows(a: tuple, b: tuple, out: tuple | None):
    """Rows of numpy-style matmul: (..., m, k) @ (..., k, n); 1-D operands promoted."""
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    if len(a2) < 2 or len(b2) < 2:
        raise ShapeUnknown("matmul of a scalar")
    m, k = a2[-2], same_dim(a2[-1], b2[-2])
    n = b2[-1]
    a_batch, b_batch = prod(a2[:-2]), prod(b2[:-2])
    batch = prod(broadcast_shapes(a2[:-2], b2[:-2]))   # NumPy broadcast of the batch shapes
    return [(kinds.GEMM, [batch, m, n, k, a_batch, b_batch])]


# aten.matmul is CompositeImplicit (it reaches dispatch as mm / bmm / views); the alias is kept
# for a front end that records it above dispatch: its semantics are MatMul's.
@lowering("MatMul", aten=("aten.mm", "aten.bmm", "aten.matmul", "aten.mv", "aten.dot", "aten.vdot"))
def matmul(c: Ctx):
    """Y = A @ B: 2·batch·m·n·k (numpy broadcasting of batch dims)."""
    return _mm_rows(c.inp(0), c.inp(1), None)


def _scalar(c: Ctx, key: str, default=1.0):
    v = c.kwargs.get(key, default)
    return float(v) if isinstance(v, (int, float, bool)) else default


def _addmm(c: Ctx) -> Ctx:
    """aten.addmm(bias, a, b, *, beta, alpha) -> Gemm(a, b, bias) with alpha, beta; beta = 0
    drops the bias (it is not read)."""
    bias, a, b = c.arg(0), c.arg(1), c.arg(2)
    beta, alpha = _scalar(c, "beta"), _scalar(c, "alpha")
    return rebind(c, [a, b] + ([bias] if beta != 0 else []), alpha=alpha, beta=beta)


@lowering("Gemm", aten=(("aten.addmm", _addmm),))
def gemm(c: Ctx):
    """Y = alpha·A'·B' + beta·C: 2·m·n·k, then one FLOP per output for each of the C add,
    the alpha scale (alpha != 1) and the beta scale (beta != 1). Bytes: A, B, C read, Y
    written once."""
    a, b = c.inp(0), c.inp(1)
    m, k = (a[1], a[0]) if c.attr("transA", 0) else (a[0], a[1])
    n, kb = (b[0], b[1]) if c.attr("transB", 0) else (b[1], b[0])
    k = same_dim(k, kb)
    rows = [(kinds.GEMM, [1, m, n, k, 1, 1])]
    per = (1 if c.attr("alpha", 1.0) != 1.0 else 0)
    with_c = c.has(2) and c.attr("beta", 1.0) != 0.0   # beta = 0: C is neither read nor added
    if with_c:
        per += 1 + (1 if c.attr("beta", 1.0) != 1.0 else 0)
    if per:
        # fused: Y is the GEMM row's output, updated in place, not written a second time
        rows.append((kinds.ELEMENTWISE, [m * n, per, prod(c.inp(2)) if with_c else 0, 1]))
    return rows


_TERM = re.compile(r"^(?:[A-Za-z]|\.\.\.)*$")


def parse_einsum(eq: str, shapes: list):
    """Letters of each operand, the output letters, and each letter's size. '...' becomes
    the letters '0', '1', ... (one per broadcast dim)."""
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) != len(shapes) or not all(_TERM.match(t) for t in terms) or \
            (rhs is not None and not _TERM.match(rhs)):
        raise InputError(f"Einsum equation {eq!r} does not match {len(shapes)} operands")
    ell_rank = 0
    for t, s in zip(terms, shapes):
        if "..." in t:
            ell_rank = max(ell_rank, len(s) - len(t.replace("...", "")))
    ell = "".join(str(i) for i in range(ell_rank))
    sizes: dict = {}
    ops = []
    for t, s in zip(terms, shapes):
        n_ell = len(s) - len(t.replace("...", ""))
        letters = t.replace("...", ell[ell_rank - n_ell:] if n_ell else "")
        if len(letters) != len(s):
            raise InputError(f"Einsum term {t!r} does not match an operand of rank {len(s)}")
        for ch, d in zip(letters, s):
            sizes[ch] = broadcast_dim(sizes[ch], d) if ch in sizes else d
        ops.append(letters)
    if rhs is None:  # implicit mode: letters appearing once, sorted
        counts: dict = {}
        for t in ops:
            for ch in t:
                counts[ch] = counts.get(ch, 0) + 1
        out = ell + "".join(sorted(ch for ch, n in counts.items() if n == 1 and not ch.isdigit()))
    else:
        out = rhs.replace("...", ell)
        stray = [ch for ch in out if ch not in sizes]
        if stray:
            raise InputError(f"Einsum equation {eq!r}: output letter(s) {', '.join(stray)} appear in no operand")
    return ops, out, sizes


def _einsum(c: Ctx) -> Ctx:
    """aten.einsum(equation, tensors) (CompositeImplicit: seen only above dispatch)."""
    return rebind(c, list(c.arg(1) or []), equation=c.arg(0, "equation", ""))


@lowering("Einsum", aten=(("aten.einsum", _einsum),))
def einsum(c: Ctx):
    """Contracted left to right, two operands at a time: each pair is a GEMM whose batch =
    letters kept by both, m/n = letters kept by one side, k = letters summed away (a pair
    with no letter summed away, a Hadamard or outer product, is one multiply per output: an
    ELEMENTWISE row, not a GEMM's multiply-add); a letter of a single operand that is summed
    out costs a REDUCE first. An output letter no operand has is an error."""
    shapes = [c.inp(i) for i in range(len(c.inputs))]
    ops, out, size = parse_einsum(c.attr("equation", ""), shapes)
    rows = []

    def keep_after(j):
        need = set(out)
        for t in ops[j + 1:]:
            need |= set(t)
        return need

    def reduce_alone(t, others_need):
        kept = "".join(ch for ch in t if ch in others_need)
        if len(kept) < len(t):
            # a letter repeated in one term is a diagonal: count each letter once
            rows.append((kinds.REDUCE, [prod(size[ch] for ch in dict.fromkeys(t)),
                                        prod(size[ch] for ch in dict.fromkeys(kept)), 1]))
            return kept
        return t

    cur = ops[0]
    if len(ops) == 1:
        kept = reduce_alone(cur, set(out))
        if kept == cur and cur != out:
            rows.append((kinds.MOVE, [prod(size[ch] for ch in dict.fromkeys(cur))]))
        return rows
    cur = reduce_alone(cur, set(ops[1]) | keep_after(1))
    for j in range(1, len(ops)):
        other = reduce_alone(ops[j], set(cur) | keep_after(j))
        need = keep_after(j)
        both = [ch for ch in dict.fromkeys(cur + other) if ch in cur and ch in other]
        batch = [ch for ch in both if ch in need]
        k = [ch for ch in both if ch not in need]
        m = [ch for ch in cur if ch not in other]
        n = [ch for ch in other if ch not in cur]
        B = prod(size[ch] for ch in batch)
        M, N = prod(size[ch] for ch in m), prod(size[ch] for ch in n)
        if k:
            rows.append((kinds.GEMM, [B, M, N, prod(size[ch] for ch in k), B, B]))
        else:   # nothing summed (Hadamard, outer product): one multiply an output, no add
            rows.append((kinds.ELEMENTWISE, [B * M * N, 1, B * M + B * N, 0]))
        cur = "".join(batch + m + n)
    return rows


@lowering("MatMulInteger")
def matmul_integer(c: Ctx):
    """Integer matmul: same count as MatMul (multiply-adds in int32)."""
    return _mm_rows(c.inp(0), c.inp(1), None)


@lowering("QLinearMatMul")
def qlinear_matmul(c: Ctx):
    """Quantized matmul (a = input 0, b = input 3): as MatMul, plus 2 FLOPs per output for
    requantization."""
    rows = _mm_rows(c.inp(0), c.inp(3), None)
    rows.append((kinds.ELEMENTWISE, [c.numel_out(0), 2, 0]))
    return rows


@lowering("aten.baddbmm")
def baddbmm(c: Ctx):
    """aten.baddbmm(C, A, B, *, beta, alpha) = beta·C + alpha·(A @ B), batched:
    2·batch·m·n·k, then per output 1 for the C add (beta != 0), 1 for beta != 1, 1 for alpha
    != 1, in place (fused). beta = 0 reads no C (attention scores are built this way)."""
    cin, a, b = tshape(c.arg(0)), tshape(c.arg(1)), tshape(c.arg(2))
    if a is None or b is None:
        raise ShapeUnknown("baddbmm needs both batch operands")
    rows = _mm_rows(a, b, None)
    beta, alpha = _scalar(c, "beta"), _scalar(c, "alpha")
    per = (1 if alpha != 1 else 0) + ((1 + (1 if beta != 1 else 0)) if beta != 0 else 0)
    if per:
        batch, m, n = rows[0][1][:3]
        rows.append((kinds.ELEMENTWISE, [batch * m * n, per, prod(cin) if cin and beta != 0 else 0, 1]))
    return rows


@lowering("aten._addmm_activation")
def addmm_activation(c: Ctx):
    """aten._addmm_activation(bias, a, b, *, beta, alpha, use_gelu): addmm (see Gemm) then ReLU
    (1 per output) or GELU (tanh form, 9 per output; FLOPS_PER_ELEMENT["Gelu"]), in place."""
    rows = gemm(_addmm(c))
    a, b = tshape(c.arg(1)), tshape(c.arg(2))
    per = 9 if c.kwargs.get("use_gelu", False) else 1
    rows.append((kinds.ELEMENTWISE, [a[0] * b[1], per, 0, 1]))
    return rows


@lowering("aten._trilinear")
def trilinear(c: Ctx):
    """aten._trilinear(i1, i2, i3, expand1, expand2, expand3, sumdim, unroll_dim) (nn.Bilinear
    and its backward): each operand unsqueezed at its `expand` dims, the three multiplied
    and summed over `sumdim` = a three-operand Einsum (letter j = dim j), costed as Einsum."""
    shapes = [tshape(c.arg(i)) for i in range(3)]
    if any(s is None for s in shapes):
        raise ShapeUnknown("_trilinear needs its three tensors")
    expands = [set(c.arg(3 + i) or ()) for i in range(3)]
    ndim = len(shapes[0]) + len(expands[0])
    letters = "abcdefghijklmnopqrstuvwxyz"[:ndim]
    terms = ["".join(ch for j, ch in enumerate(letters) if j not in e) for e in expands]
    out = "".join(ch for j, ch in enumerate(letters) if j not in set(c.arg(6) or ()))
    return einsum(rebind(c, [c.arg(0), c.arg(1), c.arg(2)], equation=",".join(terms) + "->" + out))


def lu_flops(m: int) -> int:
    """FLOPs of an m×m determinant by LU with partial pivoting: at step j (1..m−1) m−j
    divides for the multipliers and (m−j)² multiply-subtracts (2 each), then m−1 multiplies
    of the diagonal: m(m−1)/2 + (m−1)m(2m−1)/3 + m − 1 (≈ 2m³/3, Golub & Van Loan, Matrix
    Computations, 4th ed., 2013, §3.2.6)."""
    return m * (m - 1) // 2 + (m - 1) * m * (2 * m - 1) // 3 + max(m - 1, 0)


@lowering("Det")
def det(c: Ctx):
    """Det(X (..., M, M)): lu_flops(M) per matrix. Not a matrix product (not matmul_flops)."""
    x = c.inp(0)
    if len(x) < 2 or not isinstance(x[-1], int):
        raise ShapeUnknown(f"Det needs a static square matrix size, got {x}")
    return [(kinds.ELEMENTWISE, [prod(x[:-2]), lu_flops(x[-1]), prod(x)])]


@lowering("AffineGrid")
def affine_grid(c: Ctx):
    """AffineGrid(theta (N, r, r+1), size) -> grid (N, *spatial, r): the base grid's
    homogeneous points (P = prod(spatial), r+1 coordinates; each coordinate a scale and
    shift, 2 FLOPs per point and dim) times thetaᵀ: a batched (P × (r+1))·((r+1) × r)
    product, 2·N·P·r·(r+1), the base grid shared by the batch."""
    theta, y = c.inp(0), c.out(0)
    n, r = theta[0], theta[1]
    p = prod(y[1:-1])
    return [(kinds.ELEMENTWISE, [p * r, 2, 0]), (kinds.GEMM, [n, p, r, r + 1, 1, n])]
