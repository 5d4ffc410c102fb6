"""Regenerate the command outputs shown in README.md and docs/*.md, or check that they are current.

A shown output is a fenced block right after a marker line, `<!-- docout -->` (the command is
the block's own `$ ...` line) or `<!-- docout: COMMAND -->`:

    <!-- docout -->
    ```
    $ flopest check --params 7B --tokens 2T --budget co2eq=50t --format markdown
    **within budget: ...**
    [... the estimate report ...]
    ```

The command is run (`flopest ...` as `python -m flopest ...`, from the repository root) and the
block is rewritten: its leading `$ ...` lines (and their `\\` continuations) are
kept as they are, then the command's standard output, then the block's own `[...]` lines (what
the page leaves out, said), then `exit N` when the marker asks for it. Options before the colon:
`lines=A-B,C` keeps those lines of the output (1-based), `exit` shows the exit status.

    python tools/docout.py            # rewrite every block whose output changed
    python tools/docout.py --check    # exit 1 naming the stale blocks (tests/test_docs.py runs it)

The outputs are deterministic (the Monte-Carlo has a fixed default seed); the blocks change when
the model, its data or the report change, which is when a reader would otherwise trust a stale
figure.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK = re.compile(r"^<!-- docout(?P<opts>[^:>]*?)(?:: (?P<cmd>.+?))? -->\s*$")
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]


def run(cmd: str, opts: str) -> list:
    """The lines a marker's command shows."""
    argv = shlex.split(cmd)
    if argv and argv[0] == "flopest":
        argv = [sys.executable, "-m", "flopest", *argv[1:]]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "120",
           "NO_COLOR": "1"}
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    out = r.stdout.rstrip("\n").splitlines()
    m = re.search(r"lines=([\d,-]+)", opts)
    if m:   # lines=1-7 or lines=15-18,20,23
        keep = []
        for part in m.group(1).split(","):
            a, _, b = part.partition("-")
            keep += range(int(a), int(b or a) + 1)
        out = [out[k - 1] for k in keep if k <= len(out)]
    if r.returncode not in (0, 1) and "exit" not in opts:
        raise SystemExit(f"docout: {cmd!r} failed (exit {r.returncode}): {r.stderr.strip()[-500:]}")
    return [line.rstrip() for line in out], r.returncode


def blocks(text: str):
    """(marker line index, fence start, fence end, command, options) of every marked block."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = MARK.match(line)
        if not m:
            continue
        start = i + 1
        if start >= len(lines) or not lines[start].startswith("```"):
            raise SystemExit(f"docout: the marker on line {i + 1} is not followed by a fenced block")
        end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise SystemExit(f"docout: the block after line {i + 1} is not closed")
        yield i, start, end, m.group("cmd") or _shown(lines[start + 1:end], i), m.group("opts")


def _shown(body: list, where: int) -> str:
    """The command a block shows on its `$ ` line(s) (continuations joined; a trailing
    `; echo "exit $?"` dropped): a marker without a command of its own runs that one."""
    parts = []
    for line in body:
        if not parts and not line.startswith("$ "):
            break
        if parts and not parts[-1].endswith("\\"):
            break
        parts.append(line[2:] if not parts else line.strip())
    if not parts:
        raise SystemExit(f"docout: the marker on line {where + 1} names no command and its block shows none")
    cmd = " ".join(p.rstrip("\\").strip() for p in parts)
    return re.sub(r";\s*echo \"exit \$\?\"\s*$", "", cmd)


def rewrite(text: str) -> tuple:
    """(new text, [commands whose block changed])."""
    lines = text.split("\n")
    changed = []
    for i, start, end, cmd, opts in reversed(list(blocks(text))):
        body = lines[start + 1:end]
        head = []
        for line in body:   # the shown command and its continuations
            if line.startswith("$ ") or (head and head[-1].endswith("\\")):
                head.append(line)
            else:
                break
        kept = [line for line in body[len(head):] if re.match(r"^\[.*\]$", line.strip())]
        out, code = run(cmd, opts)
        new = head + out + kept + ([f"exit {code}"] if "exit" in opts else [])
        if new != body:
            changed.append(cmd)
            lines[start + 1:end] = new
    return "\n".join(lines), changed[::-1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a block is stale; write nothing")
    ap.add_argument("pages", nargs="*", help="pages to process (default: README.md and docs/*.md)")
    a = ap.parse_args(argv)
    stale = []
    for page in a.pages or PAGES:
        path = ROOT / page
        text = path.read_text(encoding="utf-8")
        if "<!-- docout" not in text:
            continue
        new, changed = rewrite(text)
        stale += [f"{page}: {c}" for c in changed]
        if changed and not a.check:
            path.write_text(new, encoding="utf-8")
    if stale:
        print(("stale (run python tools/docout.py):\n  " if a.check else "rewritten:\n  ") + "\n  ".join(stale))
    return 1 if stale and a.check else 0


if __name__ == "__main__":
    sys.exit(main())
