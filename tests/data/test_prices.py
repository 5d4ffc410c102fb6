"""flopest/data/prices.csv: on-demand list prices per accelerator-hour, each row sourced (URL and
date), validated as it loads like every embedded table (header first, '#' comments, typed and
range-checked columns, references to devices.csv and grid_intensity.csv)."""

import csv
import io
import math
from importlib import resources

import pytest

from flopest import data as profiles
from flopest.errors import DataError

DATA = resources.files("flopest").joinpath("data")
HEADER = ("id,device,provider,region,instance,accelerators_per_instance,instance_usd_per_hour,"
          "usd_per_accelerator_hour,basis,source,date,year")


@pytest.fixture(autouse=True)
def _fresh():
    profiles.reload()
    yield
    profiles.reload()


def test_every_row_is_sourced_positive_and_consistent():
    rows = profiles.prices()
    assert len(rows) >= 15
    providers = {r.provider for r in rows}
    assert {"aws", "gcp", "azure", "lambda", "runpod"} <= providers
    for r in rows:
        assert r.origin == "flopest/data/prices.csv"
        assert "https://" in r.source and r.date.startswith(str(r.year)), r.id
        assert math.isfinite(r.usd_per_accelerator_hour) and 0 < r.usd_per_accelerator_hour < 100, r.id
        profiles.device(r.device)                          # a device of devices.csv
        if r.region and r.provider in ("aws", "gcp", "azure"):
            profiles.region(f"{r.provider}:{r.region}")     # a region of grid_intensity.csv
        if r.instance_usd_per_hour is not None:            # per GPU = instance / GPUs (to 0.5 %)
            assert r.usd_per_accelerator_hour == pytest.approx(r.instance_usd_per_hour / r.accelerators_per_instance,
                                                               rel=0.005), r.id


def test_published_figures_divided_per_gpu():
    by_id = {r.id: r for r in profiles.prices()}
    # AWS p5.48xlarge: USD 55.04 an hour for 8 H100 SXM = 6.88 per GPU-hour
    p5 = by_id["aws:us-east-1:p5.48xlarge"]
    assert (p5.device, p5.accelerators_per_instance, p5.instance_usd_per_hour) == ("h100-sxm", 8, 55.04)
    assert p5.usd_per_accelerator_hour == pytest.approx(55.04 / 8)
    # p4de.24xlarge: 27.44705 / 8 = 3.43088 per A100 SXM 80GB-hour
    assert by_id["aws:us-east-1:p4de.24xlarge"].usd_per_accelerator_hour == pytest.approx(27.44705 / 8)
    assert profiles.prices("H100-SXM") == profiles.prices("h100-sxm")   # ids are case-insensitive
    assert profiles.prices("rtx-3090") == ()


def test_readme_documents_every_column():
    readme = DATA.joinpath("README.md").read_text("utf-8")
    assert "prices.csv" in readme
    text = DATA.joinpath("prices.csv").read_text("utf-8")
    first = next(ln for ln in text.splitlines() if ln.strip())
    assert first == HEADER                               # the header first, then the '#' comments
    assert text.splitlines()[1].startswith("#")
    for col in next(csv.reader([first])):
        assert f"`{col}`" in readme, col
    ids = [r["id"] for r in csv.DictReader(io.StringIO("\n".join(ln for ln in text.splitlines()
                                                                   if not ln.startswith("#"))))]
    assert len(ids) == len(set(ids))


GOOD = ('aws:us-east-1:x,h100-sxm,aws,us-east-1,x,8,16,2,derived,"list (https://example.com)",2026-11-09,2026')


@pytest.mark.parametrize("row,column,message", [
    (GOOD.replace(",h100-sxm,", ",h100-sxn,"), "device", "h100-sxm"),
    (GOOD.replace(",us-east-1,x,", ",us-east-9,x,"), "region", "aws:us-east-9"),
    (GOOD.replace(",8,16,2,", ",8,16,3,"), "usd_per_accelerator_hour", "16 / 8"),
    (GOOD.replace(",8,16,2,", ",8,16,0,"), "usd_per_accelerator_hour", "must be > 0"),
    (GOOD.replace("(https://example.com)", "(a price list)"), "source", "URL"),
    (GOOD.replace(",2026-11-09,2026", ",2026-11-09,2025"), "year", "2025"),
    (GOOD.replace(",2026-11-09,", ",09/11/2026,"), "date", "09/11/2026"),
    (GOOD.replace(",derived,", ",guessed,"), "basis", "guessed"),
])
def test_a_bad_row_names_file_line_and_column(monkeypatch, row, column, message):
    real = profiles._read_embedded
    monkeypatch.setattr(profiles, "_read_embedded",
                        lambda f: f"{HEADER}\n# comment\n{row}\n" if f == "prices.csv" else real(f))
    with pytest.raises(DataError) as info:
        profiles.prices()
    msg = str(info.value)
    assert "prices.csv: line 3" in msg and f"column {column!r}" in msg and message in msg, msg
