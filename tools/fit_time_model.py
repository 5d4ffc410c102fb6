"""Fit the step-time model's free parameters on the throughput evidence, and calibrate its ranges.

    python tools/fit_time_model.py            # fit, then rewrite the fitted rows of time_model.csv
    python tools/fit_time_model.py --check    # exit 1 if the file's fitted rows differ from a refit
    python tools/fit_time_model.py --dry-run  # print, write nothing

Fitted ONLY on flopest/data/throughput_evidence.csv (rows of quality ok, approximate and
lower-bound; `doubtful` rows are left out), each row's graph built by benchmarks/time_evidence.py.
Four parameters, the rest of time_model.csv being sourced:

    ceiling.tensor       share of the dense matrix peak large GEMMs reach (tf32/fp16/bf16/fp8)
    ceiling.vector       share of the fp32 (CUDA-core) peak
    bandwidth.fraction   share of the nominal memory bandwidth operators reach
    fusion.glue          share of the glue operators' unfused bytes that still move
(launch.accelerator is not among them: the evidence's large batches never reach the launch floor,
and a fit drives it to 0; it is sourced instead.)

Objective: the mean smooth absolute log error, mean(sqrt(ln(pred/meas)² + 0.05²)), over the
rows (robust to the outliers a median would ignore, differentiable near 0); Nelder-Mead in a
transformed space (logit for shares, log for the launch cost).

Ranges (range.p5/p50/p95): exp of the 5/50/95 % quantiles of the leave-one-device-out log
residuals ln(measured / predicted), every device's rows predicted by a fit without them.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (ROOT, os.path.join(ROOT, "benchmarks")):
    if p not in sys.path:
        sys.path.insert(0, p)

import time_evidence as te

from flopest.impact import steptime as st

CSV = os.path.join(ROOT, "flopest", "data", "time_model.csv")
# parameter -> (time_model.csv id, transform): "logit" for shares in (0, 1), "log" for seconds
FITTED = {"ceiling_tensor": ("ceiling.tensor", "logit"), "ceiling_vector": ("ceiling.vector", "logit"),
          "bandwidth_fraction": ("bandwidth.fraction", "logit"), "fusion_glue": ("fusion.glue", "logit")}
START = {"ceiling_tensor": 0.7, "ceiling_vector": 0.8, "bandwidth_fraction": 0.8, "fusion_glue": 0.6}
DELTA = 0.05     # smoothing of |ln error| near 0
USABLE = ("ok", "approximate", "lower-bound")


def _to_x(values: dict) -> np.ndarray:
    out = []
    for k, (_, tr) in FITTED.items():
        v = values[k]
        out.append(math.log(v / (1 - v)) if tr == "logit" else math.log(v))
    return np.array(out)


def _from_x(x) -> dict:
    out = {}
    for (k, (_, tr)), xi in zip(FITTED.items(), x):
        xi = float(np.clip(xi, -30, 30))
        out[k] = 1 / (1 + math.exp(-xi)) if tr == "logit" else math.exp(xi)
    return out


def nelder_mead(f, x0, step=0.7, iters=600, xtol=1e-4, ftol=1e-7):
    """Minimise f from x0 (standard reflection/expansion/contraction/shrink coefficients)."""
    n = len(x0)
    simplex = [np.array(x0, float)] + [np.array(x0, float) + step * np.eye(n)[i] for i in range(n)]
    vals = [f(x) for x in simplex]
    for _ in range(iters):
        order = np.argsort(vals)
        simplex = [simplex[i] for i in order]
        vals = [vals[i] for i in order]
        if (max(np.max(np.abs(s - simplex[0])) for s in simplex[1:]) < xtol
                and abs(vals[-1] - vals[0]) < ftol):
            break
        centroid = np.mean(simplex[:-1], axis=0)
        xr = centroid + (centroid - simplex[-1])
        fr = f(xr)
        if fr < vals[0]:
            xe = centroid + 2 * (centroid - simplex[-1])
            fe = f(xe)
            simplex[-1], vals[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < vals[-2]:
            simplex[-1], vals[-1] = xr, fr
        else:
            xc = centroid + 0.5 * (simplex[-1] - centroid) if fr >= vals[-1] else centroid + 0.5 * (xr - centroid)
            fc = f(xc)
            if fc < min(fr, vals[-1]):
                simplex[-1], vals[-1] = xc, fc
            else:
                for i in range(1, n + 1):
                    simplex[i] = simplex[0] + 0.5 * (simplex[i] - simplex[0])
                    vals[i] = f(simplex[i])
    i = int(np.argmin(vals))
    return simplex[i], vals[i]


def fit(stack, mask, base=None, start=None):
    """The model with FITTED parameters minimising the objective over the cases in `mask`."""
    base = base or stack.model
    meas = stack.measured()

    def f(x):
        m = base.with_fitted(**_from_x(x))
        r = np.log(stack.predict(m)[mask] / meas[mask])
        return float(np.mean(np.sqrt(r * r + DELTA * DELTA)))

    x, val = nelder_mead(f, _to_x(start or START))
    # a restart from the optimum escapes an early collapse of the simplex
    x, val = nelder_mead(f, x, step=0.3)
    return base.with_fitted(**_from_x(x)), val


def usable_mask(stack) -> np.ndarray:
    return np.array([c.quality in USABLE for c in stack.cases])


def lodo(stack, mask=None, base=None, log=None):
    """Held-out predictions: each device's cases predicted by a fit on the other devices' cases.
    Returns (predictions, {device: fitted model})."""
    mask = usable_mask(stack) if mask is None else mask
    devices = np.array([c.device for c in stack.cases])
    pred = np.full(len(stack.cases), np.nan)
    models = {}
    for d in sorted(set(devices[mask])):
        t0 = time.perf_counter()
        m, _ = fit(stack, mask & (devices != d), base)
        models[d] = m
        held = devices == d
        pred[held] = stack.predict(m)[held]
        if log:
            log(f"  LODO without {d}: {_fmt(m)} ({time.perf_counter() - t0:.1f} s)")
    return pred, models


def _fmt(m) -> str:
    return ", ".join(f"{k}={getattr(m, k):.3g}" for k in FITTED)


def write(model, ranges, n_rows, n_dev, path=CSV, dry_run=False):
    """Rewrite the fitted rows of time_model.csv (other rows untouched)."""
    ev = (f"flopest/data/throughput_evidence.csv: {n_rows} rows of quality ok/approximate/lower-bound on {n_dev} "
          f"devices, graphs by benchmarks/time_evidence.py; objective mean sqrt(ln(pred/meas)^2 + 0.05^2)")
    ev_range = (f"flopest/data/throughput_evidence.csv: the leave-one-device-out residuals ln(measured/predicted) of "
                f"{n_rows} rows on {n_dev} devices (quantiles 5/50/95 %)")
    values = {cid: (getattr(model, k), ev) for k, (cid, _) in FITTED.items()}
    values.update({"range.p5": (ranges[0], ev_range), "range.p50": (ranges[1], ev_range),
                   "range.p95": (ranges[2], ev_range)})
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    import csv
    import io
    out = []
    for ln in lines:
        cid = ln.split(",", 1)[0]
        if cid in values and not ln.startswith("#"):
            row = next(csv.reader([ln]))
            v, e = values[cid]
            row[3] = f"{v:.4g}"
            row[6] = e
            row[7] = "tools/fit_time_model.py"
            row[8] = time.strftime("%Y")
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(row)
            ln = buf.getvalue()
        out.append(ln)
    text = "\n".join(out)
    if not dry_run:
        with open(path + ".tmp", "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(path + ".tmp", path)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the fitted rows would change")
    ap.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    cases, skipped = te.build_cases(log=print)
    stack = te.Stack(cases)
    print(f"{len(cases)} cases ({len(skipped)} rows skipped), graphs in {time.perf_counter() - t0:.0f} s; "
          f"fast/slow agreement {stack.check(stack.model):.1e}")
    mask = usable_mask(stack)
    model, val = fit(stack, mask)
    print(f"fit on all {int(mask.sum())} usable rows: {_fmt(model)} (objective {val:.4f})")
    pred, _ = lodo(stack, mask, log=print)
    meas = stack.measured()
    res = np.log(meas[mask] / pred[mask])
    ranges = st.range_multipliers(res)
    err = np.abs(np.log2(pred[mask] / meas[mask]))
    print(f"LODO median |log2| {np.median(err):.3f}; range multipliers p5/p50/p95 "
          f"{ranges[0]:.3f} / {ranges[1]:.3f} / {ranges[2]:.3f}")
    ndev = len({c.device for c, m in zip(cases, mask) if m})
    if a.check:
        from flopest import data
        data.reload()
        rows = data.time_model()
        want = {cid: getattr(model, k) for k, (cid, _) in FITTED.items()}
        want.update({"range.p5": ranges[0], "range.p50": ranges[1], "range.p95": ranges[2]})
        stale = [cid for cid, v in want.items() if f"{v:.4g}" != f"{rows[cid].value:.4g}"]
        print("time_model.csv is up to date" if not stale else f"time_model.csv differs from a refit: {stale}")
        return 0 if not stale else 1
    write(model, ranges, int(mask.sum()), ndev, dry_run=a.dry_run)
    print("wrote" if not a.dry_run else "dry run:", CSV)
    return 0


if __name__ == "__main__":
    sys.exit(main())
