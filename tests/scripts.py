"""Load a script of the checkout that is not in a package (``tools/clidoc.py``,
``benchmarks/compare_counters.py``) as a module, once, by its path from the repository root."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(relpath: str):
    """The module of ROOT/`relpath`, registered in sys.modules under its file name."""
    name = Path(relpath).stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / relpath)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
