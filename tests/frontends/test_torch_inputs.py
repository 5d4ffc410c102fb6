"""Examples per counted pass read off the example inputs (issue 13 item 1): the leading dim that
every tensor leaf shares, whatever the nesting; None with a reason when that is ambiguous."""

import pytest
import torch
from torch import nn

from flopest.errors import InputError
from flopest.frontends.torch import capture, examples_per_pass, parse_dtype, spec

pytestmark = pytest.mark.torch


def test_positional_specs_and_tensors():
    assert examples_per_pass((spec((8, 3, 32, 32)),), {})[0] == 8
    assert "leading dim" in examples_per_pass((spec((8, 3)),), {})[1]   # how it is known, for the plan line
    assert examples_per_pass((torch.zeros(5, 7), spec((5,))), None)[0] == 5


def test_nested_dicts_lists_tuples_and_kwargs():
    batch = {"input_ids": spec((4, 128), "int64"), "extra": [spec((4, 2)), (torch.zeros(4, 1),)]}
    assert examples_per_pass((batch,), {"mask": spec((4, 128))})[0] == 4
    # a dict forward given only through kwargs (cli.py used to read args[0].shape[0] = 1 here)
    assert examples_per_pass((), {"input_ids": spec((16, 32)), "labels": spec((16, 32))})[0] == 16


def test_zero_d_leaves_are_ignored_beside_batched_ones():
    assert examples_per_pass((spec((6, 3)), torch.tensor(0.5)), {})[0] == 6


def test_disagreeing_leaves_give_none_naming_them():
    n, why = examples_per_pass((spec((8, 3)),), {"mask": spec((1, 3))})
    assert n is None
    assert "disagree" in why and "args[0] 8" in why and "mask 1" in why


def test_no_tensor_or_only_zero_d_gives_none():
    n, why = examples_per_pass((3, "x", None), {"k": 2.0})
    assert n is None and "no tensor" in why
    n, why = examples_per_pass((torch.tensor(1.0),), {"t": spec(())})
    assert n is None and "0-d" in why


def test_capture_records_examples_per_pass():
    m = nn.Linear(3, 2)
    cap = capture(m, (spec((9, 3)),))
    assert cap.examples_per_pass == 9 and "leading dim" in cap.examples_reason

    class TwoInputs(nn.Module):
        def forward(self, a, b):
            return a.sum() + b.sum()

    cap = capture(TwoInputs(), (spec((2, 3)), spec((5, 3))))
    assert cap.examples_per_pass is None and "disagree" in cap.examples_reason


def test_parse_dtype_names_the_bad_input():
    assert parse_dtype("bf16") is torch.bfloat16
    with pytest.raises(InputError, match="'bf61'"):
        parse_dtype("bf61")


def test_a_sequence_first_module_makes_the_examples_unknown():
    """nn.LSTM(batch_first=False), PyTorch's default, takes (sequence, batch, features): the
    leading dim 50 of its input is the sequence, not the 3 examples; flopest must ask, not
    read 50 examples (which made a plan's FLOPs 50/3 = 16.7x too low)."""
    import flopest
    c = flopest.count(nn.LSTM(4, 6), torch.randn(50, 3, 4))
    assert c.examples_per_pass is None
    assert "batch_first=False" in c.examples_reason and "50" in c.examples_reason
    with pytest.raises(InputError, match="examples_per_pass"):
        flopest.estimate(c, dataset_size=1000, device="h100-sxm", samples=100)
    # batch-first, the leading dim is the batch; nn.Transformer's layers are sequence-first too
    assert flopest.count(nn.LSTM(4, 6, batch_first=True), torch.randn(3, 50, 4)).examples_per_pass == 3
    t = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32), 1, enable_nested_tensor=False)
    assert flopest.count(t, torch.randn(12, 4, 16)).examples_per_pass is None
    # given, it is used as given
    assert flopest.count(nn.LSTM(4, 6), torch.randn(50, 3, 4), examples_per_pass=3).examples_per_pass == 3


def test_complex_operators_are_said_to_be_a_lower_bound():
    """A complex (4, 8) @ (8, 3) is 4·3·8 complex multiply-adds = 4·3·8·8 = 768 real FLOPs;
    flopest counts 2·4·3·8 = 192 (real arithmetic) and must say so."""
    import flopest

    class MM(nn.Module):
        def forward(self, a, b):
            return a @ b
    c = flopest.count(MM(), torch.randn(4, 8, dtype=torch.cfloat), torch.randn(8, 3, dtype=torch.cfloat))
    assert c.flops == 2 * 4 * 3 * 8
    assert any("complex" in n and "lower bound" in n for n in c.notes)
    real = flopest.count(MM(), torch.randn(4, 8), torch.randn(8, 3))
    assert not any("complex" in n for n in real.notes)


def test_parameters_without_a_gradient_get_no_optimizer_step():
    """Linear(64, 64) called, Linear(64, 1000) never: torch.optim steps the 4,160 parameters that
    got a gradient (2 FLOPs each with SGD: 8,320), not the 69,160 trainable ones."""
    import flopest

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(64, 64)
            self.unused = nn.Linear(64, 1000)

        def forward(self, x):
            return self.a(x)
    c = flopest.count(M(), torch.zeros(8, 64), training=True, optimizer="sgd")
    assert c.optimizer_flops == 2 * (64 * 64 + 64)
    assert any("received no gradient" in n for n in c.notes)


def test_a_product_pytorch_would_refuse_is_refused():
    """int64 inputs into fp32 Linear weights: the meta kernel returns an int64 result, real
    PyTorch raises (mat1 and mat2 must have the same dtype): the count must not go on."""
    import flopest
    from flopest.errors import FlopestError
    with pytest.raises(FlopestError, match="share a dtype"):
        flopest.count(nn.Linear(64, 8), torch.zeros(4, 64, dtype=torch.long))
    assert flopest.count(nn.Linear(64, 8), torch.zeros(4, 64)).matmul_flops == 2 * 4 * 64 * 8


def test_materialize_counts_the_same_branch_at_every_run(tmp_path, monkeypatch):
    """A factory making random inputs, a model branching on their sum: with --materialize the
    count follows the values, so the factory is called with torch's RNG seeded."""
    import flopest
    (tmp_path / "ddmodels.py").write_text(
        "import torch\nfrom torch import nn\n"
        "class DD(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__(); self.a = nn.Linear(64, 64); self.b = nn.Linear(64, 32)\n"
        "    def forward(self, x):\n"
        "        return self.a(x) if x.sum() > 0 else self.b(x)\n"
        "def make():\n"
        "    return DD(), torch.randn(8, 64)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    counts = {flopest.count("ddmodels:make", materialize=True).flops for _ in range(4)}
    assert len(counts) == 1
