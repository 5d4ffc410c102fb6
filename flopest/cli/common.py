"""What every command shares: the one-line-error parser, flag values, progress, output."""

from __future__ import annotations

import argparse
import math
import contextlib
import sys

from .. import io, models
from ..errors import FlopestError, InputError

INT64_MAX = 2**63 - 1
MAX_COUNT = 1e30   # no flag's count (tokens, params, epochs, hours, samples) is larger in any real plan


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class StoreOnce(argparse._StoreAction):
    """A flag that takes one value: given twice with different values on one command line is a
    usage error (argparse keeps the last silently: `--device h100-sxm --device a100` estimated
    the a100 alone)."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = namespace.__dict__.setdefault("_given_once", {})
        if self.dest in seen and seen[self.dest][1] != values:
            flag, before = seen[self.dest]
            parser.error(f"{option_string} given twice ({before!s}, {values!s}): give it once"
                         + (" (compare several with flopest compare --device A,B)" if self.dest in ("device", "region")
                            else ""))
        seen[self.dest] = (option_string, values)
        super().__call__(parser, namespace, values, option_string)


class BudgetAppend(argparse._AppendAction):
    """--budget NAME=VALUE, repeatable for different names; the same name twice on one command
    line is a usage error (the last one kept silently let a plan over the first limit pass). A
    config file's budget of that name is replaced by the flag's."""

    def __call__(self, parser, namespace, values, option_string=None):
        name = str(values).partition("=")[0].strip().lower().replace("_", "-")
        seen = namespace.__dict__.setdefault("_budgets_given", {})
        if name in seen:
            parser.error(f"{option_string} {name} given twice ({seen[name]}, {values}): give each budget once")
        seen[name] = values
        super().__call__(parser, namespace, values, option_string)


def once_only(parser: argparse.ArgumentParser) -> None:
    """Make every single-value flag of `parser` and its subcommands a StoreOnce."""
    for action in parser._actions:
        if type(action) is argparse._StoreAction:
            action.__class__ = StoreOnce
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                once_only(sub)


def short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[:n] + "…"


def num_arg(flag, v, integer=False):
    """A count such as 1.2M, 7B, 90 from a flag's text (None stays None); InputError names the flag."""
    from ..units import parse_count
    if v is None:
        return None
    x = parse_count(v, flag)
    if not x <= MAX_COUNT:
        raise InputError(f"{flag} {short(str(v))!r} is beyond {MAX_COUNT:.0e}, more than any plan holds: "
                         f"check the value and its suffix")
    if integer:
        if x != int(x):
            raise InputError(f"{flag} {v!r} must be a whole number")
        return int(x)
    return x


# physical inputs given as plain numbers in a fixed unit: a count suffix (k, M, G) would be read
# as a multiplier ("--intensity 50g" was 50e9 g/kWh), so only the number, or the unit itself
PLAIN_UNITS = {"--pue": (), "--intensity": ("g/kwh", "gco2/kwh", "gco2e/kwh", "gco2eq/kwh"), "--power-w": ("w",),
               "--lifetime-years": ("y", "yr", "years"), "--mfu": (), "--mbu": (), "--checkpoint-bandwidth": ("gb/s",)}


def plain_arg(flag: str, v):
    """A plain number for `flag` (its unit may follow: 700W, 56g/kWh); None stays None. A count
    suffix or another unit is an error naming the flag's unit."""
    if v is None:
        return None
    num = str(v).strip().lower()
    for u in sorted(PLAIN_UNITS.get(flag, ()), key=len, reverse=True):   # "56 g/kWh": the unit may be spaced
        if num.endswith(u):
            num = num[:-len(u)].strip()
            break
    try:
        x = float(num.replace("_", ""))
        if not math.isfinite(x):
            raise ValueError
    except ValueError:
        unit = {"--pue": "a ratio (e.g. 1.2)", "--intensity": "g CO2eq/kWh (e.g. --intensity 56)",
                "--power-w": "W per accelerator (e.g. --power-w 700)", "--lifetime-years": "years (e.g. 4)",
                "--mfu": "a fraction (e.g. 0.4)", "--mbu": "a fraction (e.g. 0.6)",
                "--checkpoint-bandwidth": "GB/s per accelerator (e.g. 0.2)"}.get(flag, "a plain number")
        raise InputError(f"{flag} {short(str(v))!r} is not a plain number in {unit}") from None
    return x


def int_arg(flag: str, text: str) -> int:
    """A non-negative int within int64 from a flag's text; InputError naming the flag."""
    t = text.strip()
    try:
        v = int(t) if t.isascii() and t.isdigit() else None
    except ValueError:   # more digits than Python converts
        v = None
    if v is None:
        raise InputError(f"{flag}: value {short(t)!r} is not a non-negative integer")
    if v > INT64_MAX:
        raise InputError(f"{flag}: value {short(t)} is beyond int64 (at most {INT64_MAX:,})")
    return v


def check_dims(dims: dict, flag: str = "--dim") -> None:
    """Every dim value within int64 and positive: a dim of size 0 is an empty model (0 FLOPs that
    look like a count), an error naming the flag."""
    for k, v in dims.items():
        if v > INT64_MAX:
            raise InputError(f"{flag} {short(k)}={v} is beyond int64 (at most {INT64_MAX:,})")
        if v == 0:
            raise InputError(f"{flag} {short(k)}=0: a dim of size 0 makes an empty model; give a positive value")


def list_arg(flag: str, text: str) -> list:
    items = [t.strip() for t in str(text).split(",")]
    if not all(items):
        raise InputError(f"{flag} {text!r} has an empty item; give comma-separated ids, e.g. {flag} a,b")
    return list(dict.fromkeys(items))


def known(flag: str, value: str, what: str) -> None:
    """The id exists in the data (device, region, datacenter), else an error naming the flag."""
    from .. import data as profiles
    try:
        getattr(profiles, what)(value)
    except FlopestError as exc:
        raise InputError(f"{flag}: {exc}") from None


def parse_shape(text: str) -> tuple:
    parts = text.lower().replace("×", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:   # not a number, or more digits than Python converts
        raise InputError(f"--input {short(text)!r} is not a shape like 8x3x224x224") from None
    if any(d < 0 for d in shape):
        raise InputError(f"--input {short(text)!r} has a negative dim")
    if any(d > INT64_MAX for d in shape):
        raise InputError(f"--input {short(text)!r} has a dim beyond int64")
    return shape


def example_inputs(a):
    """(args, kwargs) of flopest.spec from --input / --input-dtype."""
    dts = a.input_dtype
    if dts and len(dts) not in (1, len(a.input)):
        raise InputError(f"--input-dtype given {len(dts)} times for {len(a.input)} --input: give one "
                         f"for all, or one per input")
    args, kwargs = [], {}
    for i, item in enumerate(a.input):
        name, eq, shape = item.rpartition("=")
        if eq and not name.strip():
            raise InputError(f"--input {short(item)!r} has an empty name; write NAME=SHAPE or SHAPE")
        dt = dts[0] if len(dts) == 1 else (dts[i] if dts else None)
        shape = parse_shape(shape)   # before torch is imported: a bad shape is named first
        if 0 in tuple(shape):
            raise InputError(f"--input {short(item)!r}: a dim of 0 makes an empty tensor, whose count is 0 FLOPs; "
                             f"give sizes >= 1")
        try:
            fe = models.torch_frontend()
        except InputError as exc:
            flags = f"--input {short(item)!r}" + (f" --input-dtype {short(dt)!r}" if dt else "")
            raise InputError(f"{flags}: {exc}") from None
        parse_dtype, spec = fe.parse_dtype, fe.spec
        if dt is not None:
            try:
                parse_dtype(dt)   # validate now: a bad dtype is a user error
            except InputError as exc:
                raise InputError(f"--input-dtype: {exc}") from None
        sp = spec(shape, dt)
        if name:
            kwargs[name] = sp
        else:
            if kwargs:
                raise InputError(f"--input {item!r}: positional inputs go before NAME=SHAPE ones")
            args.append(sp)
    return tuple(args), kwargs


def torch_model(a, batch: int | None = None, meta: bool = True, task: str | None = None,
                seq_len: int | None = None) -> models.TorchModel:
    """The PyTorch model of a zoo:NAME, hf:... or factory MODEL (on the meta device unless `meta`
    is False), with --input replacing its inputs."""
    args, kwargs = example_inputs(a) if getattr(a, "input", None) else ((), {})
    return models.torch_model(a.model, args, kwargs, batch=batch, meta=meta, task=task, seq_len=seq_len)


@contextlib.contextmanager
def progress(a, label: str, total: int | None = None):
    """A spinner (or a bar when `total` is known) on stderr while work runs; off when stderr is
    not a terminal or with --quiet. Yields a `step()` to call after each unit of work."""
    if getattr(a, "quiet", False) or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    cols = [SpinnerColumn(), TextColumn("{task.description}")]
    if total:
        cols += [BarColumn(), MofNCompleteColumn()]
    cols.append(TimeElapsedColumn())
    with Progress(*cols, console=Console(stderr=True), transient=True) as p:
        task = p.add_task(label, total=total)
        yield lambda: p.advance(task)


def check_plot_target(a) -> None:
    """A bad --plot name fails before any work is done."""
    if getattr(a, "plot", None) is not None:
        from ..plots import check_target
        check_target(a.plot)


def plot(a, draw) -> None:
    """--plot FILE: drawn before the report is written, so a bad file name loses nothing."""
    if getattr(a, "plot", None):
        draw(a.plot)


class Once(argparse.Action):
    """An option that may be given once: a second --output would silently win over the first."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, self.dest, None) is not None:
            parser.error(f"{option_string} given twice ({getattr(namespace, self.dest)!r} and {values!r}); give it once")
        setattr(namespace, self.dest, values)


def output_option(p) -> None:
    """--output FILE, as every command that writes a report takes it."""
    p.add_argument("--output", "-o", metavar="FILE", action=Once,
                   help="write the result to FILE (atomically; - = standard output); without --format, its "
                        "extension picks it (.json, .md, .csv, .html)")


_STDOUT: list = []


@contextlib.contextmanager
def report_on_stdout_only():
    """While a command runs, what the user's code prints (a print() in forward or in a factory)
    goes to stderr: standard output carries the report alone, so JSON stays parseable. The
    report itself is written to the real stdout (:func:`stdout`)."""
    _STDOUT.append(sys.stdout)
    try:
        with contextlib.redirect_stdout(sys.stderr if sys.stderr is not None else sys.stdout):
            yield
    finally:
        _STDOUT.pop()


def stdout():
    """The stream reports go to: the real standard output, also while user prints go to stderr."""
    return _STDOUT[-1] if _STDOUT else sys.stdout


def emit(a, text: str) -> None:
    """The report to --output (atomically, or to the stream it names) or to stdout."""
    if a.output is not None and a.output != "-":
        io.write(a.output, text)
    else:
        stdout().write(text)


def check_output(a) -> None:
    """A bad --output fails before any work is done: an empty name, a missing folder, a folder, a
    pipe, an input (the model, a --devices or --regions file, the measured logs), or the --plot
    file."""
    out = getattr(a, "output", None)
    if out is None:
        return
    inputs = []
    for name in ("model", "devices", "regions", "measured", "spec"):
        v = getattr(a, name, None)
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(x, str) and (name != "devices" or x.lower().endswith(".csv")):
                inputs.append(x)
    io.target(out, "--output", inputs=inputs, others=[("--plot", getattr(a, "plot", None))])
