"""Models at extreme scale, shared by tests/robustness/test_scale.py and benchmarks/bench_scale.py.

- ``chain_model(n)``: an ONNX graph of n nodes (Add, MatMul, Relu repeating) on a (batch, d)
  activation, batch symbolic.
- ``llama_1t()``: a Llama decoder of 1.009 T parameters (d 25,600, 128 layers), built on meta.
- ``python -m tests.robustness._scale count PATH NAME=VALUE ...``: count an ONNX file in this
  fresh process and print {seconds, maxrss_mb, flops, coverage, nodes} as JSON (peak RSS from
  resource.getrusage, so it measures flopest alone, not the test that built the file).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def chain_model(n: int, d: int = 16, batch="batch"):
    """x(batch, d) → n nodes: Add(b), MatMul(W: d×d), Relu, Add, MatMul, ... (one chain)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    nodes = []
    prev = "x"
    for i in range(n):
        out = f"v{i}"
        kind = i % 3
        if kind == 0:
            nodes.append(helper.make_node("Add", [prev, "b"], [out], name=f"add{i}"))
        elif kind == 1:
            nodes.append(helper.make_node("MatMul", [prev, "W"], [out], name=f"mm{i}"))
        else:
            nodes.append(helper.make_node("Relu", [prev], [out], name=f"relu{i}"))
        prev = out
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, d])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [batch, d])],
                          initializer=[numpy_helper.from_array(np.ones((d, d), np.float32), "W"),
                                       numpy_helper.from_array(np.ones(d, np.float32), "b")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def chain_flops(n: int, b: int, d: int = 16) -> int:
    """Add b·d, MatMul 2·b·d·d, Relu b·d FLOPs; node i is Add, MatMul, Relu for i % 3 = 0, 1, 2."""
    adds, mms, relus = (n + 2) // 3, (n + 1) // 3, n // 3
    return adds * b * d + mms * 2 * b * d * d + relus * b * d


def count_in_subprocess(path: str, dims: dict, timeout: float = 300) -> dict:
    args = [f"{k}={v}" for k, v in dims.items()]
    r = subprocess.run([sys.executable, "-m", "tests.robustness._scale", "count", path, *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout, env=dict(os.environ, PYTHONPATH=ROOT))
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def peak_rss_kb() -> float:
    """This process's peak RSS in KiB: VmHWM of /proc/self/status, which belongs to the current
    memory map. ru_maxrss is not used where /proc exists: Linux carries a forked parent's
    high-water mark over the exec into it, so a child of a large test process would report the
    parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _count_main(path: str, items) -> None:
    import flopest
    # lazy imports, and the Numba kernel's load from its cache, happen once per process
    flopest.count(chain_model(3), dims={"batch": 1}).flops
    dims = {k: int(v) for k, v in (i.split("=", 1) for i in items)}
    t = time.perf_counter()
    c = flopest.count(path, dims=dims)
    flops = c.flops
    seconds = time.perf_counter() - t
    rss_kb = peak_rss_kb()
    print(json.dumps({"seconds": seconds, "maxrss_mb": rss_kb / 1024, "flops": flops,
                      "coverage": c.coverage, "nodes": c.node_count}))


# ------------------------------------------------------------------ one trillion parameters
# d = 25,600, 128 layers, 200 heads of 128, SwiGLU ff = 68,352, vocabulary 32,000.
D, LAYERS, FF, VOCAB, HEADS = 25_600, 128, 68_352, 32_000, 200


def llama_config(layers: int = LAYERS):
    from transformers import LlamaConfig
    return LlamaConfig(hidden_size=D, intermediate_size=FF, num_hidden_layers=layers, num_attention_heads=HEADS,
                       num_key_value_heads=HEADS, vocab_size=VOCAB, max_position_embeddings=4096,
                       tie_word_embeddings=False)


def llama_meta(layers: int = LAYERS):
    import torch
    from transformers import LlamaForCausalLM
    with torch.device("meta"):
        return LlamaForCausalLM(llama_config(layers))


def llama_params(layers: int = LAYERS) -> int:
    """Per layer 4·d² (q, k, v, o) + 3·d·ff (gate, up, down) + 2·d (two RMSNorms);
    embedding and lm_head V·d each; final norm d.
    128·(2,621,440,000 + 5,249,433,600 + 51,200) + 2·819,200,000 + 25,600 = 1,009,116,800,000."""
    return layers * (4 * D * D + 3 * D * FF + 2 * D) + 2 * VOCAB * D + D


def llama_matmul_flops(tokens: int, layers: int = LAYERS) -> int:
    """2·N_mm·T + attention: N_mm = the matmul weights, L·(4·d² + 3·d·ff) + V·d (lm_head; the
    embedding is a gather); attention QKᵀ and AV 2·(2·T²·d) per layer, every query-key pair
    (flopest's default, causal=False). T = 2048, L = 128:
    2·1,008,291,020,800·2048 + 128·4·2048²·25,600
    = 4,129,960,021,196,800 + 54,975,581,388,800 = 4,184,935,602,585,600."""
    n_mm = layers * (4 * D * D + 3 * D * FF) + VOCAB * D
    return 2 * n_mm * tokens + layers * 4 * tokens * tokens * D


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "count":
        _count_main(sys.argv[2], sys.argv[3:])
    else:
        sys.exit("usage: python -m tests.robustness._scale count PATH NAME=VALUE ...")
