"""Work in threads inside forward (issue 19 item 6) and user code that exits (item 11).

A thread the forward starts is captured (its operators counted, credited under its modules);
the model's modules run in a thread the capture did not start give a note that the count is
incomplete; an unrelated busy thread changes nothing. SystemExit / KeyboardInterrupt from
forward become the model's failure (a FlopestError: exit 2), never flopest's exit.

Conventions: Linear(16, 16) on 8 rows: addmm 2·8·16·16 = 4,096 + bias 8·16 = 128 = 4,224; its
backward with an input that needs no gradient: weight gradient 4,096 + bias gradient 128."""

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch import nn

import flopest
from flopest.errors import FlopestError, ModelRunError

pytestmark = pytest.mark.torch
X = flopest.spec((8, 16))


class Threaded(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(16, 16)
        self.b = nn.Linear(16, 16)

    def forward(self, x):
        out = {}
        t = threading.Thread(target=lambda: out.__setitem__("y", self.b(x)))
        t.start()
        t.join()
        return self.a(x) + out["y"]


def _by_module(c) -> dict:
    return {r["name"]: r["flops"] for r in c.breakdown(by="module")}


def test_linear_in_a_thread_inside_forward_is_counted():
    c = flopest.count(Threaded(), X)
    # a 4,224 + b 4,224 (in the thread) + the add 128 = 8,576
    assert c.flops == 8_576
    assert _by_module(c) == {"a": 4_224, "b": 4_224, "(top)": 128}
    assert not any("incomplete" in n for n in c.notes)


def test_linear_in_a_thread_training_is_credited_to_its_module():
    c = flopest.count(Threaded(), X, training=True)
    # each Linear: forward 4,224 + backward 4,096 + 128 = 8,448; the add 128 (its backward
    # passes the gradient through)
    assert _by_module(c) == {"a": 8_448, "b": 8_448, "(top)": 128}
    assert c.flops == 17_024


def test_module_run_in_a_thread_made_before_the_capture_gives_a_note():
    pool = ThreadPoolExecutor(1)
    pool.submit(lambda: None).result()   # the worker thread exists before the capture

    class Pooled(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = nn.Linear(16, 16)

        def forward(self, x):
            return pool.submit(self.b, x).result() * 2

    try:
        c = flopest.count(Pooled(), X)
    finally:
        pool.shutdown()
    assert c.flops == 128   # only the mul 8·16 was seen ...
    assert any("incomplete" in n and "'b'" in n for n in c.notes)   # ... and the note says so


def test_an_unrelated_busy_thread_changes_nothing():
    m = Threaded()
    alone = _by_module(flopest.count(m, X, training=True))
    stop = threading.Event()

    def busy():
        other = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 16))
        x = torch.randn(4, 16)
        while not stop.is_set():
            other(x).sum().backward()

    t = threading.Thread(target=busy, daemon=True)
    t.start()
    try:
        runs = [flopest.count(m, X, training=True) for _ in range(5)]
    finally:
        stop.set()
        t.join()
    for c in runs:
        assert _by_module(c) == alone
        assert not any("incomplete" in n for n in c.notes)


def test_a_thread_still_running_when_the_capture_ends_gives_a_note():
    release = threading.Event()

    class Leaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(16, 16)

        def forward(self, x):
            threading.Thread(target=release.wait, name="leaky-worker").start()
            return self.a(x)

    try:
        c = flopest.count(Leaky(), X)
    finally:
        release.set()
        for t in threading.enumerate():   # it holds the counting patches until it ends: the next
            if t.name == "leaky-worker":  # test checks that they are gone
                t.join(timeout=10)
    assert c.flops == 4_224
    assert any("incomplete" in n and "leaky-worker" in n for n in c.notes)


@pytest.mark.parametrize("exc", [SystemExit(0), SystemExit(3), KeyboardInterrupt()])
def test_exit_in_forward_is_the_models_failure(exc):
    class Exits(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(16, 16)

        def forward(self, x):
            y = self.a(x)
            if isinstance(exc, SystemExit):
                sys.exit(exc.code)
            raise exc

    with pytest.raises(ModelRunError, match=type(exc).__name__) as info:
        flopest.count(Exits(), X)
    assert isinstance(info.value, FlopestError)
    assert threading.Thread.start.__name__ == "start"   # the stand-in is gone
