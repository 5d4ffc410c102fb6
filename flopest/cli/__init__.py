"""The `flopest` command: argparse → keyword arguments → one library call → report → io.

One module per command (count, plan: estimate/check/compare, serve, listing); `common` holds
what they share. No arithmetic here: the work is in the library.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import ConfigError, FlopestError, InputError
from ..validate import flag_message
from ..version import __version__
from . import calibrate, count, listing, plan, probe, serve, sweep
from .common import Parser, once_only, report_on_stdout_only

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="flopest", description="What training and serving a model will cost, read off "
               "its graph before it runs.")
    p.add_argument("--version", action="version", version=f"flopest {__version__}")
    p.add_argument("--debug", action="store_true", dest="debug_all", help="show a traceback on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    count.add_parser(sub)
    plan.add_parsers(sub)
    listing.add_parsers(sub)
    serve.add_parser(sub)
    probe.add_parser(sub)
    calibrate.add_parser(sub)
    sweep.add_parser(sub)
    once_only(p)
    return p


def _with_config(parser, args, argv):
    """Re-parse `check` with the plan and budgets of the nearest config as defaults."""
    from .. import config
    path = args.config or config.find()
    if not path:
        return args
    sub = next(a for a in parser._subparsers._group_actions if isinstance(a, argparse._SubParsersAction))
    check = sub.choices["check"]
    try:
        defaults = config.defaults_for(check, path)
    except ConfigError as exc:   # a file named with --config: the message names the flag
        if args.config and str(exc).startswith("config "):
            raise ConfigError("--" + str(exc)) from None
        raise
    from ..budget import parse_budget
    for b in defaults.get("budget") or ():   # a bad budget names the file and its line, not a flag
        parse_budget(b, flag=f"{config.where(path, str(b).partition('=')[0].strip())}: budget")
    check.set_defaults(**defaults)
    given = args
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # a config value the parser rejects (already printed)
        raise InputError(f"config {path!r} gives a value the command line rejects (see above)") from exc
    # a repeatable option given on the command line replaces the config's list (argparse would append
    # to it: devices = 64 in the file and --devices 128 were two counts); budgets merge by name
    for dest, value in defaults.items():
        if isinstance(value, list) and dest != "budget" and getattr(given, dest, None):
            setattr(args, dest, list(getattr(given, dest)))
    args.config_path = path
    return args


def _safe_streams() -> None:
    """A report with characters the terminal's encoding lacks (cp1252, ascii, latin-1) is written
    with replacements rather than failing half-way."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError, OSError):   # not a TextIOWrapper, or closed
            pass


def _say(text: str) -> None:
    try:
        print(text, file=sys.stderr)
    except (AttributeError, ValueError, OSError):   # no stderr either: the exit code says it
        pass


def main(argv=None) -> int:
    try:
        code = _main(argv)
        if sys.stdout is not None:
            sys.stdout.flush()   # a full disk or closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        return 0
    except (OSError, ValueError, AttributeError) as exc:
        if sys.stdout is not None and not getattr(sys.stdout, "closed", False) and not isinstance(exc, OSError):
            raise
        _say(f"flopest: error: cannot write the report to standard output ({getattr(exc, 'strerror', None) or exc}); "
             f"use --output FILE")
        return 2


def _main(argv=None) -> int:
    import warnings
    # library deprecation notices (transformers' past_key_values) are not the user's to act on
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|torch)\.")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    serve_check = argv[:2] == ["check", "serve"]   # `flopest check serve ...` = serve with its budgets
    if serve_check:
        argv = argv[1:]
    try:
        args = parser.parse_args(argv)
        if serve_check:
            args.check = True
    except SystemExit as exc:  # usage errors (exit 2), --help and --version (exit 0)
        return int(exc.code or 0)
    debug = (getattr(args, "debug", False) or getattr(args, "debug_all", False)
             or os.environ.get("FLOPEST_DEBUG") == "1")
    _safe_streams()
    if not args.command:
        parser.print_help()
        return 2
    try:
        if args.command == "check" and not args.no_config:
            args = _with_config(parser, args, argv)
        _resolve_format(parser, args)
        with report_on_stdout_only():
            return args.run(args)
    except FlopestError as exc:
        if debug:
            raise
        _say(f"flopest: error: {flag_message(exc, _flags(parser))}")
        return 2
    except KeyboardInterrupt:
        _say("flopest: interrupted")
        return 130
    except (BrokenPipeError, OSError, ValueError, AttributeError):
        if _stdout_broken():
            raise   # main() turns it into one line
        if debug:
            raise
        return _internal(sys.exc_info()[1])
    except Exception as exc:   # a bug: never exit 1, which `check` uses for "over budget"
        if debug:
            raise
        return _internal(exc)


_FORMAT_OF = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html",
              ".csv": "csv"}


def _resolve_format(parser, args) -> None:
    """--format when not given: the one --output's extension names (report.json is JSON, never a
    text table in a .json file), else the table (a sweep's --output is its results table). An extension the command cannot write is an
    error asking for --format."""
    if getattr(args, "format", "") is not None:
        return
    if args.command == "probe":   # it reads its --format its own way (a file gets the device CSV)
        return
    if args.command == "sweep":   # a sweep's --output is its results table, not its report
        args.format = "table"
        return
    sub = next(a for a in parser._subparsers._group_actions if isinstance(a, argparse._SubParsersAction))
    choices = next((act.choices for act in sub.choices[args.command]._actions if act.dest == "format"), ())
    out = getattr(args, "output", None)
    fmt = _FORMAT_OF.get(os.path.splitext(str(out or ""))[1].lower()) if out not in (None, "-") else None
    if fmt and fmt not in choices:
        raise InputError(f"--output {out!r} names a {fmt} file, which `flopest {args.command}` does not write "
                         f"({', '.join(choices)}): give --format")
    args.format = fmt or "table"


def _stdout_broken() -> bool:
    out = sys.stdout
    return out is None or getattr(out, "closed", False) or isinstance(sys.exc_info()[1], BrokenPipeError) or (
        isinstance(sys.exc_info()[1], OSError) and getattr(sys.exc_info()[1], "errno", None) == 28)


def _internal(exc) -> int:
    text = str(exc)
    text = text if len(text) <= 200 else text[:200] + "…"
    _say(f"flopest: internal error: {type(exc).__name__}: {text} (run with --debug for the traceback, and "
         f"please report it)")
    return 2


# library keywords whose flag is not --KEYWORD with dashes (flopest.validate.flag_message)
_KEYWORD_FLAGS = {"n_devices": "--devices", "max_latency_s": "--max-latency", "trial_fraction": "--early-stopping",
                  "dims": "--dim", "tensor_parallel": "--tp", "pipeline_parallel": "--pp", "virtual_stages": "--vp",
                  "expert_parallel": "--ep", "restart_s": "--restart-time", "checkpoint_write_gbps":
                  "--checkpoint-bandwidth", "micro_batch": "--micro-batch", "graph": "--no-graph",
                  "step_time_s": "--step-time"}


def _flags(parser) -> dict:
    """{library keyword: CLI flag}: a library error names its keywords, the CLI prints its flags."""
    out = {}
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for sub in subs:
        for p in sub.choices.values():
            for act in p._actions:
                longs = [o for o in act.option_strings if o.startswith("--")]
                if longs:
                    out.setdefault(act.dest, longs[-1])
    return {**out, **_KEYWORD_FLAGS}
