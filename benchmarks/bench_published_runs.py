"""A-priori predictions of published training runs: flopest's ranges vs a back-of-envelope.

For every run of ``shared/reference/published_runs.json`` that has parameters and tokens,
flopest predicts accelerator-hours and CO2eq *a priori*, from what one would know before the
run:

- FLOPs = 6·N·D (N = active parameters for MoE), no attention term;
- MFU: the default prior of the device's class (``flopest/data/mfu_priors.csv``), never tuned;
- device, number of devices and precision of the run (V100: fp16; A100, TPU: bf16);
- power: flopest's priors (fraction of TDP + host share). The run's own power figure is NOT
  passed: that would reproduce the published arithmetic, not predict it;
- PUE and grid intensity: the run's, where the record gives them (``pue=``, ``intensity=``).
  These are inputs (where and in which building the run took place), not predictions; where the
  record has none, flopest's defaults are used (generic hyperscale PUE, world-average grid).

The back-of-envelope method beside it: hours = FLOPs / (dense peak × 0.4);
CO2 = hours × TDP × PUE × intensity, with the same PUE and intensity as flopest's median.

Caution (METHOD.md §6): runs that are also rows of ``flopest/data/mfu_evidence.csv`` helped set
the MFU prior, so agreement on them is partly circular; and most published energy/CO2 figures
are themselves hours × a nominal power × PUE × intensity, so a CO2 comparison tests the power
model against someone else's assumption, not against a measurement (Patterson's Google runs
and BLOOM's LCA are the exceptions). Nothing is dropped silently: runs that cannot be
predicted are listed with the reason.

    python benchmarks/bench_published_runs.py [--runs PATH] [--samples 20000] [--seed N] [--readme]

Prints Markdown. Not a test. ``--readme`` also writes the summary table (``HEADER``) into
docs/benchmarks.md between the ``published_runs`` markers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
from dataclasses import replace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
from flopest import data as profiles  # noqa: E402
from flopest.version import __version__  # noqa: E402
from flopest import impact  # after the sys.path line: the checkout first

COMMAND = "python benchmarks/bench_published_runs.py --readme"
MARKERS = ("<!-- published_runs:begin -->", "<!-- published_runs:end -->")
HEADER = ("| | runs | median error, flopest p50 | median error, back-of-envelope | "
          "reported value inside flopest p5–p95 |")
RUNS_CANDIDATES = (
    os.path.join(ROOT, "shared", "reference", "published_runs.json"),
    os.path.join(os.path.dirname(ROOT), "shared", "reference", "published_runs.json"),
)
SEED = 20261122
BOE_MFU = 0.4

# hardware name in published_runs.json -> (flopest device id, precision of the run)
HARDWARE = {
    "v100 (sxm2)": ("v100-sxm2", "fp16"),     # V100 has no bf16
    "a100-sxm4-80gb": ("a100-sxm4-80gb", "bf16"),  # bf16 and fp16 dense peaks are both 312 TFLOP/s
    "a100-sxm4-40gb": ("a100-sxm4-40gb", "bf16"),
    "tpuv3": ("tpu-v3", "bf16"),
    "tpu v3": ("tpu-v3", "bf16"),
}

# What each reported CO2eq figure includes, in a few words, and which flopest quantity is the
# like-for-like comparison (scope 2 = operational; total = scope 2 + embodied scope 3).
INCLUDES = {
    "T5-11B": ("operational (measured system W × PUE × net grid); no embodied", "scope2"),
    "Meena 2.6B": ("operational (measured system W × PUE × net grid); no embodied", "scope2"),
    "GShard-600B (MoE)": ("operational (measured system W × PUE × net grid); no embodied", "scope2"),
    "Switch Transformer 1500B (MoE)": ("operational (measured system W × PUE × net grid); no embodied",
                                       "scope2"),
    "GPT-3 175B": ("operational: 330 W measured system × assumed 10k GPUs × PUE 1.1 × 429 g; no embodied",
                   "scope2"),
    "Gopher 280B": ("operational, PUE NOT applied: hours × 283 W TPUv3 average × 330 g", "scope2"),
    "OPT-175B (Luccioni Table 4 / OPT paper view)": ("operational, PUE removed: 324 MWh / 1.09 × 231 g",
                                                     "scope2"),
    "OPT-175B (re-estimated in LLaMA Table 15)": ("re-estimate: hours × 400 W TDP × PUE 1.1 × 385 g (US avg)",
                                                  "scope2"),
    "BLOOM-176B (dynamic power only)": ("GPU dynamic only: hours × 400 W × 57 g; no PUE, host, idle, embodied",
                                        "scope2"),
    "BLOOM-176B (full LCA: dynamic + idle/infrastructure + embodied)":
        ("whole cluster (dynamic + idle/infra, metered, no PUE on top) + embodied", "total"),
    "BLOOM-176B (re-estimated in LLaMA Table 15)": ("re-estimate: hours × 400 W TDP × PUE 1.1 × 385 g (US avg)",
                                                    "scope2"),
}


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def reported_hours(run):
    """(hours, basis) or (None, why)."""
    if _num(run.get("accelerator_hours")):
        return float(run["accelerator_hours"]), "reported"
    der = run.get("derived") or {}
    if _num(der.get("accelerator_hours")):
        return float(der["accelerator_hours"]), "derived (record's derived.accelerator_hours)"
    if _num(run.get("n_accelerators")) and _num(run.get("training_days")):
        return float(run["n_accelerators"]) * float(run["training_days"]) * 24, "n_accelerators × days × 24"
    return None, "no accelerator-hours, nor accelerators × days"


def _key(name: str) -> str:
    return re.split(r"[ \-_(]", name.strip().lower())[0]


def loo_prior(x):
    """The MFU prior of the run's class rebuilt without the run's own evidence rows, by the rule of
    mfu_priors.csv (p5 = 0.9 × min, p50 = median, p95 = 1.1 × max of the reported and derived rows);
    None when the run is not evidence (the embedded prior is already out of sample for it)."""
    if not x["evid"]:
        return None
    own = {e.id for e in x["evid"]}
    cls = x["evid"][0].mfu_class
    vals = sorted(e.mfu for e in profiles.mfu_evidence()
                  if e.mfu_class == cls and e.basis in ("reported", "derived") and e.id not in own)
    if not vals:
        return None
    base = profiles.mfu_prior(cls)
    return replace(base, p5=0.9 * vals[0], p50=statistics.median(vals), p95=min(1.0, 1.1 * vals[-1]),
                   source=f"leave-one-out: {len(vals)} evidence rows of {cls} without {', '.join(sorted(own))}")


def leave_one_out(distinct, a, p):
    """Issue 16 item 6b: each distinct run's accelerator-hours with the MFU prior rebuilt without its
    own evidence; flopest (with the run's goodput) next to the previous model (the same prior,
    no goodput) and the back-of-envelope, in |log2| units."""
    from unittest import mock
    rows, got = [], []
    for x in distinct:
        rep = x["hrs"]
        if not rep:
            continue
        prior = loo_prior(x)
        kw = dict(params=int(x["n"]), tokens=int(x["d"]), device=x["dev"], n_devices=x["nd"], precision=x["prec"],
                  samples=a.samples, seed=a.seed, **x["kw"])
        with mock.patch.object(profiles, "mfu_prior", (lambda c, _p=prior: _p) if prior else profiles.mfu_prior):
            now = impact.estimate(**kw).accelerator_hours
            before = impact.estimate(**kw, goodput=False).accelerator_hours
        l2 = math.log2(now["p50"] / rep)
        got.append({"l2": l2, "in": now["p5"] <= rep <= now["p95"], "ratio": now["p95"] / now["p5"],
                    "prev": math.log2(before["p50"] / rep), "prev_in": before["p5"] <= rep <= before["p95"],
                    "boe": math.log2(x["boe_h"] / rep)})
        rows.append([x["name"] + (" (LOO prior)" if prior else ""), fmt(rep), fmt(now["p5"]), fmt(now["p50"]),
                     fmt(now["p95"]), f"{l2:+.2f}", "yes" if got[-1]["in"] else "NO",
                     f"{got[-1]['prev']:+.2f}", f"{got[-1]['boe']:+.2f}"])
    p("## Leave-one-out accelerator-hours (issue 16)\n")
    p("Each distinct run predicted with the MFU prior of its class rebuilt without the run's own evidence rows "
      "(the same rule: 0.9 × min, median, 1.1 × max); flopest now (goodput included), the previous model (the "
      "same prior, no goodput) and the back-of-envelope, as log2(predicted / reported). Targets: median "
      "|log2| <= 0.35, coverage >= 90 %, median p95/p5 <= 4.\n")
    p(table(["run", "reported h", "flopest p5", "p50", "p95", "log2 p50", "in p5..p95", "previous log2",
             "BoE log2"], rows))
    p()
    if got:
        med = statistics.median(abs(g["l2"]) for g in got)
        p(f"- n={len(got)}: flopest median |log2| {med:.2f}, inside p5..p95 {sum(g['in'] for g in got)}/{len(got)} "
          f"({100 * sum(g['in'] for g in got) / len(got):.0f} %), median p95/p5 "
          f"{statistics.median(g['ratio'] for g in got):.2f}; previous model median |log2| "
          f"{statistics.median(abs(g['prev']) for g in got):.2f} (inside {sum(g['prev_in'] for g in got)}/{len(got)}); "
          f"back-of-envelope {statistics.median(abs(g['boe']) for g in got):.2f}")
        p()


def evidence_index():
    """first word of a run name ('gpt', 'bloom', 'opt', 'gopher') -> mfu_evidence rows."""
    idx = {}
    for e in profiles.mfu_evidence():
        idx.setdefault(_key(e.run), []).append(e)
    return idx


def fmt(x, digits=3):
    if x is None:
        return "–"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1e6 or a < 1e-2:
        return f"{x:.{digits - 1}e}"
    if a >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def lr(pred, rep):
    return math.log10(pred / rep)


def sgn(x):
    return "–" if x is None else f"{x:+.2f}"


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", default=None, help="published_runs.json (default: shared/reference/)")
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--readme", action="store_true",
                    help="also write the summary table into docs/benchmarks.md between the published_runs markers")
    a = ap.parse_args(argv)
    path = a.runs or next((p for p in RUNS_CANDIDATES if os.path.exists(p)), None)
    if not path or not os.path.exists(path):
        sys.exit(f"published_runs.json not found (tried {', '.join(RUNS_CANDIDATES)}); pass --runs")
    with open(path, encoding="utf-8") as f:
        runs = [r for r in json.load(f) if r.get("record_type", "training_run") == "training_run"]

    ev = evidence_index()
    predicted, skipped = [], []
    for r in runs:
        name = r["name"]
        n = r.get("n_active_params") if _num(r.get("n_active_params")) else r.get("n_params")
        d = r.get("n_tokens")
        hw = str(r.get("hardware") or "").strip().lower()
        why = []
        if not _num(n):
            why.append("no parameter count")
        if not _num(d):
            why.append("no token count (n_tokens is null)")
        if hw not in HARDWARE:
            why.append(f"hardware {r.get('hardware')!r} not mapped to a flopest device")
        if not _num(r.get("n_accelerators")):
            why.append("no accelerator count")
        if why:
            skipped.append((r, "; ".join(why)))
            continue
        dev_id, prec = HARDWARE[hw]
        dev = profiles.device(dev_id)
        nd = int(r["n_accelerators"])
        kw = {}
        if _num(r.get("pue")):
            kw["pue"] = float(r["pue"])
        if _num(r.get("grid_intensity_gCO2eq_per_kWh")):
            kw["intensity"] = float(r["grid_intensity_gCO2eq_per_kWh"])
        est = impact.estimate(params=int(n), tokens=int(d), device=dev_id, n_devices=nd, precision=prec,
                              samples=a.samples, seed=a.seed, **kw)
        res = est.to_dict()
        sc = est.scenario
        flops = est.flops
        peak = dev.peak_flops(prec)
        # back-of-envelope, same PUE and intensity as flopest's median inputs
        pue50, int50 = sc.pue.p50, sc.intensity_g_per_kwh.p50
        boe_h = flops / (peak * BOE_MFU) / 3600
        boe_kg = boe_h * dev.tdp_w / 1000 * pue50 * int50 / 1000
        hrs, hrs_basis = reported_hours(r)
        evid = list(ev.get(_key(name), []))
        predicted.append({
            "run": r, "name": name, "dev": dev_id, "prec": prec, "n": n, "d": d, "nd": nd, "flops": flops,
            "peak": peak, "moe": _num(r.get("n_active_params")), "res": res, "sc": sc, "kw": kw,
            "boe_h": boe_h, "boe_kg": boe_kg, "hrs": hrs, "hrs_basis": hrs_basis, "evid": evid,
            "mfu_prior": (sc.mfu.p5, sc.mfu.p50, sc.mfu.p95),
            "pue_src": "run" if "pue" in kw else f"flopest default [{sc.datacenter}] {sc.pue.p5:g}–{sc.pue.p95:g}",
            "int_src": "run" if "intensity" in kw else f"flopest default [{sc.region}] {int50:g} g"})

    p = print
    p("# flopest a priori vs published training runs\n")
    p(f"Source: `{os.path.relpath(path, ROOT)}` ({len(runs)} runs). flopest {__version__}, "
      f"data {profiles.DATA_VERSION}; Monte-Carlo samples={a.samples}, seed={a.seed}. "
      "FLOPs = 6·N·D (N active for MoE); MFU = the device class prior of `mfu_priors.csv` (untuned); "
      "power = flopest's priors (the run's own W is not used); PUE and grid intensity = the run's "
      "where reported (inputs, not predictions), else flopest's defaults. Back-of-envelope (BoE): "
      f"hours = FLOPs / (dense peak × {BOE_MFU}), CO2 = hours × TDP × PUE × intensity.\n")
    p("ratio = log10(predicted / reported): 0 = exact, +0.30 = 2× too high, −0.30 = 2× too low. "
      "in = reported value inside flopest's p5..p95. † = the run is also a row of "
      "`flopest/data/mfu_evidence.csv`, so the MFU prior was partly set from it (circular, METHOD §6).\n")

    # ---------------------------------------------------------------- inputs
    p("## Inputs per run\n")
    rows = []
    for x in predicted:
        pr = x["mfu_prior"]
        rows.append([x["name"] + (" †" if x["evid"] else ""), x["dev"], x["prec"], f"{x['nd']:,}",
                     fmt(x["n"]) + (" (active)" if x["moe"] else ""), fmt(x["d"]), fmt(float(x["flops"])),
                     f"{pr[0]:.3f} / {pr[1]:.3f} / {pr[2]:.3f}",
                     f"{x['sc'].pue.p50:g} ({x['pue_src']})",
                     f"{x['sc'].intensity_g_per_kwh.p50:g} ({x['int_src']})"])
    p(table(["run", "device", "prec.", "devices", "N", "D", "FLOPs 6ND", "MFU prior p5/p50/p95",
             "PUE", "g CO2eq/kWh"], rows))
    p()

    # ---------------------------------------------------------------- hours
    p("## Accelerator-hours\n")
    rows = []
    for x in predicted:
        h = x["res"]["accelerator_hours"]
        rep = x["hrs"]
        implied = x["flops"] / (rep * 3600 * x["peak"]) if rep else None
        evs = ", ".join(f"{e.id} {e.mfu:.3f} ({e.basis})" for e in x["evid"]) or "–"
        x["h_lr"] = lr(h["p50"], rep) if rep else None
        x["h_boe_lr"] = lr(x["boe_h"], rep) if rep else None
        x["h_in"] = (h["p5"] <= rep <= h["p95"]) if rep else None
        rows.append([x["name"] + (" †" if x["evid"] else ""), fmt(rep), x["hrs_basis"],
                     fmt(h["p5"]), fmt(h["p50"]), fmt(h["p95"]), sgn(x["h_lr"]),
                     "yes" if x["h_in"] else "NO", fmt(x["boe_h"]), sgn(x["h_boe_lr"]),
                     f"{implied:.3f}" if implied else "–", evs])
    p(table(["run", "reported h", "hours basis", "flopest p5", "p50", "p95", "ratio p50",
             "in p5..p95", "BoE h", "ratio BoE", "implied MFU (6ND / reported h / peak)",
             "MFU evidence row"], rows))
    p()

    # ---------------------------------------------------------------- CO2
    p("## CO2eq (tonnes)\n")
    p("flopest column compared: scope 2 (location-based operational) for figures that are operational "
      "only; scope 2 + scope 3 (embodied) where the reported figure includes embodied emissions. "
      "The reported energy is shown to separate the power model from the hours.\n")
    rows = []
    for x in predicted:
        r = x["run"]
        rep = r.get("reported_tCO2eq")
        if not _num(rep):
            x["c_lr"] = x["c_boe_lr"] = x["c_in"] = None
            continue
        inc, which = INCLUDES.get(x["name"], (r.get("includes") or "not stated", "scope2"))
        q = x["res"]["co2eq_kg"] if which == "total" else x["res"]["co2eq_kg_by_scope"]["scope2"]
        t = {k: v / 1000 for k, v in q.items()}
        x["c_lr"] = lr(t["p50"], rep)
        x["c_boe_lr"] = lr(x["boe_kg"] / 1000, rep)
        x["c_in"] = t["p5"] <= rep <= t["p95"]
        e_rep = r.get("reported_energy_MWh")
        e = x["res"]["energy_kwh"]
        rows.append([x["name"] + (" †" if x["evid"] else ""), fmt(float(rep)), inc,
                     "scope 2+3" if which == "total" else "scope 2",
                     fmt(t["p5"]), fmt(t["p50"]), fmt(t["p95"]), sgn(x["c_lr"]),
                     "yes" if x["c_in"] else "NO", fmt(x["boe_kg"] / 1000), sgn(x["c_boe_lr"]),
                     fmt(e_rep) if _num(e_rep) else "–", fmt(e["p50"] / 1000),
                     sgn(lr(e["p50"] / 1000, e_rep)) if _num(e_rep) else "–"])
    p(table(["run", "reported t", "includes", "flopest compared", "p5", "p50", "p95", "ratio p50",
             "in p5..p95", "BoE t", "ratio BoE", "reported MWh", "flopest MWh p50 (incl. PUE)",
             "ratio MWh"], rows))
    p()

    # ---------------------------------------------------------------- side by side
    p("## Side by side: |log10 ratio|, flopest p50 vs back-of-envelope\n")
    rows = []
    for x in predicted:
        rows.append([x["name"] + (" †" if x["evid"] else ""),
                     sgn(x["h_lr"]), sgn(x["h_boe_lr"]), "yes" if x["h_in"] else "NO",
                     sgn(x.get("c_lr")), sgn(x.get("c_boe_lr")),
                     "–" if x.get("c_in") is None else ("yes" if x["c_in"] else "NO")])
    p(table(["run", "hours flopest", "hours BoE", "hours in range", "CO2 flopest", "CO2 BoE",
             "CO2 in range"], rows))
    p()

    # ---------------------------------------------------------------- summary
    def stats(sel, key_f, key_b, key_in):
        """(n, median |log10 ratio| flopest p50, the same for BoE, n inside p5..p95), or None."""
        xs = [x for x in sel if x.get(key_f) is not None]
        if not xs:
            return None
        mf = statistics.median(abs(x[key_f]) for x in xs)
        mb = statistics.median(abs(x[key_b]) for x in xs)
        return len(xs), mf, mb, sum(1 for x in xs if x[key_in])

    def summ(sel, key_f, key_b, key_in):
        st = stats(sel, key_f, key_b, key_in)
        if st is None:
            return "none"
        n, mf, mb, ins = st
        return (f"n={n}: median |log10 ratio| flopest p50 {mf:.2f} (×{10 ** mf:.2f}), "
                f"BoE {mb:.2f} (×{10 ** mb:.2f}); inside flopest p5..p95 {ins}/{n} "
                f"({100 * ins / n:.0f} %)")

    seen, distinct = set(), []
    for x in predicted:
        k = (x["n"], x["d"], x["dev"], x["nd"])
        if k not in seen:
            seen.add(k)
            distinct.append(x)
    non_ev = [x for x in distinct if not x["evid"]]
    p("## Summary\n")
    p(f"- Accelerator-hours, all predicted records: {summ(predicted, 'h_lr', 'h_boe_lr', 'h_in')}")
    p(f"- Accelerator-hours, distinct training runs (BLOOM ×3 and OPT ×2 records counted once): "
      f"{summ(distinct, 'h_lr', 'h_boe_lr', 'h_in')}")
    p(f"- Accelerator-hours, distinct runs that are NOT MFU evidence (not circular): "
      f"{summ(non_ev, 'h_lr', 'h_boe_lr', 'h_in')}")
    p(f"- CO2eq, records with a reported figure: {summ(predicted, 'c_lr', 'c_boe_lr', 'c_in')}")
    p(f"- CO2eq, records that are NOT MFU evidence: "
      f"{summ([x for x in predicted if not x['evid']], 'c_lr', 'c_boe_lr', 'c_in')}")
    p()
    p("MFU-evidence overlap (†): " + ("; ".join(
        f"{x['name']} ↔ {', '.join(e.id for e in x['evid'])}" for x in predicted if x["evid"]) or "none"))
    p()
    leave_one_out(distinct, a, p)
    if a.readme:
        families = sorted({_key(x["name"]).capitalize() for x in non_ev})
        rows = [("accelerator-hours, distinct runs", stats(distinct, "h_lr", "h_boe_lr", "h_in")),
                (f"accelerator-hours, runs not used as MFU evidence ({', '.join(families)})",
                 stats(non_ev, "h_lr", "h_boe_lr", "h_in")),
                ("CO₂eq, reported figures", stats(predicted, "c_lr", "c_boe_lr", "c_in")),
                ("CO₂eq, reported figures not used as MFU evidence",
                 stats([x for x in predicted if not x["evid"]], "c_lr", "c_boe_lr", "c_in"))]
        block = [f"Regenerate: `{COMMAND}` (it also prints the per-run tables).", "",
                 HEADER, "|---|--:|--:|--:|--:|"]
        for label, st in rows:
            if st is not None:    # a selection with no run is left out
                n, mf, mb, ins = st
                block.append(f"| {label} | {n} | ×{10 ** mf:.2f} | ×{10 ** mb:.2f} | {ins}/{n} |")
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from compare_counters import DOCS_PAGE, write_readme_block
        write_readme_block(MARKERS, "\n".join(block) + "\n", path=DOCS_PAGE)
        print(f"wrote {os.path.relpath(DOCS_PAGE)} between {MARKERS[0]} and {MARKERS[1]}", file=sys.stderr)

    # ---------------------------------------------------------------- not predicted
    p("## Not predicted\n")
    if skipped:
        rows = []
        for r, why in skipped:
            h, basis = reported_hours(r)
            rows.append([r["name"], r.get("hardware") or "–", why,
                         f"{fmt(h)} ({basis})" if h else "–",
                         fmt(float(r["reported_tCO2eq"])) if _num(r.get("reported_tCO2eq")) else "–"])
        p(table(["run", "hardware", "reason", "reported h", "reported t CO2eq"], rows))
    else:
        p("none")
    p()


if __name__ == "__main__":
    main()
