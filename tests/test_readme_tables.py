"""The generated benchmark tables of the docs are in step with the scripts that write them.

benchmarks/compare_counters.py and benchmarks/bench_published_runs.py write a Markdown table into
docs/benchmarks.md between their markers (``--readme``). Nothing is run here: the block must exist,
hold the script's current header line(s) exactly and the command that regenerates it. A script whose
table format changed without a re-run fails here until ``--readme`` is run again.
"""

from __future__ import annotations

import pytest

from tests.scripts import ROOT, load

PAGE = ROOT / "docs" / "benchmarks.md"     # where the generated tables live


def _script(name):
    """benchmarks/<name>.py as a module (benchmarks/ is not a package)."""
    return load(f"benchmarks/{name}.py")


def _headers(mod):
    return getattr(mod, "HEADERS", None) or (mod.HEADER,)


def _block(markers) -> str:
    text = PAGE.read_text(encoding="utf-8")
    begin, end = markers
    n_begin, n_end = text.count(begin), text.count(end)
    assert n_begin == 1, f"docs/benchmarks.md needs one {begin!r} line, has {n_begin}"
    assert n_end == 1, f"docs/benchmarks.md needs one {end!r} line, has {n_end}"
    assert text.index(begin) < text.index(end), f"{begin!r} must come before {end!r}"
    return text.split(begin, 1)[1].split(end, 1)[0]


SCRIPTS = ["compare_counters", "bench_published_runs"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_docs_block_has_the_current_header_and_command(name):
    mod = _script(name)
    block = _block(mod.MARKERS)
    lines = block.splitlines()
    for header in _headers(mod):
        assert header in lines, (f"docs/benchmarks.md's {name} table is not the script's current format; "
                                 f"regenerate it: {mod.COMMAND}")
        below = lines[lines.index(header) + 1]   # the alignment row, one cell per column
        assert below.startswith("|---") and below.count("|") == header.count("|"), below
    assert f"`{mod.COMMAND}`" in block, f"the block must say how to regenerate it: {mod.COMMAND}"
    assert mod.COMMAND.endswith("--readme") and f"benchmarks/{name}.py" in mod.COMMAND


def test_the_scripts_write_where_this_test_reads():
    """--readme writes docs/benchmarks.md (both scripts use compare_counters.DOCS_PAGE)."""
    from pathlib import Path
    assert Path(_script("compare_counters").DOCS_PAGE) == PAGE
    src = (ROOT / "benchmarks" / "bench_published_runs.py").read_text(encoding="utf-8")
    assert "path=DOCS_PAGE" in src


def test_compare_counters_render_uses_its_headers():
    """render() writes HEADERS as they are (a made-up result, nothing run)."""
    cc = _script("compare_counters")
    results = {("resnet50", "flopest", "fwd"): {"count": 8178368512, "time_s": 0.2, "rss_peak_mib": 500.0,
                                                "times": [0.2]},
               ("resnet50", "thop", "fwd"): {"error": "RuntimeError: boom"}}
    text = cc.render(["resnet50"], ["flopest", "thop"], results, 1, None)
    lines = text.splitlines()
    for header in cc.HEADERS:
        assert header in lines
    assert f"`{cc.COMMAND}`" in text
    # a crash without a known cause is shown as unexplained, not hidden
    assert "**unexplained**" in text and "RuntimeError: boom" in text


def test_compare_counters_flags_a_known_cause_that_no_longer_fits():
    cc = _script("compare_counters")
    seen, text = cc.WHY[("thop", "gpt2")]
    analytic = 32228179968
    assert cc.explain("thop", "gpt2", {"count": round(seen * analytic)}, analytic) == (text, True)
    note, ok = cc.explain("thop", "gpt2", {"count": analytic // 2}, analytic)   # 0.500: not the known cause
    assert not ok and note.startswith("**unexplained**") and "0.500" in note


def test_write_readme_block_replaces_only_the_block(tmp_path):
    cc = _script("compare_counters")
    markers = ("<!-- t:begin -->", "<!-- t:end -->")
    p = tmp_path / "benchmarks.md"
    p.write_text("# title\n\nbefore\n<!-- t:begin -->\nold table\n<!-- t:end -->\nafter\n", encoding="utf-8")
    cc.write_readme_block(markers, "| new |\n", path=str(p))
    assert p.read_text(encoding="utf-8") == \
        "# title\n\nbefore\n<!-- t:begin -->\n| new |\n<!-- t:end -->\nafter\n"
    assert [f.name for f in tmp_path.iterdir()] == ["benchmarks.md"]   # no temp file left behind


def test_write_readme_block_refuses_missing_markers(tmp_path):
    cc = _script("compare_counters")
    p = tmp_path / "benchmarks.md"
    p.write_text("no markers here\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="t:begin"):
        cc.write_readme_block(("<!-- t:begin -->", "<!-- t:end -->"), "| new |\n", path=str(p))
    assert p.read_text(encoding="utf-8") == "no markers here\n"
