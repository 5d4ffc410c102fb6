"""Counting stand-ins swapped in while a capture runs.

``F.scaled_dot_product_attention`` is swapped for a stand-in that records one fused attention
row; its decomposition (which differs by backend) is then not recorded, so attention is counted
once on every backend. ``nn.LSTM`` / ``nn.RNN`` forwards in a forward-only meta capture record
one RNN row per layer instead of stepping through the recurrence op by op.

``threading.Thread.start`` is swapped so that a thread the forward starts runs captured.

The capture object handed to :func:`counting_patches` provides ``record(name, args, kwargs,
out, fused=True)``, ``record_rows(name, rows, elsize)``, ``recorder`` (this thread's, with
``paused``), ``training``, ``closed``, ``threads``, ``modules.current()`` and ``worker(base)``
(a context that captures the calling thread).
"""

from __future__ import annotations

import contextlib
import threading

import torch
import torch.nn.functional as F

from ... import kinds
from ...ops.rnn import ELEM_PER_UNIT, GATES

_sdpa_lock = threading.Lock()
_sdpa_users = 0
_sdpa_orig = None
_tls = threading.local()


def _sdpa_counted(*args, **kwargs):
    """Stands in for F.scaled_dot_product_attention during a capture: one fused attention row,
    and its backend-dependent decomposition is not recorded. Outside a capture (another thread)
    it is the original function."""
    cap = getattr(_tls, "cap", None)
    if cap is None or cap.recorder is None:
        return _sdpa_orig(*args, **kwargs)
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
                for cls, fwd in _rnn_orig.items():
                    cls.forward = fwd
