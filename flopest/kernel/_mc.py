"""Monte-Carlo kernels (Numba): typed arrays in, arrays out.

`draw` is the one sampler of the house (training and serving; its public face is
flopest.kernel.montecarlo.sample). Each uncertain input is given by (p5, p50, p95) and sampled
from a two-piece log-normal with median p50 whose lower and upper halves put 5 % of the mass
below p5 and above p95; an input with p5 = p50 = p95 is a constant. Samples beyond an input's
physical bound (MFU <= 1, PUE >= 1, ...) are set to the bound. The standard-normal draws come
from NumPy's seeded Generator (one per uncertain input and sample), so a run is reproducible.

`impacts` is the training impact model on those draws (flopest.impact.training).
"""

import numpy as np
from numba import njit

from ..units import HOURS_PER_YEAR

Z95 = 1.6448536269514722   # standard-normal 95th percentile

# order of the training model's uncertain inputs in the `q` array (rows: p5, p50, p95)
MFU, POWER_FRAC, HOST_W, PUE, INTENSITY, LIFETIME_Y, UTIL, EMBODIED, WUE, WATER_ELEC, ROOFLINE = range(11)
NQ = 11


@njit(cache=True)
def _sigmas(q):
    """Per input: (median, lower log-sigma, upper log-sigma, fixed flag)."""
    k = q.shape[1]
    med = np.empty(k)
    lo = np.zeros(k)
    hi = np.zeros(k)
    fixed = np.zeros(k, dtype=np.bool_)
    for j in range(k):
        p5, p50, p95 = q[0, j], q[1, j], q[2, j]
        med[j] = p50
        if p50 > 0.0 and 0.0 < p5 < p50:
            lo[j] = np.log(p50 / p5) / Z95
        if p50 > 0.0 and p95 > p50:
            hi[j] = np.log(p95 / p50) / Z95
        fixed[j] = lo[j] == 0.0 and hi[j] == 0.0
    return med, lo, hi, fixed


@njit(cache=True)
def draw(q, z, cols, lower, upper, out):
    """z: (n, m) standard normals for the m uncertain inputs listed in `cols` (the others are
    constants). lower, upper: (k,) physical bounds of each input (-inf / inf for none).
    out: (k, n) samples."""
    med, lo, hi, fixed = _sigmas(q)
    k = q.shape[1]
    n = z.shape[0]
    m = cols.shape[0]
    for i in range(n):
        for j in range(k):
            out[j, i] = med[j]
        for c in range(m):
            j = cols[c]
            zz = z[i, c]
            out[j, i] = med[j] * np.exp(zz * (lo[j] if zz < 0.0 else hi[j]))
        for j in range(k):   # the physical bounds cut the log-normal tails
            out[j, i] = max(min(out[j, i], upper[j]), lower[j])


# rows of the `impacts` output; the last four (the boundaries of energy and scope 2) are written
# when `out` has NOUT rows, so a (6, n) array gets the six figures alone
TIME_S, ACC_H, ENERGY_KWH, SCOPE2_KG, SCOPE3_KG, WATER_L = range(6)
ENERGY_ACC_KWH, ENERGY_IT_KWH, SCOPE2_ACC_KG, SCOPE2_IT_KG = range(6, 10)
NOUT = 10


@njit(cache=True)
def impacts(v, flops, n_dev, peak, tdp_w, power_w, acc_hours_fixed, out):
    """v: (NQ, n) draws of the training inputs. out: (6, n) — time_s, accelerator_hours,
    energy_kwh, scope2_kg, scope3_kg, water_l — or (NOUT, n), adding the boundaries: energy of
    the accelerators alone (TDP × power fraction; a given all-in power_w is not split), of the IT
    equipment (+ host, before PUE), and their scope 2 at the same intensity."""
    n = v.shape[1]
    bounds = out.shape[0] >= NOUT
    for i in range(n):
        if acc_hours_fixed > 0.0:
            acc_h = acc_hours_fixed
            time_s = acc_h * 3600.0 / n_dev
        else:
            time_s = flops * v[ROOFLINE, i] / (n_dev * peak * v[MFU, i])
            acc_h = time_s * n_dev / 3600.0
        acc_w = power_w if power_w > 0.0 else tdp_w * v[POWER_FRAC, i]
        pw = power_w if power_w > 0.0 else acc_w + v[HOST_W, i]
        e_it = acc_h * pw / 1000.0
        e = e_it * v[PUE, i]
        out[0, i] = time_s
        out[1, i] = acc_h
        out[2, i] = e
        out[3, i] = e * v[INTENSITY, i] / 1000.0
        out[4, i] = v[EMBODIED, i] * acc_h / (v[LIFETIME_Y, i] * HOURS_PER_YEAR * v[UTIL, i])
        out[5, i] = e_it * v[WUE, i] + e * v[WATER_ELEC, i]
        if bounds:
            e_acc = acc_h * acc_w / 1000.0
            out[6, i] = e_acc
            out[7, i] = e_it
            out[8, i] = e_acc * v[INTENSITY, i] / 1000.0
            out[9, i] = e_it * v[INTENSITY, i] / 1000.0
