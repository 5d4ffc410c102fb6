"""LSTM, GRU, RNN against hand arithmetic (ops/rnn.py; kinds.FORMULAS[RNN]):
matmul = 2·seq·dirs·batch·gates·hidden·(input + hidden); flops = matmul +
seq·dirs·batch·hidden·elem, elem = gates·(3 with biases, else 1) + (LSTM 18, GRU 14, RNN 1);
bytes = seq·dirs·(gates·hidden·(input + hidden) + batch·input + 2·batch·hidden)·4."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from tests.ops._onnx_build import check, count, model, node  # noqa: E402

SEQ, BATCH, INPUT, HIDDEN = 5, 2, 3, 4


def _rnn(op, gates, dirs, bias):
    ins = [("X", (SEQ, BATCH, INPUT)), ("W", (dirs, gates * HIDDEN, INPUT)),
           ("R", (dirs, gates * HIDDEN, HIDDEN))]
    if bias:
        ins.append(("B", (dirs, 2 * gates * HIDDEN)))
    direction = "bidirectional" if dirs == 2 else "forward"
    return model([node(op, [n for n, _ in ins], ["Y"], hidden_size=HIDDEN, direction=direction)],
                 ins, ["Y"])


@pytest.mark.parametrize("m, flops, mm, nbytes", [
    # LSTM forward, no bias: gates 4, elem 4*1 + 18 = 22;
    # matmul 2*5*1*2*4*4*(3 + 4) = 2240; flops 2240 + 5*1*2*4*22 = 2240 + 880 = 3120;
    # bytes 5*1*(4*4*7 + 2*3 + 2*2*4)*4 = 5*(112 + 6 + 16)*4 = 2680
    (_rnn("LSTM", 4, 1, False), 3120, 2240, 2680),
    # LSTM bidirectional with bias: elem 4*3 + 18 = 30;
    # matmul 2*5*2*2*4*4*7 = 4480; flops 4480 + 5*2*2*4*30 = 4480 + 2400 = 6880;
    # bytes 5*2*(112 + 6 + 16)*4 = 5360
    (_rnn("LSTM", 4, 2, True), 6880, 4480, 5360),
    # GRU forward with bias: gates 3, elem 3*3 + 14 = 23;
    # matmul 2*5*1*2*3*4*7 = 1680; flops 1680 + 5*2*4*23 = 1680 + 920 = 2600;
    # bytes 5*(3*4*7 + 6 + 16)*4 = 5*106*4 = 2120
    (_rnn("GRU", 3, 1, True), 2600, 1680, 2120),
    # RNN forward with bias: gates 1, elem 1*3 + 1 = 4;
    # matmul 2*5*1*2*1*4*7 = 560; flops 560 + 5*2*4*4 = 560 + 160 = 720;
    # bytes 5*(1*4*7 + 6 + 16)*4 = 5*50*4 = 1000
    (_rnn("RNN", 1, 1, True), 720, 560, 1000),
], ids=["lstm-no-bias", "lstm-bidirectional-bias", "gru", "rnn"])
def test_rnn(m, flops, mm, nbytes):
    check(count(m), flops, mm, nbytes)
