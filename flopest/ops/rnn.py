"""Recurrent layers (ONNX LSTM, GRU, RNN): gate GEMMs + elementwise work per step, × sequence
length × directions. Per hidden unit and step (with biases): pre-activation adds 3 per gate
(x-part + h-part + Wb + Rb); LSTM: 3 sigmoids (4 each) + 1 tanh + cell update 3 + output 2
= 12 + 12 + 1 + 3 + 2 = 30 (+ 6 with peepholes); GRU: 9 adds + 2 sigmoids (8) + reset-mul
and tanh (2) + blend (4) = 23; RNN: 3 adds + tanh = 4. Without biases: 2 fewer per gate."""

from __future__ import annotations

from .. import kinds
from . import Ctx, ShapeUnknown, lowering

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
ELEM_PER_UNIT = {"LSTM": 18, "GRU": 14, "RNN": 1}   # per hidden unit and step, without the gate adds


@lowering("LSTM", "GRU", "RNN")
def rnn(c: Ctx):
    """2·seq·dirs·batch·gates·hidden·(input + hidden) matmul + seq·dirs·batch·hidden·elem."""
    x, w = c.inp(0), c.inp(1)
    if len(x) != 3 or len(w) != 3:
        raise ShapeUnknown(f"{c.op} expects a 3-D input and weight")
    seq, batch = (x[1], x[0]) if c.attr("layout", 0) else (x[0], x[1])
    dirs = w[0]
    gates = GATES[c.op]
    hidden = c.attr("hidden_size") or (w[1] // gates)
    per_gate_adds = 3 if c.has(3) else 1
    elem = gates * per_gate_adds + ELEM_PER_UNIT[c.op]
    if c.op == "LSTM" and c.has(7):
        elem += 6
    return [(kinds.RNN, [seq, batch, x[2], hidden, gates, dirs, elem])]
