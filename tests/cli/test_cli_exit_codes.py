"""Exit codes mean what they say (issue 19.9): 0 ok, 1 over budget, 2 anything else the user must
fix — never a traceback with exit 1, which `check` uses for "over budget"."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

PLAN = ["estimate", "--params", "7B", "--tokens", "2T", "--samples", "200"]


@pytest.mark.parametrize("flag", ["--params", "--tokens", "--trials", "--layers", "--d-model", "--seq-len",
                                  "--samples", "--devices", "--seed"])
def test_a_huge_number_is_one_line_exit_2(flag, cli):
    argv = list(PLAN)
    if flag in argv:
        argv[argv.index(flag) + 1] = "1e300"
    else:
        argv += [flag, "1e300"]
    r = cli(argv)
    assert r.returncode == 2, r
    assert len(r.stderr.strip().splitlines()) == 1 and flag in r.stderr and "Traceback" not in r.stderr


def test_huge_grid_and_epochs_on_a_model(cli, mlp_path):
    r = cli(["estimate", mlp_path, "--dim", "batch=8", "--dataset-size", "1M", "--epochs", "1e300"])
    assert r.returncode == 2 and "--epochs" in r.stderr, r
    r = cli(PLAN + ["--grid", "lr=1e300"])
    assert r.returncode == 2 and "--grid lr" in r.stderr, r


def _proc(argv, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT, **kw.pop("env", {}))
    return subprocess.run([sys.executable, "-m", "flopest", *argv], env=env, cwd=ROOT, timeout=120, **kw)


def test_a_full_disk_on_stdout_is_exit_2():
    with open("/dev/full", "w") as full:
        r = _proc(PLAN, stdout=full, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "flopest: error: cannot write the report to standard output (No space left on device); use --output FILE"]


def test_a_closed_stdout_is_exit_2():
    code = ("import os, sys; os.close(1); sys.stdout = None; from flopest.cli import main; "
            f"sys.exit(main({PLAN!r}))")
    r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "cannot write the report to standard output" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("encoding", ["ascii", "cp1252", "latin-1"])
def test_a_narrow_terminal_encoding_still_gets_the_report(encoding):
    # the report has CO₂eq: '₂' is in none of these encodings, it is replaced, not fatal
    r = _proc(PLAN, capture_output=True, env={"PYTHONIOENCODING": encoding})
    assert r.returncode == 0, r.stderr
    assert b"CO?eq" in r.stdout and b"Traceback" not in r.stderr


def test_an_internal_error_is_exit_2_never_1(cli, monkeypatch):
    from flopest.cli import plan

    def boom(*a, **k):
        raise RuntimeError("a bug")
    monkeypatch.setattr(plan.Plan, "estimate", boom)
    r = cli(PLAN)
    assert r.returncode == 2
    assert r.stderr.strip() == ("flopest: internal error: RuntimeError: a bug (run with --debug for the "
                                "traceback, and please report it)")
