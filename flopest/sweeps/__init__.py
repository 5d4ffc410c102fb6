"""Design-space sweeps: many model configurations × plans × scenarios, on Dask, resumable.

    >>> import flopest
    >>> res = flopest.sweep("examples/sweep.toml", workers=2, output="results.parquet")
    >>> res.front()            # the Pareto front of CO₂eq against time, at p50
    >>> flopest.sweeps.read("results.parquet").report()

    spec     the sweep spec (TOML or dict) checked before any work: graphs × scenarios, point ids
    work     what a worker runs: one graph counted once, estimated on each of its scenarios
    run      the points a results file lacks, as tasks on Dask (or in this process)
    table    the results in memory and in their Parquet / CSV file, rewritten atomically
    result   SweepResult: the Pareto front, the best point per budget, the report
    plot     the cloud and the front as a chart (the plot extra)

Importing this package imports neither Dask nor pyarrow: they are imported when a sweep runs.
"""

from .result import SweepResult, read
from .run import sweep
from .spec import Spec, SpecError, load

__all__ = ["Spec", "SpecError", "SweepResult", "load", "read", "sweep"]
