"""Value checks whose messages use the caller's own name for the value (layer 0).

The library passes its keyword (``n_devices``), the CLI its flag (``--devices``), so an error
names what the user actually typed:

>>> whole("n_devices", 0)
Traceback (most recent call last):
...
flopest.errors.InputError: n_devices must be a positive whole number, got 0

Each error carries the names it speaks of in ``.names`` (`error` makes one), so the CLI can put
its own flags in their place (``flag_message``) without a second copy of any rule.

Numbers may be given as strings with a count suffix ('1.2M', '7B'; flopest.units.parse_count).
Booleans are refused (``True`` is not 1 device), and nothing is rounded: 2.5 epochs is an error,
not 2.
"""

from __future__ import annotations

import math
import os
import re
import stat

from .errors import InputError
from .units import parse_count


def error(message: str, *names: str) -> InputError:
    """An InputError whose message speaks of the values `names` (keywords), in that order."""
    exc = InputError(message)
    exc.names = tuple(names)
    return exc


def flag_message(exc: Exception, flags: dict) -> str:
    """The message of `exc` with each keyword of ``exc.names`` replaced, once, by its flag in
    `flags` ({"n_devices": "--devices"}): what the CLI prints."""
    msg = str(exc)
    for name in getattr(exc, "names", ()):
        flag = flags.get(name)
        if flag:
            msg = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", lambda _m: flag, msg, count=1)
    return msg


# keywords that name a physical unit (server_embodied_kg, wh_per_request, checkpoint_write_gbps, ...):
# a letter after the number reads two ways there ('4.9t', '300m', '2G': a count or a unit prefix?)
_IN_A_UNIT = re.compile(r"(_(kg|g|t|wh|kwh|gbps|s|w|l|usd|years|hours)$)|(^(wh|kwh)_per_)")


def _number(name: str, v) -> float:
    if isinstance(v, bool) or v is None:
        raise error(f"{name} must be a number, got {v!r}", name)
    if isinstance(v, str):
        if _IN_A_UNIT.search(name):
            try:
                f = float(v.strip().replace("_", ""))
            except ValueError:
                raise error(f"{name} {v!r} must be a plain number in the unit its name gives: a letter after the number "
                            f"reads as a count or as a unit prefix ('4.9t', '300m'); write the number itself", name) from None
            if not math.isfinite(f):
                raise error(f"{name} must be a finite number, got {v!r}", name)
            return f
        return parse_count(v, name)
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        raise error(f"{name} must be a number, got {v!r}", name) from None
    if not math.isfinite(f):
        raise error(f"{name} must be a finite number, got {v!r}", name)
    return f


def flag(name: str, v) -> bool:
    """A switch: True or False (numpy's bools too), an error naming it otherwise ("no" is not
    False, and would switch it on)."""
    if isinstance(v, bool):
        return v
    if type(v).__name__ == "bool_":
        return bool(v)
    raise error(f"{name} must be True or False, got {v!r}", name)


def required(name: str, v):
    if v is None:
        raise error(f"{name} is required", name)
    return v


def _checked(name: str, v, ok, msg: str, allow_none: bool) -> float | None:
    if v is None and allow_none:
        return None
    if v is None:
        required(name, v)
    try:
        f = _number(name, v)
    except InputError:
        raise error(msg, name) from None
    if not ok(f):
        raise error(msg, name)
    return f


def whole(name: str, v, *, allow_zero: bool = False, allow_none: bool = False) -> int | None:
    """A positive (or, with allow_zero, non-negative) whole number, as an exact int."""
    what = "non-negative" if allow_zero else "positive"
    f = _checked(name, v, lambda f: f.is_integer() and (f > 0 or (allow_zero and f == 0)),
                 f"{name} must be a {what} whole number, got {v!r}", allow_none)
    if f is None or isinstance(v, int):
        return v     # an int stays exact beyond 2**53
    return int(f)


def positive(name: str, v, *, allow_none: bool = False) -> float | None:
    """A positive finite number."""
    return _checked(name, v, lambda f: f > 0, f"{name} must be a positive number, got {v!r}", allow_none)


def fraction(name: str, v, *, allow_none: bool = False) -> float | None:
    """A number in (0, 1]."""
    return _checked(name, v, lambda f: 0 < f <= 1, f"{name} must be a number in (0, 1], got {v!r}", allow_none)


def between(name: str, v, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False,
            unit: str = "", allow_none: bool = False) -> float | None:
    """A number in [lo, hi] (an open end with lo_open / hi_open)."""
    u = f" {unit}" if unit else ""
    if lo_open or hi_open:
        where = f"{'above' if lo_open else 'at least'} {lo:g} and {'below' if hi_open else 'at most'} {hi:g}{u}"
    else:
        where = f"between {lo:g} and {hi:g}{u}"
    return _checked(name, v, lambda f: (lo < f if lo_open else lo <= f) and (f < hi if hi_open else f <= hi),
                    f"{name} must be {where}, got {v!r}", allow_none)


def regular_file(path: str, what: str, give: str, error=InputError) -> os.stat_result:
    """The stat of a file the user named, checked before it is opened: a missing or unreadable
    path, a folder, a FIFO or a device (reading one would hang or never end) is `error` naming
    `what` ("model file", "measured-run file") and what to `give` instead."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{what} {path!r} does not exist; give {give}") from None
    except (OSError, ValueError) as exc:   # ValueError: a NUL byte in the path
        raise error(f"cannot read the {what} {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe or a device)"
        raise error(f"{what} {path!r} is {kind}; give {give}")
    return st
