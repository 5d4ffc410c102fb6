"""`flopest calibrate`: a measured short run (CodeCarbon, carbontracker) against flopest's
prediction for it, and the measured figures to give `flopest estimate`."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..impact.uncertain import DEFAULT_SEED
from .common import Once, check_output, emit, known, num_arg, output_option

EPILOG = """examples:
  flopest calibrate emissions.csv                           # CodeCarbon: device, count and country from the run
  flopest calibrate emissions.csv --device h100-sxm --devices 8 --run-id 5b0fa12a-...
  flopest calibrate logs/1234.root_2026-01-01T120000Z_carbontracker.log logs/1234.root_2026-01-01T120000Z_carbontracker_output.log
then: flopest estimate MODEL ... --device h100-sxm --power-w 412 --intensity 56  (the flags it prints)
"""


def add_parser(sub) -> None:
    c = sub.add_parser("calibrate", help="a measured run (CodeCarbon, carbontracker) against the prediction; "
                       "its power, PUE and intensity for estimate",
                       description="Read what CodeCarbon (emissions.csv) or carbontracker (its two logs) "
                       "measured over a short training run, set flopest's prediction for that run beside it "
                       "(its duration on the same devices, with the priors of the device, region and data "
                       "centre, p5/p50/p95), and print the measured average power per accelerator, PUE and "
                       "grid intensity as the flags that replace those priors in `flopest estimate`.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("measured", metavar="FILE", nargs="+",
                   help="CodeCarbon's emissions.csv, or carbontracker's _carbontracker.log and/or "
                        "_carbontracker_output.log of one run")
    c.add_argument("--device", action=Once, help="device id the run used (default: read off the run's GPU "
                   "name; flopest devices lists them)")
    c.add_argument("--devices", action=Once, metavar="N", help="accelerators the run used (default: the count "
                   "the tool recorded)")
    c.add_argument("--region", action=Once, help="region of the prediction (default: the run's country when "
                   "flopest has it, else WORLD)")
    c.add_argument("--datacenter", action=Once, help="data centre of the prediction's PUE prior")
    c.add_argument("--run-id", action=Once, metavar="ID", help="the run of an emissions.csv to read (default: "
                   "its last row)")
    c.add_argument("--samples", default="100000", help="Monte-Carlo samples (default 100,000)")
    c.add_argument("--seed", default=str(DEFAULT_SEED), help="Monte-Carlo seed")
    c.add_argument("--format", default=None, choices=("table", "json", "markdown", "csv"))
    output_option(c)
    c.add_argument("--debug", action="store_true", help="show a traceback on errors")
    c.set_defaults(run=run_calibrate)


def run_calibrate(a) -> int:
    from ..impact.measured import calibrate_from
    from ..kernel.montecarlo import check_samples
    from ..report.calibration import render_calibration
    check_output(a)
    if a.device is not None:
        known("--device", a.device, "device")
    if a.region is not None:
        known("--region", a.region, "region")
    if a.datacenter is not None:
        known("--datacenter", a.datacenter, "datacenter")
    devices = num_arg("--devices", a.devices, True)
    if devices is not None and devices < 1:
        raise InputError(f"--devices must be >= 1, got {a.devices!r}")
    samples = num_arg("--samples", a.samples, True)
    check_samples(samples)
    seed = num_arg("--seed", a.seed, True)
    if a.run_id is not None and not a.run_id.strip():
        raise InputError("--run-id is empty: give a run_id of the emissions.csv")
    cal = calibrate_from(a.measured, device=a.device, devices=devices, region=a.region, datacenter=a.datacenter,
                         run_id=a.run_id, samples=samples, seed=seed)
    emit(a, render_calibration(cal.to_dict(), a.format))
    return 0
