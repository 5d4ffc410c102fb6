"""Nothing ignored (issue 13.5 / 19.12): every plan flag, on every way into a plan, in every
command that takes a plan, either enters the estimate or is an error naming it (exit 2)."""

import pytest

from flopest.cli.plan import LM_GRAPH_FLAGS, NOT_WITH_HOURS, PATH_FLAGS

# one valid value per flag; each is read by the paths PATH_FLAGS says, and by no other
VALUES = {
    "dim": ["--dim", "batch=8"], "input": ["--input", "8x64"], "input_dtype": ["--input-dtype", "float32"],
    "optimizer": ["--optimizer", "sgd"], "checkpointing": ["--checkpointing"],
    "examples_per_pass": ["--examples-per-pass", "8"], "dataset_size": ["--dataset-size", "1M"],
    "epochs": ["--epochs", "3"], "batch_size": ["--batch-size", "32"], "eval_size": ["--eval-size", "10k"],
    "trials": ["--trials", "4"], "search": ["--search", "random", "--trials", "4"], "grid": ["--grid", "lr=3"],
    "early_stopping": ["--early-stopping", "0.5"], "params": ["--params", "7B"], "tokens": ["--tokens", "2T"],
    # attention needs the three together
    "layers": ["--layers", "32", "--d-model", "4096", "--seq-len", "4096"],
    "accelerator_hours": ["--accelerator-hours", "1000"], "mfu": ["--mfu", "0.4"],
}
COMMON = ["--samples", "200", "--format", "json"]
COMMANDS = {"estimate": [], "check": ["--budget", "co2eq=1Mt", "--no-config"], "compare": ["--device", "h100-sxm", "--region", "FR,DE"]}   # one device: a figure of one device is refused across devices (test_compare_trust)


def base(path, mlp_path):
    return {"model": [mlp_path, "--dim", "batch=8", "--dataset-size", "1M"],
            "params": ["--params", "7B", "--tokens", "2T"],
            "hours": ["--accelerator-hours", "1000"]}[path]


CASES = [(cmd, path, flag) for cmd in COMMANDS for path in PATH_FLAGS for flag in VALUES
         # the flags that choose a path are tested by test_two_ways_in_are_an_error
         if flag not in ("params", "tokens", "accelerator_hours")]


@pytest.mark.parametrize("cmd, path, flag", CASES, ids=[f"{c}-{p}-{f}" for c, p, f in CASES])
def test_a_flag_enters_its_path_or_is_an_error(cmd, path, flag, cli, mlp_path):
    argv = [cmd, *base(path, mlp_path), *COMMANDS[cmd], *COMMON]
    extra = VALUES[flag]
    if flag in ("dim", "dataset_size") and path == "model":
        argv[argv.index(extra[0]) + 1] = extra[1]   # already in the base: give it again, its own value
    else:
        argv += extra
    r = cli(argv)
    # NOT_WITH_HOURS flags are scenario flags: read by every path but the a-posteriori one
    reads = flag in PATH_FLAGS[path] or (flag in NOT_WITH_HOURS and path != "hours")
    # the decoder's shape and batch flags of a --params plan need its architecture (--layers,
    # --d-model, --seq-len), which this base does not give: an error naming them
    reads = reads and not (path == "params" and flag in LM_GRAPH_FLAGS)
    torch_only = flag in ("input", "input_dtype", "checkpointing")   # an ONNX model refuses them, by name
    if reads and not torch_only:
        assert r.returncode in (0, 1), (argv, r.stderr)
    else:
        assert r.returncode == 2, (argv, r.stdout[:300], r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (argv, r.stderr)
        assert any(f in r.stderr for f in extra if f.startswith("--")), (argv, r.stderr)


@pytest.mark.parametrize("extra", [["--params", "7B", "--tokens", "2T"], ["--accelerator-hours", "100"]])
def test_two_ways_in_are_an_error(extra, cli, mlp_path):
    r = cli(["estimate", mlp_path, "--dim", "batch=8", "--dataset-size", "1M", *extra])
    assert r.returncode == 2 and "give one of them" in r.stderr, r.stderr


def test_epochs_multiply_the_model_plan_and_eval_adds(cli, mlp_path):
    import json
    one = json.loads(cli(["estimate", mlp_path, "--dim", "batch=8", "--dataset-size", "1M", *COMMON]).stdout)
    three = json.loads(cli(["estimate", mlp_path, "--dim", "batch=8", "--dataset-size", "1M", "--epochs", "3",
                            *COMMON]).stdout)
    assert three["flops"] == 3 * one["flops"]   # the same plan three times over the dataset
