"""Factories of the sweep tests: copied next to each test's spec (a factory module is imported
from the spec's folder), so they run in Dask's worker processes as in this one.

`mlp` logs each call (one line "width,depth" in `log`), raises for width 24, sleeps `sleep_s`
per call in small steps (a point the timeout can stop), and, with `die_once`, ends its own
process the first time it builds (width 40, depth 2) to show Dask re-running a dead worker's
point: the marker file it creates first makes the second build succeed.
"""

import os
import time

import torch
from torch import nn


def mlp(width: int = 16, depth: int = 1, log: str = "", sleep_s: float = 0.0, die_once: str = ""):
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{width},{depth}\n")
    if width == 24:
        raise ValueError(f"width {width} is not supported")
    if die_once and (width, depth) == (40, 2) and not os.path.exists(die_once):
        open(die_once, "w").close()
        os._exit(1)   # the worker process dies; Dask starts another and re-runs the task
    end = time.monotonic() + sleep_s
    while time.monotonic() < end:
        time.sleep(0.01)
    layers = [nn.Linear(8, width), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, 4)), (torch.zeros(4, 8),)
