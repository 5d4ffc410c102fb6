"""Factories for the CLI robustness tests (`flopest count tests.robustness.factories:NAME`)."""

import os
import time

import torch
from torch import nn


class Sleepy(nn.Module):
    """Announces that it is in forward (the file named by $FLOPEST_TEST_MARKER), then sleeps:
    a capture long enough to be interrupted."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        marker = os.environ.get("FLOPEST_TEST_MARKER")
        if marker:
            with open(marker, "w") as f:
                f.write("in forward\n")
        for _ in range(600):
            time.sleep(0.1)
        return self.lin(x)


def sleepy():
    return Sleepy(), (torch.zeros(2, 4),)


def mlp():
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)), (torch.zeros(8, 16),)


class Talkative(nn.Module):
    """Prints in forward: the print must not reach the report on stdout."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        print("debug: in forward", x.shape)
        return self.lin(x)


def talkative():
    print("building the model")
    return Talkative(), (torch.zeros(2, 4),)
