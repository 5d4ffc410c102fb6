"""Signal processing: DFT, STFT, window generators, the mel filterbank.

A length-N complex FFT is credited 5·N·⌈log2 N⌉ FLOPs and a real-input (or real-output)
one half of that: the convention of FFTW's benchmarks (Frigo & Johnson, "The Design and
Implementation of FFTW3", Proc. IEEE 93(2), 2005, §VIII: "5 N log2 N"), used for every N
(NB: an FFT of a length that is not a power of two does a few more). Bytes: input read and
output written (one REDUCE row carrying no FLOPs), the FLOPs in a fused row."""

from __future__ import annotations

from .. import kinds
from ..dims import prod
from . import Ctx, ShapeUnknown, lowering


def fft_flops(n: int, real: bool) -> int:
    """5·n·⌈log2 n⌉, halved for a real transform."""
    f = 5 * n * max(int(n - 1).bit_length(), 0)
    return f // 2 if real else f


def _int_const(c: Ctx, i: int):
    v = c.const(i)
    if v is None or v.size != 1:
        return None
    return int(v.reshape(-1)[0])


def _transform_rows(c: Ctx, transforms, n, real: bool, extra_per_transform: int = 0):
    if not isinstance(n, int):
        raise ShapeUnknown(f"{c.op} length {n} is symbolic (its FFT cost is n·log n)")
    per = fft_flops(n, real) + extra_per_transform
    return [(kinds.REDUCE, [c.numel_in(0), c.numel_out(0), 0]),
            (kinds.ELEMENTWISE, [transforms * per, 1, 0, 1])]


@lowering("DFT")
def dft(c: Ctx):
    """DFT(input (..., L, 1 | 2), dft_length?, axis?): one transform per position of the other
    dims, of length dft_length (else the longer of the input's and the output's axis: an
    inverse one-sided transform has fewer input bins); real when the input is real (last dim
    1) or the output is (inverse + onesided). Opset 17 has `axis` as an attribute (default
    1), opset 20 as input 2 (default −2)."""
    x = c.inp(0)
    y = c.out(0)
    if c.has(2):
        axis = _int_const(c, 2)
        if axis is None:
            raise ShapeUnknown("DFT axis input is not a constant")
    elif "axis" in c.attrs:
        axis = int(c.attr("axis"))
    elif len(x) == 3 or x[1] == x[-2]:
        axis = 1        # both opsets' defaults (1 in opset 17, −2 from opset 20) agree
    else:
        raise ShapeUnknown("DFT without an axis: its default is 1 in opset 17 and −2 from "
                           "opset 20, which differ for this input")
    r = len(x)
    axis = axis + r if axis < 0 else axis
    if not 0 <= axis < r - 1:
        raise ShapeUnknown(f"DFT axis {axis} is out of range for a rank-{r} input")
    n = _int_const(c, 1) if c.has(1) else None
    if n is None:
        if c.has(1):
            raise ShapeUnknown("DFT dft_length input is not a constant")
        a, b = x[axis], y[axis]
        n = a if not isinstance(a, int) or not isinstance(b, int) else max(a, b)
    inverse, onesided = bool(c.attr("inverse", 0)), bool(c.attr("onesided", 0))
    real = x[-1] == 1 or (inverse and onesided)
    transforms = prod(d for i, d in enumerate(x[:-1]) if i != axis)
    return _transform_rows(c, transforms, n, real)


@lowering("STFT")
def stft(c: Ctx):
    """STFT(signal (B, L, 1 | 2), frame_step, window?, frame_length?) -> (B, frames, bins, 2):
    B·frames transforms of the frame length (frame_length, else the window's length), each
    frame multiplied by the window first (N multiplies; complex signals 2N)."""
    x, y = c.inp(0), c.out(0)
    n = _int_const(c, 3) if c.has(3) else None
    if n is None and c.has(2):
        n = c.inp(2)[0]
    if n is None:
        raise ShapeUnknown("STFT frame length: neither a constant frame_length nor a window")
    real = x[-1] == 1
    win = (n if real else 2 * n) if c.has(2) and isinstance(n, int) else 0
    return _transform_rows(c, x[0] * y[1], n, real, win)


# window generators: per output element the phase 2πn/N (multiply, divide) and the cosine
# terms: Hann and Hamming a0 − a1·cos (cos, multiply, subtract) = 5; Blackman
# a0 − a1·cos(φ) + a2·cos(2φ) (+ 2φ, two cos, two multiplies, subtract, add) = 9
_WINDOW_FLOPS = {"HannWindow": 5, "HammingWindow": 5, "BlackmanWindow": 9}


@lowering(*_WINDOW_FLOPS)
def window(c: Ctx):
    """A window of `size` points (the output): _WINDOW_FLOPS per point."""
    return [(kinds.ELEMENTWISE, [c.numel_out(0), _WINDOW_FLOPS[c.op], 0])]


@lowering("MelWeightMatrix")
def mel_weight_matrix(c: Ctx):
    """MelWeightMatrix(num_mel_bins, dft_length, sample_rate, lower, upper) -> (dft_length/2 + 1,
    num_mel_bins): per element its triangle weight, 2 compares against the band edges, a
    subtract and a divide = 4 (the bins' mel conversions are per row or column: not counted)."""
    return [(kinds.ELEMENTWISE, [c.numel_out(0), 4, 0])]
