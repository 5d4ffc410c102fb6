"""The price of a plan's accelerator-hours: on-demand list prices per accelerator-hour (USD) by
device and provider/region (flopest/data/prices.csv), or the user's own price.

    cost (USD) = accelerator-hours × price per accelerator-hour, per Monte-Carlo sample

Which price: the user's (price_per_hour); else the device's list price in the plan's cloud
region; else that provider's price for all its regions; else the range of that provider's
prices in its other regions; else (a grid region such as FR, or a provider without a price for
the device) the range of every provider's list price for the device: p5 = the lowest, p50 = the
median, p95 = the highest. No price for the device: no cost, said in the notes. On-demand list
prices only: spot, reservations and negotiated discounts are lower.
"""

from __future__ import annotations

import statistics

import numpy as np

from .. import data
from ..validate import between
from .uncertain import Uncertain, quantiles, sample

PRICE_NAME = "price per accelerator-hour (on-demand list)"
UNIT = "USD/h"


def _row(p) -> str:
    return f"{p.where} {p.instance} ${p.usd_per_accelerator_hour:g} ({p.date})"


def _spread(rows: list, what: str) -> Uncertain:
    v = sorted(r.usd_per_accelerator_hour for r in rows)
    if len(rows) == 1:
        p = rows[0]
        return Uncertain.fixed(p.usd_per_accelerator_hour, UNIT, f"prices.csv [{p.id}] ({p.source})")
    listed = "; ".join(_row(r) for r in sorted(rows, key=lambda r: r.usd_per_accelerator_hour))
    return Uncertain(v[0], float(statistics.median(v)), v[-1], UNIT,
                     f"prices.csv: {what}, p5 = the lowest, p50 = the median, p95 = the highest of "
                     f"{len(rows)} list prices: {listed}")


def price_per_hour(device: str, region: str, given=None) -> tuple:
    """(price, note): the price of one accelerator-hour of `device` in `region` as an Uncertain
    (USD), or None where no price is known; `note` says how it was chosen when that is not plain
    (None otherwise). `given` (USD per accelerator-hour, > 0) fixes it."""
    if given is not None:
        v = between("price_per_hour", given, 0.0, 10_000.0, lo_open=True, unit="USD per accelerator-hour")
        return Uncertain.fixed(v, UNIT, "given by the user"), None
    rows = list(data.prices(device))
    if not rows:
        return None, (f"no list price for {device} in prices.csv: the cost is left out (give price_per_hour, "
                      f"CLI --price-per-hour, for one)")
    provider, _, cloud_region = region.partition(":") if ":" in region else ("", "", "")
    mine = [r for r in rows if r.provider == provider]
    exact = [r for r in mine if r.region == cloud_region]
    if exact:
        return _spread(exact, f"{device} in {region}"), None
    everywhere = [r for r in mine if r.region is None]
    if everywhere:
        return _spread(everywhere, f"{device} at {provider}"), None
    if mine:
        return (_spread(mine, f"{device} at {provider}, other regions"),
                f"no {provider} list price for {device} in {region}: the cost takes {provider}'s prices in its "
                f"other regions ({', '.join(sorted({r.where for r in mine}))})")
    note = None
    if provider:
        note = (f"no {provider} list price for {device}: the cost takes the range of the other providers' "
                f"list prices (give price_per_hour for your own)")
    return _spread(rows, f"{device} on every provider listed"), note


def cost_usd(price: Uncertain, accelerator_hours: np.ndarray, samples: int, seed: int) -> dict:
    """{p5, p50, p95} of the cost in USD: the price's draws (the one sampler, its own seed so the
    other inputs' draws are unchanged) × the accelerator-hours of each sample."""
    p = sample({"price": price}, samples, seed + 1)["price"]
    return quantiles(p * accelerator_hours)
