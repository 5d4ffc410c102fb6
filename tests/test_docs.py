"""The documentation cannot go stale silently: docs/methodology.md must list the priors of
flopest/data/ and the constants of the code, and docs/cli.md must equal what the parser
generates (`python tools/clidoc.py`)."""

import argparse
import difflib
import math
import re
from pathlib import Path

import pytest

from flopest import data as profiles
from tests.scripts import load

ROOT = Path(__file__).resolve().parent.parent
METHODOLOGY = ROOT / "docs" / "methodology.md"
CLI_DOC = ROOT / "docs" / "cli.md"
FIX_METHODOLOGY = "update the table in docs/methodology.md (section 9) to match flopest/data/"


# ----------------------------------------------------------------------------- methodology
def _tables(text: str) -> list:
    """Markdown tables as (header cells, rows of cells); `\\|` inside a cell is kept."""
    tables, cur = [], []
    for line in text.splitlines() + [""]:
        s = line.strip()
        if s.startswith("|"):
            cur.append([c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", s.strip("|"))])
            continue
        if len(cur) >= 2 and set("".join(cur[1])) <= set("-: "):
            tables.append((cur[0], cur[2:]))
        cur = []
    return tables


def _table(first_header: str) -> tuple:
    """(header, {first cell without backticks: row}) of the table whose first column is
    `first_header`."""
    found = [t for t in _tables(METHODOLOGY.read_text(encoding="utf-8")) if t[0][0] == first_header]
    assert len(found) == 1, (f"docs/methodology.md should have one table whose first column is "
                             f"{first_header!r}, found {len(found)}")
    header, rows = found[0]
    return header, {r[0].strip("`"): r for r in rows}


def _number(cell: str):
    """A cell's number (thousands separators allowed), None for — or empty."""
    c = cell.strip().strip("`")
    if c in ("—", "-", "–", ""):
        return None
    return float(c.replace(",", ""))


def _check_rows(first_header: str, records, key: str, columns: dict) -> None:
    """Every record has a row keyed by `key` whose `columns` (doc header -> record attribute)
    hold the record's values, and the table lists no other id."""
    header, rows = _table(first_header)
    ids = [getattr(r, key) for r in records]
    missing = [i for i in ids if i not in rows]
    extra = [i for i in rows if i not in ids]
    assert not missing and not extra, (f"table {first_header!r}: rows missing {missing}, rows not in "
                                       f"the data {extra}; {FIX_METHODOLOGY}")
    for r in records:
        row = rows[getattr(r, key)]
        for col, attr in columns.items():
            want = getattr(r, attr)
            cell = row[header.index(col)]
            got = _number(cell)
            same = (want is None and got is None) or (
                want is not None and got is not None and math.isclose(got, want, rel_tol=1e-9))
            assert same, (f"docs/methodology.md, table {first_header!r}, row {getattr(r, key)!r}, "
                          f"column {col!r}: the page says {cell!r}, {r.origin or 'the data'} says "
                          f"{want!r}; {FIX_METHODOLOGY}")


def test_methodology_lists_every_prior():
    profiles.reload()
    p3 = {"p5": "p5", "p50": "p50", "p95": "p95"}
    _check_rows("MFU class", profiles.mfu_priors(), "mfu_class", p3)
    _check_rows("power kind", profiles.power_priors(), "kind", p3)
    _check_rows("data centre", profiles.datacenters(), "id",
                {"p5": "pue_p5", "p50": "pue_p50", "p95": "pue_p95", "WUE (L/kWh)": "wue_l_per_kwh"})


def test_methodology_lists_hosts_evidence_and_water():
    profiles.reload()
    header, rows = _table("host")
    ids = [h.id for h in profiles.hosts()]
    assert sorted(rows) == sorted(ids), f"hosts: the page lists {sorted(rows)}, hosts.csv {ids}; {FIX_METHODOLOGY}"
    for h in profiles.hosts():
        row = rows[h.id]
        lifetime = row[header.index("lifetime, min–default (years)")]
        assert lifetime == f"{h.lifetime_min_years:g}–{h.lifetime_years:g}", \
            f"hosts row {h.id!r}: lifetime {lifetime!r}; {FIX_METHODOLOGY}"
        assert _number(row[header.index("embodied (kg CO₂eq)")]) == h.embodied_kgco2e, \
            f"hosts row {h.id!r}: embodied; {FIX_METHODOLOGY}"
        assert _number(row[header.index("per server")]) == h.accelerators_per_server, \
            f"hosts row {h.id!r}: accelerators per server; {FIX_METHODOLOGY}"
    header, rows = _table("run")
    mfus = sorted(float(r[header.index("MFU")]) for r in rows.values())
    assert mfus == sorted(e.mfu for e in profiles.mfu_evidence()), \
        f"the MFU evidence table differs from mfu_evidence.csv; {FIX_METHODOLOGY}"
    _check_rows("region", profiles.water_factors(), "region", {"L/kWh": "water_l_per_kwh"})


def test_methodology_states_code_defaults():
    from flopest import impact, kinds
    from flopest.kernel import _jit, _mc
    header, rows = _table("constant")
    value = {k: r[header.index("value")] for k, r in rows.items()}
    expected = {
        "Monte-Carlo samples": f"{impact.DEFAULT_SAMPLES:,}",
        "Monte-Carlo seed": str(impact.DEFAULT_SEED),
        "standard normal 95th percentile": repr(_mc.Z95),
        "utilisation over the lifetime": f"{impact.LIFETIME_UTILISATION.p50:g}",
        "embodied p95 / p50": f"{impact.EMBODIED_SPREAD:g}",
        "roofline factor without a graph": f"{impact.Scenario.__dataclass_fields__['roofline'].default_factory().p50:g}",
        "softmax FLOPs per element": str(kinds.SOFTMAX_FLOPS_PER_ELEM),
        "attention FLOPs per score besides the matmuls": str(kinds.ATTN_EXTRA_FLOPS_PER_SCORE),
        "normalisation FLOPs per group": str(kinds.NORM_FLOPS_PER_GROUP),
        "bytes per index element": str(_jit.INDEX_BYTES),
    }
    for name, want in expected.items():
        assert value.get(name) == want, (f"docs/methodology.md section 9.7, {name!r}: the page says "
                                         f"{value.get(name)!r}, the code {want!r}")
    header, rows = _table("kind")
    assert sorted(rows) == sorted(n.upper() for n in kinds.NAMES), \
        "docs/methodology.md section 3 must have one row per cost kind of flopest/kinds.py"


@pytest.mark.torch
def test_methodology_lists_the_optimizers():
    from flopest.frontends.torch import OPTIMIZERS
    header, rows = _table("optimizer")
    assert sorted(rows) == sorted(OPTIMIZERS), "docs/methodology.md: the optimizer table is stale"
    for name, (flops, reads, writes, _) in OPTIMIZERS.items():
        row = rows[name]
        got = [int(row[header.index(c)]) for c in ("FLOPs", "elements read", "elements written")]
        assert got == [flops, reads, writes], f"docs/methodology.md: optimizer {name!r} is stale"


# ----------------------------------------------------------------------------- CLI reference
def test_cli_reference_is_current():
    clidoc = load("tools/clidoc.py")
    fix = "run `python tools/clidoc.py` to regenerate docs/cli.md, and commit it"
    assert CLI_DOC.is_file(), f"docs/cli.md is missing: {fix}"
    want = clidoc.render()
    have = CLI_DOC.read_text(encoding="utf-8")
    if want != have:
        diff = "".join(list(difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                                 "docs/cli.md", "generated"))[:40])
        pytest.fail(f"docs/cli.md is stale: {fix}\n{diff}", pytrace=False)


@pytest.mark.torch
def test_command_outputs_shown_in_the_docs_are_current():
    """Every output block marked `<!-- docout -->` in README.md and docs/*.md is what its command
    prints today (tools/docout.py runs them: about 30 s): a figure a reader copies is never a
    stale one."""
    import subprocess
    import sys
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "docout.py"), "--check"], cwd=ROOT, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr


def test_cli_reference_ignores_the_terminal(monkeypatch):
    clidoc = load("tools/clidoc.py")
    monkeypatch.setenv("COLUMNS", "200")
    wide = clidoc.render()
    monkeypatch.setenv("COLUMNS", "30")
    assert clidoc.render() == wide


def test_cli_reference_has_every_subcommand_and_option():
    clidoc = load("tools/clidoc.py")
    from flopest.cli import build_parser
    text = clidoc.render()
    for path, parser in clidoc._commands(build_parser(), "flopest"):
        assert f"\n## {path}\n" in text, f"no section for {path!r}"
        for a in parser._actions:
            if a.help is argparse.SUPPRESS or isinstance(a, argparse._SubParsersAction):
                continue
            for opt in a.option_strings:
                assert f"`{opt}`" in text, f"{path} {opt} is not in docs/cli.md"


def test_cli_reference_generic_parser():
    """Nested subcommands, aliases, choices, defaults, mutually exclusive flags."""
    clidoc = load("tools/clidoc.py")
    p = argparse.ArgumentParser(prog="tool", description="A tool.")
    sub = p.add_subparsers(dest="cmd", metavar="CMD")
    a = sub.add_parser("alpha", aliases=["a"], help="the first | command")
    a.add_argument("files", nargs="+", metavar="FILE")
    g = a.add_mutually_exclusive_group()
    g.add_argument("--fast", action="store_true", help="go fast")
    g.add_argument("--slow", action="store_true", help="go slow")
    a.add_argument("--level", type=int, choices=(1, 2, 3), default=2, help="level (default %(default)s)")
    nested = a.add_subparsers(dest="sub", metavar="SUB").add_parser("deep", help="nested")
    nested.add_argument("--x", metavar="X", required=True)
    text = clidoc.render(p)
    assert "## tool alpha\n" in text and "## tool alpha deep\n" in text
    assert "(alias `a`)" in text and "the first \\| command" in text
    assert "[--fast | --slow]" in text and "not with `--slow`" in text
    assert "one of `1`, `2`, `3`" in text and "level (default 2)" in text
    assert "usage: tool alpha deep [-h] --x X" in text
    assert text.count("## tool alpha\n") == 1       # the alias is not a second section


def test_clidoc_check_and_write(tmp_path, capsys):
    clidoc = load("tools/clidoc.py")
    out = tmp_path / "cli.md"
    assert clidoc.main(["--check", "--output", str(out)]) == 1          # missing
    assert "python tools/clidoc.py" in capsys.readouterr().err
    assert clidoc.main(["--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == clidoc.render()
    assert clidoc.main(["--check", "--output", str(out)]) == 0
    out.write_text("old\n", encoding="utf-8")
    assert clidoc.main(["--check", "--output", str(out)]) == 1          # stale
    assert [p.name for p in tmp_path.iterdir()] == ["cli.md"]            # no temp file left


# ----------------------------------------------------------------------------- the site
def test_mkdocs_build_strict(tmp_path):
    """`mkdocs build --strict` (as CI runs it) passes with no warning, and the API reference
    is rendered from the docstrings."""
    import os
    import subprocess
    import sys
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    # no -q: with it, mkdocs drops the warnings before --strict counts them
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                        "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    warnings = [line for line in out.splitlines() if "WARNING" in line or "ERROR" in line]
    assert r.returncode == 0 and not warnings, f"mkdocs build --strict failed:\n{out[-4000:]}"
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("flopest.count", "flopest.estimate", "flopest.serve", "flopest.check",
                 "flopest.guard", "flopest.spec", "flopest.counts.Counts",
                 "flopest.budget.BudgetExceeded"):
        assert f'id="{name}"' in api, f"the API reference has no entry for {name}"
    assert "dataset_size" in api     # guard's signature is rendered, not only its name


# ----------------------------------------------------------------------------- README
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """The anchor of a Markdown heading, as GitHub and Python-Markdown's toc both make it for
    ASCII headings: lower case, punctuation dropped, spaces to hyphens."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return s.replace(" ", "-")


def _anchors(path: Path) -> set:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.M)}


def test_slug_and_anchor_rules():
    assert _slug("9. Priors and defaults, with their sources") == "9-priors-and-defaults-with-their-sources"
    assert _slug("`flopest check`: a budget gate for CI") == "flopest-check-a-budget-gate-for-ci"


def test_readme_is_short():
    text = README.read_text(encoding="utf-8")
    n_lines, n_bytes = text.count("\n"), len(text.encode("utf-8"))
    assert n_lines <= 300, f"README.md has {n_lines} lines (at most 300): move detail to docs/"
    assert n_bytes <= 16_000, f"README.md is {n_bytes:,} bytes (about 15 kB at most): move detail to docs/"
    assert "**Contents:**" in text, "README.md starts with a short table of contents"


def test_every_readme_link_resolves():
    """Relative links point at files that exist; #anchors at headings of the target page."""
    text = README.read_text(encoding="utf-8")
    links = LINK.findall(text)
    assert links, "README.md links to the documentation"
    bad = []
    for link in links:
        if link.startswith(("http://", "https://")):
            continue
        path, _, anchor = link.partition("#")
        target = README if path == "" else (ROOT / path)
        if not target.is_file():
            bad.append(f"{link}: no file {path}")
        elif anchor and anchor not in _anchors(target):
            bad.append(f"{link}: no heading #{anchor} in {path or 'README.md'}")
    assert not bad, "README.md has broken links:\n" + "\n".join(bad)
    for page in sorted({link.partition("#")[0] for link in links if link.startswith("docs/")}):
        assert page.removeprefix("docs/") in (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), \
            f"README.md links to {page}, which is not in mkdocs.yml's nav"


def test_readme_has_exactly_the_two_setup_commands():
    """One command installs and runs the main job (an estimate on a zoo model with the embedded
    defaults), one installs and runs the tests, with the test command of .ci/run."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    setup = [b.strip() for b in blocks if b.lstrip().startswith("pip install")]
    assert len(setup) == 2, f"README.md should have exactly two set-up commands, has {len(setup)}: {setup}"
    main_job, tests = setup
    assert "\n" not in main_job and "\n" not in tests, "each set-up command is one line to paste"
    assert re.search(r"&& flopest estimate zoo:\w+ ", main_job), main_job
    assert "--device" not in main_job and "--region" not in main_job, "the embedded defaults"
    assert tests.endswith("&& python -m pytest -q"), tests
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^python -m pytest -q$", ci, flags=re.M), ".ci/run must run the README's test command"
    extras = re.search(r'pip install -e "\.\[([\w,]+)\]"', tests).group(1)
    assert f'-e ".[{extras}]"' in ci, ".ci/run must install the extras of the README's test command"


# ----------------------------------------------------------------------------- architecture
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _architecture_modules() -> set:
    return set(re.findall(r"^\| `(flopest/[\w/]+\.py)` \|", ARCHITECTURE.read_text(encoding="utf-8"),
                          flags=re.M))


def test_architecture_table_is_read():
    """The parser of the module table finds the rows (so the test below can fail)."""
    rows = _architecture_modules()
    assert "flopest/counts.py" in rows and "flopest/ops/__init__.py" in rows and len(rows) > 30


def test_architecture_has_a_row_for_every_module():
    tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "flopest").rglob("*.py")}
    rows = _architecture_modules()
    missing, extra = sorted(tree - rows), sorted(rows - tree)
    assert not missing and not extra, (f"docs/architecture.md: no row for {missing}; rows for modules "
                                       f"that do not exist {extra}")


@pytest.mark.torch
def test_readme_main_job_runs_with_the_embedded_defaults(capsys):
    """The first set-up command's job, as pasted (plus --format json), exits 0 with the FLOPs
    of the plan: the zoo's analytic training step per example × 1M × 3, plus Adam's 14 FLOPs per
    parameter at each of the ceil(1M / 32) × 3 optimizer steps."""
    import json
    import shlex

    from flopest.cli import main
    text = README.read_text(encoding="utf-8")
    setup = [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)
             if b.lstrip().startswith("pip install")]
    argv = shlex.split(setup[0].rsplit("&& ", 1)[1])
    assert argv[:3] == ["flopest", "estimate", "zoo:bert_base"], argv
    assert argv[3:] == ["--dataset-size", "1M", "--epochs", "3", "--batch-size", "32"], "update the arithmetic below"
    assert main(argv[1:] + ["--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    expected = json.loads((ROOT / "model_zoo" / "bert_base" / "expected.json").read_text("utf-8"))
    f = doc["workload"]["factors"]
    # forward + backward per example: the analytic 67,248,945,152 of model_zoo/bert_base (counted at
    # batch 32: the mask's and the loss's per-batch operators add a few thousand FLOPs per example)
    assert f["forward_backward_flops_per_example"] == pytest.approx(expected["training_flops"], rel=1e-7)
    # Adam: 14 × 109,482,240 = 1,532,751,360 per step; steps ceil(1,000,000 / 32) × 3 = 93,750
    assert f["optimizer_flops_per_step"] == 14 * expected["params"] == 1_532_751_360
    assert f["steps_per_trial"] == 93_750
    assert doc["flops"] == f["forward_backward_flops_per_example"] * 3_000_000 + 1_532_751_360 * 93_750
    # ≈ 67,248,945,152 × 3e6 + 1,532,751,360 × 93,750 = 2.0189e17
    assert doc["flops"] == pytest.approx(201_890_530_896_000_000, rel=1e-7)
    used = {a["name"]: a["value"] for a in doc["assumptions"]}
    assert used["device"] == "h100-sxm" and used["devices"] == 1     # the embedded defaults
    assert doc["step"]["examples_per_pass"] == 32                    # timed at the training batch


def test_docs_name_only_files_that_exist():
    """Every `path.py` the pages and README name (from the root, or inside flopest/) exists:
    a module that moved must take its mentions along. docs/architecture.md has its own test,
    docs/cli.md is generated."""
    pages = [p for p in sorted((ROOT / "docs").glob("*.md")) if p.name not in ("architecture.md", "cli.md")]
    bad = []
    for page in pages + [README]:
        for tok in sorted(set(re.findall(r"`([\w./-]+\.py)`", page.read_text(encoding="utf-8")))):
            if not ((ROOT / tok).is_file() or (ROOT / "flopest" / tok).is_file()):
                bad.append(f"{page.relative_to(ROOT)}: `{tok}`")
    assert not bad, "pages name files that do not exist (update the path):\n" + "\n".join(bad)
