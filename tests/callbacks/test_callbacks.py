"""The training guards stop a real (tiny, CPU) run before its first step when over budget, and let
it run when within; the run they estimate is the trainer's own (steps × global batch)."""

import math

import pytest
import torch
from torch import nn

import flopest
from flopest.errors import InputError


# ------------------------------------------------------------------ Hugging Face
def _hf_setup(tmp_path, max_steps=3, batch=4, accum=1, optim="adamw_torch"):
    from transformers import BertConfig, BertForSequenceClassification, TrainingArguments
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64, num_labels=2)
    model = BertForSequenceClassification(cfg)
    data = [{"input_ids": torch.randint(0, 100, (16,)), "attention_mask": torch.ones(16, dtype=torch.long),
             "labels": torch.tensor(i % 2)} for i in range(24)]
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=max_steps, per_device_train_batch_size=batch,
                             gradient_accumulation_steps=accum, report_to=[], save_strategy="no", logging_strategy="no",
                             use_cpu=True, optim=optim, disable_tqdm=True)
    return model, data, args


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_hf_over_budget_stops_before_the_first_step(tmp_path):
    from transformers import Trainer
    from flopest.callbacks import FlopestTrainerCallback
    model, data, args = _hf_setup(tmp_path)
    before = _weights(model)
    cb = FlopestTrainerCallback(budgets=["co2eq=1e-15kg"], device="a100-sxm4-80gb", region="FR", samples=2000, quiet=True)
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[cb])
    with pytest.raises(flopest.BudgetExceeded) as info:
        trainer.train()
    assert trainer.state.global_step == 0
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)   # no optimizer step happened
    assert info.value.figures[0]["budget"] == "co2eq" and not info.value.figures[0]["ok"]
    assert cb.estimate is not None and cb.result is not None and not cb.result.ok


def test_hf_within_budget_trains_and_estimates_the_trainers_run(tmp_path):
    from transformers import Trainer
    from flopest.callbacks import FlopestTrainerCallback
    model, data, args = _hf_setup(tmp_path, max_steps=3, batch=4, accum=2, optim="sgd")
    cb = FlopestTrainerCallback(co2eq_kg=1000, device="a100-sxm4-80gb", region="FR", samples=2000, quiet=True)
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[cb])
    trainer.train()
    assert trainer.state.global_step == 3 and cb.result.ok
    f = cb.estimate.workload.factors
    # 3 optimizer steps × (4 per device × 2 accumulation × 1 process) = 24 examples, 3 steps
    assert f["batch_size"] == 8 and f["dataset_size"] == 24 and f["steps_per_trial"] == 3
    # the same count by hand: one batch of 4 with SGD, scaled to 24 examples + 3 optimizer steps
    batch = {k: torch.stack([d[k] for d in data[:4]]) for k in data[0]}
    c = flopest.count(model, training=True, optimizer="sgd", loss_fn=lambda o: o.loss, **batch)
    per_example = (c.forward_flops + c.backward_flops) / 4
    assert cb.estimate.flops == pytest.approx(per_example * 24 + c.optimizer_flops * 3, rel=1e-12)


def test_hf_evaluation_is_counted_or_said_to_be_left_out(tmp_path):
    """An eval_strategy whose set's size cannot be read at train begin is said to be left out;
    eval_examples= counts it: 12 examples × one forward each on top of the training plan."""
    from transformers import Trainer
    from flopest.callbacks import FlopestTrainerCallback
    model, data, args = _hf_setup(tmp_path, max_steps=3, batch=4, optim="sgd")
    args.eval_strategy, args.eval_steps = "steps", 3
    cb = FlopestTrainerCallback(co2eq_kg=1000, device="a100-sxm4-80gb", samples=2000, quiet=True)
    Trainer(model=model, args=args, train_dataset=data, eval_dataset=data[:12], callbacks=[cb]).train()
    assert any("evaluation is left out" in n for n in cb.estimate.notes)
    base = cb.estimate.flops
    model, data, args = _hf_setup(tmp_path, max_steps=3, batch=4, optim="sgd")
    args.eval_strategy, args.eval_steps = "steps", 3
    cb = FlopestTrainerCallback(co2eq_kg=1000, device="a100-sxm4-80gb", samples=2000, quiet=True, eval_examples=12)
    Trainer(model=model, args=args, train_dataset=data, eval_dataset=data[:12], callbacks=[cb]).train()
    batch = {k: torch.stack([d[k] for d in data[:4]]) for k in data[0]}
    fwd = flopest.count(model, **batch)
    assert cb.estimate.workload.eval_flops == pytest.approx(fwd.flops / 4 * 12, rel=1e-12)
    assert cb.estimate.flops == pytest.approx(base + fwd.flops / 4 * 12, rel=1e-12)


def test_hf_optimizer_mapping_notes_an_approximation():
    from flopest.callbacks import _optimizer_name
    assert _optimizer_name("adamw_torch_fused") == ("adamw", None)
    assert _optimizer_name("adam") == ("adam", None)
    assert _optimizer_name("SGD") == ("sgd", None)
    name, note = _optimizer_name("adafactor")
    assert name == "adamw" and "adafactor" in note


def test_callback_needs_a_valid_budget():
    from flopest.callbacks import FlopestTrainerCallback
    with pytest.raises(InputError, match="budget"):
        FlopestTrainerCallback(device="h100-sxm")
    with pytest.raises(InputError, match="carbon"):
        FlopestTrainerCallback(budgets=["carbon=5kg"])
    with pytest.raises(InputError, match="p99"):
        FlopestTrainerCallback(co2eq_kg=1, at="p99")


# ------------------------------------------------------------------ Lightning


def _lightning_module(lr=0.1):
    import lightning.pytorch as pl

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, i):
            x, y = batch
            return nn.functional.mse_loss(self(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=lr)
    return Tiny()


def _loader(n=40, batch=5):
    torch.manual_seed(0)
    ds = torch.utils.data.TensorDataset(torch.randn(n, 8), torch.randn(n, 1))
    return torch.utils.data.DataLoader(ds, batch_size=batch)


def _trainer(cb, tmp_path, epochs=2):
    import lightning.pytorch as pl
    return pl.Trainer(max_epochs=epochs, callbacks=[cb], accelerator="cpu", devices=1, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=str(tmp_path))


def test_lightning_over_budget_stops_before_the_first_step(tmp_path):
    from flopest.callbacks import FlopestLightningCallback
    module = _lightning_module()
    before = _weights(module)
    cb = FlopestLightningCallback(energy_kwh=1e-12, device="h100-sxm", samples=2000, quiet=True)
    trainer = _trainer(cb, tmp_path)
    with pytest.raises(flopest.BudgetExceeded):
        trainer.fit(module, _loader())
    assert trainer.global_step == 0
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_lightning_within_budget_trains_and_estimates_the_run(tmp_path):
    from flopest.callbacks import FlopestLightningCallback
    module = _lightning_module()
    cb = FlopestLightningCallback(budgets=["co2eq=1t"], device="h100-sxm", samples=2000, quiet=True)
    trainer = _trainer(cb, tmp_path, epochs=2)
    trainer.fit(module, _loader(n=40, batch=5))
    assert trainer.global_step == 16 and cb.result.ok   # 40 / 5 = 8 batches × 2 epochs
    f = cb.estimate.workload.factors
    assert f["steps_per_trial"] == 16 and f["dataset_size"] == 80 and f["batch_size"] == 5
    # by hand: the MLP on one batch of 5 (forward+backward through the sum of outputs) + SGD
    # Linear(8,16): 2·8·16 = 256 FLOPs/example forward for the matmul; all rows from flopest.count
    c = flopest.count(module, torch.zeros(5, 8), training=True, optimizer="sgd")
    assert cb.estimate.flops == pytest.approx((c.forward_flops + c.backward_flops) / 5 * 80
                                              + c.optimizer_flops * 16, rel=1e-12)
    # SGD's step: 2 FLOPs per parameter (mul, sub); params = 8·16+16 + 16·1+1 = 161
    assert c.optimizer_flops == 2 * 161
    assert math.isfinite(cb.estimate.to_dict()["co2eq_kg"]["p95"])


def test_lightning_example_input_array_is_the_counted_pass_not_the_training_batch(tmp_path):
    """example_input_array is often one example: the training batch is the dataloader's (5), so
    the plan is 80 examples in 16 steps of 5, as without it (it was 16 examples in batches of 1:
    FLOPs 5x too low). SGD with momentum is costed as sgd-momentum (4 FLOPs per parameter)."""
    from flopest.callbacks import FlopestLightningCallback
    module = _lightning_module()
    module.example_input_array = torch.zeros(1, 8)
    module.configure_optimizers = lambda: torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
    cb = FlopestLightningCallback(budgets=["co2eq=1t"], device="h100-sxm", samples=2000, quiet=True)
    _trainer(cb, tmp_path, epochs=2).fit(module, _loader(n=40, batch=5))
    f = cb.estimate.workload.factors
    assert f["dataset_size"] == 80 and f["batch_size"] == 5 and f["examples_per_pass"] == 1
    c = flopest.count(module, torch.zeros(1, 8), training=True, optimizer="sgd-momentum")
    assert c.optimizer_flops == 4 * 161
    assert cb.estimate.flops == pytest.approx((c.forward_flops + c.backward_flops) * 80 + c.optimizer_flops * 16,
                                              rel=1e-12)
    assert any("the train dataloader's batch_size" in n for n in cb.estimate.notes)


def test_a_callback_without_a_device_says_which_it_assumed(tmp_path):
    from flopest.callbacks import FlopestLightningCallback
    cb = FlopestLightningCallback(budgets=["co2eq=1t"], samples=2000, quiet=True)
    _trainer(cb, tmp_path, epochs=1).fit(_lightning_module(), _loader(n=10, batch=5))
    assert cb.estimate.scenario.device == "h100-sxm"
    assert any("device h100-sxm assumed" in n for n in cb.estimate.notes)


def test_callback_keywords_are_checked_at_construction():
    """What would fail (or be ignored) at train start fails when the callback is made: a keyword the
    trainer sets itself (epochs, optimizer: args.optim), an unknown keyword, a bad limit, an
    unknown device, a fractional eval_examples."""
    from flopest.callbacks import FlopestTrainerCallback
    for kw in ({"epochs": 2}, {"optimizer": "sgd"}, {"foo": 1}, {"co2eq_kg": "abc"}, {"device": "h100"},
               {"eval_examples": 2.7}):
        with pytest.raises(flopest.InputError):
            FlopestTrainerCallback(budgets=["co2eq=50kg"], **kw)
