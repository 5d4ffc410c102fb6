"""PyTorch capture of small modules: forward and training FLOPs equal hand arithmetic."""

import pytest
import torch
from torch import nn

import flopest

pytestmark = pytest.mark.torch
S = flopest.spec


def test_linear_forward_and_training():
    m = nn.Linear(16, 32)
    c = flopest.count(m, S((8, 16)))
    # addmm: 2*8*32*16 = 8192 matmul + bias 8*32 = 256
    assert (c.matmul_flops, c.flops) == (8192, 8192 + 256)
    t = flopest.count(m, S((8, 16)), training=True, optimizer="sgd")
    assert t.forward_flops == 8192 + 256
    # backward: grad_W = gradᵀ·x: 2*32*16*8 = 8192; grad_b = sum over the batch: 8*32 = 256 adds;
    # no grad_x (the input needs no gradient)
    assert t.backward_flops == 8192 + 256
    # sgd: 2 FLOPs per parameter, 16*32 + 32 = 544 parameters
    assert t.optimizer_flops == 2 * 544
    assert t.matmul_flops == 8192 + 8192
    assert t.unknown_ops == {}


def test_two_linears_backward_includes_grad_input():
    m = nn.Sequential(nn.Linear(16, 32, bias=False), nn.Linear(32, 4, bias=False))
    t = flopest.count(m, S((8, 16)), training=True)
    # forward: 2*8*32*16 = 8192 + 2*8*4*32 = 2048
    assert t.forward_flops == 8192 + 2048
    # backward: layer 2 grad_W 2*4*32*8 = 2048 and grad_x 2*8*32*4 = 2048; layer 1 grad_W 2*32*16*8 = 8192
    assert t.backward_flops == 2048 + 2048 + 8192
    assert t.optimizer_flops == 0


def test_conv2d_forward():
    m = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    c = flopest.count(m, S((2, 3, 16, 16)))
    # out 8x8: 2*N*C_out*64*(C_in*9) = 2*2*8*64*27 = 55296; bias 2*8*64 = 1024
    assert (c.matmul_flops, c.flops) == (55296, 55296 + 1024)


def test_depthwise_conv2d_forward_and_training():
    m = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
    c = flopest.count(m, S((1, 8, 10, 10)))
    # 2*1*8*100*(8/8)*9 = 14400
    assert c.matmul_flops == 14400
    t = flopest.count(m, S((1, 8, 10, 10)), training=True)
    # backward: grad_weight only (input needs no grad): same products as the forward, 14400
    assert t.backward_flops == 14400


def test_embedding():
    m = nn.Embedding(1000, 64)
    c = flopest.count(m, S((4, 16), "int64"))
    # a lookup: no FLOPs; bytes = 64 rows read + written per token: 4*16*64*(4+4) + 8 per index
    assert c.flops == 0
    assert c.bytes == 4 * 16 * 64 * 8 + 8 * 4 * 16
    t = flopest.count(m, S((4, 16), "int64"), training=True)
    # backward: the gradient rows are accumulated into the weight gradient: 1 add per element
    assert t.backward_flops == 4 * 16 * 64


def test_multihead_attention_forward():
    E, H, L, B = 32, 4, 10, 2
    m = nn.MultiheadAttention(E, H, batch_first=True)
    c = flopest.count(m, S((B, L, E)), S((B, L, E)), S((B, L, E)), need_weights=False)
    # in-projection q, k, v: 3 * 2*B*L*E*E = 3*2*2*10*32*32 = 122880
    # attention QKᵀ and AV: 2*(B*H)*L*L*(E/H) each = 2*8*100*8 = 12800, twice = 25600
    # out projection: 2*B*L*E*E = 40960
    assert c.matmul_flops == 122880 + 25600 + 40960


def test_lstm_forward():
    m = nn.LSTM(input_size=8, hidden_size=16, num_layers=1, batch_first=True)
    c = flopest.count(m, S((2, 5, 8)))
    # per step: x-part 2*B*4H*I = 2*2*64*8 = 2048 and h-part 2*B*4H*H = 2*2*64*16 = 4096;
    # 5 steps: 5*(2048 + 4096) = 30720
    assert c.matmul_flops == 30720
    assert c.unknown_ops == {}


def test_gru_forward():
    m = nn.GRU(input_size=8, hidden_size=16, batch_first=True)
    c = flopest.count(m, S((2, 5, 8)))
    # per step: x-part 2*B*3H*I = 2*2*48*8 = 1536 and h-part 2*B*3H*H = 2*2*48*16 = 3072;
    # 5 steps: 5*(1536 + 3072) = 23040
    assert c.matmul_flops == 23040
    assert c.unknown_ops == {}


def test_causal_sdpa_full_by_default_triangle_with_causal():
    class Attn(nn.Module):
        def forward(self, q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)

    q = S((1, 2, 8, 4))   # B=1, H=2, L=8, D=4
    full = flopest.count(Attn(), q, q, q)
    # full: 2 matmuls * 2*B*H*L*L*D = 2*2*2*64*4 = 2048
    assert full.matmul_flops == 2048
    tri = flopest.count(Attn(), q, q, q, causal=True)
    # causal (top-left): pairs = 8*9/2 = 36 per head: 2*2*36*(4+4) = 1152
    assert tri.matmul_flops == 1152


def test_lstm_training():
    m = nn.LSTM(input_size=8, hidden_size=16, batch_first=True)
    t = flopest.count(m, S((2, 5, 8)), training=True)
    # forward 30720 (test_lstm_forward). Backward: grad W_ih 2*B*T*I*4H = 2*2*5*8*64 = 10240;
    # grad W_hh at every step 5 * 2*B*H*4H = 5*4096 = 20480; grad h for steps 2..5 (h0 needs none)
    # 4 * 2*B*4H*H = 16384; no grad for the input -> 47104
    assert t.matmul_flops == 30720 + 47104


def test_multihead_attention_training():
    E, H, L, B = 32, 4, 10, 2
    m = nn.MultiheadAttention(E, H, batch_first=True)
    t = flopest.count(m, S((B, L, E)), S((B, L, E)), S((B, L, E)), need_weights=False, training=True)
    # forward: 122880 + 25600 + 40960 = 189440 (test_multihead_attention_forward)
    # backward: q, k, v projection weights 3 * 2*B*L*E*E = 122880 (inputs need no grad);
    # out projection weight and input 2 * 40960 = 81920; attention dV, dP, dQ, dK:
    # 4 * 2*(B*H)*L*L*(E/H) = 4 * 12800 = 51200 -> 256000
    assert t.matmul_flops == 189440 + 256000


def test_shared_module_counted_per_call():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4, bias=False)

        def forward(self, x):
            return self.lin(self.lin(x))

    c = flopest.count(Twice(), S((3, 4)))
    # two calls of 2*3*4*4 = 96 each
    assert c.matmul_flops == 192
    assert c.breakdown("module") == [{"name": "lin", "kind": "gemm", "count": 4, "flops": 192, "bytes": 320}]


def test_checkpointing_adds_one_forward():
    m = nn.Sequential(nn.Linear(16, 32, bias=False), nn.ReLU(), nn.Linear(32, 4, bias=False))
    a = flopest.count(m, S((8, 16)), training=True)
    b = flopest.count(m, S((8, 16)), training=True, checkpointing=True)
    # forward: 2*8*32*16 = 8192 + relu 256 + 2*8*4*32 = 2048 -> 10496, recomputed once in backward
    assert a.forward_flops == b.forward_flops == 10496
    assert b.backward_flops == a.backward_flops + 10496
