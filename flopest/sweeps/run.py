"""Running a sweep: the points its results file lacks, grouped into tasks (one capture feeds all
its scenarios; ONNX graphs re-bound in chunks), on Dask or in this process, each result written
as it comes.

Dask: a `distributed.LocalCluster` of worker processes (one thread each: captures are
Python-bound) by default, or the scheduler named by `scheduler` or DASK_SCHEDULER_ADDRESS. A
worker that dies while running a task is replaced and the task re-run by Dask (up to its
`allowed-failures`, 3 by default); after that its points are recorded as failed. `workers=0`
runs every task here, in order, without Dask.
"""

from __future__ import annotations

import logging
import math
import os
import re
import uuid

from ..errors import InputError
from ..validate import error
from . import work
from .result import SweepResult
from .spec import load
from .table import Results, format_of, read

MAX_POINTS_PER_TASK = 2_000     # ONNX re-binds per task: progress and resume stay fine-grained
MIN_POINTS_PER_TASK = 250       # ... and each task long enough (about a second) to pay its scheduling
TASKS_PER_WORKER = 8            # ONNX chunks: enough tasks to balance the workers
CONNECT_TIMEOUT_S = 15
_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ucx|ws|wss)://\S+|[\w.-]+:\d+)$")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def sweep(spec, *, output=None, workers: int | None = None, scheduler: str | None = None, resume: bool = False,
          point_timeout: float | None = None, progress=None) -> SweepResult:
    """Run a design-space sweep: every graph of `spec` counted once, estimated on every scenario.

    spec: a TOML file's path or the same structure as a dict (see docs/sweep.md): ``[model]``
    (factory, hf, onnx or zoo, with ``args`` fixed and a ``grid`` or ``points`` varied),
    ``[plan]`` fixed plan and scenario values, ``[grid]`` or ``[[points]]`` varied ones.
    output: a .parquet or .csv file, rewritten atomically as points complete (None: kept in
    memory only); an existing file needs resume=True, which computes only the points it lacks
    or that failed.
    workers: worker processes of a local Dask cluster (default: the cores; 0 = in this process,
    without Dask). scheduler: the address of a running Dask scheduler (tcp://HOST:8786; default
    DASK_SCHEDULER_ADDRESS when workers is not given). point_timeout: seconds a point's count or
    estimate may take before it is recorded as failed. progress: called as progress(done,
    failed, left) after each task.
    Returns a :class:`SweepResult`; failed points are rows with status "failed" and their error.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise error(f"workers must be a whole number >= 0 (0 = in this process), got {workers!r}", "workers")
    if scheduler is not None and workers is not None:
        raise error("give workers (a local cluster) or scheduler (a running one), not both", "workers", "scheduler")
    if scheduler is None and workers is None and os.environ.get("DASK_SCHEDULER_ADDRESS", "").strip():
        scheduler = os.environ["DASK_SCHEDULER_ADDRESS"].strip()
    if scheduler is not None and not (isinstance(scheduler, str) and _ADDRESS.match(scheduler.strip())):
        raise error(f"scheduler {scheduler!r} is not a Dask scheduler address like tcp://HOST:8786", "scheduler")
    if point_timeout is not None:
        if isinstance(point_timeout, bool) or not isinstance(point_timeout, (int, float)) or \
                not (point_timeout > 0 and math.isfinite(point_timeout)):
            raise error(f"point_timeout must be a positive number of seconds, got {point_timeout!r}", "point_timeout")
    if progress is not None and not callable(progress):   # found before the work, not after every point
        raise error(f"progress must be a function progress(done, failed, left), got {progress!r}", "progress")
    n_workers = default_workers() if workers is None and scheduler is None else workers
    if resume and output is None:
        raise error("resume needs output: the results file to complete", "resume", "output")
    if output is not None:
        format_of(output)
    s = load(spec)
    order = {p.id: i for i, p in enumerate(s.points)}
    results = Results(s.columns, order, output)
    if output is not None:
        from .. import io
        io.target(output, "output", inputs=[s.where] + ([s.target] if os.path.isfile(s.target) else []))
        if os.path.exists(output):
            if not resume:
                raise error(f"output {os.fspath(output)!r} exists: resume completes it (only the points it lacks), "
                            f"or give another file (a sweep never overwrites results)", "output", "resume")
            _adopt(results, output, order)
    status = results.columns.index("status")
    done = {pid for pid, row in results.rows.items() if row[status] == "ok"}   # a failed point is tried again
    todo = [p for p in s.points if p.id not in done]

    def tasks(n: int) -> list:   # for n workers (a scheduler's are counted once connected)
        return plan(s, todo, timeout=point_timeout, workers=n)

    if todo:
        work.check_source(s.kind, s.target, s.args, s.graphs[todo[0].graph], s.graph_opts, s.where,
                          paths=search_path(s))
    counts = {"done": 0, "failed": 0, "left": len(todo)}

    def on_result(task: work.Task, rows: dict) -> None:
        for pid, row in rows.items():
            p = s.points[order[pid]]
            results.add(pid, (pid,) + tuple(s.values(p).values()) + tuple(row))
            counts["done" if row[0] == "ok" else "failed"] += 1
            counts["left"] -= 1
        if progress is not None:
            progress(counts["done"], counts["failed"], counts["left"])

    if progress is not None:
        progress(0, 0, counts["left"])
    try:
        if todo:
            if scheduler is None and n_workers == 0:
                for t in tasks(1):
                    on_result(t, work.run(t))
            else:
                run_on_dask(tasks, on_result, workers=n_workers, scheduler=scheduler,
                            on_stop=lambda: results.flush(force=True))
    finally:
        results.flush(force=True)
    return SweepResult(results.columns, results.dicts(), output, computed=len(todo) - counts["left"],
                       resumed=len(done), name=s.name)


def _adopt(results: Results, output, order: dict) -> None:
    """Read back the file being resumed: its rows must all be points of this spec."""
    _, rows = read(output, "output")
    stray = [r for r in rows if r.get("point") not in order]
    if stray:
        raise error(f"output {os.fspath(output)!r} holds {len(stray):,} point(s) that are not in this spec (the spec "
                    f"changed since it was written): give another output file, or the spec it was made from",
                    "output")
    results.adopt(rows)


def search_path(s) -> list:
    """Where a factory's module is imported from: the spec's folder, then the current one."""
    return [s.folder, os.getcwd()] if s.kind == "factory" else []


def plan(s, todo: list, *, timeout=None, workers: int = 1) -> list:
    """Tasks for the points `todo`: a PyTorch graph's points in one task (one capture); ONNX
    graphs in chunks (each worker reads the model once, then re-binds)."""
    by_graph: dict = {}
    for p in todo:
        by_graph.setdefault(p.graph, []).append((p.id, p.scenario))
    graphs = [(s.graphs[g], pts) for g, pts in by_graph.items()]
    paths = search_path(s)
    base = dict(kind=s.kind, target=s.target, args=s.args, opts=s.graph_opts, samples=s.samples, seed=s.seed,
                timeout=timeout, paths=paths)
    run_id = uuid.uuid4().hex[:8]
    if s.kind != "onnx":
        chunks = [[g] for g in graphs]
    else:
        per_graph = max(1, len(todo) // max(1, len(graphs)))
        size = max(math.ceil(len(graphs) / (max(1, workers) * TASKS_PER_WORKER)), math.ceil(MIN_POINTS_PER_TASK / per_graph))
        size = max(1, min(size, MAX_POINTS_PER_TASK // per_graph))
        chunks = [graphs[i:i + size] for i in range(0, len(graphs), size)]
    used = {si for _, pts in graphs for _, si in pts}
    kws = [kw if i in used else None for i, kw in enumerate(s.estimate_kw)]
    return [work.Task(key=f"flopest-sweep-{run_id}-{i}", graphs=c, estimate_kw=kws, **base)
            for i, c in enumerate(chunks)]


def _distributed():
    try:
        import distributed
    except ImportError:
        raise InputError("flopest sweep runs on Dask, which is not installed: pip install 'flopest[sweep]' "
                         "(or workers=0 / --workers 0 to run in this process)") from None
    return distributed


def run_on_dask(tasks, on_result, *, workers: int | None, scheduler: str | None, on_stop=None) -> None:
    """Submit every task of `tasks(number of workers)`, hand each result to `on_result` as it
    completes; on any exit
    (Ctrl-C, SIGTERM) call `on_stop` (the results are written before the cluster closes, which
    can take seconds), cancel what is left and close the cluster."""
    distributed = _distributed()
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    cluster = client = None
    futures: dict = {}
    try:
        if scheduler:
            try:
                client = distributed.Client(scheduler.strip(), timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise error(f"scheduler {scheduler!r}: cannot connect ({str(exc).splitlines()[0][:120] or type(exc).__name__}); "
                            f"is `dask scheduler` running there and reachable?", "scheduler") from None
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError):
                raise error(f"scheduler {scheduler!r} has no worker after {CONNECT_TIMEOUT_S} s: start some with "
                            f"`dask worker {scheduler.strip()}`", "scheduler") from None
        else:
            import dask
            # the workers' statistical profiler samples the running thread's stack every 10 ms:
            # on a Python-bound capture it costs about a fifth of the CPU (bench_sweep.py)
            with dask.config.set({"distributed.worker.profile.enabled": False}):
                cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = distributed.Client(cluster, set_as_default=False)
        n = len(client.scheduler_info().get("workers", {})) or workers or 1
        for t in tasks(n):
            futures[client.submit(work.run, t, key=t.key, pure=False)] = t
        for fut in distributed.as_completed(list(futures), loop=client.loop):
            t = futures.pop(fut)
            try:
                rows = fut.result()
            except distributed.KilledWorker as exc:
                rows = work.failed_task(t, f"the worker running it died each time Dask ran it ({exc}); the model may "
                                           f"exhaust a worker's memory")
            except Exception as exc:   # a task Dask lost or could not deserialise
                rows = work.failed_task(t, f"Dask could not run it ({type(exc).__name__}: {exc})")
            on_result(t, rows)
            fut.release()
    finally:
        try:
            if on_stop is not None:
                on_stop()
        finally:
            if client is not None:
                if futures:
                    try:
                        client.cancel(list(futures), force=True)
                    except Exception:   # the scheduler is gone: nothing left to cancel
                        pass
                client.close()
            if cluster is not None:
                cluster.close()
            quiet.setLevel(level)
