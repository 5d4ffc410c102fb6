"""The scenario of an estimate: device, devices, precision, region, data centre, host, and the
priors of every uncertain input, each with its source (flopest/data/*.csv, METHOD.md §2-4).

A value the user gives fixes its input; the others come from the embedded tables.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field

from .. import data
from ..errors import did_you_mean
from ..validate import between as _between
from ..validate import error, fraction, whole
from .uncertain import Uncertain, between

PRECISIONS = data.PRECISIONS
# bytes per stored element at a precision: the formats' widths (IEEE 754 binary32 / binary16,
# bfloat16, OCP 8-bit floating point, int8); tf32 is stored as fp32
ELEMENT_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}
LIFETIME_UTILISATION = Uncertain(0.85, 0.85, 0.85, "",
                                 "Luccioni et al. 2022 (BLOOM LCA, arXiv:2211.02001): hardware in use "
                                 "85 % of its lifetime")
EMBODIED_SPREAD = 1.5   # p95 / p50 of embodied figures: published LCAs are likely underestimates


@dataclass
class Scenario:
    """Everything the impact model needs besides the FLOPs (or the accelerator-hours)."""
    device: str
    n_devices: int
    peak_flops: float            # dense FLOP/s per device at the precision
    precision: str
    tdp_w: float
    mfu: Uncertain
    power_frac: Uncertain
    host_w: Uncertain
    pue: Uncertain
    intensity_g_per_kwh: Uncertain
    lifetime_years: Uncertain
    lifetime_utilisation: Uncertain
    embodied_kg: Uncertain       # per accelerator, host share included
    wue_l_per_kwh: Uncertain
    water_elec_l_per_kwh: Uncertain
    roofline: Uncertain = field(default_factory=lambda: Uncertain.fixed(1.0, "", "GEMM-bound"))
    power_w: float | None = None  # all-in draw per accelerator, given by the user
    region: str = ""
    datacenter: str = ""
    notes: list = field(default_factory=list)
    device_source: str = "flopest/data/devices.csv"
    water_partial: str | None = None    # why the water figure leaves out the water of electricity (None: it does not)
    estimated: tuple = ()               # the device row's columns that are estimates (its estimated_fields)

    def assumptions(self) -> list:
        rows = [
            ("device", self.device, "", self.device_source),
            ("devices", self.n_devices, "", "given"),
            (f"peak {self.precision} FLOP/s per device (dense)", self.peak_flops, "FLOP/s",
             self.device_source),
        ]
        if self.power_w is not None:
            rows.append(("power per accelerator, all-in", self.power_w, "W", "given by the user"))
        else:
            rows.append(("TDP", self.tdp_w, "W", ("estimate (the device row lists tdp_w in estimated_fields): "
                                                  if "tdp_w" in self.estimated else "") + self.device_source))
        out = [{"name": n, "value": v, "unit": u, "source": s} for n, v, u, s in rows]
        for name, u in (("MFU", self.mfu), ("average power / TDP", self.power_frac),
                        ("host power per accelerator", self.host_w), ("PUE", self.pue),
                        ("grid carbon intensity (location-based)", self.intensity_g_per_kwh),
                        ("hardware lifetime", self.lifetime_years),
                        ("lifetime utilisation", self.lifetime_utilisation),
                        ("embodied emissions per accelerator, host share included", self.embodied_kg),
                        ("on-site water (WUE)", self.wue_l_per_kwh),
                        ("water of electricity generation", self.water_elec_l_per_kwh),
                        ("roofline factor (per-operator memory-bound time / compute time)", self.roofline)):
            if self.power_w is not None and name in ("average power / TDP", "host power per accelerator"):
                continue
            out.append({"name": name, "value": u.value(), "unit": u.unit, "source": u.source})
        return out


def datacenter_for(region_id: str) -> str:
    """The data centre of a cloud region (its provider), else a generic hyperscaler."""
    for prefix in ("aws", "gcp", "azure"):
        if region_id.lower().startswith(prefix + ":"):
            return prefix
    return "hyperscaler"


def default_precision(dev) -> str:
    """The device's fastest 16-bit format, else tf32, else fp32."""
    return next((p for p in ("bf16", "fp16", "tf32", "fp32") if dev.peak_tflops(p)), "fp32")


def host_for(dev, host: str | None = None):
    """The host server: the one named, else the one built around this device, else a generic
    8-GPU server (flopest/data/hosts.csv)."""
    if host:
        return data.host(host)
    hosts = [h for h in data.hosts() if h.accelerator == dev.id]
    return hosts[0] if hosts else data.host("generic-8gpu")


# a cloud region's mapped grid and its provider's own figure further apart than this are said
PROVIDER_GAP = 1.3


def build_scenario(device: str, n_devices: int = 1, region: str = "WORLD", datacenter: str | None = None,
                   precision: str | None = None, host: str | None = None, *, mfu=None, pue=None,
                   intensity=None, power_w=None, lifetime_years=None) -> Scenario:
    """A Scenario from the embedded tables; each given override fixes its input (mfu in (0, 1],
    pue in [1, 3], intensity in g CO₂eq/kWh, power_w all-in W per accelerator, lifetime_years)."""
    dev = data.device(device)
    if precision is None:
        precision = default_precision(dev)
    if precision not in PRECISIONS:
        raise error(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}"
                    f"{did_you_mean(precision, PRECISIONS)}", "precision")
    peak = dev.peak_tflops(precision)
    if not peak:
        raise error(f"device {dev.id!r} has no dense {precision} peak in the data; give precision as one of "
                    f"its precisions: {', '.join(dev.precisions)}", "precision")
    n = whole("n_devices", n_devices)
    reg = data.region(region)
    dc = data.datacenter(datacenter or datacenter_for(reg.id))
    notes = []
    if mfu is not None:
        mfu_u = Uncertain.fixed(fraction("mfu", mfu), "", "given by the user")
    else:
        pr = data.mfu_prior(dev.mfu_class)
        mfu_u = Uncertain(pr.p5, pr.p50, pr.p95, "", f"mfu_priors.csv [{dev.mfu_class}] ({pr.source})")
    kind = dev.kind if dev.kind in ("gpu", "tpu") else "cpu"
    pp = data.power_prior(kind)
    power_frac = Uncertain(pp.p5, pp.p50, pp.p95, "", f"power_priors.csv [{kind}] ({pp.source})")
    try:
        hp = data.power_prior(f"host-{kind}")
        host_w = Uncertain(hp.p5, hp.p50, hp.p95, "W", f"power_priors.csv [host-{kind}] ({hp.source})")
    except KeyError:
        host_w = Uncertain.fixed(0.0, "W", f"no host figure for {kind}: 0")
    if pue is not None:
        pue_u = Uncertain.fixed(_between("pue", pue, 1.0, 3.0), "", "given by the user")
    else:
        pue_u = between(dc.pue_p5, dc.pue_p50, dc.pue_p95, "", f"datacenters.csv [{dc.id}] ({dc.source}, {dc.year})")
    if intensity is not None:
        int_u = Uncertain.fixed(_between("intensity", intensity, 0.0, 2000.0, unit="g CO2eq/kWh"), "g CO2eq/kWh",
                                "given by the user")
    else:
        table = data.user_file(reg) or "grid_intensity.csv"
        int_u = Uncertain.fixed(reg.intensity_g_per_kwh, "g CO2eq/kWh",
                                f"{table} [{reg.id}] ({reg.source}, {reg.year}; {reg.licence})")
        prov = getattr(reg, "provider_figure_g_per_kwh", None)
        if prov is not None and reg.intensity_g_per_kwh > 0 and not (
                1 / PROVIDER_GAP <= reg.intensity_g_per_kwh / max(prov, 1e-9) <= PROVIDER_GAP):
            # a grid average (a country's, a state's) can be far from the local grid a data centre sits on
            notes.append(f"{reg.id}: the grid flopest maps it to gives {reg.intensity_g_per_kwh:g} g CO2eq/kWh, and the "
                         f"provider's own location-based figure for the region is {prov:g} g CO2eq/kWh "
                         f"({reg.intensity_g_per_kwh / max(prov, 1e-9):.3g}×): the first is used; --intensity {prov:g} "
                         f"takes the provider's")
    h = host_for(dev, host)
    if lifetime_years is not None:
        lt = Uncertain.fixed(_between("lifetime_years", lifetime_years, 0.0, 50.0, lo_open=True, unit="years"),
                             "years", "given by the user")
    else:
        lt = between(h.lifetime_min_years, h.lifetime_years, h.lifetime_years, "years",
                     f"hosts.csv [{h.id}] ({h.lifetime_source})")
    if dev.kind != "cpu":
        emb = dev.embodied_kgco2e + h.embodied_kgco2e / h.accelerators_per_server
        emb_src = (f"{_table_of(dev)} embodied ({dev.embodied_source}) + hosts.csv [{h.id}] / {h.accelerators_per_server} "
                   f"({h.embodied_source})")
    else:   # the CPU is the host: no accelerator server's share is added
        emb = dev.embodied_kgco2e
        emb_src = (f"{_table_of(dev)} embodied ({dev.embodied_source}); a CPU device: no server share added (its RAM, "
                   f"storage and network are not counted)")
        notes.append(f"{dev.id} is a CPU: the host's own power and embodied share are not added to it (the boundary "
                     f"'+ host' equals 'accelerators only'); its RAM, storage and network are not counted")
    if "embodied_kgco2e" in (dev.estimated_fields or ()) and not str(dev.embodied_source).lower().startswith("estimate"):
        emb_src = "estimate (the device row lists embodied_kgco2e in estimated_fields): " + emb_src
    emb_u = Uncertain(emb, emb, emb * EMBODIED_SPREAD, "kg CO2eq",
                      f"{emb_src}; p95 = 1.5 × (published LCAs are likely underestimates, METHOD.md §4)")
    wue = dc.wue_l_per_kwh
    wue_u = Uncertain.fixed(wue or 0.0, "L/kWh", f"datacenters.csv [{dc.id}]" + ("" if wue else ": not published, 0"))
    missing_water = [] if wue else [f"no on-site water figure (WUE) published for data centre {dc.id}"]
    water_partial = None
    try:
        wf = data.water_electricity(reg.maps_to or reg.id)
        we_u = Uncertain.fixed(wf.water_l_per_kwh, "L/kWh", f"water_electricity.csv [{wf.region}] ({wf.source})")
    except KeyError:
        we_u = Uncertain.fixed(0.0, "L/kWh", "no water factor for this region: 0")
        missing_water.append(f"no water-of-electricity figure for {reg.id}")
    if missing_water:   # left out, not 0: said, and a water budget is not checked on it (flopest.budget)
        water_partial = "; ".join(missing_water)
        kept = "on-site use only" if wue else ("the water of electricity generation only" if len(missing_water) == 1
                                               else "neither on-site use nor the water of electricity: 0 L is unknown")
        notes.append(f"{water_partial}: water counts {kept}")
    pw = _between("power_w", power_w, 0.0, 100_000.0, lo_open=True, hi_open=True, unit="W", allow_none=True)
    s = Scenario(dev.id, n, float(peak) * 1e12, precision, float(dev.tdp_w), mfu_u, power_frac, host_w,
                 pue_u, int_u, lt, LIFETIME_UTILISATION, emb_u, wue_u, we_u, power_w=pw, region=reg.id,
                 datacenter=dc.id, notes=notes)
    s.device_source = f"{dev.origin or 'flopest/data/devices.csv'} ({dev.source}, {dev.year})"
    s.water_partial = water_partial   # a water budget cannot be checked on this figure alone (flopest.budget)
    s.estimated = tuple(dev.estimated_fields or ())
    if data.user_file(dev) and s.estimated:
        notes.append(f"device {dev.id!r} ({dev.origin}): {', '.join(s.estimated)} "
                     f"{'is an estimate' if len(s.estimated) == 1 else 'are estimates'}, not measured (the row's "
                     f"estimated_fields): the energy and CO2eq figures that rest on them are as good as those")
    notes.extend(user_row_notes(dev, reg))
    return s


# plausible ranges of a device row's figures, beyond which a unit slip or a broken measurement is
# likelier than the hardware: memory bandwidth (GB/s) by kind, and the per-kernel launch cost (us)
BANDWIDTH_GBPS = {"gpu": (50.0, 20_000.0), "tpu": (50.0, 20_000.0), "cpu": (1.0, 2_000.0)}
LAUNCH_US = (0.05, 1_000.0)


def _implausible(dev) -> list:
    """Notes on a user's device row (a probe's, or written by hand) whose figures look like a unit
    slip or a broken measurement: said, never corrected."""
    out = []
    where = f"device {dev.id!r} ({dev.origin})"
    lo, hi = BANDWIDTH_GBPS.get(dev.kind, BANDWIDTH_GBPS["gpu"])
    bw = dev.mem_bandwidth_gbps
    if bw < lo:
        out.append(f"{where}: mem_bandwidth_gbps {bw:g} GB/s is below any {dev.kind}'s ({lo:g}); if it is in TB/s, "
                   f"write {bw * 1000:g}")
    elif bw > hi:
        out.append(f"{where}: mem_bandwidth_gbps {bw:g} GB/s is above any {dev.kind}'s ({hi:g}); if it is in MB/s, "
                   f"write {bw / 1000:g}")
    if dev.launch_us is not None and not LAUNCH_US[0] <= dev.launch_us <= LAUNCH_US[1]:
        out.append(f"{where}: launch_us {dev.launch_us:g} us per kernel is outside {LAUNCH_US[0]:g}-{LAUNCH_US[1]:g} us "
                   f"(a launch or dispatch costs microseconds): check the measurement")
    for prec, pts in dev.gemm_curve or ():
        best = max((t for _, t in pts), default=None)
        peak = dev.peak_tflops(prec)
        if best and peak and not 0.5 <= best / peak <= 1.05:
            out.append(f"{where}: its {prec} GEMM curve reaches {best:g} TFLOP/s against a {prec} peak of {peak:g} "
                       f"TFLOP/s: the two disagree (the curve times the GEMMs of a measured row)")
    return out


def _table_of(row) -> str:
    """The file a data row came from, as sources name it: 'devices.csv' or the user's file."""
    return data.user_file(row) or "devices.csv"


def user_row_notes(dev, reg) -> list:
    """What a user's device or region row (--devices / --regions FILE.csv) leaves to flopest's own
    tables, and figures in it that look like a unit slip."""
    out = []
    if data.replaces_embedded("devices", dev):
        out.append(f"device {dev.id!r} is the row of {dev.origin}, in place of flopest's own: the figures flopest's "
                   f"other tables key to that id still apply to it (list price: prices.csv, interconnect and compute "
                   f"units: time_model.csv, host: hosts.csv); give the row an id of its own to leave them out, or "
                   f"--price-per-hour for the price")
    user_dev = data.user_file(dev)
    if user_dev:
        out.extend(_implausible(dev))
    if user_dev and getattr(dev, "basis", None) == "measured":
        # one probe is one sample of a machine whose load moves its figures (2-3× on a busy shared one)
        load = re.search(r"load average ([0-9.]+)", str(dev.source))
        out.append(f"device {dev.id!r} ({dev.origin}) is one measurement (flopest probe"
                   + (f", load average {load.group(1)} when it ran" if load else "") + "): its figures are taken as "
                   "they are, without a range; other work on the machine lowers them, so probe a quiet machine")
    user_reg = data.user_file(reg)
    if user_reg and 0 < reg.intensity_g_per_kwh < 1:
        out.append(f"region {reg.id!r} ({reg.origin}): intensity {reg.intensity_g_per_kwh:g} g CO2eq/kWh is below any "
                   f"grid's (the lowest in grid_intensity.csv is about 20); if it is in kg/kWh, write "
                   f"{reg.intensity_g_per_kwh * 1000:g}")
    return out
