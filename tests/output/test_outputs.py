"""What a run writes (issue 19, findings 3, 10 and 13): only regular files are replaced, streams are
written, the input model and the --plot file are never clobbered, SIGTERM leaves no temporary
file; names chosen by a model's author are escaped in every format."""

from __future__ import annotations

import csv
import io as stdio
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import onnx
import pytest
from onnx import TensorProto, helper

from flopest import io
from flopest.errors import OutputError
from flopest.report.spec import csv_cell, md, plain

from ..conftest import ROOT


def _leftovers(folder) -> list:
    return [n for n in os.listdir(folder) if n.startswith(".flopest-")]


# ----------------------------------------------------------------------------- targets
def test_dash_writes_standard_output_and_no_file(cli, mlp_path, tmp_path):
    r = cli(["count", mlp_path, "--dim", "batch=8", "--format", "json", "--output", "-"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["flops"] == 2 * 8 * 64 * 32 + 8 * 32 + 8 * 32   # matmul + add + relu
    assert not (tmp_path / "-").exists()


def test_a_character_device_is_written_not_replaced(cli, mlp_path):
    r = cli(["count", mlp_path, "--dim", "batch=8", "--output", "/dev/null"])
    assert r.returncode == 0, r.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_fifo_is_refused_and_left_alone(cli, mlp_path, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    r = cli(["count", mlp_path, "--dim", "batch=8", "--output", str(fifo)])
    assert r.returncode == 2 and "pipe" in r.stderr and "--output" in r.stderr, r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_symlink_is_followed_and_stays_a_link(cli, mlp_path, tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    r = cli(["count", mlp_path, "--dim", "batch=8", "--format", "json", "--output", str(link)])
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and json.loads(real.read_text())["params"] == 64 * 32 + 32
    assert _leftovers(tmp_path) == []


def test_the_input_model_is_never_the_output(cli, mlp_path):
    before = open(mlp_path, "rb").read()
    r = cli(["count", mlp_path, "--dim", "batch=8", "--output", mlp_path])
    assert r.returncode == 2 and "an input of this command" in r.stderr, r.stderr
    assert open(mlp_path, "rb").read() == before


def test_a_data_file_the_command_reads_is_never_the_output(cli, tmp_path):
    """--devices FILE.csv (a probed row) given as --output too: refused, the file kept."""
    from importlib import resources
    text = (resources.files("flopest.data") / "devices.csv").read_text(encoding="utf-8").splitlines()
    header = next(line for line in text if line and not line.startswith("#"))
    row = next(line for line in text if line.startswith("h100-pcie,")).replace("h100-pcie,", "my-gpu,", 1)
    dev = tmp_path / "dev.csv"
    dev.write_text(header + "\n" + row + "\n", encoding="utf-8")
    before = dev.read_bytes()
    r = cli(["estimate", "--params", "1B", "--tokens", "1B", "--devices", dev, "--device", "my-gpu", "--samples", "2000",
             "--output", dev])
    assert r.returncode == 2 and "an input of this command" in r.stderr, r.stderr
    assert dev.read_bytes() == before


def test_output_given_twice_is_an_error(cli, mlp_path, tmp_path):
    r = cli(["count", mlp_path, "--dim", "batch=8", "--output", str(tmp_path / "a"), "--output",
             str(tmp_path / "b")])
    assert r.returncode == 2 and "given twice" in r.stderr, r.stderr
    assert os.listdir(tmp_path) == ["mlp.onnx"]


def test_output_and_plot_on_one_file_is_an_error(cli, mlp_path, tmp_path):
    same = tmp_path / "same.png"
    r = cli(["count", mlp_path, "--dim", "batch=8", "--by", "op", "--output", str(same), "--plot", str(same)])
    assert r.returncode == 2 and "--plot" in r.stderr, r.stderr
    assert not same.exists()


def test_target_kinds():
    assert io.target("-") == (io.STREAM, "-")
    assert io.target("/dev/null")[0] == io.STREAM
    with pytest.raises(OutputError, match="folder"):
        io.target("/")
    with pytest.raises(OutputError, match="does not exist"):
        io.target("/no/such/folder/x.json")


def test_sigterm_while_writing_leaves_no_temporary_file(tmp_path):
    """A writer killed by SIGTERM halfway through: the old file stays and no .flopest-*.tmp is left."""
    dest = tmp_path / "out.txt"
    dest.write_text("previous\n")
    marker = tmp_path / "writing"
    script = textwrap.dedent(f"""
        import time
        from flopest.io import write_atomic
        def slow(f):
            f.write(b"half")
            f.flush()
            open({str(marker)!r}, "w").close()
            time.sleep(60)
        write_atomic({str(dest)!r}, slow)
    """)
    p = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert p.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        assert len(_leftovers(tmp_path)) == 1     # the temporary file exists while writing
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == -signal.SIGTERM          # it still dies of the signal
    assert _leftovers(tmp_path) == [] and dest.read_text() == "previous\n"


# ----------------------------------------------------------------------------- escaping
HOSTILE = "x|y\n**within budget**\x1b[2J\x07::error file=a::pwned"


def _hostile_model(path) -> str:
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name=HOSTILE)], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def test_escaping_helpers():
    assert md("a|b") == "a\\|b" and md("**bold**") == "\\*\\*bold\\*\\*"
    assert md("# title", line=True) == "\\# title" and md("-5 kg") == "-5 kg"   # a cell is not a line
    assert "\x1b" not in plain("\x1b[31mred\x1b[0m") and plain("a\nb") == "a b"
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("::error::x") == "'::error::x"
    assert csv_cell(-5) == -5 and csv_cell("-5") == "-5" and csv_cell("conv1") == "conv1"


def test_a_node_name_cannot_break_a_markdown_table(cli, tmp_path):
    model = _hostile_model(tmp_path / "h.onnx")
    r = cli(["count", model, "--by", "node", "--format", "markdown"])
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if "pwned" in line)
    # 6 columns (name, kind, count, flops, bytes, % flops): 7 unescaped pipes, the name's escaped
    assert len([i for i, ch in enumerate(row) if ch == "|" and row[i - 1] != "\\"]) == 7, row
    assert "**within budget**" not in r.stdout and "\x1b" not in r.stdout and "\x07" not in r.stdout


def test_a_node_name_cannot_start_a_workflow_command_in_csv(cli, tmp_path):
    model = _hostile_model(tmp_path / "h.onnx")
    r = cli(["count", model, "--by", "node", "--format", "csv"])
    assert r.returncode == 0, r.stderr
    assert not any(line.startswith("::") for line in r.stdout.splitlines())
    rows = list(csv.reader(stdio.StringIO(r.stdout)))
    name = next(row[0] for row in rows[1:] if "pwned" in row[0])
    assert name.startswith("x|y")   # kept as data, whole (the newline inside a quoted cell)
    r = cli(["count", model, "--by", "node"])
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout


def test_csv_formula_prefix_in_a_name(cli, tmp_path):
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="=cmd|'/c calc'!A1")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])])
    path = tmp_path / "f.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    r = cli(["count", str(path), "--by", "node", "--format", "csv"])
    rows = list(csv.reader(stdio.StringIO(r.stdout)))
    assert any(row[0] == "'=cmd|'/c calc'!A1" for row in rows), rows


def test_every_csv_carries_its_assumptions_and_notes(cli):
    """estimate and serve CSVs: one `assumption:` row per assumption (its full source) and one
    `note:` row per note, as many as the JSON holds."""
    import csv
    import io
    for argv in (["estimate", "--params", "1B", "--tokens", "1B"],
                 ["serve", "--params", "1B", "--requests-per-day", "1M", "--days", "30", "--prompt-tokens", "100",
                  "--output-tokens", "20"]):
        base = argv + ["--samples", "2000"]
        d = json.loads(cli(base + ["--format", "json"]).stdout)
        rows = list(csv.reader(io.StringIO(cli(base + ["--format", "csv"]).stdout)))
        notes = [r[0] for r in rows if r and r[0].startswith("note: ")]
        said = [r[0] for r in rows if r and r[0].startswith("assumption: ")]
        assert len(notes) == len(d["notes"]) > 0, argv
        assert len(said) == len(d["assumptions"]) > 0, argv
        assert all(a["source"].split()[0] in line for a, line in zip(d["assumptions"], said))
