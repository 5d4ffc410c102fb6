"""Factories used by the CLI tests (`flopest count tests.cli.factories:NAME`)."""

import torch
from torch import nn


def mlp():
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


def mlp_with_inputs():
    return mlp(), (torch.zeros(8, 16),)


def not_callable_target():
    raise RuntimeError("factory failure on purpose")


NOT_A_FACTORY = 3


def huge():
    """100,000,200,000 parameters (400 GB in fp32): countable only if nothing is allocated."""
    return nn.Sequential(nn.Linear(100_000, 1_000_000), nn.ReLU(), nn.Linear(1_000_000, 100)), \
        (torch.zeros(4, 100_000),)


def reads_a_value():
    """A factory that reads a tensor's value while it builds (a size from data): it cannot run on
    the meta device, so it is built again with real weights, and the count says so."""
    width = int(torch.tensor([8]).sum().item())
    return nn.Linear(16, width), (torch.zeros(2, 16),)
