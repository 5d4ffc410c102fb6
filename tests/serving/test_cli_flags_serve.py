"""Every flag of `flopest serve`, given an invalid value: one line on stderr naming the flag and the
value, exit 2, no traceback. SERVE_BASE and SERVE_TABLE follow the layout of
tests/cli/test_cli_flags.py (BASE / TABLE), which can take them as its "serve" rows."""

import argparse
import os

import pytest

from flopest.cli import build_parser, main

SERVE_BASE = ["--params", "7B", "--prompt-tokens", "100", "--output-tokens", "10", "--requests-per-day", "1k",
              "--samples", "1000"]
NO_LOAD = ["--params", "7B", "--prompt-tokens", "100", "--output-tokens", "10", "--samples", "1000"]
NO_MODEL = ["--requests-per-day", "1k", "--samples", "1000"]
NOPE = "/nonexistent-folder-flopest/out.json"

# flag -> (bad value, base to use instead of SERVE_BASE: None = SERVE_BASE)
SERVE_TABLE = {
    "model": ("no_such_module_xyz:make", ["--prompt-tokens", "10", "--output-tokens", "5", "--requests-per-day", "1k"]),
    "--prompt-tokens": ("0", None), "--output-tokens": ("-3", None), "--requests-per-day": ("lots", None),
    "--requests-per-hour": ("-1", NO_LOAD), "--requests": ("0", NO_LOAD), "--users": ("many", NO_LOAD),
    "--requests-per-user": ("-15", NO_LOAD + ["--users", "13M"]), "--days": ("0", None), "--months": ("-1", None),
    "--device": ("h100-sxn", None), "--precision": ("fp12", None), "--batch": ("0.5", None),
    "--max-latency": ("2 parsecs", None), "--utilisation": ("1.5", None), "--devices": ("-2", None),
    "--servers": ("x", None), "--server-embodied-kg": ("-5", None), "--mbu": ("1.7", None), "--mfu": ("1.7", None),
    "--power-w": ("-300", None), "--wh-per-request": ("-1", NO_MODEL), "--params": ("7Q", None),
    "--layers": ("1.5", None), "--d-model": ("abc", None), "--kv-dim": ("-4", None), "--context": ("0", None),
    "--dim": ("batch=x", None), "--seq-dim": ("tokens", None), "--past-dim": ("past", None),
    "--region": ("FRA", None), "--datacenter": ("hyperscalr", None), "--pue": ("0.8", None),
    "--intensity": ("-5", None), "--lifetime-years": ("0", None), "--training": ("lots", None),
    "--samples": ("0", None), "--seed": ("x", None), "--format": ("yaml", None), "-o": (NOPE, None),
    "--budget": ("carbon=5kg", None), "--at": ("p99", None),
}


def _serve_options():
    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    for a in sub.choices["serve"]._actions:
        if a.nargs == 0 or a.dest == "help":
            continue
        yield a.option_strings[-1] if a.option_strings else a.dest


def test_every_serve_flag_is_in_the_table():
    missing = [f for f in _serve_options() if f not in SERVE_TABLE]
    assert not missing, f"add a bad value for these to SERVE_TABLE: {missing}"


@pytest.mark.parametrize("flag,value,base", [(f, v, b) for f, (v, b) in SERVE_TABLE.items()],
                         ids=list(SERVE_TABLE))
def test_bad_value_names_flag_and_value(flag, value, base, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    base = SERVE_BASE if base is None else base
    if flag == "model":
        argv = ["serve", value, *base]
    else:
        argv = ["serve", *base, f"{flag}={value}"]    # = keeps a negative value from reading as a flag
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    name = {"model": "", "-o": "--output"}.get(flag, flag)
    assert name in lines[0] and value in lines[0], (argv, lines[0])
    assert not list(tmp_path.iterdir())      # nothing written


@pytest.mark.parametrize("flag,value,needle", [
    ("--max-latency", "200", "200"),           # 200 ms or 200 s? (it was read as 200 s)
    ("--training", "500", "500"),              # kg or t? (it was read as 500 kg)
    ("--training", "nofile.json", "no such file"),
])
def test_a_quantity_without_its_unit_is_refused(flag, value, needle, capsys):
    assert main(["serve", *SERVE_BASE, flag, value]) == 2
    err = capsys.readouterr().err
    assert flag.lstrip("-") in err and needle in err and "Traceback" not in err


def test_training_takes_a_mass_with_its_unit():
    """--training 552t is 552,000 kg: the break-even days are those of 552000 kg given to the API
    (a number there is in kg, the keyword's unit)."""
    from flopest import serve
    kw = dict(params=7e9, prompt_tokens=100, output_tokens=10, requests_per_day=1000, samples=1000, device="h100-sxm")
    a = serve(training="552t", **kw).to_dict()
    b = serve(training=552_000, **kw).to_dict()
    assert a["breakeven_days"] == b["breakeven_days"]


@pytest.mark.parametrize("extra,needle", [
    (["--devices", "4", "--utilisation", "0.5"], "--utilisation"),   # was accepted and ignored
    (["--at", "p50"], "--at applies to a budget check"),            # was accepted, no budget to apply it to
    (["--allow-unknown"], "--allow-unknown applies to a budget check"),
])
def test_a_flag_that_would_do_nothing_is_refused(extra, needle, capsys):
    assert main(["serve", *SERVE_BASE, *extra]) == 2
    assert needle in capsys.readouterr().err


def test_flags_that_a_given_energy_per_request_would_ignore_are_refused(capsys):
    assert main(["serve", *NO_MODEL, "--wh-per-request", "3.96", "--batch", "64"]) == 2
    err = capsys.readouterr().err
    assert "--wh-per-request" in err and "--batch" in err and "would do nothing" in err
    assert main(["serve", *NO_MODEL, "--wh-per-request", "3.96", "--format", "json"]) == 0
