"""nn.LSTM and nn.RNN in a forward meta capture are costed as one RNN row per layer (the ONNX
lowering) instead of stepping through the recurrence: the FLOPs must equal the step-by-step
capture (a second implementation: the stand-in switched off), and the outputs' shapes those of
the real module."""

import itertools

import pytest
import torch
from torch import nn

import flopest
import flopest.frontends.torch.patches as ft

CONFIGS = list(itertools.product((nn.LSTM, nn.RNN), (True, False), (False, True), (False, True), (1, 2),
                                 (False, True)))


def _stepwise(m, x):
    saved = ft._rnn_counted
    ft._rnn_counted = lambda self, input, hx=None: ft._rnn_orig[type(self)](self, input, hx)
    try:
        return flopest.count(m, x)
    finally:
        ft._rnn_counted = saved


def _input(batch_first, unbatched):
    return torch.zeros(7, 16) if unbatched else (torch.zeros(3, 7, 16) if batch_first else torch.zeros(7, 3, 16))


@pytest.mark.parametrize("cls,bias,bidir,batch_first,layers,unbatched", CONFIGS)
def test_one_row_per_layer_equals_the_recurrence(cls, bias, bidir, batch_first, layers, unbatched):
    m = cls(16, 24, num_layers=layers, bias=bias, bidirectional=bidir, batch_first=batch_first)
    x = _input(batch_first, unbatched)
    fast, slow = flopest.count(m, x), _stepwise(m, x)
    assert (fast.flops, fast.matmul_flops) == (slow.flops, slow.matmul_flops)
    rows = fast.breakdown(by="kind")
    assert rows[0]["kind"] == "rnn" and rows[0]["count"] == 1   # one node, costed, not stepped
    # the gate matmuls by hand: 2 × seq 7 × batch × dirs × gates × 24 × (input + 24), per layer
    dirs, gates, batch = 2 if bidir else 1, 4 if cls is nn.LSTM else 1, 1 if unbatched else 3
    widths = [16] + [24 * dirs] * (layers - 1)
    assert fast.matmul_flops == sum(2 * 7 * batch * dirs * gates * 24 * (w + 24) for w in widths)


def test_relu_rnn_and_outputs_shaped_like_the_real_module():
    m = nn.RNN(16, 24, num_layers=2, nonlinearity="relu", batch_first=True, bidirectional=True)
    x = torch.zeros(3, 7, 16)
    assert flopest.count(m, x).flops == _stepwise(m, x).flops
    seen = {}

    class Head(nn.Module):   # the LSTM's outputs flow on: their shapes must be the real ones
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(16, 24, num_layers=2, batch_first=True, bidirectional=True)

        def forward(self, x):
            out, (h, c) = self.lstm(x)
            seen["shapes"] = (tuple(out.shape), tuple(h.shape), tuple(c.shape))
            return out.sum() + h.sum() + c.sum()

    model = Head()
    flopest.count(model, x)
    with torch.no_grad():
        out, (h, c) = model.lstm(x)
    assert seen["shapes"] == (tuple(out.shape), tuple(h.shape), tuple(c.shape))


def test_training_and_subclasses_keep_the_stepwise_path_and_forward_is_restored():
    m = nn.LSTM(16, 24)
    x = torch.zeros(7, 3, 16)
    t = flopest.count(m, x, training=True, optimizer="sgd")
    assert t.backward_flops > 0 and t.breakdown(by="kind")[0]["kind"] == "gemm"   # stepped, with its backward

    class MyLSTM(nn.LSTM):
        pass
    sub = MyLSTM(16, 24)
    assert flopest.count(sub, x).breakdown(by="kind")[0]["kind"] == "gemm"
    assert nn.LSTM.forward is ft._rnn_orig[nn.LSTM] and nn.RNN.forward is ft._rnn_orig[nn.RNN]
