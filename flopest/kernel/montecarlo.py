"""The one Monte-Carlo sampler (training and serving): validates, draws the seeded standard
normals and calls the Numba kernel (kernel/_mc.py `draw`).

>>> import numpy as np
>>> q = np.array([[0.3], [0.4], [0.5]])          # rows p5, p50, p95; one column per input
>>> v = sample(q, 1000, seed=1, upper=np.array([1.0]))
>>> v.shape
(1, 1000)
"""

from __future__ import annotations

import numpy as np

import os

from ..errors import InputError
from ..validate import error
from . import load

MAX_SAMPLES = 10**8
# Peak memory per Monte-Carlo sample of a whole estimate (every input's draws and the results'
# arrays): 172 bytes, measured on 2026-12-07 as the growth of the peak RSS of `flopest estimate
# --params 1B --tokens 1B` from 1e5 to 4e6 samples (165 MB → 836 MB); 200 leaves a margin.
BYTES_PER_SAMPLE = 200


def _available_bytes() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):   # not Linux: no limit beyond MAX_SAMPLES
        return None


def check_samples(samples) -> int:
    """`samples` as an int, or an error naming it: a whole number from 1 to 1e8 whose draws fit in
    half the memory available now (about 200 bytes a sample), so that a large value is refused
    before any work instead of exhausting the machine."""
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or not 1 <= samples <= MAX_SAMPLES:
        raise error(f"samples must be a whole number between 1 and {MAX_SAMPLES:.0e}, got {samples!r}", "samples")
    avail = _available_bytes()
    need = int(samples) * BYTES_PER_SAMPLE
    if avail is not None and need > avail // 2:
        most = max(1, avail // 2 // BYTES_PER_SAMPLE)
        raise error(f"samples {int(samples):,} would need about {need / 1e9:.1f} GB of memory ({BYTES_PER_SAMPLE} bytes "
                    f"a sample) and {avail / 1e9:.1f} GB are free: give at most {most:,} (1e5, the default, "
                    f"already gives stable p5/p95)", "samples")
    return int(samples)


def _kernel():
    return load("_mc")


def sample(q: np.ndarray, samples: int, seed: int, lower=None, upper=None, aligned: bool = False) -> np.ndarray:
    """(k, samples) draws of k inputs given by q (3, k) = their p5, p50, p95, each from the
    two-piece log-normal through them (a constant where p5 = p50 = p95), clipped to
    [lower, upper] (arrays of k; None: unbounded). aligned: input j always takes column j of the
    seeded normals, constant or not, so that draws made apart (the phases of a plan) share each
    input's normals; otherwise only the uncertain inputs take columns, in order."""
    samples = check_samples(samples)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative whole number, got {seed!r}")
    q = np.ascontiguousarray(q, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] != 3:
        raise InputError(f"q must have shape (3, k) (p5, p50, p95 rows), got {q.shape}")
    k = q.shape[1]
    lo = np.full(k, -np.inf) if lower is None else np.ascontiguousarray(lower, dtype=np.float64)
    hi = np.full(k, np.inf) if upper is None else np.ascontiguousarray(upper, dtype=np.float64)
    if lo.shape != (k,) or hi.shape != (k,):
        raise InputError(f"bounds must have shape ({k},), got {lo.shape} and {hi.shape}")
    uncertain = np.flatnonzero(~((q[0] == q[1]) & (q[1] == q[2]))).astype(np.int64)
    if aligned:
        z = np.random.default_rng(seed).standard_normal((int(samples), k))[:, uncertain]
        z = np.ascontiguousarray(z)
    else:
        z = np.random.default_rng(seed).standard_normal((int(samples), len(uncertain)))
    cols = uncertain
    out = np.empty((k, int(samples)))
    _kernel().draw(q, z, cols, lo, hi, out)
    return out
