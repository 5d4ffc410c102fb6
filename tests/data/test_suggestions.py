"""Messages that point the right way (issue 13 item 9): an unknown id is answered with its
family first (the ids it begins at a word boundary, or whose id or name holds every word of
it), then the closest spelling; a region is found by its country name as well as its code."""

import pytest

from flopest import data
from flopest.errors import UnknownIdError, did_you_mean, suggestions


def _message(fn, key) -> str:
    with pytest.raises(UnknownIdError) as e:
        fn(key)
    return str(e.value)


def test_h100_suggests_both_h100s_not_the_h200():
    # devices.csv holds h100-sxm and h100-pcie: both begin with "h100" followed by "-"; the
    # closest spelling alone (difflib) was 'h200' (one letter off)
    assert _message(data.device, "h100") == (
        "unknown device 'h100' — did you mean 'h100-sxm' or 'h100-pcie'? (flopest devices lists all)")


def test_a100_suggests_the_four_a100s_not_the_a10g():
    # the a100 rows of devices.csv, in file order: sxm4 40/80 GB, pcie 40/80 GB (4 ids)
    msg = _message(data.device, "A100")
    assert "did you mean one of 'a100-sxm4-40gb', 'a100-sxm4-80gb', 'a100-pcie-40gb' or " \
           "'a100-pcie-80gb'?" in msg
    assert "a10g" not in msg


@pytest.mark.parametrize("key, want", [
    ("v100", ["v100-sxm2", "v100-pcie"]),                 # a family by prefix
    ("tpu", ["tpu-v3", "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e"]),
    ("a100 80gb", ["a100-sxm4-80gb", "a100-pcie-80gb"]),  # every word in the id
    ("H100 SXM", ["h100-sxm"]),
    ("a10O", ["a10g"]),                                   # no family: the closest spelling
])
def test_device_families(key, want):
    assert [c for c, _ in suggestions(key, [d.id for d in data.devices()])] == want


def test_regions_by_country_name_case_insensitive():
    # grid_intensity.csv: DE,Germany,...; US,United States,... — a name that names one row is its id
    assert data.region("Germany") is data.region("DE")
    assert data.region("germany") is data.region("DE")
    assert data.region("  GERMANY ") is data.region("de")
    assert data.region("united states") is data.region("US")
    # names of other tables too: datacenters.csv "Amazon Web Services" is aws
    assert data.datacenter("amazon web services").id == "aws"


def test_region_names_steer_the_suggestions():
    # a misspelt country: closest spelling over codes and names, shown with the name it matched
    assert _message(data.region, "Gemany") == (
        "unknown region 'Gemany' — did you mean 'DE' (Germany)? (flopest regions lists all)")
    # a word of two names: North Korea (KP) and South Korea (KR), in file order
    assert "did you mean 'KP' (North Korea) or 'KR' (South Korea)?" in _message(data.region, "Korea")


def test_the_cli_resolves_a_country_name(cli):
    code, out, err = cli(["estimate", "--params", "7B", "--tokens", "2T", "--device", "h100-sxm",
                          "--region", "Germany", "--samples", "100", "--format", "json"])
    assert code == 0, err
    assert "grid_intensity.csv [DE]" in out     # the intensity is Germany's row
    code, out, err = cli(["estimate", "--params", "7B", "--tokens", "2T", "--device", "h100"])
    assert code == 2 and "did you mean 'h100-sxm' or 'h100-pcie'?" in err, err


def test_did_you_mean_is_one_general_mechanism():
    # word-boundary prefix: "batch" begins "batch_size" (then "_"), not "batches"
    assert did_you_mean("batch", ["batches", "batch_size"]) == " — did you mean 'batch_size'?"
    # no family: difflib's closest, as before
    assert did_you_mean("bath", ["batch", "sequence"]) == " — did you mean 'batch'?"
    assert did_you_mean("zzz", ["batch"]) == ""
    # more than MAX_SUGGESTIONS (6) in the family: 6 named, the rest counted (8 - 6 = 2)
    many = [f"x-{i}" for i in range(8)]
    assert did_you_mean("x", many).endswith("or 'x-5' (and 2 more)?")
    # an empty name has no words: no family of everything
    assert suggestions("", ["a-1", "a-2"]) == []


def test_exceptionally_reserved_country_codes_are_their_countries():
    """UK is GB and EL is GR (ISO 3166-1 exceptional reservations in common use)."""
    from flopest import data
    assert data.region("UK").id == "GB" and data.region("uk").id == "GB"
    assert data.region("EL").id == "GR"
