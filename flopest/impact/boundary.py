"""Energy and CO₂eq by boundary, so that a figure can be held against a published one drawn on
the same boundary (METHOD.md §3-4):

    accelerators   accelerator-hours × TDP × power fraction                (what model cards and
                                                                            papers usually report)
    + host         accelerator-hours × (TDP × power fraction + host W)     (the IT equipment)
    + facility     (+ host) × PUE                                          (the estimate's energy)
    + embodied     CO₂eq only: + the embodied share (scope 3)              (the estimate's CO₂eq)

CO₂eq of the first three = their energy × the grid intensity (location-based scope 2). Each
figure is read off the same Monte-Carlo samples as the estimate (kernel/_mc.py `impacts`), so a
boundary's p5/p95 are those of its own per-sample sum. A user-given all-in power per accelerator
(power_w) is not split: the accelerators' and the host's boundaries are then the same. SI units:
energy in J, CO₂eq in kg.
"""

from __future__ import annotations

from .uncertain import quantiles_of

BOUNDARIES = ("accelerators", "host", "facility", "embodied")
LABELS = {"accelerators": "accelerators only", "host": "+ host (CPU, RAM, network)",
          "facility": "+ facility (PUE)", "embodied": "+ embodied (manufacturing share)"}
J_PER_KWH = 3.6e6


def by_boundary(rows: dict) -> dict:
    """{"energy_j_<boundary>" | "co2eq_kg_<boundary>": {p5, p50, p95}} from the per-sample rows of
    the training model (flopest.impact.training.simulate: energy_acc_kwh, energy_it_kwh,
    energy_kwh, scope2_acc, scope2_it, scope2, scope3). Energy stops at the facility: the embodied
    boundary adds CO₂eq only (manufacturing energy is not modelled)."""
    return quantiles_of({
        "energy_j_accelerators": rows["energy_acc_kwh"] * J_PER_KWH,
        "co2eq_kg_accelerators": rows["scope2_acc"],
        "energy_j_host": rows["energy_it_kwh"] * J_PER_KWH,
        "co2eq_kg_host": rows["scope2_it"],
        "energy_j_facility": rows["energy_kwh"] * J_PER_KWH,
        "co2eq_kg_facility": rows["scope2"],
        "co2eq_kg_embodied": rows["scope2"] + rows["scope3"],
    })


def nested(result: dict) -> dict:
    """{boundary: {"energy_j": {p5, p50, p95} | None, "co2eq_kg": {p5, p50, p95}}} in BOUNDARIES
    order, from a result holding the figures of :func:`by_boundary`."""
    return {b: {"energy_j": result.get(f"energy_j_{b}"), "co2eq_kg": result[f"co2eq_kg_{b}"]} for b in BOUNDARIES}
