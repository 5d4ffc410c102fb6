"""Every flag of every command, given an invalid value: one line on stderr naming the flag and
the value, exit 2, no traceback. The table must cover every option the parser has (a new flag
without a row here fails `test_every_flag_is_in_the_table`)."""

import argparse
import os

import pytest

from flopest.cli import build_parser, main

PLAN = ["--params", "1B", "--tokens", "20B", "--samples", "1000"]
MODEL = ["tests.cli.factories:mlp", "--input", "8x16", "--dataset-size", "800", "--samples", "1000"]
ONNX_FREE = ["--samples", "1000"]
BASE = {   # a valid command line per command, the bad flag is appended
    "count": ["tests.cli.factories:mlp", "--input", "8x16"],
    "estimate": PLAN, "check": PLAN + ["--budget", "co2eq=1t", "--no-config"], "compare": PLAN,
    "devices": [], "regions": [], "probe": ["--quick"],
    "sweep": [os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples",
                           "sweep.toml")],
    "calibrate": [os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "impact", "fixtures",
                               "emissions.csv"), "--samples", "1000"],
}
NOPE = "/nonexistent-folder-flopest/out.json"

# flag -> (bad value, base to use instead of the command's: None = the command's), per command group
PLAN_FLAGS = {
    "model": ("no_such_module_xyz:make", ["--dataset-size", "10"]),
    "--dim": ("batch=x", MODEL), "--input": ("8xq", MODEL[:1] + ["--dataset-size", "800"]),
    "--input-dtype": ("float99", MODEL), "--optimizer": ("adamx", None),
    "--examples-per-pass": ("-3", MODEL), "--dataset-size": ("lots", MODEL[:3]),
    "--epochs": ("2.5", MODEL), "--batch-size": ("0.5", MODEL), "--eval-size": ("-1", MODEL),
    "--micro-batch": ("0", MODEL), "--grad-accum": ("1.5", MODEL + ["--micro-batch", "4"]),
    "--step-time": ("soon", None), "--throughput": ("fast", None), "--task": ("chat", MODEL),
    "--zero": ("4", MODEL), "--tp": ("0", MODEL), "--pp": ("3", MODEL), "--vp": ("0", MODEL), "--teacher": ("huge", MODEL), "--phase": ("tokenz=1T", ["--params", "7B", "--tokens", "1T"]),
    "--failure-rate": ("-1", None), "--restart-time": ("soon", None), "--checkpoint-bandwidth": ("0", None),
    "--trials": ("many", None), "--search": ("genetic", None), "--grid": ("lr", None),
    "--early-stopping": ("1.5", None), "--params": ("7Q", ["--tokens", "2T"]), "--tokens": ("-2T", ["--params", "1B"]),
    "--layers": ("1.5", None), "--d-model": ("abc", None), "--seq-len": ("-4", None),
    "--heads": ("0", ["--params", "7B", "--tokens", "1T", "--layers", "32", "--d-model", "4096", "--seq-len", "64"]),
    "--kv-heads": ("x", ["--params", "7B", "--tokens", "1T", "--layers", "32", "--d-model", "4096", "--seq-len", "64"]),
    "--ffn": ("-1", ["--params", "7B", "--tokens", "1T", "--layers", "32", "--d-model", "4096", "--seq-len", "64"]),
    "--vocab": ("1.5", ["--params", "7B", "--tokens", "1T", "--layers", "32", "--d-model", "4096", "--seq-len", "64"]),
    "--experts": ("0", ["--params", "7B", "--tokens", "1T", "--layers", "32", "--d-model", "4096", "--seq-len", "64"]),
    "--active-experts": ("9", ["--params", "47B", "--tokens", "1T", "--layers", "32", "--d-model", "4096",
                               "--seq-len", "64", "--experts", "8"]),
    "--ep": ("3", ["--params", "47B", "--tokens", "1T", "--layers", "32", "--d-model", "4096", "--seq-len", "64",
                   "--experts", "8", "--devices", "8"]),
    "--accelerator-hours": ("-10", []), "--device": ("h100-sxn", None), "--devices": ("-2", None),
    "--regions": ("missing-regions.csv", None), "--region": ("FRA", None), "--datacenter": ("hyperscalr", None),
    "--precision": ("fp12", None), "--pue": ("0.8", None), "--intensity": ("-5", None), "--mfu": ("1.7", None),
    "--power-w": ("-300", None), "--lifetime-years": ("0", None), "--samples": ("0", None),
    "--price-per-hour": ("0", None),
    "--seed": ("x", None), "--format": ("yaml", None), "-o": (NOPE, None), "--plot": ("chart.bmp", None),
}
TABLE = {
    "count": {
        "model": ("no_such_module_xyz:make", []), "--dim": ("batch=x", ["tests/ops/../../no.onnx"]),
        "--sweep": ("n=a,b", None), "--by": ("layer", None), "--depth": ("x", None), "--input": ("8xq", ["tests.cli.factories:mlp"]),
        "--input-dtype": ("float99", None), "--optimizer": ("adamx", None), "--format": ("yaml", None),
        "--top": ("x", None), "-o": (NOPE, None), "--plot": ("chart.bmp", None),
        "--task": ("chat", None), "--seq-len": ("x", None), "--device": ("h100-sxn", ["tests.cli.factories:mlp",
        "--input", "8x16", "--training", "--memory"]), "--precision": ("fp12", None),
    },
    "estimate": {**PLAN_FLAGS, "--training-type": ("continued", None)},
    "check": {**PLAN_FLAGS, "--training-type": ("continued", None), "--budget": ("carbon=5kg", None), "--at": ("p99", None),
              "--config": ("missing.toml", PLAN + ["--budget", "co2eq=1t"])},
    "compare": {**PLAN_FLAGS, "--device": ("h100-sxm,,a100", None), "--region": ("FR,ZZ", None)},
    "devices": {"--search": ("zzzz-no-device", None), "--format": ("yaml", None)},
    "regions": {"--search": ("zzzz-no-region", None), "--format": ("yaml", None)},
    "probe": {"--device": ("tpu", None), "--id": ("My_CPU", None), "--format": ("yaml", None), "-o": (NOPE, None)},
    "sweep": {"model": ("missing-spec.toml", []), "--workers": ("-1", None), "--scheduler": ("nowhere", None),
              "-o": (NOPE, None), "--point-timeout": ("soon", None), "--report": ("missing.parquet", []),
              "--budget": ("carbon=5kg", None), "--plot": ("chart.bmp", None), "--format": ("yaml", None)},
    "calibrate": {"measured": ("missing-emissions.csv", []), "--device": ("h100-sxn", None), "--devices": ("-2", None),
                  "--region": ("FRA", None), "--datacenter": ("hyperscalr", None), "--run-id": ("zzz", None),
                  "--samples": ("0", None), "--seed": ("x", None), "--format": ("yaml", None), "-o": (NOPE, None)},
}
# the message names the value in a form of its own for these (the value is shown differently)
NEEDLE = {("count", "--dim"): "batch", ("count", "model"): "no_such_module_xyz",
          ("count", "--sweep"): "'a'", ("compare", "--region"): "ZZ", ("compare", "--device"): "h100-sxm,,a100"}


def _options():
    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    for cmd, sp in sub.choices.items():
        for a in sp._actions:
            if a.nargs == 0 or a.dest == "help":
                continue
            yield cmd, (a.option_strings[-1] if a.option_strings else a.dest)


def test_every_flag_is_in_the_table():
    missing = [f"{c} {f}" for c, f in _options() if c in TABLE and f not in TABLE[c]]
    # `serve` has its own table in tests/serving/test_cli_flags_serve.py; `zoo` takes no value
    missing += [c for c, _ in _options() if c not in TABLE and c not in ("zoo", "serve")]
    assert not missing, f"add a bad value for these to TABLE: {sorted(set(missing))}"


CASES = [(c, f, v, base) for c in TABLE for f, (v, base) in TABLE[c].items()]


@pytest.mark.parametrize("cmd,flag,value,base", CASES, ids=[f"{c}:{f}" for c, f, _, _ in CASES])
def test_bad_value_names_flag_and_value(cmd, flag, value, base, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    monkeypatch.syspath_prepend(root)
    base = BASE[cmd] if base is None else base
    if flag in ("model", "measured"):   # the positional argument
        argv = [cmd, value, *base]
    elif flag.startswith("--"):
        argv = [cmd, *base, f"{flag}={value}"]    # = keeps a negative value from reading as a flag
    else:
        argv = [cmd, *base, flag, value]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    name = flag if flag != "model" else ""
    if flag == "-o":
        name = "--output"
    assert name in lines[0], (argv, lines[0])
    assert NEEDLE.get((cmd, flag), value) in lines[0], (argv, lines[0])
    assert not any(p.name != "missing-regions.csv" for p in tmp_path.iterdir() if p.suffix != ".toml")


def test_physical_flags_do_not_read_count_suffixes_as_unit_prefixes(cli):
    """--server-embodied-kg 4.9t is 4,900 kg (not 4.9e12 kg), --wh-per-request 300mWh is 0.3 Wh and
    300m is refused (milli- or a count?), --checkpoint-bandwidth 2G is refused (2e9 GB/s?), and a
    bare --step-time asks for its unit (850: ms or s?)."""
    base = ["serve", "--requests-per-day", "1M", "--days", "30", "--servers", "10", "--format", "json"]
    t = cli(base + ["--wh-per-request", "3", "--server-embodied-kg", "4.9t"])
    kg = cli(base + ["--wh-per-request", "3", "--server-embodied-kg", "4900"])
    assert t.returncode == 0 and kg.returncode == 0, (t.stderr, kg.stderr)
    import json
    assert json.loads(t.stdout)["co2eq_kg_by_scope"] == json.loads(kg.stdout)["co2eq_kg_by_scope"]
    milli = cli(base + ["--wh-per-request", "300mWh"])
    plain = cli(base + ["--wh-per-request", "0.3"])
    assert json.loads(milli.stdout)["energy_kwh"] == json.loads(plain.stdout)["energy_kwh"]
    for argv in (base + ["--wh-per-request", "300m"],
                 ["estimate", "--params", "7B", "--tokens", "200B", "--checkpoint-bandwidth", "2G"],
                 ["estimate", "--params", "7B", "--tokens", "200B", "--step-time", "850"]):
        r = cli(argv)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (argv, r.stderr)
        assert argv[-2] in r.stderr, (argv, r.stderr)


def test_api_keywords_in_a_unit_take_plain_numbers():
    import pytest

    import flopest
    with pytest.raises(flopest.InputError):
        flopest.serve(requests_per_day=1e6, days=30, servers=10, wh_per_request="300m")
    est = flopest.serve(requests_per_day=1e6, days=30, servers=10, wh_per_request="0.3", samples=2000)
    num = flopest.serve(requests_per_day=1e6, days=30, servers=10, wh_per_request=0.3, samples=2000)
    assert est.to_dict()["energy_kwh"] == num.to_dict()["energy_kwh"]   # "0.3" is 0.3 Wh, as the number
