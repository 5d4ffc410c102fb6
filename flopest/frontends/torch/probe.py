"""The PyTorch side of `flopest probe`: the operations it times on a torch device (CPU, CUDA,
ROCm, MPS), and what torch can say about the device. No timing and no arithmetic here:
:mod:`flopest.probe` drives a backend through this interface, the same for the NumPy one.

A backend has ``label``, ``kind`` (cpu | gpu), ``name``/``vendor``/``memory_gb`` (None for the
CPU: the host's are read by flopest.probe), ``power_limit_w`` with ``power_source``, ``software``,
``precisions`` (GEMM precisions to try), and ``sync()``, ``supports(precision)``,
``gemm(n, precision)``, ``stream(nbytes)``, ``tiny()``, ``free_bytes()``, ``release()``,
``close()``.
"""

from __future__ import annotations

import os
import subprocess

import torch

from ...errors import InputError

_DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def available(kind: str) -> bool:
    """Does torch see a device of `kind` (cuda, which is also ROCm, or mps)?"""
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    return kind == "cpu"


class TorchBackend:
    """The operations `flopest probe` times, on one torch device ("cpu", "cuda", "cuda:N", "mps")."""

    def __init__(self, device: str):
        kind = device.split(":", 1)[0]
        if kind not in ("cpu", "cuda", "mps"):
            raise InputError(f"device {device!r} is not one of auto, cpu, cuda, cuda:N, mps")
        if not available(kind):
            what = "CUDA or ROCm GPU" if kind == "cuda" else "Apple GPU (MPS)"
            raise InputError(f"device {device!r}: torch {torch.__version__} sees no {what}; "
                             f"use --device cpu, or a torch build for that device")
        if kind == "cuda":
            idx = int(device.split(":", 1)[1]) if ":" in device else torch.cuda.current_device()
            if not 0 <= idx < torch.cuda.device_count():
                raise InputError(f"device {device!r}: torch sees {torch.cuda.device_count()} CUDA "
                                 f"device(s), numbered from 0")
            self.dev = torch.device("cuda", idx)
        else:
            self.dev = torch.device(kind)
        self.label = str(self.dev) if kind != "cuda" else f"cuda:{self.dev.index}"
        self.kind = "cpu" if kind == "cpu" else "gpu"
        self.name = self.vendor = self.memory_gb = None
        self.power_limit_w, self.power_source = None, ""
        self.threads = torch.get_num_threads() if kind == "cpu" else None
        self._matmul_precision = torch.get_float32_matmul_precision()
        self._buffers: list = []
        hip = getattr(torch.version, "hip", None)
        soft = [f"torch {torch.__version__}"]
        if kind == "cuda":
            props = torch.cuda.get_device_properties(self.dev)
            self.name = props.name
            self.vendor = "amd" if hip else "nvidia"
            self.memory_gb = props.total_memory / 1e9
            soft.append(f"ROCm/HIP {hip}" if hip else f"CUDA {torch.version.cuda}")
            if not hip:
                cc = (props.major, props.minor)
                soft.append(f"compute capability {cc[0]}.{cc[1]}")
                self.power_limit_w = _nvidia_power_limit(props, self.dev.index)
                if self.power_limit_w:
                    self.power_source = "nvidia-smi power.limit"
            self.precisions = ("fp32",) + (("tf32",) if not hip and props.major >= 8 else ()) + \
                (("bf16",) if torch.cuda.is_bf16_supported() else ()) + ("fp16",)
        elif kind == "mps":
            self.vendor = "apple"
            rec = getattr(torch.mps, "recommended_max_memory", None)
            self.memory_gb = rec() / 1e9 if rec else None
            soft.append("MPS")
            self.precisions = ("fp32", "bf16", "fp16")
        else:
            blas = "MKL" if torch.backends.mkl.is_available() else "no MKL"
            dnn = ", oneDNN" if torch.backends.mkldnn.is_available() else ""
            soft.append(f"{blas}{dnn}, {self.threads} threads")
            self.precisions = ("fp32", "bf16", "fp16")
        self.software = ", ".join(soft)

    # ------------------------------------------------------------------ helpers
    def sync(self) -> None:
        if self.dev.type == "cuda":
            torch.cuda.synchronize(self.dev)
        elif self.dev.type == "mps":
            torch.mps.synchronize()

    def free_bytes(self) -> int | None:
        """Free device memory (GPUs), None for the CPU (the host's is read by flopest.probe)."""
        if self.dev.type == "cuda":
            return int(torch.cuda.mem_get_info(self.dev)[0])
        return None

    def supports(self, precision: str) -> bool:
        """A small matmul at `precision` runs here (fp16 GEMM is missing on some CPU builds)."""
        try:
            self._set_precision(precision)
            a = torch.ones(8, 8, dtype=_DTYPES[precision], device=self.dev)
            (a @ a).sum().item()
            return True
        except (RuntimeError, TypeError, NotImplementedError):
            return False

    def _set_precision(self, precision: str) -> None:
        # fp32 is measured without TF32, tf32 with it (CUDA only); the user's setting comes back in close()
        torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")

    # ------------------------------------------------------------------ the operations
    def gemm(self, n: int, precision: str):
        """A callable that runs one n×n by n×n matmul at `precision` into a preallocated output."""
        self.release()
        self._set_precision(precision)
        dt = _DTYPES[precision]
        g = torch.Generator(device="cpu").manual_seed(0)
        a = torch.randn(n, n, generator=g, dtype=torch.float32).to(device=self.dev, dtype=dt)
        b = torch.randn(n, n, generator=g, dtype=torch.float32).to(device=self.dev, dtype=dt)
        c = torch.empty(n, n, dtype=dt, device=self.dev)
        self._buffers = [a, b, c]
        return lambda: torch.matmul(a, b, out=c)

    def stream(self, nbytes: int) -> list:
        """[(name, callable, bytes moved per call)]: a copy (read + write) and a triad
        a = b + 2·c (two reads, one write), over fp32 arrays of `nbytes` each."""
        self.release()
        n = max(1, nbytes // 4)
        a = torch.zeros(n, dtype=torch.float32, device=self.dev)   # zeros: pages touched before timing
        b = torch.ones(n, dtype=torch.float32, device=self.dev)
        c = torch.ones(n, dtype=torch.float32, device=self.dev)
        self._buffers = [a, b, c]
        return [("copy", lambda: a.copy_(b), 2 * 4 * n),
                ("triad", lambda: torch.add(b, c, alpha=2.0, out=a), 3 * 4 * n)]

    def tiny(self) -> list:
        """[(name, callable)]: the smallest kernels (their time is the per-kernel launch and
        dispatch cost): adding two 1-element tensors, a 16×16 matmul."""
        x = torch.ones(1, device=self.dev)
        y = torch.ones(1, device=self.dev)
        p = torch.ones(16, 16, device=self.dev)
        return [("add", lambda: x + y), ("matmul", lambda: p @ p)]

    def first_touch(self, nbytes: int) -> list:
        """[(name, callable)] on a CPU: writing `nbytes` into a freshly allocated tensor ("fresh":
        above glibc's largest reused block, mapped and faulted in at every call, as a training
        step's large outputs are) and into a kept one ("reused"); [] on an accelerator."""
        if self.dev.type != "cpu":
            return []
        self.release()
        n = max(1, nbytes // 4)
        kept = torch.zeros(n, dtype=torch.float32)
        self._buffers = [kept]
        return [("fresh", lambda: torch.empty(n, dtype=torch.float32).fill_(1.0)),
                ("reused", lambda: kept.fill_(1.0))]

    def release(self) -> None:
        self._buffers = []
        if self.dev.type == "cuda":
            torch.cuda.empty_cache()
        elif self.dev.type == "mps" and hasattr(torch.mps, "empty_cache"):
            torch.mps.empty_cache()

    def close(self) -> None:
        self.release()
        try:
            torch.set_float32_matmul_precision(self._matmul_precision)
        except RuntimeError:
            pass


def _nvidia_power_limit(props, index: int) -> float | None:
    """The board power limit in W read off nvidia-smi, or None (no nvidia-smi, no answer)."""
    uuid = str(getattr(props, "uuid", "") or "")
    if uuid and not uuid.startswith("GPU-"):
        uuid = f"GPU-{uuid}"
    ids = ([uuid] if uuid else []) + ([str(index)] if not os.environ.get("CUDA_VISIBLE_DEVICES") else [])
    for gpu in ids:
        try:
            r = subprocess.run(["nvidia-smi", "-i", gpu, "--query-gpu=power.limit", "--format=csv,noheader,nounits"],
                               capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        try:
            w = float(r.stdout.strip().splitlines()[0])
        except (ValueError, IndexError):
            continue
        if r.returncode == 0 and 1 <= w <= 3000:
            return w
    return None
