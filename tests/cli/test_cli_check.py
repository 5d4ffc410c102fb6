"""`flopest check` (exit 0/1/2, budgets from pyproject.toml), `flopest compare`, and the
budget API (flopest.check, BudgetExceeded, guard), in process (the `cli` fixture) except where a real process is the point (a killed run)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import flopest
from flopest.budget import BudgetExceeded, parse_budget, parse_value
from flopest.errors import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# GPT-3's a-posteriori figures (METHOD.md §5): every input fixed, so p5 = p50 = p95 and the
# budget arithmetic below is exact: 3.552e6 h × 0.33 kW × 1.1 = 1,289,376 kWh; × 0.429 kg/kWh
# = 553,142 kg of scope 2 (scope 3: embodied share, not fixed).
GPT3 = ["--accelerator-hours", "3.552M", "--device", "v100-sxm2", "--power-w", "330", "--pue", "1.1",
        "--intensity", "429", "--samples", "2000"]
GPT3_KWH = 3.552e6 * 0.33 * 1.1


# ------------------------------------------------------------------------------------- exit codes
def test_within_budget_exits_0(tmp_path, cli):
    r = cli(["check", *GPT3, "--budget", "energy=1.3GWh", "--budget", "scope2=560t"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("within budget:"), first
    assert "energy 1.29 GWh <= 1.3 GWh at p95" in first    # 1,289,376 kWh printed as 1.29 GWh


def test_over_budget_exits_1(tmp_path, cli):
    r = cli(["check", *GPT3, "--budget", "energy=1.28GWh"], cwd=tmp_path)     # 1.289 GWh > 1.28 GWh
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines()[0].startswith("OVER BUDGET: energy 1.29 GWh > 1.28 GWh at p95")


def test_bad_budget_exits_2(tmp_path, cli):
    r = cli(["check", *GPT3, "--budget", "carbon=5kg"], cwd=tmp_path)
    assert r.returncode == 2
    assert "carbon" in r.stderr and "co2eq" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_budget_or_a_single_value_flag_given_twice_exits_2(tmp_path, cli):
    """argparse keeps the last of a repeated flag: `--budget energy=1.28GWh --budget
    energy=1.3GWh` passed a plan over the first limit (exit 0), and `--device A --device B`
    estimated B alone. Each is a usage error naming the flag; the same value twice is harmless."""
    r = cli(["check", *GPT3, "--budget", "energy=1.28GWh", "--budget", "energy=1.3GWh"], cwd=tmp_path)
    assert r.returncode == 2 and "--budget energy given twice" in r.stderr and "Traceback" not in r.stderr
    r = cli(["check", *GPT3, "--budget", "energy=1.3GWh", "--budget", "scope2=560t"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr      # two different budgets are both checked
    r = cli(["estimate", "--params", "7B", "--tokens", "1B", "--device", "h100-sxm", "--device", "a100-sxm4-80gb",
             "--samples", "500"], cwd=tmp_path)
    assert r.returncode == 2 and "--device given twice (h100-sxm, a100-sxm4-80gb)" in r.stderr
    assert "flopest compare" in r.stderr
    r = cli(["estimate", "--params", "7B", "--tokens", "1B", "--device", "h100-sxm", "--pue", "1.1", "--pue", "1.5",
             "--samples", "500"], cwd=tmp_path)
    assert r.returncode == 2 and "--pue given twice" in r.stderr
    r = cli(["estimate", "--params", "7B", "--tokens", "1B", "--device", "h100-sxm", "--device", "h100-sxm",
             "--samples", "500", "-q"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_debug_before_the_command_shows_the_traceback():
    """`flopest --debug count ...` re-raises as `count --debug` does (the subcommand's own
    --debug default used to overwrite the top-level flag)."""
    from flopest.cli import main
    argv = ["estimate", "--params", "7B", "--tokens", "1B", "--device", "h100-sxn"]   # no torch needed
    with pytest.raises(InputError, match="h100-sxn"):
        main(["--debug", *argv])
    assert main(argv) == 2


def test_quantile_choice_changes_the_verdict(tmp_path, cli):
    # 7B × 200B tokens on 64 H100s in FR: CO2 p50 and p95 differ (MFU, power, PUE ranges);
    # a budget between them passes at p50 and fails at p95.
    args = ["check", "--params", "7B", "--tokens", "200B", "--devices", "64", "--region", "FR",
            "--samples", "5000", "--format", "json"]
    est = json.loads(cli(args + ["--budget", "co2eq=1e9kg"], cwd=tmp_path).stdout)
    p50, p95 = est["co2eq_kg"]["p50"], est["co2eq_kg"]["p95"]
    assert p50 < p95
    mid = f"co2eq={(p50 + p95) / 2}kg"
    assert cli(args + ["--budget", mid, "--at", "p50"], cwd=tmp_path).returncode == 0
    assert cli(args + ["--budget", mid], cwd=tmp_path).returncode == 1


# ------------------------------------------------------------------------------------ JSON = API
def test_json_equals_api_to_dict(tmp_path, cli):
    r = cli(["check", *GPT3, "--budget", "co2eq=700t", "--format", "json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    est = flopest.estimate(accelerator_hours=3.552e6, device="v100-sxm2", power_w=330, pue=1.1, intensity=429,
                           samples=2000)
    api = est.to_dict()
    api["check"] = flopest.check(est, co2eq_kg=700_000).to_dict()
    assert d == json.loads(json.dumps(api))
    assert abs(d["energy_kwh"]["p50"] - GPT3_KWH) < 1e-6 * GPT3_KWH


def test_markdown_output(tmp_path, cli):
    r = cli(["check", *GPT3, "--budget", "energy=1GWh", "--format", "markdown"], cwd=tmp_path)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("**OVER BUDGET: energy")
    assert "| budget   | limit   |" in r.stdout and "| energy " in r.stdout
    assert "| assumption" in r.stdout


def test_output_written_atomically(tmp_path, cli):
    out = tmp_path / "report.json"
    r = cli(["check", *GPT3, "--budget", "energy=2GWh", "--format", "json", "--output", str(out)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["check"]["ok"] is True
    assert "within budget" in r.stderr           # the verdict still reaches the CI log
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


@pytest.mark.torch
def test_killed_run_leaves_no_file(tmp_path):
    # a run killed while it counts a model (torch capture) must leave no report behind
    out = tmp_path / "report.json"
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen([sys.executable, "-m", "flopest", "check", "zoo:gpt2", "--dataset-size", "1M",
                          "--budget", "co2eq=1t", "--format", "json", "--output", str(out)],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(3.0)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------- configuration
def test_budgets_and_plan_from_pyproject(tmp_path, cli):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.flopest]\naccelerator-hours = "3.552M"\ndevice = "v100-sxm2"\n'
        'power-w = 330\npue = 1.1\nintensity = 429\nsamples = 2000\n\n[tool.flopest.budget]\n'
        'energy = "1.28GWh"\nscope2 = "600t"\n')
    sub = tmp_path / "src" / "pkg"
    sub.mkdir(parents=True)
    r = cli(["check", "--format", "json"], cwd=sub)          # found from a sub-folder
    assert r.returncode == 1, r.stderr
    c = json.loads(r.stdout)["check"]
    assert {b["budget"]: b["ok"] for b in c["budgets"]} == {"energy": False, "scope2": True}
    # a flag overrides the file's budget of the same name
    r = cli(["check", "--budget", "energy=2GWh"], cwd=sub)
    assert r.returncode == 0, r.stdout + r.stderr
    # --no-config ignores it: no plan left
    r = cli(["check", "--no-config", "--budget", "energy=2GWh"], cwd=sub)
    assert r.returncode == 2 and "give a MODEL" in r.stderr


def test_flopest_toml_and_bad_key(tmp_path, cli):
    (tmp_path / "flopest.toml").write_text('params = "1B"\ntokens = "20B"\nregion = "FR"\nsamples = 2000\n'
                                           'budget = ["co2eq=10t"]\n')
    assert cli(["check"], cwd=tmp_path).returncode == 0
    (tmp_path / "flopest.toml").write_text('params = "1B"\ntokenz = "20B"\nbudget = ["co2eq=10t"]\n')
    r = cli(["check"], cwd=tmp_path)
    assert r.returncode == 2
    assert "tokenz" in r.stderr and "tokens" in r.stderr and "flopest.toml" in r.stderr


def test_unrelated_pyproject_is_ignored(tmp_path, cli):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    r = cli(["check", "--budget", "co2eq=1t"], cwd=tmp_path)
    assert r.returncode == 2 and "give a MODEL" in r.stderr


def test_a_config_above_the_repository_root_is_never_read(tmp_path, cli):
    """Issue 19.5: a flopest.toml in a parent of the repository (the home or temporary folder) that
    zeroes the intensity and checks at p5 would turn OVER BUDGET into a pass."""
    (tmp_path / "flopest.toml").write_text('intensity = 0\nat = "p5"\n')
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    work = repo / "src"
    work.mkdir()
    r = cli(["check", "--params", "7B", "--tokens", "2T", "--samples", "2000", "--budget", "co2eq=1kg"], cwd=work)
    assert r.returncode == 1 and "OVER BUDGET" in r.stdout, r.stdout + r.stderr
    # and a project pyproject.toml without [tool.flopest] is a root too
    (repo / ".git").rmdir()
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')
    r = cli(["check", "--params", "7B", "--tokens", "2T", "--samples", "2000", "--budget", "co2eq=1kg"], cwd=work)
    assert r.returncode == 1 and "OVER BUDGET" in r.stdout


def test_the_config_used_is_named_in_every_report(tmp_path, cli):
    (tmp_path / ".git").mkdir()
    (tmp_path / "flopest.toml").write_text('params = "1B"\ntokens = "20B"\nsamples = 2000\nbudget = ["co2eq=10t"]\n')
    cfg = str(tmp_path / "flopest.toml")
    for fmt in ("table", "markdown"):
        r = cli(["check", "--format", fmt], cwd=tmp_path)
        assert r.returncode == 0 and "flopest.toml" in r.stdout, r.stdout
    r = cli(["check", "--format", "json"], cwd=tmp_path)
    assert json.loads(r.stdout)["config"] == cfg and cfg in r.stderr
    r = cli(["check", "--format", "csv"], cwd=tmp_path)
    assert r.returncode == 0 and cfg in r.stderr


@pytest.mark.parametrize("content, says", [
    (b'[tool.flopest]\nparams = "1B"\ntokens = \n', "not valid TOML"),            # a typo
    (b'\xef\xbb\xbf[tool.flopest]\nparams = "1B"\n', "byte-order mark"),        # a BOM
    (b'[tool.flopest]\nregion = "Montr\xe9al"\n', "not UTF-8"),                   # Latin-1
    (b"[tool.flopest]\nx = " + b"[" * 500 + b"]" * 500 + b"\n", "nest"),           # absurd nesting
])
def test_a_pyproject_flopest_table_that_cannot_be_read_is_an_error(tmp_path, cli, content, says):
    (tmp_path / "pyproject.toml").write_bytes(content)
    r = cli(["check", "--budget", "co2eq=1t"], cwd=tmp_path)
    assert r.returncode == 2 and says in r.stderr and "pyproject.toml" in r.stderr, r.stderr
    assert "internal error" not in r.stderr and r.stderr.count("\n") == 1


def test_an_unknown_config_key_names_its_line(tmp_path, cli):
    (tmp_path / "flopest.toml").write_text('params = "1B"\n\ntokenz = "20B"\n')
    r = cli(["check"], cwd=tmp_path)
    assert r.returncode == 2 and "(line 3)" in r.stderr and "'tokens'" in r.stderr, r.stderr
    (tmp_path / "flopest.toml").write_text('output = "x.json"\n')
    r = cli(["check"], cwd=tmp_path)
    assert r.returncode == 2 and "did you mean 'output'" not in r.stderr and "command line" in r.stderr, r.stderr


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_config_that_is_not_a_regular_file_is_refused_before_reading(tmp_path, flopest_proc, kind):
    """Issue 19.8: --config FIFO hung in open(); --config /dev/zero read until memory ran out."""
    if kind == "fifo":
        target = tmp_path / "cfg.toml"
        os.mkfifo(target)
    else:
        target = "/dev/zero" if kind == "device" else tmp_path
    r = flopest_proc(["check", "--config", target, "--budget", "co2eq=1t"], timeout=60)
    assert r.returncode == 2 and "not a regular file" in r.stderr or "folder" in r.stderr, r.stderr


# ------------------------------------------------------------------------------------- compare
def test_compare_sorted_with_savings(tmp_path, cli):
    r = cli(["compare", "--params", "1B", "--tokens", "20B", "--device", "a100-sxm4-80gb,h100-sxm",
             "--region", "PL,FR", "--samples", "3000", "--format", "json"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    rows = d["rows"]
    assert len(rows) == 4 and d["first_choice"] == "a100-sxm4-80gb @ PL"
    p50 = [x["co2eq_kg"]["p50"] for x in rows]
    assert p50 == sorted(p50)
    first = next(x for x in rows if x["label"] == d["first_choice"])
    for x in rows:   # saving = 1 − CO2 / CO2 of the first choice, recomputed here
        assert x["saving_vs_first"]["p50"] == pytest.approx(1 - x["co2eq_kg"]["p50"] / first["co2eq_kg"]["p50"])
    # each row is the same estimate as a single `estimate` run
    single = json.loads(cli(["estimate", "--params", "1B", "--tokens", "20B", "--device", "h100-sxm", "--region",
                             "FR", "--samples", "3000", "--format", "json"], cwd=tmp_path).stdout)
    row = next(x for x in rows if x["label"] == "h100-sxm @ FR")
    assert row["co2eq_kg"] == single["co2eq_kg"]
    md = cli(["compare", "--params", "1B", "--tokens", "20B", "--device", "h100-sxm", "--region", "PL,FR",
              "--samples", "2000", "--format", "markdown"], cwd=tmp_path).stdout
    assert md.index("| h100-sxm | FR") < md.index("| h100-sxm | PL")


def test_compare_unknown_device_suggests(tmp_path, cli):
    r = cli(["compare", "--params", "1B", "--tokens", "20B", "--device", "h100-sxm,a100-sxm4-80g"], cwd=tmp_path)
    assert r.returncode == 2 and "a100-sxm4-80g" in r.stderr and "a100-sxm4-80gb" in r.stderr


# --------------------------------------------------------------------------------- API and units
@pytest.mark.parametrize("text,family,expected", [
    ("50kg", "mass", 50.0), ("2t", "mass", 2000.0), ("500 g", "mass", 0.5), ("1.5kg", "mass", 1.5),
    ("200kWh", "energy", 200.0), ("1.2MWh", "energy", 1200.0), ("3GWh", "energy", 3e6), ("800Wh", "energy", 0.8),
    ("5m3", "volume", 5000.0), ("250L", "volume", 250.0),
    ("200ms", "time", 0.2), ("3d", "time", 259200.0), ("2h", "time", 7200.0),
    ("1000", "hours", 1000.0), ("1.2M", "hours", 1.2e6), ("2d", "hours", 48.0),
])
def test_units(text, family, expected):
    assert parse_value(text, family, "x") == pytest.approx(expected)


@pytest.mark.parametrize("text,needle", [
    ("co2eq", "NAME=VALUE"), ("co2eq=", "NAME=VALUE"), ("co2=5kg", "co2eq"), ("co2eq=5kwh", "'kwh'"),
    ("energy=-3kWh", "non-negative"), ("water=nan", "not a number"), ("hours=abc", "not a number"),
])
def test_bad_budgets(text, needle):
    with pytest.raises(InputError) as e:
        parse_budget(text)
    assert needle in str(e.value)


def test_check_api_raises_with_figures():
    est = flopest.estimate(accelerator_hours=3.552e6, device="v100-sxm2", power_w=330, pue=1.1, intensity=429,
                           samples=2000)
    ok = flopest.check(est, energy_kwh="1.3GWh")
    assert ok and ok.rows[0].value == pytest.approx(GPT3_KWH)
    with pytest.raises(flopest.BudgetExceeded) as e:
        flopest.check(est, energy_kwh=1_280_000, co2eq_kg_scope2=600_000)
    fig = {f["budget"]: f for f in e.value.figures}
    assert fig["energy"]["ok"] is False and fig["energy"]["value"] == pytest.approx(GPT3_KWH)
    assert fig["scope2"]["ok"] is True
    assert fig["scope2"]["value"] == pytest.approx(GPT3_KWH * 0.429)
    assert isinstance(e.value, flopest.FlopestError)
    with pytest.raises(InputError, match="latency"):
        flopest.check(est, latency_s=0.2)     # a serving budget on a training estimate
    with pytest.raises(InputError, match="co2_kg"):
        flopest.check(est, co2_kg=5)


@pytest.mark.torch
def test_guard_counts_and_checks():
    import torch
    model = torch.nn.Linear(16, 4)
    kw = dict(dataset_size=8000, epochs=1, device="t4", precision="fp16", region="FR", samples=2000)
    est = flopest.guard(model, flopest.spec((8, 16)), co2eq_kg=1.0, **kw)
    # per batch of 8: forward addmm 2·8·16·4 + bias 8·4 = 1,056; backward grad W 2·4·8·16 = 1,024 and
    # grad b (sum over the batch) 32 (the input needs no gradient); Adam 14 FLOPs × 68 params = 952.
    # 8,000 examples / batch 8 = 1,000 steps → 1,000 × (1,056 + 1,056 + 952) = 3,064,000
    assert est.flops == 1000 * (1056 + 1056 + 952)
    with pytest.raises(flopest.BudgetExceeded):
        flopest.guard(model, flopest.spec((8, 16)), co2eq_kg=1e-12, **kw)
    with pytest.raises(InputError, match="budget"):
        flopest.guard(model, flopest.spec((8, 16)), **kw)


def test_estimate_markdown_and_html():
    est = flopest.estimate(params=1e9, tokens=2e10, device="a100-sxm4-80gb", region="FR", samples=2000)
    md = est.to_markdown()
    assert "| time" in md and "| assumption" in md and "data " in md
    html = est._repr_html_()
    assert html.startswith("<div") and "<table>" in html and "CO₂eq" in html
    eq = {e["id"]: e for e in est.to_dict()["equivalences"]}
    # car: CO2 p50 (kg) × 1000 / 248.5 g per km (equivalences.csv, US EPA)
    assert eq["car_km"]["amount"] == pytest.approx(est.co2eq_kg["p50"] * 1000 / 248.5)


# ------------------------------------------------------------------------------------- serving
# The seed's ChatGPT-like month, every input fixed: 3.96 Wh × 195M requests/day × 30 days × PUE 1.1
# = 25,482,600 kWh; × 0.390 kg/kWh = 9,938,214 kg of scope 2.
CHATGPT = ["--wh-per-request", "3.96", "--requests-per-day", "195M", "--days", "30", "--pue", "1.1",
           "--intensity", "390", "--servers", "3617", "--server-embodied-kg", "4900", "--lifetime-years", "6",
           "--samples", "2000"]


@pytest.mark.parametrize("cmd", [["check", "serve"], ["serve"]])
def test_serving_budgets_exit_codes(cmd, tmp_path, cli):
    ok = cli([*cmd, *CHATGPT, "--budget", "energy=25.6GWh", "--budget", "scope2=10kt"], cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("within budget: energy 25.5 GWh <= 25.6 GWh at p95")
    over = cli([*cmd, *CHATGPT, "--budget", "energy=25.4GWh", "--budget", "scope2=10kt"], cwd=tmp_path)
    assert over.returncode == 1, over.stderr
    assert over.stdout.startswith("OVER BUDGET: energy 25.5 GWh > 25.4 GWh at p95")
    assert "scope2" not in over.stdout.splitlines()[0]          # only the budgets over are in the verdict


def test_serving_check_json_and_latency_budget(tmp_path, cli):
    r = cli(["check", "serve", "--params", "7B", "--prompt-tokens", "500", "--output-tokens", "200",
             "--requests-per-day", "100k", "--device", "h100-sxm", "--budget", "latency=1ms", "--format", "json"],
            cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    row = d["check"]["budgets"][0]
    assert row["budget"] == "latency" and row["value"] == d["latency_s"]["p95"] and not row["ok"]
    # 200 decode steps each read at least the 14 GB of bf16 weights at 4.8 TB/s: > 0.58 s
    assert d["latency_s"]["p5"] > 200 * 14e9 / 4.8e12
    assert "OVER BUDGET" in r.stderr


def test_check_serve_needs_a_budget_and_a_serving_metric(tmp_path, cli):
    r = cli(["check", "serve", *CHATGPT], cwd=tmp_path)
    assert r.returncode == 2 and "--budget" in r.stderr and "Traceback" not in r.stderr
    r = cli(["check", "--params", "1B", "--tokens", "20B", "--budget", "latency=200ms", "--no-config"], cwd=tmp_path)
    assert r.returncode == 2 and "latency" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.torch
def test_estimate_checkpointing_adds_the_recomputed_forward(tmp_path, cli):
    base = ["estimate", "tests.cli.factories:mlp", "--input", "8x16", "--dataset-size", "800", "--samples", "500",
            "--optimizer", "sgd", "--format", "json"]
    plain = json.loads(cli(base).stdout)["flops"]
    ck = json.loads(cli(base + ["--checkpointing"]).stdout)["flops"]
    # the recomputed forward of the MLP per example: Linear(16,32) 2·16·32 + 32 bias, ReLU 32,
    # Linear(32,4) 2·32·4 + 4 bias = 1,024 + 32 + 32 + 256 + 4 = 1,348 FLOPs; × 800 examples
    assert ck - plain == 1_348 * 800
    r = cli(["estimate", "--params", "1B", "--tokens", "20B", "--checkpointing"], cwd=tmp_path)
    assert r.returncode == 2 and "--checkpointing" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.torch
def test_zoo_model_is_captured_at_the_training_batch(tmp_path, cli):
    base = ["estimate", "zoo:einsum_attention", "--dataset-size", "64", "--samples", "500", "--format", "json"]
    one = json.loads(cli(base).stdout)
    eight = json.loads(cli(base + ["--batch-size", "8"]).stdout)
    f1, f8 = one["workload"]["factors"], eight["workload"]["factors"]
    # the same work per example at either batch; the optimizer runs 64 steps at batch 1, 8 at batch 8
    assert f1["forward_backward_flops_per_example"] == f8["forward_backward_flops_per_example"]
    assert one["flops"] - eight["flops"] == f1["optimizer_flops_per_step"] * (64 - 8)
    # the step is timed at the batch captured: 8 sequences share each weight read and kernel launch,
    # so a step of 8 takes less than 8 steps of 1
    assert one["step"]["examples_per_pass"] == 1 and eight["step"]["examples_per_pass"] == 8
    assert eight["step"]["time_s"] < 8 * one["step"]["time_s"]
    assert not any("counted pass(es)" in n for n in eight["notes"])
    assert any("the step time is that of 8 counted pass(es) of 1 example(s)" in n for n in json.loads(
        cli(base + ["--batch-size", "8", "--micro-batch", "1", "--grad-accum", "8"]).stdout)["notes"])


@pytest.mark.parametrize("flag,value,ok", [
    ("--intensity", "50g", False),        # was read as 50e9 g/kWh (a count suffix)
    ("--intensity", "56g/kWh", True),     # the flag's own unit is accepted
    ("--power-w", "700W", True),
    ("--pue", "50%", False),
    ("--pue", "1.2", True),
])
def test_physical_flags_take_a_plain_number_or_their_unit(tmp_path, cli, flag, value, ok):
    r = cli(["estimate", "--params", "7B", "--tokens", "1B", "--device", "h100-sxm", "--samples", "500", "-q",
             flag, value], cwd=tmp_path)
    if ok:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 2 and flag in r.stderr and "plain number" in r.stderr


def test_intensity_with_its_unit_equals_the_plain_number(tmp_path, cli):
    a = cli(["estimate", "--params", "7B", "--tokens", "1B", "--device", "h100-sxm", "--samples", "500",
             "--format", "json", "--intensity", "56g/kWh"], cwd=tmp_path)
    b = cli(["estimate", "--params", "7B", "--tokens", "1B", "--device", "h100-sxm", "--samples", "500",
             "--format", "json", "--intensity", "56"], cwd=tmp_path)
    assert json.loads(a.stdout)["co2eq_kg"] == json.loads(b.stdout)["co2eq_kg"]


def test_a_cost_budget(tmp_path, cli):
    """3.552M accelerator-hours × 2 USD an hour (given) = 7.104M USD exactly."""
    price = ["--price-per-hour", "2"]
    r = cli(["check", *GPT3, *price, "--budget", "cost=7.2M"], cwd=tmp_path)
    assert r.returncode == 0 and "cost 7.1 MUSD <= 7.2 MUSD" in r.stdout.splitlines()[0], r.stdout + r.stderr
    r = cli(["check", *GPT3, *price, "--budget", "cost=7000kUSD"], cwd=tmp_path)
    assert r.returncode == 1
    est = flopest.estimate(accelerator_hours=3.552e6, device="v100-sxm2", power_w=330, samples=2000, price_per_hour=2)
    assert est.cost_usd["p95"] == pytest.approx(7.104e6)
    with pytest.raises(BudgetExceeded):
        flopest.check(est, cost_usd=7e6)
    # a device without a list price: the cost budget cannot be checked, and says how to give one
    r = cli(["check", "--params", "7B", "--tokens", "1B", "--device", "xeon-platinum-8380", "--samples", "500",
             "--budget", "cost=1M"], cwd=tmp_path)
    assert r.returncode == 2 and "--price-per-hour" in r.stderr


def test_the_output_extension_picks_the_format(tmp_path, cli):
    """--output report.json without --format was a text table in a .json file."""
    out = tmp_path / "report.json"
    r = cli(["estimate", "--params", "7B", "--tokens", "1B", "--device", "h100-sxm", "--samples", "300", "-q",
             "--output", out], cwd=tmp_path)
    assert r.returncode == 0 and json.loads(out.read_text())["flops"] == 42_000_000_000_000_000_000  # 6·7e9·1e9
    r = cli(["estimate", "--params", "7B", "--tokens", "1B", "--device", "h100-sxm", "--samples", "300", "-q",
             "--output", tmp_path / "r.txt"], cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "r.txt").read_text().startswith("FLOPs")    # no extension rule: table
    r = cli(["count", "zoo:resnet50", "--output", tmp_path / "r.html"], cwd=tmp_path)
    assert r.returncode == 2 and "give --format" in r.stderr and not (tmp_path / "r.html").exists()


def test_phases_whose_tokens_differ_from_the_plans_are_said(tmp_path, cli):
    """--tokens 1B with a phase of 0.8B and a phase without tokens (which takes the 1B whole):
    1.8B tokens in all, which the notes must say."""
    r = cli(["estimate", "--params", "125M", "--tokens", "1B", "--no-graph", "--layers", "12", "--d-model", "768",
             "--seq-len", "1024", "--device", "h100-sxm", "--samples", "300", "--format", "json",
             "--phase", "name=a,tokens=0.8B", "--phase", "name=b,seq-len=4096"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    notes = json.loads(r.stdout)["notes"]
    assert any("1,800,000,000 tokens against --tokens 1,000,000,000: b takes --tokens whole" in n for n in notes)


def test_a_repeatable_option_on_the_command_line_replaces_the_configs(tmp_path, cli):
    """devices = 64 in the file and --devices 128 on the command line: 128 (the flags override the
    config), not an error about two counts; budgets still merge by name."""
    (tmp_path / "pyproject.toml").write_text('[tool.flopest]\nparams = "1B"\ntokens = "1B"\ndevices = 64\n'
                                             'samples = "2000"\n\n[tool.flopest.budget]\nco2eq = "1Mt"\n')
    r = cli(["check", "--devices", "128", "--format", "json", "-q"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["plan"]["devices"] == 128
    r = cli(["check", "--format", "json", "-q"], cwd=tmp_path)
    assert json.loads(r.stdout)["plan"]["devices"] == 64


def test_a_bad_budget_in_the_config_names_the_file_and_line(tmp_path, cli):
    (tmp_path / "pyproject.toml").write_text('[tool.flopest]\nparams = "1B"\ntokens = "1B"\n\n'
                                             '[tool.flopest.budget]\nco2eq = 2000\n')
    r = cli(["check", "-q"], cwd=tmp_path)
    assert r.returncode == 2
    assert "pyproject.toml" in r.stderr and "(line 6)" in r.stderr and "no unit" in r.stderr
    assert "--budget" not in r.stderr
