"""Plan arithmetic that an audit found silently wrong: every expected figure is hand arithmetic."""

import pytest

import flopest
from flopest.errors import FlopestError

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def mlp():
    import torch
    from torch import nn
    m = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 4))
    return m, torch.zeros(8, 32)


def test_examples_per_pass_given_against_the_inputs_is_said(mlp):
    """The inputs hold 8 examples; 20 given is used (the escape hatch for a wrong guess) but the
    count says that it overrides the 8 it reads."""
    m, x = mlp
    c = flopest.count(m, x, training=True, examples_per_pass=20)
    assert c.examples_per_pass == 20 and "NOT the 8" in c.examples_reason
    same = flopest.count(m, x, training=True, examples_per_pass=8)
    assert same.examples_reason == "given"


def test_tokens_count_every_epoch_so_epochs_with_tokens_is_refused(tmp_path):
    import json
    cfg = dict(model_type="llama", architectures=["LlamaForCausalLM"], vocab_size=500, hidden_size=64,
               intermediate_size=128, num_hidden_layers=1, num_attention_heads=4, max_position_embeddings=256)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    c = flopest.count(f"hf:{tmp_path}", seq_len=64, training=True)
    one = flopest.estimate(c, tokens=64_000, device="h100-sxm", samples=200)
    assert one.workload.factors["dataset_size"] == 1000   # 64,000 tokens / 64 a sequence
    with pytest.raises(FlopestError, match="tokens count every pass"):
        flopest.estimate(c, tokens=64_000, epochs=2, device="h100-sxm", samples=200)
