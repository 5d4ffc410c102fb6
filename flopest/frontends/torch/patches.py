"""Counting stand-ins swapped in while a capture runs.

``F.scaled_dot_product_attention`` is swapped for a stand-in that records one fused attention
row; its decomposition (which differs by backend) is then not recorded, so attention is counted
once on every backend. ``nn.LSTM`` / ``nn.RNN`` forwards in a forward-only meta capture record
one RNN row per layer instead of stepping through the recurrence op by op.

``threading.Thread.start`` is swapped so that a thread the forward starts runs captured.

transformers' causal and sliding-window mask builders (``masking_utils.create_causal_mask``,
``create_sliding_window_causal_mask``, as the modeling modules imported them) are wrapped so
that the mask tensors they return are known for what they are: an SDPA call given one is
counted as causal attention (within the config's sliding window), bottom-right aligned when
the keys outnumber the queries (a cache), instead of over every query-key pair. A mask built
with an ``or_mask_function`` (more pairs than causal: image tokens) is left unknown.

The capture object handed to :func:`counting_patches` provides ``record(name, args, kwargs,
out, fused=True)``, ``record_rows(name, rows, elsize)``, ``recorder`` (this thread's, with
``paused``), ``training``, ``closed``, ``threads``, ``modules.current()`` and ``worker(base)``
(a context that captures the calling thread).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import weakref

import torch
import torch.nn.functional as F

from ... import kinds
from ...ops.rnn import ELEM_PER_UNIT, GATES

_sdpa_lock = threading.Lock()
_sdpa_users = 0
_sdpa_orig = None
_tls = threading.local()


_MASKS: dict = {}        # id(mask tensor) -> (weakref to it, sliding window or None)
_mask_orig: dict = {}    # (module, name) -> the original builder, while swapped


def _mask_kind(mask):
    """The window (0: plain causal) of a transformers mask tensor (or a view of one), or None."""
    for t in (mask, getattr(mask, "_base", None)):
        got = _MASKS.get(id(t)) if t is not None else None
        if got is not None and got[0]() is t:
            return got[1]
    return None


def _tagging(orig, sliding: bool):
    def build(*args, **kwargs):
        out = orig(*args, **kwargs)
        if isinstance(out, torch.Tensor) and kwargs.get("or_mask_function") is None:
            cfg = kwargs.get("config", args[0] if args else None)
            window = int(getattr(cfg, "sliding_window", 0) or 0) if sliding else 0
            if not sliding or window > 0:
                _MASKS[id(out)] = (weakref.ref(out), window)
        return out
    build.flopest_orig = orig
    return build


_MASK_BUILDERS = (("create_causal_mask", False), ("create_sliding_window_causal_mask", True))


def _swap_masks(on: bool) -> None:
    """Wrap (on) or restore the mask builders in transformers' loaded modeling modules."""
    if on:
        if "transformers.masking_utils" not in sys.modules:
            return
        for name, mod in list(sys.modules.items()):
            if mod is None or not (name.startswith("transformers.") or name == "transformers"):
                continue
            for fn, sliding in _MASK_BUILDERS:
                f = getattr(mod, fn, None)
                if callable(f) and (mod, fn) not in _mask_orig and not hasattr(f, "flopest_orig"):
                    _mask_orig[(mod, fn)] = f
                    setattr(mod, fn, _tagging(f, sliding))
    else:
        for (mod, fn), f in _mask_orig.items():
            setattr(mod, fn, f)
        _mask_orig.clear()
        _MASKS.clear()


def _sdpa_counted(*args, **kwargs):
    """Stands in for F.scaled_dot_product_attention during a capture: one fused attention row,
    and its backend-dependent decomposition is not recorded. Outside a capture (another thread)
    it is the original function. A transformers causal / sliding-window mask is counted as
    such (see the module's docstring)."""
    cap = getattr(_tls, "cap", None)
    if cap is None or cap.recorder is None:
        return _sdpa_orig(*args, **kwargs)
    mask = kwargs.get("attn_mask", args[3] if len(args) > 3 else None)
    window = _mask_kind(mask) if isinstance(mask, torch.Tensor) else None
    if window is not None and len(args) >= 3:
        q, k = args[0], args[1]
        rec = dict(is_causal=True, flopest_window=window, flopest_offset=int(k.shape[-2]) - int(q.shape[-2]))
        cap.record("aten.scaled_dot_product_attention", args[:3], rec, None, fused=True)
    else:
        cap.record("aten.scaled_dot_product_attention", args, kwargs, None, fused=True)
    saved = getattr(cap, "saved", None)   # a training capture's record of what backward keeps
    cap.recorder.paused += 1
    if saved is not None:
        saved.suspended += 1   # the math path on meta tensors would save the score matrix
    try:
        out = _sdpa_orig(*args, **kwargs)
    finally:
        cap.recorder.paused -= 1
        if saved is not None:
            saved.suspended -= 1
    if saved is not None and torch.is_grad_enabled():
        saved.fused_attention(args[:3], out)
    return out


_rnn_orig: dict = {}
_RNN_CLASSES = (torch.nn.LSTM, torch.nn.RNN)


def _rnn_counted(self, input, hx=None):
    """Stands in for nn.LSTM / nn.RNN.forward in a forward-only meta capture: one RNN
    row per layer (the ONNX lowering's cost: the same FLOPs as the step-by-step recurrence,
    the bytes of a fused kernel) and meta outputs of the right shapes, instead of stepping
    through the recurrence op by op. Anything else (training, FakeTensors, real tensors,
    PackedSequence, proj_size, subclasses, another thread) runs the original forward."""
    cls = type(self)
    orig = _rnn_orig.get(cls) or _rnn_orig[torch.nn.LSTM if isinstance(self, torch.nn.LSTM) else torch.nn.RNN]
    cap = getattr(_tls, "cap", None)
    if (cap is None or cap.recorder is None or cap.training or cls not in _RNN_CLASSES
            or type(input) is not torch.Tensor or not input.is_meta or input.dim() not in (2, 3)
            or getattr(self, "proj_size", 0) or cap.recorder.paused):
        return orig(self, input, hx)
    mode = "LSTM" if cls is torch.nn.LSTM else "RNN"
    gates, dirs, hidden = GATES[mode], 2 if self.bidirectional else 1, self.hidden_size
    batched = input.dim() == 3
    if batched:
        seq, batch = (input.shape[1], input.shape[0]) if self.batch_first else (input.shape[0], input.shape[1])
    else:
        seq, batch = input.shape[0], 1
    elem = gates * (3 if self.bias else 1) + ELEM_PER_UNIT[mode]
    rows = [(kinds.RNN, [int(seq), int(batch), int(self.input_size if layer == 0 else hidden * dirs),
                         hidden, gates, dirs, elem])
            for layer in range(self.num_layers)]
    cap.record_rows(f"aten.{mode.lower()}", rows, input.element_size())
    cap.recorder.paused += 1
    try:
        def meta(*shape):
            return torch.empty(shape, dtype=input.dtype, device="meta")
        if batched:
            out = meta(batch, seq, dirs * hidden) if self.batch_first else meta(seq, batch, dirs * hidden)
            h = (self.num_layers * dirs, batch, hidden)
        else:
            out = meta(seq, dirs * hidden)
            h = (self.num_layers * dirs, hidden)
        return (out, (meta(*h), meta(*h))) if mode == "LSTM" else (out, meta(*h))
    finally:
        cap.recorder.paused -= 1


_thread_start_orig = None


def _thread_start_counted(self):
    """Stands in for threading.Thread.start: a thread started by a capturing thread (the
    model's forward) runs captured, its operators credited under the module that started it;
    any other thread starts as it would."""
    cap = getattr(_tls, "cap", None)
    if cap is not None and not cap.closed:
        base, run = cap.modules.current(), self.run

        def run_captured():
            with cap.worker(base):
                run()
        self.run = run_captured
        cap.threads.append(self)
    return _thread_start_orig(self)


@contextlib.contextmanager
def counting_patches(cap):
    """Route F.scaled_dot_product_attention (LSTM/RNN forwards, Thread.start) through the
    counting stand-ins while `cap` captures in this thread (module attributes swapped under a lock and a
    user count: cheaper than a TorchFunctionMode, which would see every torch call; code that
    imported the function by name keeps the original, and its decomposition is then counted
    operator by operator)."""
    global _sdpa_users, _sdpa_orig, _thread_start_orig
    with _sdpa_lock:
        if _sdpa_users == 0:
            _sdpa_orig = F.scaled_dot_product_attention
            F.scaled_dot_product_attention = _sdpa_counted
            _thread_start_orig = threading.Thread.start
            threading.Thread.start = _thread_start_counted
            _swap_masks(True)
            for cls in _RNN_CLASSES:   # GRU: torch's reset gate is not ONNX's default
                _rnn_orig[cls] = cls.forward
                cls.forward = _rnn_counted
        _sdpa_users += 1
    prev = getattr(_tls, "cap", None)
    _tls.cap = cap
    try:
        yield
    finally:
        _tls.cap = prev
        with _sdpa_lock:
            _sdpa_users -= 1
            if _sdpa_users == 0:
                F.scaled_dot_product_attention = _sdpa_orig
                threading.Thread.start = _thread_start_orig
                _swap_masks(False)
                for cls, fwd in _rnn_orig.items():
                    cls.forward = fwd
