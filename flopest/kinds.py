"""Cost-kind codes and the per-row parameter layout: the vocabulary shared by the OpTable,
the operator registry and the cost kernel.

Every row of an OpTable has ``NPARAM`` int64 parameters. Their meaning depends on the kind
(``LAYOUT`` below). The last column, ``REPEAT``, multiplies the row (loops, RNN steps,
identical rows merged). FLOPs: 1 multiply-add = 2 FLOPs. Bytes: every input read and every
output written once at the row's element size, no fusion assumed (an upper bound).
"""

from __future__ import annotations

FREE = 0         # known operator that moves no data and does no arithmetic (Reshape, Shape, ...)
GEMM = 1         # batched matrix multiply
CONV = 2         # convolution, 1-3 spatial dims, groups, transposed
ATTENTION = 3    # fused scaled-dot-product attention (QKᵀ, softmax, AV)
ELEMENTWISE = 4  # one output element = a fixed number of FLOPs
REDUCE = 5       # one input element = a fixed number of FLOPs
SOFTMAX = 6      # softmax / log-softmax along an axis
NORM = 7         # batch / layer / group / instance / RMS normalization
POOL = 8         # max / average pooling over a window
GATHER = 9       # gather / embedding lookup: no FLOPs, bytes only
MOVE = 10        # data copy (transpose, concat, slice, pad, expand): no FLOPs, bytes only
RNN = 11         # LSTM / GRU / vanilla RNN, all steps and directions

NKINDS = 12
NAMES = ("free", "gemm", "conv", "attention", "elementwise", "reduce", "softmax", "norm",
         "pool", "gather", "move", "rnn")
MATMUL_KINDS = (GEMM, CONV, ATTENTION, RNN)  # their matrix-multiply part is `matmul_flops`

NPARAM = 9
REPEAT = NPARAM - 1

# Per-element constants used by the kernel (the per-operator ones live in the lowerings).
SOFTMAX_FLOPS_PER_ELEM = 5   # max-compare, subtract, exp, sum, divide
ATTN_EXTRA_FLOPS_PER_SCORE = 1 + SOFTMAX_FLOPS_PER_ELEM  # scale, then softmax, per score
NORM_FLOPS_PER_GROUP = 4     # divide for mean, divide for variance, add eps, rsqrt

LAYOUT = {
    FREE: (),
    GEMM: ("batch", "m", "n", "k", "a_batch", "b_batch"),
    CONV: ("n", "c_in", "c_out", "groups", "out_spatial", "kernel_spatial", "in_spatial",
           "transposed"),
    ATTENTION: ("batch_heads", "q_len", "kv_len", "d_qk", "d_v", "causal", "batch_kv_heads",
                "causal_offset"),
    ELEMENTWISE: ("out_elems", "flops_per_elem", "in_elems", "fused"),
    REDUCE: ("in_elems", "out_elems", "flops_per_elem"),
    SOFTMAX: ("elems",),
    NORM: ("elems", "flops_per_elem", "groups", "param_elems"),
    POOL: ("out_elems", "window", "in_elems"),
    GATHER: ("out_elems", "index_elems"),
    MOVE: ("elems",),
    RNN: ("seq", "batch", "input", "hidden", "gates", "directions", "elem_flops_per_hidden"),
}

# bytes: inputs at `in` bytes per element (the row's elsize), outputs at `out` (its outsize)
FORMULAS = {
    FREE: "0 FLOPs, 0 bytes",
    GEMM: "flops = 2·batch·m·n·k; bytes = (a_batch·m·k + b_batch·k·n)·in + batch·m·n·out",
    CONV: "flops = 2·n·c_out·out_spatial·(c_in/groups)·kernel_spatial "
          "(transposed: 2·n·c_in·in_spatial·(c_out/groups)·kernel_spatial); "
          "bytes = (input + weight)·in + output·out",
    ATTENTION: "pairs = q·kv, or causal = 1: Σ_i clamp(i + causal_offset + 1, 0, kv) (query i sees "
               "keys j <= i + causal_offset; offset 0 = top-left, kv − q = bottom-right); causal = "
               "w + 2: a sliding window, keys i + causal_offset − w <= j <= i + causal_offset; "
               "matmul = 2·bh·pairs·(d_qk + d_v); flops = matmul + 6·bh·pairs (scale + softmax); "
               "bytes = (Q + K + V)·in + O·out",
    ELEMENTWISE: "flops = out_elems·flops_per_elem; bytes = in_elems·in + out_elems·out "
                 "(fused = 1: the output is the previous row's, not written again)",
    REDUCE: "flops = in_elems·flops_per_elem; bytes = in_elems·in + out_elems·out",
    SOFTMAX: "flops = 5·elems; bytes = elems·(in + out)",
    NORM: "flops = elems·flops_per_elem + 4·groups; bytes = (elems + param_elems)·in + elems·out",
    POOL: "flops = out_elems·window; bytes = in_elems·in + out_elems·out",
    GATHER: "flops = 0; bytes = out_elems·(in + out) + 8·index_elems",
    MOVE: "flops = 0; bytes = elems·(in + out)",
    RNN: "steps = seq·directions; matmul = 2·steps·batch·gates·hidden·(input + hidden); "
         "flops = matmul + steps·batch·hidden·elem_flops; bytes = steps·((gates·hidden·(input + "
         "hidden) + batch·input + batch·hidden)·in + batch·hidden·out)",
}

PHASES = ("forward", "backward", "optimizer")
FORWARD, BACKWARD, OPTIMIZER = 0, 1, 2


def kind_code(name: str) -> int:
    return NAMES.index(name)
