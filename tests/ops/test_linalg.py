"""MatMul, Gemm, Einsum lowerings against hand arithmetic (1 multiply-add = 2 FLOPs; bytes =
A + B + Y elements read/written at 4 bytes for float32; see kinds.FORMULAS[GEMM])."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

import flopest  # noqa: E402
from tests.ops._onnx_build import check, count, model, node  # noqa: E402


def _mm(a, b):
    return model([node("MatMul", ["A", "B"], ["Y"])], [("A", a), ("B", b)], ["Y"])


@pytest.mark.parametrize("a, b, flops, nbytes", [
    # 2-D (3,4)@(4,5): 2*3*5*4 = 120; bytes (12 + 20 + 15)*4 = 188
    ((3, 4), (4, 5), 120, 188),
    # batched (2,3,4)@(2,4,5): 2*2*3*5*4 = 240; bytes (2*12 + 2*20 + 2*15)*4 = 376
    ((2, 3, 4), (2, 4, 5), 240, 376),
    # broadcast batch (2,1,3,4)@(1,6,4,5) -> (2,6,3,5): 2*12*3*5*4 = 1440;
    # bytes (2*12 + 6*20 + 12*15)*4 = (24 + 120 + 180)*4 = 1296
    ((2, 1, 3, 4), (1, 6, 4, 5), 1440, 1296),
    # batch against a plain matrix (8,3,4)@(4,5): 2*8*3*5*4 = 960; bytes (96 + 20 + 120)*4 = 944
    ((8, 3, 4), (4, 5), 960, 944),
    # 1-D left (4,)@(4,5) = (1,4)@(4,5): 2*1*5*4 = 40; bytes (4 + 20 + 5)*4 = 116
    ((4,), (4, 5), 40, 116),
    # 1-D right (3,4)@(4,) = (3,4)@(4,1): 2*3*1*4 = 24; bytes (12 + 4 + 3)*4 = 76
    ((3, 4), (4,), 24, 76),
    # dot product (4,)@(4,): 2*1*1*4 = 8; bytes (4 + 4 + 1)*4 = 36
    ((4,), (4,), 8, 36),
], ids=["2d", "batched", "broadcast-batch", "batch-x-matrix", "1d-left", "1d-right", "dot"])
def test_matmul(a, b, flops, nbytes):
    check(count(_mm(a, b)), flops, flops, nbytes)


def test_matmul_from_saved_path(tmp_path):
    import onnx
    p = tmp_path / "mm.onnx"
    onnx.save(_mm((2, 3, 4), (2, 4, 5)), p)
    c = flopest.count(str(p))
    check(c, 240, 240, 376)  # as the batched case above: 2*2*3*5*4 = 240; (24 + 40 + 30)*4 = 376


def _gemm(a, b, c=None, **attrs):
    ins = [("A", a), ("B", b)] + ([("C", c)] if c else [])
    return model([node("Gemm", [n for n, _ in ins], ["Y"], **attrs)], ins, ["Y"])


@pytest.mark.parametrize("m, flops, mm, nbytes", [
    # (3,4)·(4,5), no C: 2*3*5*4 = 120; bytes (12 + 20 + 15)*4 = 188
    (_gemm((3, 4), (4, 5)), 120, 120, 188),
    # transA, transB: A (4,3)ᵀ · B (5,4)ᵀ = (3,4)·(4,5): same 120 and 188
    (_gemm((4, 3), (5, 4), transA=1, transB=1), 120, 120, 188),
    # bias C (5,): GEMM 120 + one add per output 3*5*1 = 15 -> 135;
    # bytes: A, B, C read, Y written once: (12 + 20 + 5 + 15)*4 = 208
    (_gemm((3, 4), (4, 5), (5,)), 135, 120, 208),
    # alpha=0.5, beta=2, C (3,5): per output alpha 1 + add 1 + beta 1 = 3 -> 120 + 3*15 = 165;
    # bytes (12 + 20 + 15 + 15)*4 = 248
    (_gemm((3, 4), (4, 5), (3, 5), alpha=0.5, beta=2.0), 165, 120, 248),
    # alpha=2 without C: 120 + 1*15 = 135; bytes as plain: 188
    (_gemm((3, 4), (4, 5), alpha=2.0), 135, 120, 188),
], ids=["plain", "transA-transB", "bias", "alpha-beta", "alpha-no-C"])
def test_gemm(m, flops, mm, nbytes):
    check(count(m), flops, mm, nbytes)


def _einsum(eq, *shapes):
    names = [f"X{i}" for i in range(len(shapes))]
    return model([node("Einsum", names, ["Y"], equation=eq)], list(zip(names, shapes)), ["Y"])


@pytest.mark.parametrize("m, flops, mm, nbytes", [
    # bmk,bkn->bmn (2,3,4),(2,4,5): batch b=2, m=3, n=5, k=4: 2*2*3*5*4 = 240;
    # bytes (2*3*4 + 2*4*5 + 2*3*5)*4 = (24 + 40 + 30)*4 = 376
    (_einsum("bmk,bkn->bmn", (2, 3, 4), (2, 4, 5)), 240, 240, 376),
    # bhqd,bhkd->bhqk (2,3,5,8),(2,3,7,8): batch 2*3 = 6, m=q=5, n=k=7, k=d=8: 2*6*5*7*8 = 3360;
    # bytes (6*5*8 + 6*7*8 + 6*5*7)*4 = (240 + 336 + 210)*4 = 3144
    (_einsum("bhqd,bhkd->bhqk", (2, 3, 5, 8), (2, 3, 7, 8)), 3360, 3360, 3144),
    # implicit output ij,jk (-> ik) (3,4),(4,5): 2*3*5*4 = 120; bytes (12 + 20 + 15)*4 = 188
    (_einsum("ij,jk", (3, 4), (4, 5)), 120, 120, 188),
    # ellipsis ...ij,...jk->...ik (2,3,3,4),(2,3,4,5): batch 2*3 = 6: 2*6*3*5*4 = 720;
    # bytes (6*12 + 6*20 + 6*15)*4 = (72 + 120 + 90)*4 = 1128
    (_einsum("...ij,...jk->...ik", (2, 3, 3, 4), (2, 3, 4, 5)), 720, 720, 1128),
    # 3 operands ij,jk,kl->il (2,3),(3,4),(4,5), left to right:
    #   (2,3)@(3,4): 2*2*4*3 = 48, bytes (6 + 12 + 8)*4 = 104
    #   (2,4)@(4,5): 2*2*5*4 = 80, bytes (8 + 20 + 10)*4 = 152
    #   total 48 + 80 = 128 FLOPs, 104 + 152 = 256 bytes
    (_einsum("ij,jk,kl->il", (2, 3), (3, 4), (4, 5)), 128, 128, 256),
    # row sum ij->i (3,4): one add per input element 12; bytes (12 in + 3 out)*4 = 60
    (_einsum("ij->i", (3, 4)), 12, 0, 60),
    # trace ii-> (4,4): the 4 diagonal elements summed: 4 FLOPs; bytes (4 in + 1 out)*4 = 20
    (_einsum("ii->", (4, 4)), 4, 0, 20),
], ids=["bmk-bkn", "bhqd-bhkd", "implicit", "ellipsis", "three-operands", "row-sum", "trace"])
def test_einsum(m, flops, mm, nbytes):
    check(count(m), flops, mm, nbytes)
