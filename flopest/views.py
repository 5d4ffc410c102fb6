"""How result objects render themselves (``Estimate.to_markdown``, ``_repr_html_`` in notebooks)
without the impact layer importing the output layer: the renderers are registered here by
:mod:`flopest.report` when it is imported (``flopest/__init__`` imports it), and the result
objects look them up by (what, format). Dependency inversion, nothing more."""

from __future__ import annotations

from typing import Callable

_RENDERERS: dict = {}


def register(what: str, fmt: str, fn: Callable[[dict], str]) -> None:
    """Register `fn(result_dict) -> str` as the `fmt` rendering of results of kind `what`."""
    _RENDERERS[(what, fmt)] = fn


def render(what: str, fmt: str, d: dict) -> str:
    """The `fmt` rendering of a result's plain dict (``to_dict()``)."""
    try:
        fn = _RENDERERS[(what, fmt)]
    except KeyError:
        raise LookupError(f"no {fmt} renderer for {what} results: import flopest.report") from None
    return fn(d)
