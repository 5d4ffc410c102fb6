"""Measured runs: the energy a CodeCarbon ``emissions.csv`` or carbontracker's logs recorded for a
short training run, read into the figures flopest otherwise takes from priors (average power per
accelerator, PUE, grid intensity), with flopest's prediction for that same run beside them.

    power per accelerator, board    = accelerator energy / (duration × accelerators)
    power per accelerator, all-in   = IT energy (accelerators + CPU + RAM) / (duration × accelerators)
                                      (what ``estimate --power-w`` takes: only the PUE is added)
    IT energy                       = the tool's energy / the PUE factor the tool applied
    grid intensity                  = the tool's CO₂eq / the tool's energy

The prediction is flopest's training model a posteriori (``simulate`` with the run's
accelerator-hours = duration × accelerators): the priors of the device, region and data centre,
on the boundaries of ``flopest.impact.boundary``. SI units: s, J, W, kg CO₂eq; g CO₂eq/kWh.

CodeCarbon (``emissions.csv``, one row per run; since 2.2.3 every energy column is multiplied by
the ``pue`` the user set, default 1; the power columns are last readings, not means, and are not
used): duration (s), emissions (kg), cpu/gpu/ram_energy and energy_consumed (kWh), gpu_count,
gpu_model, country_name/country_iso_code, pue, codecarbon_version, run_id.

carbontracker (``<prefix>_carbontracker.log``: per epoch ``Duration: h:mm:ss.ss`` and ``Average
power usage (W) for gpu: [w1 w2 ...]`` per device; ``<prefix>_carbontracker_output.log``:
``Actual consumption`` with Time, Energy kWh and CO2eq g, which carbontracker multiplies by its
fixed PUE coefficient, 1.58 in 2.x, written in the first log).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, field

from .. import data
from ..errors import InputError, did_you_mean
from ..validate import error, regular_file, whole
from .scenario import build_scenario
from .uncertain import DEFAULT_SAMPLES, DEFAULT_SEED

J_PER_KWH = 3.6e6
FILE_LIMIT_BYTES = 64 * 2**20   # an emissions.csv of a million runs is ~500 MB; a log of a run, kilobytes
CARBONTRACKER_PUE = 1.58        # carbontracker 2.x constants.PUE_2023 (Uptime Institute 2023 survey)


@dataclass
class MeasuredRun:
    """What a measurement tool recorded for one run (SI units)."""
    tool: str                          # "codecarbon" or "carbontracker"
    source: str                        # the file(s) read
    duration_s: float
    energy_j: float                    # as the tool reports it: IT energy × the tool's PUE factor
    pue: float = 1.0                   # the factor the tool applied to its energy (1: none)
    pue_basis: str = ""                # where that factor comes from
    accelerator_energy_j: float | None = None   # the accelerators' own energy, the PUE factor removed
    co2eq_kg: float | None = None
    intensity_g_per_kwh: float | None = None
    accelerators: int | None = None    # accelerators the tool tracked (None: none, or not said)
    accelerator_model: str = ""        # as the tool names them ("4 x NVIDIA A100-SXM4-80GB")
    location: str = ""                 # as the tool names it
    tool_version: str = ""
    notes: list = field(default_factory=list)

    @property
    def it_energy_j(self) -> float:
        """The IT equipment's energy (accelerators, CPU, RAM): the tool's PUE factor removed."""
        return self.energy_j / self.pue

    def per_accelerator_w(self, energy_j: float | None, n: int | None = None) -> float | None:
        n = n or self.accelerators
        return None if energy_j is None or not n else energy_j / (self.duration_s * n)

    def to_dict(self) -> dict:
        return {"tool": self.tool, "source": self.source, "tool_version": self.tool_version,
                "duration_s": self.duration_s, "energy_j": self.energy_j, "it_energy_j": self.it_energy_j,
                "accelerator_energy_j": self.accelerator_energy_j, "pue": self.pue, "pue_basis": self.pue_basis,
                "co2eq_kg": self.co2eq_kg, "intensity_g_per_kwh": self.intensity_g_per_kwh,
                "accelerators": self.accelerators, "accelerator_model": self.accelerator_model,
                "location": self.location, "notes": list(self.notes)}


# ----------------------------------------------------------------------------- reading
def _read_text(path: str) -> str:
    """A file the user named, as text: a regular file, at most FILE_LIMIT_BYTES."""
    st = regular_file(path, "measured-run file", "CodeCarbon's emissions.csv or carbontracker's log files")
    if st.st_size > FILE_LIMIT_BYTES:
        raise InputError(f"{path!r} is {st.st_size:,} bytes (limit {FILE_LIMIT_BYTES:,}): not a measurement "
                         f"file of a run")
    try:
        with open(path, "rb") as f:
            raw = f.read(FILE_LIMIT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path!r} is not text (UTF-8): not a CodeCarbon or carbontracker file") from None


def read_measured(paths, run_id: str | None = None) -> MeasuredRun:
    """A CodeCarbon ``emissions.csv`` (the last run, or `run_id`), or carbontracker's logs of one
    run (its ``_carbontracker.log`` and/or ``_carbontracker_output.log``), into a MeasuredRun."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise InputError("no measurement file given: name CodeCarbon's emissions.csv or carbontracker's logs")
    texts = {p: _read_text(p) for p in paths}
    kinds = {p: _kind(p, t) for p, t in texts.items()}
    if all(k == "codecarbon" for k in kinds.values()):
        if len(paths) > 1:
            raise InputError("give one CodeCarbon emissions.csv at a time (it holds every run: --run-id "
                             "chooses one)")
        return read_codecarbon(texts[paths[0]], paths[0], run_id)
    if all(k in ("carbontracker", "carbontracker-output") for k in kinds.values()):
        if run_id is not None:
            raise error("run_id chooses a run of a CodeCarbon emissions.csv; carbontracker writes one run per "
                        "pair of logs", "run_id")
        return read_carbontracker({p: (kinds[p], texts[p]) for p in paths})
    bad = [p for p, k in kinds.items() if k is None]
    if bad:
        raise InputError(f"{bad[0]!r} is neither a CodeCarbon emissions.csv (no duration, energy_consumed and "
                         f"emissions columns) nor a carbontracker log")
    raise InputError("give CodeCarbon's emissions.csv or carbontracker's logs of one run, not both")


def _kind(path: str, text: str) -> str | None:
    head = text[:4096]
    first = head.splitlines()[0] if head else ""
    if {"duration", "energy_consumed", "emissions"} <= {c.strip() for c in first.split(",")}:
        return "codecarbon"
    if path.endswith("_carbontracker_output.log") or "CarbonTracker:" in head:
        return "carbontracker-output"
    if path.endswith("_carbontracker.log") or "carbontracker version" in head or re.search(
            r"(?m)^\S+ \S+ - (Epoch \d+:|The following components were found)", head):
        return "carbontracker"
    return None


def _cell_number(row: dict, col: str, where: str, required: bool = True) -> float | None:
    raw = (row.get(col) or "").strip()
    if not raw:
        if required:
            raise InputError(f"{where}: column {col!r} is empty")
        return None
    try:
        v = float(raw)
    except ValueError:
        raise InputError(f"{where}: {col} = {raw[:40]!r} is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise InputError(f"{where}: {col} = {raw[:40]!r} must be a finite number >= 0")
    return v


def read_codecarbon(text: str, source: str = "emissions.csv", run_id: str | None = None) -> MeasuredRun:
    """One run of a CodeCarbon emissions.csv: the last row, or the last row of `run_id`."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise InputError(f"{source!r} has a header but no run")
    cols = set(rows[0])
    missing = [c for c in ("duration", "energy_consumed", "emissions") if c not in cols]
    if missing:
        raise InputError(f"{source!r} has no {', '.join(missing)} column: not a CodeCarbon emissions.csv")
    if run_id is not None:
        ids = [r.get("run_id", "") for r in rows]
        picked = [i for i, r in enumerate(ids) if r == run_id]
        if not picked:
            shown = list(dict.fromkeys(ids))[-5:]
            raise error(f"run_id {run_id!r} is not in {source!r}{did_you_mean(run_id, ids)} (its last runs: "
                        f"{', '.join(shown)})", "run_id")
        i = picked[-1]
    else:
        i = len(rows) - 1
    row = rows[i]
    where = f"{source!r} row {i + 1}"
    duration = _cell_number(row, "duration", where)
    if not duration:
        raise InputError(f"{where}: duration is 0 s: the run measured nothing")
    energy_kwh = _cell_number(row, "energy_consumed", where)
    co2 = _cell_number(row, "emissions", where)
    notes = [f"{source}: row {i + 1} of {len(rows)}" + (f" (run {row['run_id']})" if row.get("run_id") else "")]
    if "pue" in cols and (row.get("pue") or "").strip():
        pue = _cell_number(row, "pue", where)
        if not 1.0 <= pue <= 3.0:
            raise InputError(f"{where}: pue = {pue} is outside [1, 3]")
        basis = ("CodeCarbon's default (pue=1): no data-centre overhead in its figures" if pue == 1.0 else
                 f"set in CodeCarbon (pue={pue:g}), which multiplies its energy columns")
    else:
        pue, basis = 1.0, "no pue column (CodeCarbon before 2.2.3 applied none)"
    gpus = _cell_number(row, "gpu_count", where, required=False)
    gpus = int(round(gpus)) if gpus else None
    gpu_kwh = _cell_number(row, "gpu_energy", where, required=False)
    acc_j = gpu_kwh * J_PER_KWH / pue if gpus and gpu_kwh is not None else None
    if gpus and not gpu_kwh:
        notes.append(f"CodeCarbon saw {gpus} GPU(s) but recorded no GPU energy: the accelerators' own power is "
                     f"not known")
        acc_j = None
    name, iso = (row.get("country_name") or "").strip(), (row.get("country_iso_code") or "").strip()
    cloud = " ".join(x for x in ((row.get("cloud_provider") or "").strip(), (row.get("cloud_region") or "").strip())
                     if x)
    location = ", ".join(x for x in (f"{name} ({iso})" if name and iso else name or iso, cloud) if x)
    return MeasuredRun(
        "codecarbon", source, duration, energy_kwh * J_PER_KWH, pue, basis, acc_j, co2,
        co2 / energy_kwh * 1000.0 if energy_kwh else None, gpus, (row.get("gpu_model") or "").strip(),
        location, (row.get("codecarbon_version") or "").strip(), notes)


_HMS = r"(\d+):(\d{2}):(\d{1,2}(?:\.\d+)?)"


def _seconds(h, m, s) -> float:
    return int(h) * 3600 + int(m) * 60 + float(s)


def _floats(text: str) -> list:
    return [float(x) for x in text.strip().strip("[]").replace(",", " ").split() if x]


def _readings(text: str) -> tuple:
    """(finite readings, entries) of a carbontracker power list: "[nan 300.]" and "[None]" (a
    device it could not read) give no reading for that entry, never a NaN or an error."""
    vals = []
    entries = [x for x in text.strip().strip("[]").replace(",", " ").split() if x]
    for x in entries:
        try:
            v = float(x)
        except ValueError:   # None
            continue
        if math.isfinite(v):
            vals.append(v)
    return vals, len(entries)


def read_carbontracker(files: dict) -> MeasuredRun:
    """One run from carbontracker's logs: {path: (kind, text)}, kind "carbontracker" (the standard
    log: epochs, power per component and device, the PUE coefficient) or "carbontracker-output"
    (the actual consumption)."""
    std = [(p, t) for p, (k, t) in files.items() if k == "carbontracker"]
    out = [(p, t) for p, (k, t) in files.items() if k == "carbontracker-output"]
    if len(std) > 1 or len(out) > 1:
        raise InputError("give carbontracker's two logs of one run (its _carbontracker.log and "
                         "_carbontracker_output.log), not logs of several runs")
    source = ", ".join(files)
    notes: list = []
    text = (std[0][1] if std else "") + "\n" + (out[0][1] if out else "")
    version = re.search(r"carbontracker version (\S+)", text)
    m = re.search(r"multiplied by a PUE coefficient of ([0-9.]+)", text)
    if m:
        pue = float(m.group(1))
        basis = f"carbontracker's fixed coefficient {pue:g} (an industry survey average, not this data centre's)"
    else:
        pue = CARBONTRACKER_PUE
        basis = (f"carbontracker's fixed coefficient, assumed {pue:g} (carbontracker 2.x): its "
                 f"_carbontracker.log, which states it, was not given")
    devices = re.search(r"The following components were found:(.*)", text)
    gpus, model = None, ""
    if devices:
        for comp, devs in re.findall(r" (\w+) with device\(s\) (.*?)\.(?= |$)", devices.group(1)):
            if comp.lower() == "gpu":
                names = [d.strip() for d in devs.split(",") if d.strip()]
                gpus, model = len(names), (f"{len(names)} x {names[0]}" if names else "")
    acc_j = it_j = duration = None
    missing: set = set()
    if std:
        # per epoch: its duration, then the average power of each component (a list per device)
        epochs = re.split(r"(?m)^.* - Epoch \d+:\s*$", std[0][1])[1:]
        acc_j, it_j, duration = 0.0, 0.0, 0.0
        for ep in epochs:
            d = re.search(r"Duration: " + _HMS, ep)
            if not d:
                continue
            secs = _seconds(*d.groups())
            duration += secs
            for comp, watts in re.findall(r"Average power usage \(W\) for (\w+): (\[[^\]]*\]|[0-9.eE+-]+|nan|None)",
                                          ep):
                vals, entries = _readings(watts)
                if not vals:
                    missing.add(comp)
                    continue
                # a device without a reading is taken at the mean of the others (said in the notes)
                w = sum(vals) / len(vals) * entries
                if len(vals) < entries:
                    missing.add(comp)
                it_j += w * secs
                if comp.lower() == "gpu":
                    acc_j += w * secs
                    gpus = gpus or entries or None
        if not duration:
            raise InputError(f"{std[0][0]!r}: no epoch with a duration: carbontracker measured no epoch "
                             f"(call tracker.epoch_start() and epoch_end())")
        if not gpus:
            acc_j = None
        if missing:
            notes.append(f"carbontracker logged no power (nan or None) for some {', '.join(sorted(missing))} "
                         f"device(s) in some epochs: such a device is taken at the mean of the others in that epoch, "
                         f"and an epoch without any reading adds nothing")
    energy_j = co2 = None
    if out:
        a = re.search(r"Actual consumption[^\n]*:\s*\n\s*Time:\s*" + _HMS + r"\s*\n\s*Energy:\s*([0-9.eE+-]+) kWh"
                      r"\s*\n\s*CO2eq:\s*([0-9.eE+-]+) g", out[0][1])
        if not a:
            raise InputError(f"{out[0][0]!r} has no 'Actual consumption' block: the run had not ended an epoch "
                             f"when it stopped")
        energy_j = float(a.group(4)) * J_PER_KWH
        co2 = float(a.group(5)) / 1000.0
        if duration is None:
            duration = _seconds(*a.groups()[:3])
    if energy_j is None:
        energy_j = it_j * pue
        notes.append("energy from the epochs' average power × duration (the _carbontracker_output.log, with the "
                     "actual consumption, was not given)")
    elif it_j is not None and it_j > 0 and abs(energy_j / pue - it_j) > 0.05 * it_j:
        notes.append(f"the output log's energy ({energy_j / J_PER_KWH:.4g} kWh) and the epochs' power × duration "
                     f"× {pue:g} ({it_j * pue / J_PER_KWH:.4g} kWh) differ by more than 5 %: the output log's is used")
    if not duration:
        raise InputError(f"{source}: the run lasted 0 s: nothing was measured")
    ci = re.search(r"Average carbon intensity during training was ([0-9.]+) ?gCO2(?:eq)?/kWh", text)
    intensity = float(ci.group(1)) if ci else (co2 * 1000.0 / (energy_j / J_PER_KWH) if co2 and energy_j else None)
    if co2 is None and intensity is not None:
        co2 = energy_j / J_PER_KWH * intensity / 1000.0
    # "... at detected location: Copenhagen, DK: [..]", "... at detected location Copenhagen, DK: [..]" (its
    # tracker's own wording) and "Average carbon intensity ... at detected location: Copenhagen, DK."
    loc = (re.search(r"at detected location:? (.*?): \[", text)
           or re.search(r"(?m)at detected location:? (.*?)\.?\s*$", text))
    return MeasuredRun("carbontracker", source, duration, energy_j, pue, basis, acc_j, co2, intensity, gpus,
                       model, loc.group(1).strip() if loc else "", version.group(1) if version else "", notes)


# ----------------------------------------------------------------------------- calibrating
def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


# names nvidia-smi gives (which the tools report) that differ from flopest's ids
SMI_NAMES = {"h100-80gb-hbm3": "h100-sxm", "a100-80gb-pcie": "a100-pcie-80gb", "a100-40gb-pcie": "a100-pcie-40gb"}


def device_of(model: str) -> str | None:
    """flopest's device id for a tool's accelerator name ("4 x NVIDIA A100-SXM4-80GB" ->
    "a100-sxm4-80gb"), when one id is unambiguous in it; None otherwise."""
    name = _norm(re.sub(r"^\s*\d+\s*x\s*", "", model or "").replace("NVIDIA", "").replace("AMD", ""))
    if not name:
        return None
    name = SMI_NAMES.get(name, name)
    ids = [d.id for d in data.devices()]
    if name in ids:
        return name
    found = [i for i in ids if re.search(rf"(^|-){re.escape(i)}($|-)", name)]
    return max(found, key=len) if found else None


def region_of(location: str) -> str | None:
    """flopest's region for a tool's location: a country name or ISO code it names, when flopest
    has it (CodeCarbon: "France (FRA)"; carbontracker: "Copenhagen, Capital Region, DK")."""
    if not location:
        return None
    regions = {r.id.upper(): r.id for r in data.regions()}
    by_name = {r.name.lower(): r.id for r in data.regions()}
    head = location.split("(")[0].strip().lower()
    if head in by_name:
        return by_name[head]
    last = location.replace("(", ",").replace(")", "").split(",")[-1].strip().upper()
    return regions.get(last) if len(last) == 2 else None


@dataclass
class Calibration:
    """A measured run beside flopest's prediction for it, and the measured figures that replace
    priors in an estimate (``estimate_kwargs()``)."""
    run: MeasuredRun
    device: str
    devices: int
    region: str
    datacenter: str
    tdp_w: float
    rows: list          # [{figure, unit, predicted {p5, p50, p95}, measured, ratio, within}]
    power_w: float | None                  # all-in per accelerator, host share included
    accelerator_power_w: float | None      # the accelerator's own (board) power
    power_fraction: float | None           # accelerator_power_w / TDP
    pue: float | None                      # a PUE the user set in the tool (None: not a measurement)
    intensity_g_per_kwh: float | None
    notes: list = field(default_factory=list)

    def estimate_kwargs(self) -> dict:
        """The measured figures as ``flopest.estimate`` keywords (power_w, pue, intensity)."""
        kw = {"power_w": self.power_w, "pue": self.pue, "intensity": self.intensity_g_per_kwh}
        return {k: v for k, v in kw.items() if v is not None}

    def flags(self) -> str:
        """The same, as ``flopest estimate`` flags."""
        names = {"power_w": "--power-w", "pue": "--pue", "intensity": "--intensity"}
        return " ".join(f"{names[k]} {_short(v)}" for k, v in self.estimate_kwargs().items())

    def to_dict(self) -> dict:
        return {"measured": self.run.to_dict(), "device": self.device, "devices": self.devices,
                "region": self.region, "datacenter": self.datacenter, "tdp_w": self.tdp_w,
                "comparison": [dict(r) for r in self.rows],
                "calibrated": {"power_w": self.power_w, "accelerator_power_w": self.accelerator_power_w,
                               "power_fraction": self.power_fraction, "pue": self.pue,
                               "intensity_g_per_kwh": self.intensity_g_per_kwh},
                "estimate_kwargs": self.estimate_kwargs(), "flags": self.flags(), "notes": list(self.notes)}

    def __repr__(self) -> str:
        return (f"Calibration({self.run.tool}, {self.devices} × {self.device}, power_w={self.power_w!r}, "
                f"pue={self.pue!r}, intensity_g_per_kwh={self.intensity_g_per_kwh!r})")


def _short(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"


def calibrate(run: MeasuredRun, device: str | None = None, devices: int | None = None, region: str | None = None,
              datacenter: str | None = None, samples: int = DEFAULT_SAMPLES, seed: int = DEFAULT_SEED) -> Calibration:
    """flopest's prediction for the measured run (its duration on `devices` × `device`, in
    `region` and `datacenter`: by default what the tool recorded) against the measurement, and
    the measured power, PUE and intensity that replace the priors."""
    from .training import simulate
    notes = list(run.notes)
    if device is None:
        device = device_of(run.accelerator_model)
        if device is None:
            what = (f"{run.accelerator_model!r}, which is not a flopest device id" if run.accelerator_model
                    else "no accelerator")
            raise error(f"the run names {what}: give device=ID, the one it ran on (flopest devices lists "
                        f"them)", "device")
        notes.append(f"device {device} read off the run's {run.accelerator_model!r}")
    dev = data.device(device)
    if devices is None:
        if not run.accelerators:
            raise error(f"{run.tool} recorded no accelerator count: give devices=N, the accelerators the run "
                        f"used", "devices")
        devices = run.accelerators
    n = whole("devices", devices)
    if run.accelerators and n != run.accelerators:
        notes.append(f"{n} devices given; {run.tool} tracked {run.accelerators}: the per-accelerator figures "
                     f"divide by {n}")
    if region is None:
        region = region_of(run.location)
        if region is None:
            region = "WORLD"
            notes.append(f"the run's location {run.location or '(none)'!r} is not a flopest region: the "
                         f"prediction uses WORLD (give a region to choose one)")
    s = build_scenario(dev.id, n, region, datacenter)
    hours = run.duration_s * n / 3600.0
    pred = simulate(s, accelerator_hours=hours, samples=samples, seed=seed)
    per = run.duration_s * n

    def scaled(q, k):
        return None if q is None else {p: v * k for p, v in q.items()}

    acc_w = run.per_accelerator_w(run.accelerator_energy_j, n)
    allin_w = run.per_accelerator_w(run.it_energy_j, n)
    user_pue = run.tool == "codecarbon" and run.pue != 1.0   # a data centre's figure the user set
    rows = []

    def row(figure, unit, predicted, measured):
        if predicted is None or measured is None:
            return
        p50 = predicted["p50"]
        rows.append({"figure": figure, "unit": unit, "predicted": predicted, "measured": measured,
                     "ratio": measured / p50 if p50 else None,
                     "within": bool(predicted["p5"] <= measured <= predicted["p95"])})

    row("power per accelerator, board", "W", scaled(pred.get("energy_j_accelerators"), 1 / per), acc_w)
    row("power per accelerator, all-in (+ host)", "W", scaled(pred.get("energy_j_host"), 1 / per), allin_w)
    row("energy, accelerators", "J", pred.get("energy_j_accelerators"), run.accelerator_energy_j)
    row("energy, + host (IT)", "J", pred.get("energy_j_host"), run.it_energy_j)
    if user_pue:
        row("energy, + facility (PUE)", "J", pred.get("energy_j_facility"), run.energy_j)
    # CO2eq = energy × intensity: on the IT boundary it tests the intensity and the IT energy alone
    row("CO2eq of the IT energy, location-based", "kg", pred.get("co2eq_kg_host"),
        None if run.co2eq_kg is None else run.co2eq_kg / run.pue)
    if "energy_j_host" not in pred:
        notes.append("the prediction has no boundary figures (accelerators, host): only the totals are compared")
        row("energy, + facility (PUE)", "J", scaled(pred.get("energy_kwh"), J_PER_KWH), run.energy_j)
    if not user_pue:
        notes.append(f"PUE: {run.pue_basis}; the comparison stops at the IT equipment, and flopest's PUE prior "
                     f"({s.pue.p50:g}, {s.datacenter}) stays in the estimate")
    pue = run.pue if run.tool == "codecarbon" and run.pue != 1.0 else None
    if acc_w is None:
        notes.append("the run recorded no accelerator energy: the board power per accelerator and the power "
                     "fraction are not calibrated")
    return Calibration(run, dev.id, n, s.region, s.datacenter, float(dev.tdp_w), rows, allin_w, acc_w,
                       acc_w / dev.tdp_w if acc_w is not None and dev.tdp_w else None, pue,
                       run.intensity_g_per_kwh, notes)


def calibrate_from(paths, device: str | None = None, devices: int | None = None, region: str | None = None,
                   datacenter: str | None = None, run_id: str | None = None, samples: int = DEFAULT_SAMPLES,
                   seed: int = DEFAULT_SEED) -> Calibration:
    """Read a CodeCarbon ``emissions.csv`` or carbontracker's logs of a short run and compare them
    with flopest's prediction for that run (:func:`calibrate`). The result's ``estimate_kwargs()``
    are the measured power per accelerator (all-in), PUE (when set in CodeCarbon) and grid
    intensity, for ``flopest.estimate(..., **cal.estimate_kwargs())``."""
    return calibrate(read_measured(paths, run_id), device, devices, region, datacenter, samples, seed)


__all__ = ["MeasuredRun", "Calibration", "read_measured", "read_codecarbon", "read_carbontracker", "calibrate",
           "calibrate_from", "device_of", "region_of"]
