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
