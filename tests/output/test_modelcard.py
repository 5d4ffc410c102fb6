"""--format model-card: the Hugging Face model card's co2_eq_emissions metadata parses as YAML and
holds the Hub's fields (https://huggingface.co/docs/hub/model-cards-co2), emissions in grams at
p50 of the boundary asked for, then a Markdown section with the range and the assumptions."""

import pytest
import yaml

import flopest
from flopest.cli import main
from flopest.errors import InputError
from flopest.report import render_estimate
from flopest.report.modelcard import grams, model_card

HF_FIELDS = {"emissions", "source", "training_type", "geographical_location", "hardware_used"}


def front_matter(text: str) -> dict:
    """The YAML between the card's first two '---' lines, parsed."""
    lines = text.splitlines()
    assert lines[0] == "---"
    end = lines.index("---", 1)
    return yaml.safe_load("\n".join(lines[1:end]))


@pytest.fixture(scope="module")
def fixed():
    # every input fixed: 1,000 accelerator-hours × 700 W all-in × PUE 1.2 = 840 kWh; × 50 g/kWh = 42 kg
    return flopest.estimate(accelerator_hours=1000, device="h100-sxm", n_devices=8, region="FR", power_w=700,
                            pue=1.2, intensity=50, samples=500)


def test_front_matter_parses_and_has_the_hub_fields(fixed):
    card = render_estimate(fixed.to_dict(), "model-card")
    meta = front_matter(card)
    assert set(meta) == {"co2_eq_emissions"}
    co2 = meta["co2_eq_emissions"]
    assert set(co2) == HF_FIELDS
    # grams: 42 kg = 42,000 g
    assert co2["emissions"] == 42_000 and isinstance(co2["emissions"], int)
    assert co2["training_type"] == "pre-training"
    assert co2["geographical_location"] == "France (FR)"
    assert co2["hardware_used"] == "8 x NVIDIA H100 SXM5 80GB"
    assert "flopest" in co2["source"] and "before training" in co2["source"]
    body = card.split("---\n", 2)[2]
    assert "## Environmental impact (estimated)" in body
    assert "**42 kg CO₂eq**" in body and "p5 42 kg – p95 42 kg" in body
    assert "| accelerators only (their average power) |" in body and "embodied" in body
    assert "- PUE: 1.2 — given by the user" in body


def test_boundary_and_training_type(fixed):
    d = fixed.to_dict()
    # accelerators only (all-in power, not split): 1,000 h × 0.7 kW × 50 g = 35 kg = 35,000 g
    meta = front_matter(model_card(d, "fine-tuning", boundary="accelerators"))["co2_eq_emissions"]
    assert meta["emissions"] == 35_000 and meta["training_type"] == "fine-tuning"
    with pytest.raises(InputError, match="training_type 'finetuning'.*fine-tuning"):
        model_card(d, "finetuning")
    with pytest.raises(InputError, match="boundary 'site'"):
        model_card(d, boundary="site")


def test_hostile_model_names_stay_inside_their_yaml_string(fixed):
    d = fixed.to_dict()
    d["plan"] = {**d["plan"], "model": 'evil"\n---\nco2_eq_emissions: 0 # \u2028|x', "region_name": "Ré: gion\t\"x\""}
    card = model_card(d)
    meta = front_matter(card)["co2_eq_emissions"]
    assert meta["emissions"] == 42_000
    assert meta["geographical_location"].startswith('Ré: gion')
    assert card.count("\n---\n") == 1   # the name did not close the front matter


@pytest.mark.parametrize("g,text,value", [(2_557_840.7, "2560000", 2_560_000), (42_000.0, "42000", 42_000),
                                          (83.524, "83.5", 83.5), (0.0123456, "0.0123", 0.0123),
                                          (1.23e-05, "0.0000123", 1.23e-05), (0.0, "0.0", 0.0)])
def test_grams_are_yaml_numbers_never_exponents(g, text, value):
    assert grams(g) == text
    assert yaml.safe_load(f"x: {text}")["x"] == pytest.approx(value)


def test_cli_model_card_for_estimate_and_check(tmp_path, capsys):
    plan = ["--params", "1B", "--tokens", "20B", "--device", "a100-sxm4-80gb", "--devices", "8", "--region", "DE",
            "--samples", "1000"]
    assert main(["estimate", *plan, "--format", "model-card", "--training-type", "fine-tuning"]) == 0
    meta = front_matter(capsys.readouterr().out)["co2_eq_emissions"]
    assert set(meta) == HF_FIELDS and meta["training_type"] == "fine-tuning"
    assert meta["hardware_used"] == "8 x NVIDIA A100 SXM4 80GB" and meta["geographical_location"] == "Germany (DE)"
    out = tmp_path / "card.md"
    rc = main(["check", *plan, "--budget", "co2eq=1g", "--no-config", "--format", "model-card", "-o", str(out)])
    assert rc == 1                                      # the verdict still sets the exit code
    meta2 = front_matter(out.read_text())["co2_eq_emissions"]
    assert meta2["emissions"] == meta["emissions"] and meta2["training_type"] == "pre-training"
    assert "over budget" in capsys.readouterr().err.lower()
    # --training-type belongs to the model card
    assert main(["estimate", *plan, "--training-type", "fine-tuning"]) == 2
    assert "--format model-card" in capsys.readouterr().err


def test_a_small_cost_keeps_its_cents():
    """0.25 accelerator-hours × USD 2 = USD 0.50 (given price: every input of the hours fixed); a
    whole-dollar card printed USD 0 or USD 1."""
    e = flopest.estimate(accelerator_hours=0.25, device="h100-sxm", power_w=700, pue=1.2, intensity=50,
                         price_per_hour=2, samples=500)
    card = model_card(e.to_dict())
    assert "USD 0.50" in card


def test_the_notes_travel_with_the_card_and_the_csv():
    """What an estimate assumed is in every output: the card's Notes and one CSV row a note."""
    from flopest.report import render_estimate
    e = flopest.estimate(params=7e9, tokens=1e9, device="h100-sxm", samples=300)
    d = e.to_dict()
    assert d["notes"]
    card = model_card(d)
    assert "Notes (what the estimate assumed" in card
    csv_text = render_estimate(d, "csv")
    notes = [line for line in csv_text.splitlines() if line.startswith("note: ") or line.startswith('"note: ')]
    assert len(notes) == len(d["notes"])
    assert any(line.startswith("flops,42000000000000000000") for line in csv_text.splitlines())   # 6·7e9·1e9


def test_count_csv_has_the_training_phases_and_the_notes(tmp_path, capsys):
    """`flopest count --training --format csv`: forward + backward + optimizer = flops, and the
    notes, as the table shows them (the CSV had the totals alone)."""
    import csv
    import io
    import onnx
    from tests.conftest import mlp_model
    path = tmp_path / "m.onnx"
    onnx.save(mlp_model(), str(path))
    assert main(["count", str(path), "--dim", "batch=4", "--format", "csv"]) == 0
    rows = {r[0]: r[1] for r in csv.reader(io.StringIO(capsys.readouterr().out))}
    assert rows["flops"] == str(16384 + 256)       # 2·4·64·32 + 4·32 + 4·32
    assert "forward_flops" in rows
