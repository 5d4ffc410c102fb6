"""PyTorch capture machinery: the user's module is untouched, errors name the module and the
shapes, data-dependent models ask for materialize, module breakdowns add up."""

import copy

import pytest
import torch
from torch import nn

import flopest
from flopest.frontends.torch import DataDependentError, ModelRunError

pytestmark = pytest.mark.torch


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 8 * 8, 10))

    def forward(self, x):
        return self.head(torch.relu(self.bn(self.conv(x))))


def test_module_left_exactly_as_it_was():
    torch.manual_seed(0)
    m = Net()
    m.eval()
    calls = []
    m.conv.register_forward_hook(lambda *a: calls.append(1))
    before = copy.deepcopy(m.state_dict())
    modes = {n: x.training for n, x in m.named_modules()}
    hooks = dict(m.conv._forward_hooks)
    flopest.count(m, flopest.spec((2, 3, 8, 8)), training=True, optimizer="adam")
    after = m.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]) and after[k].device.type == "cpu", k
    assert {n: x.training for n, x in m.named_modules()} == modes
    assert dict(m.conv._forward_hooks) == hooks
    assert all(p.grad is None for p in m.parameters())
    assert int(m.bn.num_batches_tracked) == 0      # the buffers were meta copies


def test_not_a_module():
    with pytest.raises(flopest.InputError, match="cannot count a function: give an .onnx path"):
        flopest.count(lambda x: x, flopest.spec((2, 3)))
    from flopest.frontends.torch import capture
    with pytest.raises(flopest.InputError, match="expected a torch.nn.Module, got 'function'"):
        capture(lambda x: x, (flopest.spec((2, 3)),))


def test_wrong_rank_names_module_and_shapes():
    m = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Sequential(nn.Linear(20, 5)))
    with pytest.raises(ModelRunError, match=r"module .2\.0. \(Linear\): RuntimeError: .*\(8, 20\)"):
        flopest.count(m, flopest.spec((8, 20)))


def test_model_raising_is_reraised_with_its_path():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("no luck today")

    m = nn.Sequential(nn.Linear(4, 4), Boom())
    with pytest.raises(ModelRunError, match=r"module '1' \(Boom\): ValueError: no luck today"):
        flopest.count(m, flopest.spec((1, 4)))


class TopK(nn.Module):
    """Routes to the rows whose score is positive: the shapes depend on the values."""

    def __init__(self):
        super().__init__()
        self.score = nn.Linear(8, 1)
        self.expert = nn.Linear(8, 8)

    def forward(self, x):
        idx = torch.nonzero(self.score(x).squeeze(-1) > 0).squeeze(-1)
        return self.expert(x[idx])


def test_data_dependent_asks_for_materialize_then_runs():
    torch.manual_seed(0)
    m = TopK()
    with pytest.raises(DataDependentError, match="materialize=True"):
        flopest.count(m, flopest.spec((16, 8)))
    x = torch.randn(16, 8)
    c = flopest.count(m, x, materialize=True)
    routed = int((m.score(x).squeeze(-1) > 0).sum())
    # expert Linear on the routed rows: 2*routed*8*8 matmul FLOPs; score Linear 2*16*8*1
    assert c.matmul_flops == 2 * routed * 8 * 8 + 2 * 16 * 8 * 1
    assert "materialize" in c.notes[0]


def test_module_breakdown_adds_up_and_folds():
    m = Net()
    c = flopest.count(m, flopest.spec((2, 3, 8, 8)), training=True, optimizer="sgd")
    rows = c.breakdown("module")
    assert sum(r["flops"] for r in rows) == c.flops
    assert sum(r["bytes"] for r in rows) == c.bytes
    names = {r["name"] for r in rows}
    assert {"conv", "bn", "head.1"} <= names
    folded = c.breakdown("module", depth=1)
    assert {r["name"] for r in folded} <= {"(top)", "(optimizer)", "conv", "bn", "head"}
    assert sum(r["flops"] for r in folded) == c.flops
    assert c.forward_flops + c.backward_flops + c.optimizer_flops == c.flops
    # sgd: 2 FLOPs per parameter; params = conv 3*4*9 + 4, bn 4 + 4, linear 256*10 + 10
    n = 3 * 4 * 9 + 4 + 8 + 256 * 10 + 10
    assert c.params == n and c.optimizer_flops == 2 * n


def test_spec_dtypes_and_bad_dtype():
    emb = nn.Embedding(100, 8)
    c = flopest.count(emb, flopest.spec((2, 5), "int64"))
    assert c.flops == 0 and c.bytes > 0
    with pytest.raises(flopest.InputError, match="dtype 'int65'"):
        flopest.count(emb, flopest.spec((2, 5), "int65"))


def test_torch_counts_cannot_rebind():
    c = flopest.count(nn.Linear(3, 3), flopest.spec((1, 3)))
    with pytest.raises(flopest.InputError, match="concrete shapes"):
        c.at(batch=2)
