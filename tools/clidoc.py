"""The command-line reference (docs/cli.md), generated from `flopest.cli.build_parser()`.

A developer tool, outside the installed package (run it from a checkout with flopest installed):

    python tools/clidoc.py            # rewrite docs/cli.md (atomically)
    python tools/clidoc.py --check    # exit 1 when docs/cli.md is stale

The text is built from the parser's actions, never from argparse's help formatter, so it does
not depend on the terminal width (COLUMNS) or on the Python version's argparse layout. Commands
are found by walking the subparsers: a new subcommand appears here without a change to this file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
WIDTH = 88          # usage lines are wrapped at this width
REGENERATE = "python tools/clidoc.py"

_REPEATABLE = (argparse._AppendAction, argparse._AppendConstAction, argparse._CountAction,
               argparse._ExtendAction)


# ----------------------------------------------------------------------------- walking
def _subparsers(parser: argparse.ArgumentParser):
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def _commands(parser: argparse.ArgumentParser, path: str):
    """(command path, parser, one-line help) of `parser` and every subcommand, depth first,
    in the order they were added; an alias is listed once, under its first name."""
    yield path, parser
    for sp in _subparsers(parser):
        seen: set = set()
        for name, sub in sp.choices.items():
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            yield from _commands(sub, f"{path} {name}")


def _command_rows(sp: argparse._SubParsersAction) -> list:
    """(name, aliases, help) of each subcommand of a subparsers action."""
    helps = {}
    for ca in sp._choices_actions:
        helps[ca.dest] = ca.help if ca.help is not argparse.SUPPRESS else None
    rows, by_parser = [], {}
    for name, sub in sp.choices.items():
        if id(sub) in by_parser:
            by_parser[id(sub)][1].append(name)
            continue
        row = [name, [], helps.get(name)]
        by_parser[id(sub)] = row
        rows.append(row)
    return [tuple(r) for r in rows if r[2] is not argparse.SUPPRESS]


# ----------------------------------------------------------------------------- text pieces
def _metavar(action: argparse.Action) -> str:
    if action.metavar is not None:
        mv = action.metavar
        return " ".join(mv) if isinstance(mv, tuple) else str(mv)
    if action.choices is not None:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper() if action.option_strings else action.dest


def _args(action: argparse.Action) -> str:
    """The value part of an argument as argparse writes it (`M`, `[M]`, `[M ...]`, ...)."""
    n = action.nargs
    if n == 0 or (n is None and isinstance(action, (argparse._StoreConstAction,
                                                    argparse._AppendConstAction))):
        return ""
    mv = _metavar(action)
    if n is None:
        return mv
    if n == argparse.OPTIONAL:
        return f"[{mv}]"
    if n == argparse.ZERO_OR_MORE:
        return f"[{mv} ...]"
    if n == argparse.ONE_OR_MORE:
        return f"{mv} [{mv} ...]"
    if n == argparse.REMAINDER:
        return "..."
    if n == argparse.PARSER:
        return f"{mv} ..."
    if isinstance(n, int):
        return " ".join([mv] * n)
    return mv


def _visible(action: argparse.Action) -> bool:
    return action.help is not argparse.SUPPRESS


def _usage_part(action: argparse.Action, bracket: bool = True) -> str:
    if action.option_strings:
        text = action.option_strings[0]
        a = _args(action)
        if a:
            text += " " + a
        return f"[{text}]" if bracket and not action.required else text
    return _args(action)


def _usage(path: str, parser: argparse.ArgumentParser) -> str:
    """`usage: flopest count [-h] ... MODEL`, optionals first then positionals, wrapped."""
    groups = {id(a): g for g in parser._mutually_exclusive_groups for a in g._group_actions}
    parts, done = [], set()
    actions = [a for a in parser._actions if _visible(a)]
    for a in [a for a in actions if a.option_strings] + [a for a in actions if not a.option_strings]:
        if id(a) in done:
            continue
        g = groups.get(id(a))
        if g is not None and a.option_strings:
            members = [m for m in g._group_actions if _visible(m)]
            done.update(id(m) for m in members)
            inner = " | ".join(_usage_part(m, bracket=False) for m in members)
            parts.append(f"({inner})" if g.required else f"[{inner}]")
            continue
        done.add(id(a))
        part = _usage_part(a)
        if part:
            parts.append(part)
    head = f"usage: {path}"
    indent = " " * (len(head) + 1)
    lines, line = [], head
    for p in parts:
        if len(line) + 1 + len(p) > WIDTH and line.strip() and line != head:
            lines.append(line)
            line = indent + p
        else:
            line += " " + p
    lines.append(line)
    return "\n".join(lines)


def _help(action: argparse.Action, prog: str) -> str:
    """The help text with argparse's %(default)s-style fields expanded."""
    text = action.help or ""
    if "%" in text:
        params = {k: v for k, v in vars(action).items() if v is not argparse.SUPPRESS}
        params["prog"] = prog
        if params.get("choices") is not None:
            params["choices"] = ", ".join(str(c) for c in params["choices"])
        try:
            text = text % params
        except (KeyError, TypeError, ValueError):
            pass
    return " ".join(text.split())


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _default(action: argparse.Action) -> str:
    d = action.default
    if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
        return ""
    if d is None or d is argparse.SUPPRESS or d is False or d == [] or d == ():
        return ""
    if isinstance(d, (list, tuple)):
        return ", ".join(_code(str(x)) for x in d)
    return _code(str(d))


def _argument_cell(action: argparse.Action, groups: dict) -> str:
    bits = []
    a = _args(action)
    if a and action.option_strings and (action.choices is None or action.metavar is not None):
        bits.append(_code(a))
    if action.choices is not None:
        bits.append("one of " + ", ".join(_code(str(c)) for c in action.choices))
    if isinstance(action, _REPEATABLE):
        bits.append("repeatable")
    if action.option_strings and action.required:
        bits.append("required")
    if not action.option_strings and action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
        bits.append("optional")
    g = groups.get(id(action))
    if g is not None:
        others = [m.option_strings[0] for m in g._group_actions
                  if m is not action and m.option_strings and _visible(m)]
        if others:
            bits.append("not with " + ", ".join(_code(o) for o in others))
    return "; ".join(bits)


def _text_block(text: str, parser: argparse.ArgumentParser) -> list:
    """A description or epilog: preformatted (a fenced block) when the parser keeps its layout
    and it has several lines, else one paragraph."""
    if not text:
        return []
    raw = issubclass(parser.formatter_class, (argparse.RawDescriptionHelpFormatter,))
    if raw and "\n" in text.strip():
        body = "\n".join(line.rstrip() for line in text.strip("\n").splitlines())
        return ["```text", body, "```", ""]
    return [" ".join(text.split()), ""]


# ----------------------------------------------------------------------------- the page
def _anchor(path: str) -> str:
    return "#" + path.lower().replace(" ", "-")


def _section(path: str, parser: argparse.ArgumentParser, level: int) -> list:
    out = ["#" * level + " " + path, "", "```text", _usage(path, parser), "```", ""]
    out += _text_block(parser.description or "", parser)
    groups = {id(a): g for g in parser._mutually_exclusive_groups for a in g._group_actions}
    for group in parser._action_groups:
        actions = [a for a in group._group_actions if _visible(a)]
        subs = [a for a in actions if isinstance(a, argparse._SubParsersAction)]
        plain = [a for a in actions if not isinstance(a, argparse._SubParsersAction)]
        for sp in subs:
            out += ["**Commands**", "", "| command | description |", "|---|---|"]
            for name, aliases, hl in _command_rows(sp):
                label = f"[`{name}`]({_anchor(path + ' ' + name)})"
                if aliases:
                    label += " (alias " + ", ".join(_code(x) for x in aliases) + ")"
                out.append(f"| {label} | {_cell(hl or '')} |")
            out.append("")
        if not plain:
            continue
        if group is parser._positionals:
            title = "Arguments"
        elif group is parser._optionals:
            title = "Options"
        else:
            title = group.title or "Options"
        out += [f"**{_cell(title)}**", ""]
        if group.description:
            out += [" ".join(group.description.split()), ""]
        if all(not a.option_strings for a in plain):
            out += ["| argument | value | description |", "|---|---|---|"]
            for a in plain:
                out.append(f"| {_code(_metavar(a))} | {_cell(_argument_cell(a, groups))} | "
                           f"{_cell(_help(a, parser.prog))} |")
        else:
            out += ["| option | value | default | description |", "|---|---|---|---|"]
            for a in plain:
                name = ", ".join(_code(o) for o in a.option_strings) if a.option_strings \
                    else _code(_metavar(a))
                out.append(f"| {_cell(name)} | {_cell(_argument_cell(a, groups))} | "
                           f"{_cell(_default(a))} | {_cell(_help(a, parser.prog))} |")
        out.append("")
    out += _text_block(parser.epilog or "", parser)
    return out


def render(parser: argparse.ArgumentParser | None = None) -> str:
    """docs/cli.md as text: every command of `parser` (default: flopest.cli.build_parser())."""
    if parser is None:
        from flopest.cli import build_parser
        parser = build_parser()
    root = parser.prog
    cmds = list(_commands(parser, root))
    out = [f"# `{root}` command-line reference", "",
           f"<!-- generated from flopest.cli.build_parser() by `{REGENERATE}`: do not edit by hand -->",
           "",
           (f"This page is generated from the command's own parser. After changing the CLI (`flopest/cli`), "
            f"run `{REGENERATE}`; `tests/test_docs.py` fails while this page is stale."),
           ""]
    if len(cmds) > 1:
        out += ["Commands: " + ", ".join(f"[`{p}`]({_anchor(p)})" for p, _ in cmds[1:]) + ".", ""]
    for path, p in cmds:
        out += _section(path, p, 2)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- command
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog=REGENERATE,
                                 description="Write the command-line reference (docs/cli.md) from "
                                 "flopest's parser, or check that it is current.")
    ap.add_argument("--check", action="store_true", help="exit 1 if the file is stale; write nothing")
    ap.add_argument("--output", "-o", metavar="FILE", default=str(DOC_PATH),
                    help="the file to write or check (default: docs/cli.md of this checkout)")
    a = ap.parse_args(argv)
    text = render()
    path = Path(a.output)
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if a.check:
        if current != text:
            what = "missing" if current is None else "stale"
            print(f"{path} is {what}: run `{REGENERATE}`", file=sys.stderr)
            return 1
        print(f"{path} is current")
        return 0
    if current == text:
        print(f"{path} is already current")
        return 0
    from flopest.errors import FlopestError
    from flopest.io import write_atomic
    try:
        write_atomic(os.fspath(path), text)
    except FlopestError as exc:
        print(f"{REGENERATE}: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
