"""--samples is capped by the memory its draws need, not only by a count (issue 19.7: 1e8 samples
took 17.4 GB and exited 0)."""

import pytest

import flopest
from flopest.errors import InputError
from flopest.kernel import montecarlo


def test_samples_beyond_free_memory_are_refused_before_any_work(monkeypatch, cli):
    monkeypatch.setattr(montecarlo, "_available_bytes", lambda: 4 * 10**9)
    # 1e8 samples × 200 bytes = 20 GB > half of 4 GB free: refused; at most 2e9 / 200 = 10,000,000
    r = cli(["estimate", "--params", "1B", "--tokens", "1B", "--samples", "1e8"])
    assert r.returncode == 2 and "--samples" in r.stderr and "10,000,000" in r.stderr, r.stderr
    with pytest.raises(InputError, match="at most 10,000,000"):
        flopest.estimate(params=1e9, tokens=1e9, device="h100-sxm", samples=10**8)
    # within the memory: accepted (a small count runs)
    assert montecarlo.check_samples(10_000_000) == 10_000_000


def test_samples_must_be_whole_and_in_range():
    for bad in (0, 2.5, True, 10**8 + 1, "100"):
        with pytest.raises(InputError, match="samples"):
            montecarlo.check_samples(bad)
