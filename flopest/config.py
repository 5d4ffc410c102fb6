"""The plan and budgets of `flopest check` from a repository's configuration.

``[tool.flopest]`` in pyproject.toml, or the top level of flopest.toml, found in the current
folder or the nearest parent (flopest.toml wins in the same folder). Keys are the long option
names of ``flopest check`` (``dataset-size`` or ``dataset_size``); budgets are a sub-table::

    [tool.flopest]
    model = "zoo:resnet50"
    dataset-size = "1.28M"
    epochs = 90
    device = "a100-sxm4-80gb"
    region = "FR"
    [tool.flopest.budget]
    co2eq = "500kg"
    energy = "2MWh"

Flags on the command line override the file; ``--budget`` flags add to (and, for the same
name, replace) the file's budgets. Relative paths (an .onnx model, CSV data files) are read
relative to the file's folder.
"""

from __future__ import annotations

import os
try:
    import tomllib
except ImportError:   # Python 3.10: the same parser, from PyPI (a dependency on 3.10)
    import tomli as tomllib

from .errors import InputError, did_you_mean

NAMES = ("flopest.toml", "pyproject.toml")


def find(start: str | None = None) -> str | None:
    """The nearest flopest.toml, or pyproject.toml with a [tool.flopest] table, from `start` up."""
    d = os.path.abspath(start or os.getcwd())
    while True:
        for name in NAMES:
            p = os.path.join(d, name)
            if os.path.isfile(p):
                if name == "flopest.toml" or _has_table(p):
                    return p
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _has_table(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return "flopest" in tomllib.load(f).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False   # an unrelated broken pyproject is not ours to report unless named


def read(path: str) -> dict:
    """The flopest table of `path` (pyproject.toml → [tool.flopest]; else the whole file)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise InputError(f"--config {path!r}: no such file") from None
    except OSError as exc:
        raise InputError(f"config {path!r}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config {path!r} is not valid TOML: {exc}") from None
    if os.path.basename(path) == "pyproject.toml" or "tool" in data:
        table = data.get("tool", {}).get("flopest")
        if table is None:
            raise InputError(f"config {path!r} has no [tool.flopest] table")
        return table
    return data


def defaults_for(parser, path: str) -> dict:
    """argparse defaults for the `check` subparser from the config at `path`: values as the
    command line would give them (strings; lists for repeatable options; bools for switches)."""
    table = read(path)
    if not isinstance(table, dict):
        raise InputError(f"config {path!r}: [tool.flopest] must be a table")
    base = os.path.dirname(os.path.abspath(path))
    actions = {a.dest: a for a in parser._actions if a.dest not in ("help",)}
    out = {}
    budgets = []
    for key, value in table.items():
        dest = str(key).replace("-", "_")
        if dest in ("budget", "budgets"):
            budgets += _budgets(path, value)
            continue
        if dest in ("config", "no_config", "output", "debug") or dest not in actions:
            choices = sorted(k.replace("_", "-") for k in actions if k not in ("config", "no_config", "debug"))
            raise InputError(f"config {path!r}: unknown key {key!r}{did_you_mean(key, choices + ['budget'])}; "
                             f"keys are the long options of `flopest check` and a [budget] table")
        act = actions[dest]
        if isinstance(act.default, bool) or act.nargs == 0:
            if not isinstance(value, bool):
                raise InputError(f"config {path!r}: {key} must be true or false, got {value!r}")
            out[dest] = value
        elif isinstance(act.default, list):     # repeatable option
            items = value if isinstance(value, list) else [value]
            out[dest] = [_text(path, key, v) for v in items]
        else:
            out[dest] = _text(path, key, value)
        if act.choices is not None and out[dest] not in act.choices:
            raise InputError(f"config {path!r}: {key} = {value!r} is not one of {', '.join(act.choices)}"
                             f"{did_you_mean(out[dest], act.choices)}")
    if budgets:
        out["budget"] = budgets
    # paths relative to the config's folder
    if isinstance(out.get("model"), str) and not os.path.isabs(out["model"]):
        cand = os.path.join(base, out["model"])
        if os.path.exists(cand):
            out["model"] = cand
    if isinstance(out.get("regions"), str) and not os.path.isabs(out["regions"]):
        out["regions"] = os.path.join(base, out["regions"])
    if "devices" in out:
        out["devices"] = [os.path.join(base, v) if v.lower().endswith(".csv") and not os.path.isabs(v) else v
                          for v in out["devices"]]
    return out


def _text(path, key, v) -> str:
    if isinstance(v, bool) or isinstance(v, (dict, list)):
        raise InputError(f"config {path!r}: {key} must be a string or a number, got {v!r}")
    return str(v)


def _budgets(path, value) -> list:
    if isinstance(value, dict):
        return [f"{k}={_text(path, f'budget.{k}', v)}" for k, v in value.items()]
    if isinstance(value, list):
        return [_text(path, "budget", v) for v in value]
    raise InputError(f"config {path!r}: budget must be a table (co2eq = \"50kg\") or a list of "
                     f"\"NAME=VALUE\" strings, got {value!r}")
