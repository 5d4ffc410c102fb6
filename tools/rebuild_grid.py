"""Rebuild grid_intensity.csv from the data files that carbontracker and codecarbon ship.

A developer tool outside the installed package, not imported by flopest (flopest depends on
neither package). Run it in a scratch environment:

    python -m venv /tmp/scratch && /tmp/scratch/bin/pip install codecarbon carbontracker
    /tmp/scratch/bin/python tools/rebuild_grid.py            # rewrites grid_intensity.csv
    /tmp/scratch/bin/python tools/rebuild_grid.py --check    # exit 1 if the file would change

Inputs (read from the installed packages):
- carbontracker/data/carbon-intensities.csv: Our World in Data "Carbon intensity of electricity
  generation" (Ember; Energy Institute), one latest year per country, CC BY 4.0.
- codecarbon/data/private_infra/global_energy_mix.json: the same OWID series (2022-2023), used
  only for countries missing from carbontracker's file.
- codecarbon/data/private_infra/2023/usa_emissions.json: US EPA eGRID2023 state rates (lb/MWh).
- codecarbon/data/cloud/impact.csv: Google Cloud region grid intensities (Google's 2023 figures).
The cloud-region -> grid mapping below is curated by hand (provider region locations).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from importlib import metadata, resources
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "flopest" / "data" / "grid_intensity.csv"
MIN_YEAR = 2020          # "recent": older country figures (Western Sahara, 2009) are left out
LB_PER_MWH_TO_G_PER_KWH = 0.45359237   # 1 lb = 453.59237 g; 1 MWh = 1000 kWh
HEADER = ["region", "name", "kind", "intensity_g_per_kwh", "year", "source", "licence", "maps_to",
          "provider_figure_g_per_kwh"]

# Ember, Global Electricity Review 2024 (May 2024): "the CO2 intensity of global power generation
# reached a record low of 480 gCO2/kWh" in 2023 (lifecycle basis, as the OWID country series).
WORLD = ("WORLD", "World", 480.0, 2023,
         "Ember, Global Electricity Review 2024: global electricity generation 480 gCO2e/kWh in 2023 "
         "(lifecycle basis, same series as the OWID country figures); the generation-weighted mean "
         "of the OWID country figures in codecarbon's global_energy_mix.json is 481",
         "CC BY 4.0 (Ember)")

US_STATES = {
    "AL": "alabama", "AK": "alaska", "AZ": "arizona", "AR": "arkansas", "CA": "california",
    "CO": "colorado", "CT": "connecticut", "DE": "delaware", "DC": "district of columbia",
    "FL": "florida", "GA": "georgia", "HI": "hawaii", "ID": "idaho", "IL": "illinois",
    "IN": "indiana", "IA": "iowa", "KS": "kansas", "KY": "kentucky", "LA": "louisiana",
    "ME": "maine", "MD": "maryland", "MA": "massachusetts", "MI": "michigan", "MN": "minnesota",
    "MS": "mississippi", "MO": "missouri", "MT": "montana", "NE": "nebraska", "NV": "nevada",
    "NH": "new hampshire", "NJ": "new jersey", "NM": "new mexico", "NY": "new york",
    "NC": "north carolina", "ND": "north dakota", "OH": "ohio", "OK": "oklahoma", "OR": "oregon",
    "PA": "pennsylvania", "RI": "rhode island", "SC": "south carolina", "SD": "south dakota",
    "TN": "tennessee", "TX": "texas", "UT": "utah", "VT": "vermont", "VA": "virginia",
    "WA": "washington", "WV": "west virginia", "WI": "wisconsin", "WY": "wyoming",
}

# provider:region -> (location, grid row it maps to). Locations from the providers' region pages.
AWS = {
    "us-east-1": ("N. Virginia", "US-VA"), "us-east-2": ("Ohio", "US-OH"),
    "us-west-1": ("N. California", "US-CA"), "us-west-2": ("Oregon", "US-OR"),
    "ca-central-1": ("Canada Central, Montreal", "CA"), "sa-east-1": ("Sao Paulo", "BR"),
    "eu-west-1": ("Ireland", "IE"), "eu-west-2": ("London", "GB"), "eu-west-3": ("Paris", "FR"),
    "eu-central-1": ("Frankfurt", "DE"), "eu-north-1": ("Stockholm", "SE"),
    "eu-south-1": ("Milan", "IT"), "ap-northeast-1": ("Tokyo", "JP"),
    "ap-northeast-2": ("Seoul", "KR"), "ap-southeast-1": ("Singapore", "SG"),
    "ap-southeast-2": ("Sydney", "AU"), "ap-south-1": ("Mumbai", "IN"),
    "ap-east-1": ("Hong Kong", "HK"), "af-south-1": ("Cape Town", "ZA"),
    "me-south-1": ("Bahrain", "BH"),
}
AZURE = {
    "eastus": ("Virginia", "US-VA"), "eastus2": ("Virginia", "US-VA"),
    "centralus": ("Iowa", "US-IA"), "northcentralus": ("Illinois", "US-IL"),
    "southcentralus": ("Texas", "US-TX"), "westus": ("California", "US-CA"),
    "westus2": ("Washington", "US-WA"), "westus3": ("Arizona", "US-AZ"),
    "canadacentral": ("Toronto", "CA"), "brazilsouth": ("Sao Paulo State", "BR"),
    "northeurope": ("Ireland", "IE"), "westeurope": ("Netherlands", "NL"),
    "uksouth": ("London", "GB"), "francecentral": ("Paris", "FR"),
    "germanywestcentral": ("Frankfurt", "DE"), "swedencentral": ("Gavle", "SE"),
    "switzerlandnorth": ("Zurich", "CH"), "norwayeast": ("Oslo", "NO"),
    "italynorth": ("Milan", "IT"), "polandcentral": ("Warsaw", "PL"),
    "japaneast": ("Tokyo", "JP"), "koreacentral": ("Seoul", "KR"),
    "southeastasia": ("Singapore", "SG"), "eastasia": ("Hong Kong", "HK"),
    "australiaeast": ("New South Wales", "AU"), "centralindia": ("Pune", "IN"),
    "southafricanorth": ("Johannesburg", "ZA"), "uaenorth": ("Dubai", "AE"),
}
# Google's regions: the grid row each maps to (codecarbon's impact.csv gives the city).
GCP = {
    "africa-south1": "ZA", "asia-east1": "TW", "asia-east2": "HK", "asia-northeast1": "JP",
    "asia-northeast2": "JP", "asia-northeast3": "KR", "asia-south1": "IN", "asia-south2": "IN",
    "asia-southeast1": "SG", "asia-southeast2": "ID", "australia-southeast1": "AU",
    "australia-southeast2": "AU", "europe-central2": "PL", "europe-north1": "FI",
    "europe-southwest1": "ES", "europe-west1": "BE", "europe-west2": "GB", "europe-west3": "DE",
    "europe-west4": "NL", "europe-west6": "CH", "europe-west8": "IT", "europe-west9": "FR",
    "europe-west10": "DE", "europe-west12": "IT", "me-central1": "QA", "me-central2": "SA",
    "me-west1": "IL", "northamerica-northeast1": "CA", "northamerica-northeast2": "CA",
    "southamerica-east1": "BR", "southamerica-west1": "CL", "us-central1": "US-IA",
    "us-east1": "US-SC", "us-east4": "US-VA", "us-east5": "US-OH", "us-south1": "US-TX",
    "us-west1": "US-OR", "us-west2": "US-CA", "us-west3": "US-UT", "us-west4": "US-NV",
}
GCP_TYPOS = {"me-cenrtal1": "me-central1"}   # codecarbon's impact.csv spells it so


def _read(pkg: str, rel: str) -> str:
    return resources.files(pkg).joinpath(rel).read_text(encoding="utf-8-sig")


def build() -> str:
    ct_version = metadata.version("carbontracker")
    cc_version = metadata.version("codecarbon")
    owid_src = ("Our World in Data, Carbon intensity of electricity generation (Ember; Energy "
                "Institute Statistical Review of World Energy), {year}; read from carbontracker "
                f"{ct_version} carbontracker/data/carbon-intensities.csv")
    owid_lic = "CC BY 4.0 (Our World in Data; Ember; Energy Institute); file shipped by carbontracker (MIT)"
    rows = []

    countries = {}
    for r in csv.DictReader(io.StringIO(_read("carbontracker", "data/carbon-intensities.csv"))):
        code, year = r["alpha-2"].strip(), int(r["Year"])
        if len(code) != 2 or year < MIN_YEAR:
            continue
        countries[r["Code"]] = code
        rows.append([code, r["Entity"], "country",
                     round(float(r["Carbon intensity of electricity (gCO2eq/kWh)"]), 1), year,
                     owid_src.format(year=year), owid_lic, "", ""])
    mix = json.loads(_read("codecarbon", "data/private_infra/global_energy_mix.json"))
    alpha3_extra = {"NAM": "NA"}   # missing from carbontracker's file (its "NA" read as empty)
    for a3, a2 in alpha3_extra.items():
        if a3 in countries or a3 not in mix:
            continue
        m = mix[a3]
        rows.append([a2, m["country_name"], "country", round(float(m["carbon_intensity"]), 1),
                     int(m["year"]),
                     f"Our World in Data, Carbon intensity of electricity generation (Ember; Energy "
                     f"Institute), {m['year']}; read from codecarbon {cc_version} "
                     "codecarbon/data/private_infra/global_energy_mix.json",
                     "CC BY 4.0 (Our World in Data; Ember; Energy Institute); file shipped by "
                     "codecarbon (MIT)", "", ""])
    rows.append([WORLD[0], WORLD[1], "world", WORLD[2], WORLD[3], WORLD[4], WORLD[5], "", ""])

    usa = json.loads(_read("codecarbon", "data/private_infra/2023/usa_emissions.json"))
    egrid_year = int(usa["_source"]["year"])
    egrid_field = usa["_source"]["field"]
    for code, key in sorted(US_STATES.items()):
        lb = float(usa[key]["emissions"])
        rows.append([f"US-{code}", f"United States - {key.title()}", "subdivision",
                     round(lb * LB_PER_MWH_TO_G_PER_KWH, 1), egrid_year,
                     f"US EPA eGRID{egrid_year} state CO2e total output emission rate ({egrid_field}, "
                     f"{lb} lb/MWh x 0.4536; generation in the state, combustion only, not lifecycle); "
                     f"read from codecarbon {cc_version} data/private_infra/{egrid_year}/usa_emissions.json",
                     "public domain (US EPA eGRID, US Government work); file shipped by codecarbon (MIT)",
                     "", ""])

    grid = {r[0]: r for r in rows}

    def cloud_row(rid, location, maps_to, provider_fig="", provider_src=""):
        g = grid[maps_to]
        src = f"location-based: grid of {maps_to} ({g[1]}), {g[5]}"
        lic = g[6]
        if provider_fig != "":
            src += f"; provider figure: {provider_src}"
            lic += "; provider figure: Google Cloud region-carbon-info via codecarbon (MIT)"
        provider, region = rid.split(":")
        label = {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure"}[provider]
        return [rid, f"{label} {region} ({location})", "cloud", g[3], g[4], src, lic, maps_to,
                provider_fig]

    for region, (loc, to) in AWS.items():
        rows.append(cloud_row(f"aws:{region}", loc, to))
    for region, (loc, to) in AZURE.items():
        rows.append(cloud_row(f"azure:{region}", loc, to))
    seen = set()
    for r in csv.DictReader(io.StringIO(_read("codecarbon", "data/cloud/impact.csv"))):
        if r["provider"] != "gcp":
            continue
        region = GCP_TYPOS.get(r["region"], r["region"])
        seen.add(region)
        rows.append(cloud_row(f"gcp:{region}", r["city"], GCP[region], float(r["impact"]),
                              "Google Cloud region grid carbon intensity 2023 (GoogleCloudPlatform/"
                              f"region-carbon-info data/yearly/2023.csv), read from codecarbon {cc_version} "
                              "data/cloud/impact.csv"))
    missing = sorted(set(GCP) - seen)
    if missing:
        raise SystemExit(f"GCP regions mapped here but absent from impact.csv: {missing}")

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)   # the header first, then the comment lines (the loader skips them)
    buf.write("# Location-based grid carbon intensity (g CO2eq/kWh). Format and licences: README.md.\n")
    buf.write("# Generated by rebuild_grid.py; edit that script, not this file.\n")
    w.writerows(rows)
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if grid_intensity.csv would change")
    args = ap.parse_args()
    text = build()
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("grid_intensity.csv is up to date" if same else "grid_intensity.csv would change")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({text.count(chr(10)) - 3} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
