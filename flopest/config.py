"""The plan and budgets of `flopest check` from a repository's configuration.

``[tool.flopest]`` in pyproject.toml, or the top level of flopest.toml, found in the current
folder or the nearest parent up to the repository root (the first folder with `.git` or a
pyproject.toml), never above it; flopest.toml wins in the same folder. The file used is named
in every report. Keys are the long option
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

from .errors import ConfigError, InputError, did_you_mean

NAMES = ("flopest.toml", "pyproject.toml")
MAX_CONFIG_BYTES = 1 << 20     # a configuration is a few lines; a larger file is not one
MAX_NESTING = 32               # tables nested deeper are not a flopest configuration


def find(start: str | None = None) -> str | None:
    """The nearest flopest.toml, or pyproject.toml with a [tool.flopest] table, from `start` up to
    the repository root and no further: the first folder that holds `.git` or a pyproject.toml
    (the project's own). A flopest.toml in the home or temporary folder above a project is never
    read. A pyproject.toml that mentions tool.flopest and does not parse is an error, not skipped."""
    d = os.path.abspath(start or os.getcwd())
    while True:
        for name in NAMES:
            p = os.path.join(d, name)
            if os.path.isfile(p):
                if name == "flopest.toml" or _has_table(p):
                    return p
        if os.path.exists(os.path.join(d, ".git")) or os.path.isfile(os.path.join(d, "pyproject.toml")):
            return None   # the repository's root: discovery stops here
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _has_table(path: str) -> bool:
    """Whether the pyproject.toml at `path` has a [tool.flopest] table; ConfigError when it names
    one and cannot be read (an unrelated broken pyproject is not flopest's to report)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError:
        return False
    if b"tool.flopest" not in raw and b'"flopest"' not in raw:
        return False
    return "flopest" in _parse(path, raw).get("tool", {})


def _line_of(text: str, key: str) -> str:
    """' (line N)' where `key = ...` is written in the file's text, else ''."""
    import re
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*[\"']?{re.escape(str(key))}[\"']?\s*=", line):
            return f" (line {i})"
    return ""


def _depth(v, n=0) -> int:
    if isinstance(v, dict):
        return max([_depth(x, n + 1) for x in v.values()] or [n + 1])
    if isinstance(v, list):
        return max([_depth(x, n + 1) for x in v] or [n + 1])
    return n


def _parse(path: str, raw: bytes) -> dict:
    """The TOML of `raw` (the bytes of `path`); ConfigError names the file and the problem."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {path!r} is larger than {MAX_CONFIG_BYTES // 1024} KiB: not a flopest "
                          f"configuration")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ConfigError(f"config {path!r} starts with a UTF-8 byte-order mark, which TOML does not allow; "
                          f"save it as UTF-8 without BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"config {path!r} is not UTF-8 (byte {exc.start}, line {line}); save it as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path!r} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"config {path!r} nests tables or arrays too deeply to read") from None
    if _depth(data) > MAX_NESTING:
        raise ConfigError(f"config {path!r} nests tables or arrays more than {MAX_NESTING} deep: not a "
                          f"flopest configuration")
    return data


def _read_bytes(path: str) -> bytes:
    """The bytes of a config file the user named or flopest found; a FIFO, a device or a folder is
    refused before it is opened (reading one would hang or never end)."""
    import stat
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"config {path!r}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"config {path!r}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe or a device)"
        raise ConfigError(f"config {path!r} is {what}; give a pyproject.toml or flopest.toml file")
    try:
        with open(path, "rb") as f:
            return f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"config {path!r}: cannot read it ({exc.strerror or exc})") from None


def read(path: str) -> dict:
    """The flopest table of `path` (pyproject.toml → [tool.flopest]; else the whole file)."""
    raw = _read_bytes(path)
    data = _parse(path, raw)
    if os.path.basename(path) == "pyproject.toml" or "tool" in data:
        table = data.get("tool", {}).get("flopest")
        if table is None:
            raise ConfigError(f"config {path!r} has no [tool.flopest] table")
        return table
    return data


def defaults_for(parser, path: str) -> dict:
    """argparse defaults for the `check` subparser from the config at `path`: values as the
    command line would give them (strings; lists for repeatable options; bools for switches)."""
    table = read(path)
    try:
        text = _read_bytes(path).decode("utf-8")
    except (ConfigError, UnicodeDecodeError):
        text = ""
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
            hint = did_you_mean(key, [c for c in choices + ["budget"] if c != str(key).replace("_", "-")])
            why = (f"{key!r} is not read from a config (give it on the command line)"
                   if dest in ("config", "no_config", "output", "debug") else f"unknown key {key!r}{hint}")
            raise ConfigError(f"config {path!r}{_line_of(text, key)}: {why}; keys are the long options of "
                              f"`flopest check` and a [budget] table")
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


def where(path: str, key: str) -> str:
    """"config 'pyproject.toml' (line 6)": where `key` is set in the config at `path`, for messages."""
    try:
        text = _read_bytes(path).decode("utf-8")
    except (ConfigError, UnicodeDecodeError):
        text = ""
    return f"config {path!r}{_line_of(text, key)}"


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
