"""Every kernel test runs on both tiers of the cost kernel (flopest/kernel/__init__.py): the
interpreted one (formulas.cost on Python ints) and the compiled one (Numba, saturating int64,
saturated rows recomputed exactly). The same expected numbers must come out of each."""

import pytest


@pytest.fixture(params=["python", "jit"], autouse=True)
def kernel_tier(request, monkeypatch):
    monkeypatch.setenv("FLOPEST_KERNEL", request.param)
    return request.param
