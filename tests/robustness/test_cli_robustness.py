"""The `flopest` command under bad input: every flag with an invalid value exits 2 with one
line naming the flag; random flag values never produce a traceback; `--output` never leaves a
partial or temporary file, also when rendering or writing fails or Ctrl-C arrives."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import stat

import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flopest.cli import main
from flopest.errors import FlopestError
from tests.conftest import mlp_model
from tests.robustness._gen import time_limit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FACTORY = "tests.robustness.factories:mlp"


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("cli") / "mlp.onnx"
    onnx.save(mlp_model(), str(p))
    return str(p)


def run(argv):
    """(exit code, stdout, stderr) of flopest.cli.main, in process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def leftovers(folder) -> list:
    return sorted(n for n in os.listdir(folder) if n.startswith(".flopest-") or n.endswith(".tmp"))


# ------------------------------------------------------------------ every flag, one bad value
# (argv after `count MODEL`, or a whole argv for `zoo` / top level; the text the message names)
ONNX_BAD = [
    (["--dim"], "--dim"),
    (["--dim", "batch"], "--dim"),
    (["--dim", "=8"], "--dim"),
    (["--dim", "batch=-1"], "--dim"),
    (["--dim", "batch=2.5"], "--dim"),
    (["--dim", "batch=x"], "--dim"),
    (["--dim", "batch=" + "9" * 5000], "--dim"),
    (["--dim", "batch=99999999999999999999"], "--dim"),
    (["--dim", "bath=8"], "--dim"),
    (["--dim", "batch=4611686018427387904"], "--dim"),      # 2**62: batch·64 overflows int64
    (["--sweep", "batch"], "--sweep"),
    (["--sweep", "=1,2"], "--sweep"),
    (["--sweep", "batch="], "--sweep"),
    (["--sweep", "batch=1,,2"], "--sweep"),
    (["--sweep", "batch=1,-2"], "--sweep"),
    (["--sweep", "batch=²"], "--sweep"),
    (["--sweep", "batch=" + "9" * 5000], "--sweep"),
    (["--sweep", "batch=99999999999999999999"], "--sweep"),
    (["--sweep", "nope=1,2"], "--sweep"),
    (["--sweep", "batch=1", "--sweep", "batch=2"], "--sweep"),
    (["--sweep", "batch=" + ",".join(["1"] * 400), "--sweep", "x=" + ",".join(["1"] * 400)], "--sweep"),
    (["--dim", "batch=1", "--by"], "--by"),
    (["--dim", "batch=1", "--by", "layer"], "--by"),
    (["--dim", "batch=1", "--depth"], "--depth"),
    (["--dim", "batch=1", "--depth", "x"], "--depth"),
    (["--dim", "batch=1", "--depth", "-1"], "--depth"),
    (["--dim", "batch=1", "--format"], "--format"),
    (["--dim", "batch=1", "--format", "yaml"], "--format"),
    (["--dim", "batch=1", "--top"], "--top"),
    (["--dim", "batch=1", "--top", "x"], "--top"),
    (["--dim", "batch=1", "--top", "-3"], "--top"),
    (["--dim", "batch=1", "--output"], "--output"),
    (["--dim", "batch=1", "--output", ""], "--output"),
    (["--dim", "batch=1", "--output", "{tmp}/nodir/x.json"], "--output"),
    (["--dim", "batch=1", "--output", "{tmp}"], "--output"),
    (["--dim", "batch=1", "--input", "8x16"], "--input"),
    (["--dim", "batch=1", "--input-dtype", "int64"], "--input-dtype"),
    (["--dim", "batch=1", "--training"], "--training"),
    (["--dim", "batch=1", "--optimizer", "adam"], "--optimizer"),
    (["--dim", "batch=1", "--optimizer", "rmsprop"], "--optimizer"),
    (["--dim", "batch=1", "--checkpointing"], "--checkpointing"),
    (["--dim", "batch=1", "--materialize"], "--materialize"),
    (["--dim", "batch=1", "--onnx"], "--onnx"),
    (["--dim", "batch=1", "--strict=yes"], "--strict"),
    (["--dim", "batch=1", "--causal=1"], "--causal"),
    (["--dim", "batch=1", "--no-causal=1"], "--no-causal"),
    (["--dim", "batch=1", "--task", "causal-lm"], "--task"),
    (["--dim", "batch=1", "--seq-len", "64"], "--seq-len"),
    (["--dim", "batch=1", "--memory"], "--memory"),
    (["--dim", "batch=1", "--device", "h100-sxm"], "--device"),
    (["--dim", "batch=1", "--precision", "bf16"], "--precision"),
    (["--dim", "batch=1", "--debug=1"], "--debug"),
    (["--dim", "batch=1", "--bogus"], "--bogus"),
]
TORCH_BAD = [
    (["--input", "x"], "--input"),
    (["--input", ""], "--input"),
    (["--input", "8xx16"], "--input"),
    (["--input", "8x-16"], "--input"),
    (["--input", "=8x16"], "--input"),
    (["--input", "99999999999999999999x16"], "--input"),
    (["--input", "a=8x16", "--input", "8x16"], "--input"),
    (["--input", "8x16", "--input-dtype", "float7"], "--input-dtype"),
    (["--input", "8x16", "--input-dtype", "int64", "--input-dtype", "int64"], "--input-dtype"),
    (["--input", "8x16", "--optimizer", "adam"], "--optimizer"),
    (["--input", "8x16", "--checkpointing"], "--checkpointing"),
    (["--input", "8x16", "--training", "--optimizer", "nope"], "--optimizer"),
    (["--input", "8x16", "--dim", "batch=1"], "--dim"),
    (["--input", "8x16", "--sweep", "batch=1,2"], "--sweep"),
    (["--input", "8x16", "--onnx"], "--onnx"),
    (["--input", "8x16", "--by", "layer"], "--by"),
    (["--input", "8x16", "--depth", "-2"], "--depth"),
    (["--input", "8x16", "--format", "xml"], "--format"),
    (["--input", "8x16", "--top", "-1"], "--top"),
    (["--input", "8x16", "--training=1"], "--training"),
    (["--input", "8x16", "--materialize=1"], "--materialize"),
    (["--input", "8x16", "--plot", "{tmp}/chart.bmp"], "--plot"),
    (["--input", "8x16", "--quiet=1"], "--quiet"),
]
TOP_BAD = [
    (["zoo", "--debug=1"], "--debug"),
    (["zoo", "--bogus"], "--bogus"),
    (["zoo", "extra"], "extra"),
    (["--bogus"], "--bogus"),
    (["--debug=1", "zoo"], "--debug"),
    (["nosuchcommand"], "nosuchcommand"),
    (["count"], "MODEL"),
    (["count", "zoo:nope"], "nope"),
]


def _check_bad(argv, needle, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = run(argv)
    assert code == 2, (argv, code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, (argv, err)
    assert needle in lines[0], (argv, err)
    assert "Traceback" not in err and lines[0].startswith("flopest")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("extra,needle", ONNX_BAD, ids=[" ".join(a)[:40] for a, _ in ONNX_BAD])
def test_count_onnx_flag_with_invalid_value(extra, needle, mlp_file, tmp_path):
    _check_bad(["count", mlp_file] + extra + ["--output", str(tmp_path / "never.json")]
               if "--output" not in extra else ["count", mlp_file] + extra, needle, tmp_path)
    assert not (tmp_path / "never.json").exists()


@pytest.mark.parametrize("extra,needle", TORCH_BAD, ids=[" ".join(a)[:40] for a, _ in TORCH_BAD])
def test_count_torch_flag_with_invalid_value(extra, needle, tmp_path):
    _check_bad(["count", FACTORY] + extra + ["--output", str(tmp_path / "never.json")], needle, tmp_path)
    assert not (tmp_path / "never.json").exists()


@pytest.mark.parametrize("argv,needle", TOP_BAD, ids=[" ".join(a)[:40] for a, _ in TOP_BAD])
def test_zoo_and_top_level_flags_with_invalid_value(argv, needle, tmp_path):
    _check_bad(argv, needle, tmp_path)


def test_the_table_covers_every_count_and_zoo_flag():
    from flopest.cli import build_parser
    p = build_parser()
    sub = next(a for a in p._actions if a.dest == "command").choices
    tested = " ".join(" ".join(a) for a, _ in ONNX_BAD + TORCH_BAD + TOP_BAD)
    for cmd in ("count", "zoo"):
        for action in sub[cmd]._actions:
            for flag in action.option_strings:
                if flag in ("-h", "--help", "-o"):
                    continue
                assert flag in tested, f"flopest {cmd} {flag} has no invalid-value case"


# ------------------------------------------------------------------ random flag values
TEXT = st.one_of(st.text(max_size=12), st.sampled_from(
    ["batch=8", "batch=1,2", "batch=0", "8x16", "1x2x3", "json", "csv", "op", "module", "3", "-1", "0",
     "batch=", "=", ",", "x", "batch=1e3", "batch= 4 ", "input_ids=1x8", "\x00", "é=1", "--dim", "-"]))
FLAGS = st.sampled_from(["--dim", "--sweep", "--format", "--by", "--top", "--depth", "--input", "--input-dtype"])


@settings(max_examples=int(os.environ.get("FLOPEST_FUZZ_EXAMPLES", "100")), deadline=None, derandomize=True,
          database=None, suppress_health_check=list(HealthCheck))
@given(model=st.sampled_from(["onnx", "torch"]), flags=st.lists(st.tuples(FLAGS, TEXT), max_size=4),
       switches=st.lists(st.sampled_from(["--strict", "--causal", "--training", "--by=op"]), max_size=2))
def test_fuzz_cli_flags_exit_0_or_2(mlp_file, model, flags, switches):
    argv = ["count", mlp_file if model == "onnx" else FACTORY]
    for f, v in flags:
        argv += [f, v]
    argv += switches
    try:
        with time_limit(10):
            code, out, err = run(argv)
    except SystemExit as exc:     # argparse's exit goes through main; nothing else may exit
        raise AssertionError(f"SystemExit({exc.code}) escaped main for {argv}") from None
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (argv, err)
    else:
        assert out


# ------------------------------------------------------------------ --output is atomic
def _count_json(mlp_file, dest, *extra):
    return run(["count", mlp_file, "--dim", "batch=8", "--format", "json", "--output", str(dest), *extra])


def test_failure_while_rendering_leaves_no_file(mlp_file, tmp_path, monkeypatch):
    import flopest.report as report

    def broken(*a, **k):
        raise FlopestError("renderer failed on purpose")

    monkeypatch.setattr(report, "to_json", broken)
    code, out, err = _count_json(mlp_file, tmp_path / "out.json")
    assert code == 2 and "renderer failed" in err
    assert os.listdir(tmp_path) == []

    def crash(*a, **k):   # a bug, not a FlopestError: one line, exit 2 (never 1, check's "over budget")
        raise RuntimeError("crash in a renderer")

    monkeypatch.setattr(report, "to_json", crash)
    code, out, err = _count_json(mlp_file, tmp_path / "out.json")
    assert code == 2 and "internal error: RuntimeError: crash in a renderer" in err, err
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_failure_while_writing_leaves_the_old_file_and_no_temp(mlp_file, tmp_path, monkeypatch):
    import flopest.io as report
    dest = tmp_path / "out.json"
    dest.write_text("previous result\n")
    real_fsync = os.fsync

    def half_written(fd):   # the temp file holds a part of the text when the disk fails
        os.write(fd, b"{ partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "fsync", half_written)
    code, out, err = _count_json(mlp_file, dest)
    assert code == 2 and "--output" in err and "No space left" in err, err
    assert dest.read_text() == "previous result\n"
    assert leftovers(tmp_path) == [] and os.listdir(tmp_path) == ["out.json"]

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(report.os, "fsync", interrupted)
    code, out, err = _count_json(mlp_file, dest)
    assert code == 130 and err.strip() == "flopest: interrupted"
    assert dest.read_text() == "previous result\n" and leftovers(tmp_path) == []

    monkeypatch.setattr(report.os, "fsync", real_fsync)
    code, out, err = _count_json(mlp_file, dest)
    assert code == 0 and json.loads(dest.read_text())["flops"] > 0 and leftovers(tmp_path) == []
    mask = os.umask(0o022)
    os.umask(mask)
    assert dest.stat().st_mode & 0o777 == 0o666 & ~mask   # an ordinary file, not mkstemp's 0600


def test_output_into_unwritable_or_odd_places(mlp_file, tmp_path):
    for dest in (tmp_path, "/proc/flopest-test.json", tmp_path / "missing" / "x.json", ""):
        code, out, err = _count_json(mlp_file, dest)
        assert code == 2 and "--output" in err and len(err.strip().splitlines()) == 1, (dest, err)
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------ Ctrl-C during a capture
@pytest.mark.torch
def test_ctrl_c_during_capture_exits_130_and_writes_nothing(tmp_path):
    marker = tmp_path / "in_forward"
    dest = tmp_path / "f.json"
    env = dict(os.environ, FLOPEST_TEST_MARKER=str(marker), PYTHONPATH=ROOT)
    p = subprocess.Popen([sys.executable, "-m", "flopest", "count", "tests.robustness.factories:sleepy",
                          "--format", "json", "--output", str(dest)], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():       # the model is now sleeping in forward, mid-capture
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "the capture never reached forward"
            time.sleep(0.05)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, (p.returncode, err)
    assert "Traceback" not in err and err.strip() == "flopest: interrupted", err
    assert not dest.exists()
    assert sorted(os.listdir(tmp_path)) == ["in_forward"]


# ------------------------------------------------------------------ external data never opened
def _external_fill_model(path, location: str, n_nodes: int = 4):
    """ConstantOfShape([1]) nodes whose `value` attribute is an external int64 tensor at
    `location`, each used as the shape of an Expand feeding a Relu: the file's 8 bytes would
    become the Relu's element count, and so its FLOPs (issue 19.1's leak)."""
    import onnx
    from onnx import TensorProto, helper
    nodes, outs = [], []
    for i in range(n_nodes):
        t = helper.make_tensor(f"fill{i}", TensorProto.INT64, [1], [0])
        t.ClearField("int64_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", str(8 * i)), ("length", "8")):
            e = t.external_data.add()
            e.key, e.value = k, v
        nodes.append(helper.make_node("ConstantOfShape", ["one_dim"], [f"c{i}"], value=t))
        nodes.append(helper.make_node("Expand", ["one", f"c{i}"], [f"e{i}"]))
        nodes.append(helper.make_node("Relu", [f"e{i}"], [f"y{i}"], name=f"relu{i}"))
        outs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, None))
    init = [helper.make_tensor("one_dim", TensorProto.INT64, [1], [1]),
            helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])]
    g = helper.make_graph(nodes, "leak", [], outs, initializer=init)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def _count_leak(folder, model):
    return subprocess.run([sys.executable, "-m", "flopest", "count", str(model), "--by", "node", "--format", "json"],
                          cwd=folder, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=120)


def test_an_external_attribute_tensor_is_never_opened(tmp_path, cli):
    """Issue 19.1. With a FIFO as the external file, opening it would block the run (nothing writes
    to it): the count completes. With a regular file, its bytes never become a count: the result
    is the same whatever the file holds, and a note says what was not read."""
    model = tmp_path / "leak.onnx"
    _external_fill_model(model, "secret.env")
    fifo = tmp_path / "secret.env"
    os.mkfifo(fifo)
    p = _count_leak(tmp_path, model)
    assert p.returncode == 0, p.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    fifo.unlink()
    outs = []
    for secret in (b"SECRET=a" * 4, b"\x05\0\0\0\0\0\0\0" * 4):
        fifo.write_bytes(secret)
        r = cli(["count", model, "--by", "node", "--format", "json"], cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(r.stdout))
    assert outs[0] == outs[1]
    leaked = int.from_bytes(b"SECRET=a", "little")
    assert all(r["flops"] not in (leaked, 5) for r in outs[0]["breakdown"]), outs[0]["breakdown"]
    assert any("external data" in n for n in outs[0]["notes"]), outs[0]["notes"]


@pytest.mark.parametrize("command", [["count"], ["serve", "--output-tokens", "10", "--prompt-tokens", "10",
                                                "--requests-per-day", "1000"],
                                     ["estimate", "--dataset-size", "1k"]])
def test_a_fifo_or_device_as_the_model_is_refused_before_opening(tmp_path, command):
    """Issue 19.8: a FIFO as the model blocked in open()."""
    fifo = tmp_path / "m.onnx"
    os.mkfifo(fifo)
    for model in (fifo, "/dev/zero"):
        p = subprocess.run([sys.executable, "-m", "flopest", command[0], str(model), *command[1:]], cwd=tmp_path,
                           env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "not a regular file" in p.stderr, (model, p.stderr)
        assert p.stderr.count("\n") == 1


def test_a_devices_file_that_is_a_folder_or_fifo_says_so(tmp_path, cli):
    fifo = tmp_path / "dev.csv"
    os.mkfifo(fifo)
    for target, says in ((tmp_path, "folder"), (fifo, "not a regular file")):
        r = cli(["estimate", "--params", "1B", "--tokens", "1B", "--devices", target])
        assert r.returncode == 2 and says in r.stderr, r.stderr
