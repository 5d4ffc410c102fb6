"""The impact model (layer 5): from a counted workload to time, energy, CO₂eq by scope and water,
with p5/p50/p95. Framework-free, no rendering.

    uncertain  Uncertain inputs, the seeded samples, quantiles
    workload   a training plan's FLOPs: Cost ∝ E·D·H, epochs, trials (from_counts, from_params)
    scenario   device, region, data centre, precision, host, priors (build_scenario)
    training   the training estimate (estimate, Estimate, simulate)
    boundary   energy and CO₂eq by boundary: accelerators, + host, + facility, + embodied
    cost       the price of an accelerator-hour (prices.csv, or the user's) and the cost
    roofline   the serving time of one batch on a device (roofline, MBU prior)
    fleet      a serving deployment: load, fleet, power, impacts over time
    serving    the serving estimate (serve, ServingEstimate)
"""

from .roofline import MBU_PRIOR, Roofline, roofline
from .scenario import ELEMENT_BYTES, EMBODIED_SPREAD, LIFETIME_UTILISATION, PRECISIONS, Scenario, build_scenario
from .serving import ServingEstimate, serve
from .training import Estimate, compare, equivalences, estimate, estimate_phases, simulate
from .uncertain import DEFAULT_SAMPLES, DEFAULT_SEED, Uncertain, quantiles, sample
from .workload import Workload, from_counts, from_params, parse_count, trial_count

__all__ = ["estimate_phases", "DEFAULT_SAMPLES", "DEFAULT_SEED", "ELEMENT_BYTES", "EMBODIED_SPREAD", "LIFETIME_UTILISATION", "MBU_PRIOR", "PRECISIONS", "Estimate", "Roofline",
           "Scenario", "ServingEstimate", "Uncertain", "Workload", "build_scenario", "compare", "equivalences", "estimate",
           "from_counts", "from_params", "parse_count", "quantiles", "roofline", "sample", "serve", "simulate",
           "trial_count"]
