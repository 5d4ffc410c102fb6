"""flopest.validate: checks that name the caller's value, and the CLI's flag put in its place."""

import pytest

from flopest.errors import InputError
from flopest.validate import between, error, flag_message, fraction, positive, whole


def test_whole_numbers_are_exact_and_never_rounded():
    assert whole("n", "1.2M") == 1_200_000
    assert whole("n", 10**20 + 1) == 10**20 + 1          # an int stays exact beyond 2**53
    assert whole("n", 0, allow_zero=True) == 0 and whole("n", None, allow_none=True) is None
    for bad in (0, -1, 2.5, True, "lots", float("nan"), float("inf"), None):
        with pytest.raises(InputError, match="^epochs "):
            whole("epochs", bad)


def test_ranges():
    assert positive("p", "7B") == 7e9 and fraction("f", 1) == 1.0
    assert between("pue", 1, 1, 3) == 1.0                 # closed ends
    with pytest.raises(InputError, match="lifetime_years must be above 0 and at most 50 years, got 0"):
        between("lifetime_years", 0, 0, 50, lo_open=True, unit="years")
    with pytest.raises(InputError, match=r"mbu must be a number in \(0, 1\], got 1.7"):
        fraction("mbu", 1.7)


def test_flag_message_replaces_each_keyword_once_as_a_whole_word():
    e = error("requests_per_day and requests (given: requests_per_day)", "requests_per_day", "requests",
              "requests_per_day")
    flags = {"requests_per_day": "--requests-per-day", "requests": "--requests"}
    assert flag_message(e, flags) == "--requests-per-day and --requests (given: --requests-per-day)"
    try:
        whole("n_devices", 0)
    except InputError as exc:
        assert flag_message(exc, {"n_devices": "--devices"}) == "--devices must be a positive whole number, got 0"
