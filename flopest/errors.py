"""One exception hierarchy. Every user-facing error subclasses both `FlopestError` and the
matching built-in, names the bad input with ``!r`` and says how to fix it."""

from __future__ import annotations

import contextlib
import difflib
import re
import signal
import threading


class FlopestError(Exception):
    """Base of every error flopest raises on purpose. The CLI prints it in one line, exit 2."""


class InputError(FlopestError, ValueError):
    """A value given by the user is malformed (a dim, a format, an option)."""


class ModelReadError(FlopestError, ValueError):
    """The model file cannot be read: missing, not ONNX, truncated, inconsistent."""


class UnboundDimError(FlopestError, KeyError):
    """A symbolic dim of the model has no value; the message lists them and shows `--dim`."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnknownOperatorError(FlopestError, ValueError):
    """Raised in strict mode when some operators are not costed."""


class RegistryError(FlopestError, RuntimeError):
    """Programming error in the operator registry (a name registered twice)."""


class KernelInputError(FlopestError, ValueError):
    """The arrays handed to the cost kernel are inconsistent; the message names the row."""


_NOT_WORD = re.compile(r"[^0-9a-z]+")
MAX_SUGGESTIONS = 6


def _words(text: str) -> list:
    return [w for w in _NOT_WORD.split(str(text).casefold()) if w]


def suggestions(name: str, choices, labels=None) -> list:
    """The choices `name` most likely means, best first, as (choice, label or '') pairs; the
    label is given when it is what matched. Case-insensitive. One mechanism for every lookup:

    1. the family: each choice that `name` begins at a word boundary (``h100`` → ``h100-sxm``,
       ``h100-pcie``), or whose id or label (`labels`: {choice: label}, e.g. a country's name)
       holds every word of `name` (``Korea`` → ``KR`` South Korea, ``KP`` North Korea); all of
       them, in the choices' order;
    2. else the one closest in spelling (difflib, ids and labels alike)."""
    choices = [str(c) for c in choices]
    labels = {str(k): str(v) for k, v in (labels or {}).items() if v}
    q = str(name).strip().casefold()
    words = _words(q)
    family = []
    for c in choices:
        lc = c.casefold()
        if words and ((lc.startswith(q) and len(lc) > len(q) and not lc[len(q)].isalnum())
                      or set(words) <= set(_words(lc))):
            family.append((c, ""))
        elif words and c in labels and set(words) <= set(_words(labels[c])):
            family.append((c, labels[c]))
    if family:
        return family
    by_text = {c.casefold(): (c, "") for c in choices}
    for c, lab in labels.items():
        by_text.setdefault(lab.casefold(), (c, lab))
    close = difflib.get_close_matches(q, list(by_text), n=1, cutoff=0.6)
    return [by_text[close[0]]] if close else []


def did_you_mean(name: str, choices, labels=None) -> str:
    """`` — did you mean 'x'?`` (or ``'x' or 'y'``, ``one of 'x', 'y' or 'z'``) naming what
    `suggestions` finds, else ''."""
    found = suggestions(name, choices, labels)
    if not found:
        return ""
    shown = found[:MAX_SUGGESTIONS]
    with_labels = len(shown) <= 3
    items = [f"{c!r}" + (f" ({lab})" if lab and with_labels else "") for c, lab in shown]
    more = f" (and {len(found) - len(shown)} more)" if len(found) > len(shown) else ""
    if len(items) == 1:
        return f" — did you mean {items[0]}?"
    lead = "" if len(items) == 2 and not more else "one of "
    return f" — did you mean {lead}{', '.join(items[:-1])} or {items[-1]}{more}?"


# --- the user's code (factories, forward) and Ctrl-C
_SIGINT_SEEN = threading.Event()


@contextlib.contextmanager
def running_user_code():
    """Run the user's code (a factory, a forward) so that a KeyboardInterrupt can be told apart:
    one raised by a real SIGINT (the user's Ctrl-C, which must stop flopest: exit 130) from one
    the model raises itself (the model's failure). Only the main thread receives signals; an
    outer handler that is not Python's default is left alone (nested captures, a notebook's)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    _SIGINT_SEEN.clear()

    def on_sigint(signum, frame):
        _SIGINT_SEEN.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def is_ctrl_c(exc: BaseException) -> bool:
    """True when `exc` is the KeyboardInterrupt of a real SIGINT (see running_user_code)."""
    return isinstance(exc, KeyboardInterrupt) and _SIGINT_SEEN.is_set()


# torch front end


class ModelRunError(FlopestError, RuntimeError):
    """The user's model raised while flopest ran it; the message names the module."""


class DataDependentError(FlopestError, RuntimeError):
    """The model's control flow depends on tensor values, which meta tensors do not have."""


# --- onnx (symbolic shapes) ---------------------------------------------------------------
class BroadcastError(InputError):
    """Two sizes that must broadcast (NumPy rules: equal, or one of them 1) do not: a model's
    static shapes, or the values bound to its symbolic dims."""


# --- impact (data tables, serving)
class DataError(FlopestError, ValueError):
    """A data table (embedded or the user's) holds a bad value. The message names the file, the
    line (1-based, as an editor shows it) and the column; the same are in .path/.line/.column."""

    def __init__(self, message: str, path: str = "", line: int | None = None, column: str | None = None):
        super().__init__(message)
        self.path, self.line, self.column = path, line, column


class UnknownIdError(FlopestError, KeyError):
    """An id (device, region, data centre, ...) that no table holds; the message suggests the
    closest one."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ServingError(FlopestError, ValueError):
    """A model whose serving cost cannot be derived (no KV cache, cost not polynomial in the
    position); the message says why and what to give instead."""


# --- output (budget, config, io)
class CoverageError(FlopestError, ValueError):
    """A budget check on a result that did not cost every operator: nothing can be concluded.
    ``.result`` is the CheckResult (state "incomplete", exit code 2)."""

    def __init__(self, result):
        self.result = result
        super().__init__(result.verdict())


class BudgetExceeded(FlopestError):
    """The plan is over at least one budget. ``.result`` is the CheckResult (every budget, its
    limit, the figure compared and whether it passed); ``.figures`` its rows as dicts."""

    def __init__(self, result):
        self.result = result
        self.figures = [r.to_dict() for r in result.rows]
        super().__init__(result.verdict())


class ConfigError(InputError):
    """A configuration file that cannot be used; the message names the file (and line)."""


class OutputError(InputError):
    """An output target that must not be written (the input model, a device, the same file twice)."""
