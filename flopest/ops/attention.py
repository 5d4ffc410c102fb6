"""Fused attention operators (ONNX opset-23 `Attention`). Decomposed attention (MatMul,
Softmax, MatMul) is costed by those operators' own lowerings."""

from __future__ import annotations

from .. import kinds
from . import Ctx, ShapeUnknown, lowering, rebind

# aten SDPA operators: position of `is_causal` in each signature (query, key, value first).
# Every one is (B, H, L, D) with key/value heads <= query heads (GQA); causal masks are
# top-left aligned (query i sees keys j <= i), i.e. causal_offset 0. The mask / bias tensor is
# not read for its FLOPs (NB: an additive mask costs one add per score, not counted).
SDPA_CAUSAL_ARG = {
    "aten.scaled_dot_product_attention": 5,                     # (q, k, v, attn_mask, dropout_p, is_causal)
    "aten._scaled_dot_product_flash_attention_for_cpu": 4,      # (q, k, v, dropout_p, is_causal)
    "aten._scaled_dot_product_flash_attention": 4,              # (q, k, v, dropout_p, is_causal, ...)
    "aten._scaled_dot_product_efficient_attention": 6,          # (q, k, v, bias, lse, dropout_p, is_causal)
    "aten._scaled_dot_product_cudnn_attention": 6,              # (q, k, v, bias, lse, dropout_p, is_causal)
    "aten._scaled_dot_product_fused_attention_overrideable": 5,  # (q, k, v, bias, dropout_p, is_causal)
}


def _sdpa_adapter(name: str):
    pos = SDPA_CAUSAL_ARG[name]

    def adapt(c: Ctx) -> Ctx:
        causal = bool(c.arg(pos, "is_causal", False))
        extra = {}
        # a transformers causal / sliding-window mask, recognised by the capture (torch
        # front end, patches.py): its window (W keys: i − W < j <= i) and the cache offset
        window, off = c.kwargs.get("flopest_window"), c.kwargs.get("flopest_offset")
        if causal and window:
            extra["left_window_size"] = int(window) - 1
        if causal and off:
            extra["causal_offset"] = int(off)
        return rebind(c, [c.arg(0), c.arg(1), c.arg(2)], is_causal=int(causal), **extra)

    adapt.__doc__ = f"{name}: inputs (query, key, value), is_causal from argument {pos}."
    return adapt


@lowering("Attention", aten=tuple((n, _sdpa_adapter(n)) for n in SDPA_CAUSAL_ARG))
def attention(c: Ctx):
    """QKᵀ and AV: 2·B·H·pairs·(d_qk + d_v), pairs = Lq·Lk, or with `is_causal` the pairs
    where query i sees key j <= i + offset (ONNX: top-left aligned without a cache, the cache's
    length as offset with one, see mask_groups), within the sliding window if one is set;
    + scale and softmax (6 FLOPs per score).
    Q is (B, Hq, Lq, D) or (B, Lq, Hq·D) with `q_num_heads`; K and V likewise with
    `kv_num_heads`; past_key (input 4) extends Lk."""
    q, k, v = c.inp(0), c.inp(1), c.inp(2)
    if len(q) == 4:
        b, hq, lq, dqk = q
        hkv, lk, dv = k[1], k[2], v[3]
    elif len(q) == 3:
        hq = c.attr("q_num_heads")
        hkv = c.attr("kv_num_heads")
        if not hq or not hkv:
            raise ShapeUnknown("3-D Attention needs q_num_heads and kv_num_heads")
        b, lq = q[0], q[1]
        dqk = q[2] // hq
        lk = k[1]
        dv = v[2] // hkv
    else:
        raise ShapeUnknown(f"Attention query of rank {len(q)}")
    past = 0
    if c.has(4):  # past_key (B, Hkv, past, D)
        past = c.inp(4)[2]
        lk = lk + past
    return [(kinds.ATTENTION, [bb * hq, lq, lk, dqk, dv, code, bb * hkv, off])
            for bb, code, off in mask_groups(c, b, lq, lk, past)]


def _window(c: Ctx, lk, off):
    """(causal code, frontier offset) of the kernel's ATTENTION row for offset `off`: 0 all
    pairs; 1 query i sees keys j <= i + off; w + 2 only the w + 1 keys ending there. ONNX
    (opset 25) composes `is_causal` (j <= p) with left_window_size / right_window_size
    (p − left <= j <= p + right, −1 = unbounded), p = off + i."""
    left, right = int(c.attr("left_window_size", -1)), int(c.attr("right_window_size", -1))
    if c.attr("is_causal", 0):
        upper = off
    elif right >= 0:
        upper = off + right
    else:
        upper = None
    if left < 0:
        return (0, 0) if upper is None else (1, upper)
    if upper is None:   # a lower bound only: a frontier past every key (j <= i + kv)
        upper = lk
    return upper - (off - left) + 2, upper


def mask_groups(c: Ctx, b, lq, lk, past) -> list:
    """(batch, causal code, offset) per group of batch entries with one mask. The offset is
    the cache length: past_key's (input 4), else nonpad_kv_seqlen − q_len per batch entry
    (input 6, an external cache) when its values are constant, else kv_len − q_len (every
    cached key valid: an upper bound, the front end says so); 0 without a cache."""
    if c.has(4):
        return [(b, *_window(c, lk, past))]
    if not c.has(6):
        return [(b, *_window(c, lk, c.attr("causal_offset", 0)))]
    lens = c.const(6)
    if lens is None or not isinstance(b, int) or lens.size != b:
        return [(b, *_window(c, lk, lk - lq))]
    groups: dict = {}
    for n in lens.reshape(-1).tolist():
        off = int(n) - lq
        if isinstance(off, int) and off < 0:   # NB: its first −off queries see no key; counted
            off = 0                            # as top-left (an upper bound), the front end notes it
        groups[off] = groups.get(off, 0) + 1
    return [(cnt, *_window(c, lk, off)) for off, cnt in sorted(groups.items(), key=lambda kv: str(kv[0]))]


@lowering("RotaryEmbedding")
def rotary_embedding(c: Ctx):
    """RotaryEmbedding(X, cos_cache, sin_cache, position_ids?) (opset 23; RoPE, Su et al. 2021):
    each rotated pair (x1, x2) -> (x1·cos − x2·sin, x2·cos + x1·sin): 3 FLOPs per rotated
    element (2 multiplies, 1 add), reading X's rotated part and one cos and one sin value per
    pair (the gathered cache rows, B·S·rot/2 each); the dims past rotary_embedding_dim are
    copied. X is (B, H, S, D), or (B, S, H·D) with num_heads."""
    x = c.inp(0)
    if len(x) == 4:
        d = x[3]
        tokens_heads = x[0] * x[1] * x[2]
        tokens = x[0] * x[2]
    elif len(x) == 3:
        heads = c.attr("num_heads")
        if not heads:
            raise ShapeUnknown("3-D RotaryEmbedding needs num_heads")
        d = x[2] // heads
        tokens_heads = x[0] * x[1] * heads
        tokens = x[0] * x[1]
    else:
        raise ShapeUnknown(f"RotaryEmbedding input of rank {len(x)}")
    rot = c.attr("rotary_embedding_dim") or d
    rows = [(kinds.ELEMENTWISE, [tokens_heads * rot, 3, tokens_heads * rot + tokens * rot])]
    if not (isinstance(rot, int) and isinstance(d, int) and rot == d):
        rows.append((kinds.MOVE, [tokens_heads * (d - rot)]))
    return rows


@lowering("LinearAttention")
def linear_attention(c: Ctx):
    """LinearAttention(query, key, value (B, T, H·d), past_state?, decay?, beta?) (opset 27),
    per token and KV head on the state S (d_k, d_v):
    update S + k ⊗ v: a (d_k × 1)·(1 × d_v) product added in place, 2·d_k·d_v;
    "gated"/"gated_delta": exp(g) (1 per decay element) and S scaled, d_k·d_v;
    "delta"/"gated_delta": Sᵀk (2·d_k·d_v), v − Sᵀk and β·(...) (2 per d_v);
    per token and query head: o = scale·qᵀS, 2·d_k·d_v + d_v."""
    q, k, v = c.inp(0), c.inp(1), c.inp(2)
    hq, hkv = c.attr("q_num_heads"), c.attr("kv_num_heads")
    if not hq or not hkv:
        raise ShapeUnknown("LinearAttention needs q_num_heads and kv_num_heads")
    rule = c.attr("update_rule", "gated_delta")
    rule = rule.decode() if isinstance(rule, bytes) else rule
    if rule not in ("linear", "gated", "delta", "gated_delta"):
        raise ShapeUnknown(f"LinearAttention update_rule {rule!r} is not linear, gated, delta or gated_delta")
    b, t = q[0], q[1]
    dk, dv = k[2] // hkv, v[2] // hkv
    steps = b * t * hkv          # state updates
    rows = [(kinds.GEMM, [steps, dk, dv, 1, steps, steps])]          # S += k ⊗ v
    if rule in ("gated", "gated_delta"):
        if not c.has(4):
            raise ShapeUnknown(f"LinearAttention {rule!r} without its decay input (or its shape)")
        rows.append((kinds.ELEMENTWISE, [c.numel_in(4), 1, c.numel_in(4)]))   # exp(g)
        rows.append((kinds.ELEMENTWISE, [steps * dk * dv, 1, 0, 1]))        # exp(g)·S
    if rule in ("delta", "gated_delta"):
        rows.append((kinds.GEMM, [steps, 1, dv, dk, steps, steps]))          # Sᵀk
        rows.append((kinds.ELEMENTWISE, [steps * dv, 2, steps * dv + (c.numel_in(5) if c.has(5) else 0)]))  # β·(v − Sᵀk)
    outs = b * t * hq
    rows.append((kinds.GEMM, [outs, 1, dv, dk, outs, steps]))                # qᵀS
    rows.append((kinds.ELEMENTWISE, [outs * dv, 1, 0, 1]))                   # · scale
    return rows
