"""`flopest probe`: measure the machine it runs on and write it as a device row.

What is measured, each as the best of repeated timings (the achievable rate, not the nominal):

- dense GEMM throughput by square size n (an n×n by n×n matmul = 2·n³ FLOPs) and precision
  (fp32; tf32 on CUDA GPUs that have it; bf16 and fp16 where the device runs them), sizes
  ascending until a call would take too long for the time budget;
- memory bandwidth: a copy (read + write) and a triad a = b + 2·c (two reads, one write) over
  arrays much larger than the last-level cache; the best of the two;
- the per-kernel launch and dispatch cost: adding two 1-element tensors (``launch_us``), and a
  16×16 matmul (in ``source``);
- on the CPU with torch, the first touch of fresh memory (``fault_gbps``): writing a 64 MiB tensor
  allocated at every call (glibc maps it afresh: page faults and zeroing) against writing a kept
  one, as the bytes over the difference in time.

On the CPU with torch when the torch extra is installed, else with NumPy (fp32 only: NumPy has no
fast 16-bit matmul); on a CUDA, ROCm or Apple (MPS) GPU when torch sees one. The row has the
columns of ``flopest/data/devices.csv`` plus ``basis`` (measured), ``launch_us`` and
``gemm_curve`` (see :func:`flopest.data.parse_gemm_curve`); what cannot be measured (power,
embodied emissions, release year) is an estimate named in ``estimated_fields`` with its rule in
``source`` / ``embodied_source``.

>>> row = measure("cpu", quick=True)          # doctest: +SKIP
>>> row["peak_fp32_tflops"], row["mem_bandwidth_gbps"], row["launch_us"]   # doctest: +SKIP
(0.0742, 13.1, 2.69)
"""

from __future__ import annotations

import datetime
import io as _io
import math
import os
import platform
import re
import subprocess
import time

from . import data
from .errors import InputError
from .version import __version__

COLUMNS = ("id", "name", "vendor", "kind", "release_year", "peak_fp32_tflops", "peak_tf32_tflops",
           "peak_bf16_tflops", "peak_fp16_tflops", "peak_fp8_tflops", "peak_int8_tops", "mem_bandwidth_gbps",
           "memory_gb", "tdp_w", "idle_w", "embodied_kgco2e", "embodied_source", "mfu_class",
           "estimated_fields", "source", "year", "basis", "launch_us", "fault_gbps", "gemm_curve")
DEVICES = ("auto", "cpu", "cuda", "mps")      # and cuda:N

CPU_SIZES = (128, 256, 512, 1024, 2048, 4096)
GPU_SIZES = (128, 256, 512, 1024, 2048, 4096, 8192)
MIB = 1 << 20
FAULT_BYTES = 64 * MIB   # above glibc's largest reused block (32 MiB on 64-bit: mallopt(3))

# Time budgets (seconds) of a default and a quick probe: per GEMM point, per bandwidth and per
# launch measurement, untimed warm-up per precision; no GEMM call longer than `call_cap` is
# repeated; `deadline` is shared by the GEMMs.
_PLANS = {
    False: {"point": 0.4, "stream": 0.8, "tiny": 0.4, "warm": 0.3, "call_cap": 1.5, "deadline": 40.0,
            "stream_bytes": 256 * MIB, "cpu_max": 4096, "gpu_max": 8192},
    True: {"point": 0.05, "stream": 0.12, "tiny": 0.06, "warm": 0.15, "call_cap": 0.2, "deadline": 2.5,
           "stream_bytes": 64 * MIB, "cpu_max": 1024, "gpu_max": 4096},
}

# Estimates for what cannot be measured, with their rules (said in the row's source).
CPU_W_PER_THREAD = 3.1     # median TDP per hardware thread of the embedded server CPUs:
#                            Xeon 8380 270 W / 80 = 3.4, Xeon 8480+ 350 W / 112 = 3.1, EPYC 9654 360 W / 192 = 1.9
CPU_KG_PER_THREAD = 0.13   # median embodied per hardware thread of the same rows: 10.2/80, 25.6/112, 20.2/192
GPU_TDP_W = {"nvidia": 300.0, "amd": 300.0, "apple": 40.0}
IDLE_FRACTION = 0.15       # the rule of devices.csv: idle = 0.15 × TDP (Morrison et al. 2025)
H100_KG, H100_GB = 164.0, 80.0   # NVIDIA HGX H100 product carbon footprint, the anchor of devices.csv


# ----------------------------------------------------------------------------- backends

def _torch_backend(device: str):
    """The torch backend for `device`, or None when the torch extra is not installed."""
    try:
        from .frontends.torch.probe import TorchBackend
    except ImportError:
        return None
    return TorchBackend(device)


def _torch_has(kind: str) -> bool:
    try:
        from .frontends.torch.probe import available
    except ImportError:
        return False
    return available(kind)


class NumpyBackend:
    """The CPU measured with NumPy (the torch extra not installed): fp32 GEMM through NumPy's BLAS."""

    kind, label = "cpu", "cpu"
    name = vendor = memory_gb = None
    power_limit_w, power_source = None, ""
    precisions = ("fp32",)

    def __init__(self):
        import numpy as np
        self.np = np
        self.threads = _blas_threads()
        self.software = f"numpy {np.__version__} ({_numpy_blas()}, {self.threads or 'default'} threads)"
        self._buffers: list = []

    def sync(self) -> None:
        pass

    def free_bytes(self):
        return None

    def supports(self, precision: str) -> bool:
        return precision == "fp32"

    def gemm(self, n: int, precision: str):
        np = self.np
        self.release()
        rng = np.random.default_rng(0)
        a = rng.standard_normal((n, n), dtype=np.float32)
        b = rng.standard_normal((n, n), dtype=np.float32)
        c = np.empty((n, n), dtype=np.float32)
        self._buffers = [a, b, c]
        return lambda: np.matmul(a, b, out=c)

    def stream(self, nbytes: int) -> list:
        np = self.np
        self.release()
        n = max(1, nbytes // 4)
        a, b, c = np.zeros(n, np.float32), np.ones(n, np.float32), np.ones(n, np.float32)
        self._buffers = [a, b, c]
        # NumPy has no one-pass triad: the add a = b + c (two reads, one write) stands for it
        return [("copy", lambda: np.copyto(a, b), 2 * 4 * n), ("add", lambda: np.add(b, c, out=a), 3 * 4 * n)]

    def tiny(self) -> list:
        np = self.np
        x, y, p = np.ones(1, np.float32), np.ones(1, np.float32), np.ones((16, 16), np.float32)
        return [("add", lambda: x + y), ("matmul", lambda: p @ p)]

    def release(self) -> None:
        self._buffers = []

    def close(self) -> None:
        self.release()


def _backend(device: str):
    d = str(device).strip().lower()
    if d == "auto":
        d = "cuda" if _torch_has("cuda") else "mps" if _torch_has("mps") else "cpu"
    if d not in DEVICES[1:] and not re.fullmatch(r"cuda:\d+", d):
        raise InputError(f"device {device!r} is not one of {', '.join(DEVICES)}, cuda:N")
    b = _torch_backend(d)
    if b is not None:
        return b
    if d == "cpu":
        return NumpyBackend()
    raise InputError(f"device {device!r} needs torch, which is not installed: "
                     f"pip install 'flopest[torch]' (or probe the CPU with --device cpu)")


# ----------------------------------------------------------------------------- timing

def _per_call(fn, sync, budget: float, cap: float) -> tuple:
    """(best seconds per call, slow): a warm-up call, then blocks of calls (each block ending with
    a sync) until `budget` seconds have passed; the best block's time per call. `slow` when the
    warm-up call alone took more than `cap` (its time is then the only sample)."""
    clock = time.perf_counter
    t0 = clock()
    fn()
    sync()
    warm = clock() - t0
    if warm > cap:
        return warm, True
    best, k, start, blocks = math.inf, 1, clock(), 0
    while True:
        t0 = clock()
        for _ in range(k):
            fn()
        sync()
        dt = (clock() - t0) / k
        best, blocks = min(best, dt), blocks + 1
        if (clock() - start >= budget and blocks >= 3) or blocks >= 1000 or clock() - start >= 3 * budget + cap:
            return best, False
        k = max(1, min(100_000, int(budget / 10 / max(dt, 1e-9))))   # about 10 blocks in the budget


def _gemm_curve(b, plan: dict, sizes: tuple, step) -> dict:
    """{precision: [(n, TFLOP/s), ...]} within the plan's deadline, shared by the precisions.
    Sizes ascend until the next call would pass the plan's call cap or the precision's share
    of the time left (guessed from the best rate so far); a point far below the best rate so far
    (another process took the cores) is timed once more and the better kept."""
    clock = time.perf_counter
    start = clock()
    precs = []
    for p in b.precisions:
        if b.supports(p):
            precs.append(p)
        else:
            for n in sizes:
                step(f"GEMM {p} n={n} (skipped: not supported here)")
    curves = {}
    for i, prec in enumerate(precs):
        share = (plan["deadline"] - (clock() - start)) / (len(precs) - i)
        t_prec, pts, best, stop = clock(), [], 0.0, False
        _warm_up(b, prec, plan["warm"], plan["call_cap"])
        for n in sizes:
            flops = 2.0 * n ** 3
            why = None
            if stop:
                why = "skipped"
            elif pts:
                guess = flops / best                         # seconds per call at n, at the best rate so far
                left = share - (clock() - t_prec)
                free = b.free_bytes()
                if guess > 2 * plan["call_cap"] or guess + plan["point"] > left:
                    why = "skipped: over the time budget"
                elif free is not None and 3 * n * n * 4 > 0.8 * free:
                    why = "skipped: memory"
            if why:
                stop = True
                step(f"GEMM {prec} n={n} ({why})")
                continue
            try:
                fn = b.gemm(n, prec)
                t, slow = _per_call(fn, b.sync, plan["point"], plan["call_cap"])
                if not slow and pts and flops / t < 0.5 * best and 3 * t + plan["point"] < share - (clock() - t_prec):
                    t = min(t, _per_call(fn, b.sync, plan["point"], plan["call_cap"])[0])
            except (MemoryError, RuntimeError):   # out of memory at this size: the curve ends here
                b.release()
                stop = True
                step(f"GEMM {prec} n={n} (skipped: out of memory)")
                continue
            pts.append((n, flops / t / 1e12))
            best, stop = max(best, flops / t), slow
            step(f"GEMM {prec} n={n}")
        b.release()
        if pts:
            curves[prec] = pts
    return curves


def _warm_up(b, prec: str, seconds: float, cap: float) -> None:
    """Matmuls at n = 256 for `seconds`, untimed: BLAS thread pools start, clocks rise (the
    first calls of a process can be 100× slower than the steady state)."""
    fn = b.gemm(256, prec)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        b.sync()
        if time.perf_counter() - t0 > cap:    # a slow precision: one call is warm enough
            break
    b.release()


def _steps(b, sizes) -> int:
    touch = 2 if getattr(b, "first_touch", None) is not None and b.kind == "cpu" else 0
    return 4 + touch + len(sizes) * len(b.precisions)


# ----------------------------------------------------------------------------- the host

def _cpuinfo() -> dict:
    out = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                k, sep, v = line.partition(":")
                if sep and k.strip() not in out:
                    out[k.strip()] = v.strip()
    except OSError:
        pass
    return out


def _sysctl(name: str) -> str | None:
    try:
        r = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


_ARM_IMPLEMENTERS = {"0x41": "arm", "0x61": "apple", "0xc0": "ampere", "0x48": "hisilicon", "0x51": "qualcomm",
                     "0x4e": "nvidia"}


def cpu_identity() -> tuple:
    """(model name, vendor slug) of the host CPU, read off /proc/cpuinfo or sysctl."""
    info = _cpuinfo()
    model = info.get("model name") or info.get("Hardware") or info.get("cpu model")
    vendor = {"GenuineIntel": "intel", "AuthenticAMD": "amd", "HygonGenuine": "hygon"}.get(info.get("vendor_id", ""))
    if vendor is None and "CPU implementer" in info:
        vendor = _ARM_IMPLEMENTERS.get(info["CPU implementer"].lower(), "arm")
        model = model or f"{vendor} CPU (part {info.get('CPU part', '?')})"
    if platform.system() == "Darwin":
        model = model or _sysctl("machdep.cpu.brand_string")
        vendor = vendor or ("apple" if platform.machine() == "arm64" else "intel")
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return " ".join(model.split()), vendor or "unknown"


def logical_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def memory_bytes() -> tuple:
    """(total, available) memory of this host in bytes, within a cgroup limit where one is set;
    (None, None) where neither psutil nor the OS says."""
    total = avail = None
    try:
        import psutil
        vm = psutil.virtual_memory()
        total, avail = int(vm.total), int(vm.available)
    except ImportError:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            pass
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(limit_file, encoding="ascii") as f:
                limit = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if total and 0 < limit < total:
            total, avail = limit, min(avail or limit, limit)
    return total, avail


def _last_level_cache() -> int:
    """Bytes of the largest CPU cache the kernel lists (0 when it lists none)."""
    best = 0
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        names = os.listdir(base)
    except OSError:
        return 0
    for idx in names:
        try:
            with open(f"{base}/{idx}/size", encoding="ascii") as f:
                s = f.read().strip()
        except OSError:
            continue
        m = re.fullmatch(r"(\d+)([KMG]?)", s)
        if m:
            best = max(best, int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)])
    return best


def _rapl_watts() -> float | None:
    """Package power limits of RAPL (Linux powercap), summed over packages, or None."""
    base = "/sys/class/powercap"
    total = 0.0
    try:
        zones = [z for z in os.listdir(base) if re.fullmatch(r"intel-rapl:\d+", z)]
    except OSError:
        return None
    for z in zones:
        for f in ("constraint_0_max_power_uw", "constraint_0_power_limit_uw"):
            try:
                with open(f"{base}/{z}/{f}", encoding="ascii") as fh:
                    uw = int(fh.read().strip())
            except (OSError, ValueError):
                continue
            if uw > 0:
                total += uw / 1e6
                break
    return total or None


def _blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        n = [i.get("num_threads") for i in threadpool_info() if i.get("user_api") == "blas"]
        if n:
            return n[0]
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        v = os.environ.get(var, "")
        if v.isdigit():
            return int(v)
    return None


def _numpy_blas() -> str:
    import numpy as np
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name', 'BLAS')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError, AttributeError):   # older numpy: no dicts mode
        return "BLAS"


def _stream_bytes(b, plan: dict) -> int:
    """Bytes of each bandwidth array: the plan's size, at least 8× the last-level cache (CPU), at
    most 1/8 of the available (CPU) or free (GPU) memory for the three arrays."""
    want = plan["stream_bytes"]
    if b.kind == "gpu":
        want *= 4                                 # 1 GiB by default: far beyond any GPU's L2
        free = b.free_bytes()
    else:
        want = max(want, 8 * _last_level_cache())
        free = memory_bytes()[1]
    if free:
        want = min(want, free // 8 // 3)
    return max(MIB, int(want))


# ----------------------------------------------------------------------------- the row

def busy() -> str | None:
    """A warning when other work keeps this machine's CPUs busy (1-minute load average above
    half the logical CPUs): the measured rates would be low and noisy. None when idle enough or
    unknown."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    n = logical_cpus()
    if load <= 0.5 * n:
        return None
    return (f"this machine is busy (load average {load:.2g} on {n} logical CPUs): the figures will be low "
            f"and noisy; probe it when idle")


def _mfu_class(kind: str, vendor: str, name: str) -> str:
    if kind == "cpu":
        return "cpu"
    consumer = vendor == "apple" or re.search(r"geforce|titan|rtx\s*\d{4}|radeon\s*rx", name, re.IGNORECASE)
    return "gpu-consumer" if consumer else "gpu-datacenter-small"


def _g(x: float) -> float:
    """4 significant digits."""
    return float(f"{x:.4g}")


def identify(device: str = "auto") -> dict:
    """What :func:`measure` would measure, without measuring: {device, kind, vendor, name,
    backend}. InputError when the device is not there (``cuda`` without a GPU, ``mps`` off a Mac)."""
    b = _backend(device)
    try:
        cpu_name, cpu_vendor = cpu_identity()
        if b.kind == "gpu":
            vendor, name = b.vendor or cpu_vendor, b.name or f"{cpu_name} GPU (MPS)"
        else:
            vendor, name = cpu_vendor, cpu_name
        return {"device": b.label, "kind": b.kind, "vendor": vendor, "name": name,
                "backend": "numpy" if isinstance(b, NumpyBackend) else "torch"}
    finally:
        b.close()


def measure(device: str = "auto", quick: bool = False, progress=None) -> dict:
    """Measure this machine's `device` (auto: a CUDA/ROCm GPU, else Apple's MPS, else the CPU;
    or cpu, cuda, cuda:N, mps) and return a device row: {column: value} with the columns of
    ``flopest/data/devices.csv`` plus ``basis``, ``launch_us``, ``gemm_curve`` (:data:`COLUMNS`,
    in order), the values as :class:`flopest.data.Device` holds them: ``estimated_fields`` a
    tuple of column names, ``gemm_curve`` ``((precision, ((n, achieved TFLOP/s), ...)), ...)``;
    :func:`to_csv` writes the row as a devices file. The id is ``probe-<device>``; set
    ``row["id"]`` to rename it.

    quick: a few seconds instead of under a minute (smaller sizes, shorter timings).
    progress: called as ``progress(done, total, what)`` after each step.

    Peaks are the best achieved GEMM rate at the two largest sizes measured for each precision, the
    bandwidth the best of copy and triad; power, embodied emissions and release year are
    estimates listed in ``estimated_fields``. InputError when the device is not there.
    """
    plan = _PLANS[bool(quick)]
    b = _backend(device)
    when = datetime.datetime.now(datetime.timezone.utc)
    try:
        load = f"load average {os.getloadavg()[0]:.2g} at the start"
    except (AttributeError, OSError):
        load = "load average unknown"
    sizes = tuple(n for n in (GPU_SIZES if b.kind == "gpu" else CPU_SIZES)
                  if n <= plan["gpu_max" if b.kind == "gpu" else "cpu_max"])
    total, done = _steps(b, sizes), 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(min(done, total), total, what)

    try:
        tiny = {}
        for name, fn in b.tiny():
            tiny[name] = _per_call(fn, b.sync, plan["tiny"], plan["call_cap"])[0]
            step(f"launch cost ({name})")
        bw, nbytes = {}, _stream_bytes(b, plan)
        for name, fn, moved in b.stream(nbytes):
            bw[name] = moved / _per_call(fn, b.sync, plan["stream"], 10 * plan["call_cap"])[0] / 1e9
            step(f"memory bandwidth ({name})")
        b.release()
        touch = {}
        for name, fn in getattr(b, "first_touch", lambda n: [])(FAULT_BYTES):
            touch[name] = _per_call(fn, b.sync, plan["stream"], 10 * plan["call_cap"])[0]
            step(f"first touch of fresh memory ({name})")
        b.release()
        curves = _gemm_curve(b, plan, sizes, step)
    finally:
        b.close()
    if "fp32" not in curves:
        raise InputError(f"device {device!r}: no fp32 GEMM could be timed (out of memory?)")
    return _row(b, when, quick, curves, bw, tiny, nbytes, load, touch)


def _fault_gbps(touch: dict) -> float | None:
    """GB/s of first touch from the fresh and reused writes of FAULT_BYTES; None when not measured
    or when the fresh write was no slower (the allocator reused the block: nothing to charge)."""
    if not touch:
        return None
    extra = touch["fresh"] - touch["reused"]
    return _g(FAULT_BYTES / extra / 1e9) if extra > 0.05 * touch["reused"] else None


def _row(b, when, quick: bool, curves: dict, bw: dict, tiny: dict, nbytes: int, load: str,
         touch: dict | None = None) -> dict:
    import numpy as np
    cpu_name, cpu_vendor = cpu_identity()
    threads = logical_cpus()
    estimated, notes = ["release_year"], []
    mem_total = memory_bytes()[0]
    if b.kind == "cpu":
        name, vendor = f"{cpu_name} ({threads} logical CPUs)", cpu_vendor
        memory_gb = mem_total / 1e9 if mem_total else None
        if memory_gb:
            notes.append("memory_gb: the host's memory")
        rapl = _rapl_watts()
        if rapl:
            tdp = rapl * threads / (os.cpu_count() or threads)
            notes.append(f"tdp_w: RAPL package power limit {rapl:g} W × {threads}/{os.cpu_count()} CPUs used")
        else:
            tdp = CPU_W_PER_THREAD * threads
            estimated.append("tdp_w")
            notes.append(f"tdp_w estimate: {CPU_W_PER_THREAD} W per logical CPU (median TDP per hardware "
                         f"thread of the embedded server CPUs)")
        emb = max(1.0, CPU_KG_PER_THREAD * threads)
        emb_src = (f"estimate: {CPU_KG_PER_THREAD} kg CO2eq per logical CPU × {threads} (median embodied per "
                   f"hardware thread of the embedded server CPUs: Xeon 8380, Xeon 8480+, EPYC 9654), at "
                   f"least 1 kg; chip only")
    else:
        vendor = b.vendor or cpu_vendor
        name = b.name or f"{cpu_name} GPU (MPS)"
        memory_gb = b.memory_gb or (mem_total / 1e9 if mem_total else None)
        if b.power_limit_w:
            tdp = b.power_limit_w
            notes.append(f"tdp_w: {b.power_source}")
        else:
            tdp = GPU_TDP_W.get(vendor, 300.0)
            estimated.append("tdp_w")
            notes.append(f"tdp_w estimate: {tdp:g} W, an assumed board power (no power limit could be read)")
        gb = memory_gb or H100_GB
        emb = H100_KG * (0.5 + 0.5 * gb / H100_GB)
        emb_src = (f"estimate: {H100_KG:g} kg x (0.5 + 0.5 x memory/{H100_GB:g} GB), the anchor of devices.csv "
                   f"(NVIDIA HGX H100 product carbon footprint) with the die assumed as large as GH100 "
                   f"(an overestimate for smaller dies); memory {gb:.3g} GB")
    estimated += ["idle_w", "embodied_kgco2e"]
    # the peak: the best rate at the largest sizes (the last two: one noisy point does not make it)
    peaks = {p: _g(max(t for _, t in pts[-2:])) for p, pts in curves.items()}
    copy_name = "triad" if "triad" in bw else "add"
    numpy = "" if isinstance(b, NumpyBackend) else f"; numpy {np.__version__}"
    source = (f"measured by flopest probe {__version__} ({'quick' if quick else 'default'}) on {when:%Y-%m-%d %H:%M} "
              f"UTC, device {b.label}: GEMM best of repeated n×n matmuls (2n³ FLOPs), peak = the best of the two largest "
              f"sizes measured; memory copy {bw['copy']:.3g} GB/s, {copy_name} {bw[copy_name]:.3g} GB/s "
              f"({nbytes / MIB:.0f} MiB fp32 arrays); tiny add {tiny['add'] * 1e6:.3g} us, 16x16 matmul "
              f"{tiny['matmul'] * 1e6:.3g} us per call{_touch_text(touch)}. Software: {b.software}{numpy}; "
              f"python {platform.python_version()}; {platform.system()} {platform.release()}. Host CPU: "
              f"{cpu_name}, {threads} logical CPUs, {load}. release_year unknown: the measurement year. "
              f"{'; '.join(notes)}; idle_w = {IDLE_FRACTION} x TDP (the rule of devices.csv)")
    row = {
        "id": f"probe-{b.label.replace(':', '')}", "name": name, "vendor": vendor, "kind": b.kind,
        "release_year": when.year,
        "peak_fp32_tflops": peaks.get("fp32"), "peak_tf32_tflops": peaks.get("tf32"),
        "peak_bf16_tflops": peaks.get("bf16"), "peak_fp16_tflops": peaks.get("fp16"),
        "peak_fp8_tflops": None, "peak_int8_tops": None,
        "mem_bandwidth_gbps": _g(max(bw.values())),
        "memory_gb": _g(memory_gb) if memory_gb else None,
        "tdp_w": _g(tdp), "idle_w": _g(IDLE_FRACTION * tdp), "embodied_kgco2e": _g(emb),
        "embodied_source": emb_src, "mfu_class": _mfu_class(b.kind, vendor, name),
        "estimated_fields": tuple(estimated), "source": source, "year": when.year,
        "basis": "measured", "launch_us": _g(tiny["add"] * 1e6), "fault_gbps": _fault_gbps(touch or {}),
        "gemm_curve": tuple((p, tuple((n, _g(t)) for n, t in pts)) for p, pts in curves.items()),
    }
    return row


def _touch_text(touch: dict | None) -> str:
    if not touch:
        return ""
    return (f"; a {FAULT_BYTES // MIB} MiB write into a fresh tensor {touch['fresh'] * 1e3:.3g} ms, into a kept one "
            f"{touch['reused'] * 1e3:.3g} ms")


def _cell(v, column: str) -> str:
    if v is None:
        return ""
    if column == "gemm_curve" and not isinstance(v, str):
        return data.format_gemm_curve(v)
    if column == "estimated_fields" and not isinstance(v, str):
        return ";".join(v)
    return str(v)


def to_csv(row: dict) -> str:
    """The row as a devices CSV (a comment, the header of :data:`COLUMNS`, the row), loadable with
    ``flopest estimate ... --devices FILE --device ID`` and :func:`flopest.data.load_user_devices`."""
    import csv
    buf = _io.StringIO()
    buf.write(f"# measured by `flopest probe`; use: flopest estimate MODEL --devices FILE --device {row['id']}\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerow([_cell(row.get(c), c) for c in COLUMNS])
    return buf.getvalue()


__all__ = ["COLUMNS", "DEVICES", "busy", "cpu_identity", "identify", "logical_cpus", "measure", "memory_bytes", "to_csv"]
