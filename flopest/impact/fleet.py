"""A serving deployment over time: the load, the fleet, its power and its impacts.

    replicas   = ⌈λ / (B / latency × target utilisation)⌉ (or the fleet given), k devices each
    power      = idle + busy × (TDP × power fraction − idle) + host, per device (a user-given
                 power_w is the all-in average draw per device: only PUE is added)
    energy     = devices × H × power × PUE           scope 2 = energy × grid intensity
    scope 3    = devices × embodied × H / lifetime   (a dedicated fleet: the share is its time
                 over its lifetime, the seed's ChatGPT method; not divided by the 85 % lifetime
                 utilisation used for jobs on shared hardware)
    or, a posteriori, wh_per_request: IT energy = Wh × requests (PUE on top).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..units import HOURS_PER_YEAR
from ..validate import error, positive, whole
from .uncertain import quantiles

HOURS_PER_MONTH = HOURS_PER_YEAR / 12   # 730 h: a month is a twelfth of a year
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class Load:
    """Requests over a duration: `hours` of service at `per_day` requests a day."""
    hours: float
    per_day: float

    @property
    def total_requests(self) -> float:
        return self.per_day * self.hours / 24.0

    @property
    def per_second(self) -> float:
        return self.per_day / SECONDS_PER_DAY


def load(requests_per_day=None, requests_per_hour=None, requests=None, users=None, requests_per_user=None,
         days=None, months=None) -> Load:
    """The load, given once: requests_per_day, requests_per_hour, requests (total over the
    duration) or users × requests_per_user (per day); the duration in days or months (default 12
    months)."""
    days = positive("days", days, allow_none=True)
    months = positive("months", months, allow_none=True)
    given = {f: positive(f, v, allow_none=True) for f, v in (
        ("requests_per_day", requests_per_day), ("requests_per_hour", requests_per_hour),
        ("requests", requests), ("users", users), ("requests_per_user", requests_per_user))}
    if days is not None and months is not None:
        raise error("give days or months, not both", "days", "months")
    hours = days * 24.0 if days is not None else (months if months is not None else 12.0) * HOURS_PER_MONTH
    named = [f for f in ("requests_per_day", "requests_per_hour", "requests", "users") if given[f] is not None]
    if len(named) != 1:
        raise error("give the load once: requests_per_day, requests_per_hour, requests (the total) or users "
                    "with requests_per_user" + (f" (given: {', '.join(named)})" if named else ""),
                    "requests_per_day", "requests_per_hour", "requests", "users", "requests_per_user", *named)
    if (given["users"] is None) != (given["requests_per_user"] is None):
        raise error("users and requests_per_user (requests per user per day) go together", "users",
                    "requests_per_user")
    if given["users"] is not None:
        per_day = given["users"] * given["requests_per_user"]
    elif given["requests_per_day"] is not None:
        per_day = given["requests_per_day"]
    elif given["requests_per_hour"] is not None:
        per_day = given["requests_per_hour"] * 24
    else:
        per_day = given["requests"] / (hours / 24.0)
    return Load(hours, per_day)


@dataclass(frozen=True)
class Fleet:
    """The servers and accelerators of a deployment: fixed (`devices` given) or to be sized."""
    host: object                 # flopest.data.Host
    per_server: int              # accelerators per server
    servers: int | None = None   # given
    devices: int | None = None   # given (servers × per_server when servers are given)


def fleet(dev, host, n_devices=None, servers=None) -> Fleet:
    """The fleet of `dev` accelerators on `host` servers, fixed when n_devices or servers is given."""
    nd = whole("n_devices", n_devices, allow_none=True)
    nsrv = whole("servers", servers, allow_none=True)
    per_server = host.accelerators_per_server if dev.kind != "cpu" else 1
    if nsrv is not None:
        if nd is not None and nd != nsrv * per_server:
            raise error(f"n_devices {nd} and servers {nsrv} disagree ({nsrv} × {per_server} per server); give one",
                        "n_devices", "servers")
        return Fleet(host, per_server, nsrv, nsrv * per_server)
    return Fleet(host, per_server, None, nd)


def assumptions(fl: Fleet, server_embodied_kg) -> list:
    rows = [{"name": "embodied share", "value": "time in service / lifetime", "unit": "",
             "source": "a dedicated serving fleet (the seed chapter's ChatGPT estimate: servers × embodied "
                       "/ 72 months per month)"}]
    if fl.servers is not None:
        rows.append({"name": "servers", "value": fl.servers, "unit": "",
                     "source": f"given ({fl.per_server} accelerators each, hosts.csv [{fl.host.id}])"})
    return rows


def device_power_w(dev, busy, v, power_w=None) -> np.ndarray:
    """Average draw per device (W): idle + busy share × (TDP × power fraction − idle) + host, or
    the all-in `power_w` given."""
    if power_w is not None:
        return np.full(len(busy), power_w)
    active = dev.tdp_w * v["power_frac"]
    return dev.idle_w + busy * np.maximum(active - dev.idle_w, 0.0) + v["host_w"]


def impacts(v, e_it, devices, hours, total_requests, with_training) -> dict:
    """{figure: {p5, p50, p95}} of a deployment from the samples `v` of its inputs, its IT energy
    (kWh) and its devices (None: no fleet, scope 3 not counted) over `hours`."""
    n = len(v["pue"])
    e = e_it * v["pue"]
    s2 = e * v["intensity"] / 1000.0
    if devices is None:
        s3 = np.zeros(n)
    else:
        s3 = devices * v["embodied"] * hours / (v["lifetime"] * HOURS_PER_YEAR)
    co2 = s2 + s3
    water = e_it * v["wue"] + e * v["water_elec"]
    month, year = HOURS_PER_MONTH / hours, HOURS_PER_YEAR / hours
    res = {"time_s": quantiles(np.full(n, hours * 3600.0)), "energy_kwh": quantiles(e), "co2eq_kg": quantiles(co2),
           "scope2": quantiles(s2), "scope3": quantiles(s3), "water_l": quantiles(water),
           "energy_kwh_per_month": quantiles(e * month), "co2eq_kg_per_month": quantiles(co2 * month),
           "co2eq_kg_per_year": quantiles(co2 * year),
           "energy_wh_per_request": quantiles(e * 1000.0 / total_requests),
           "co2eq_g_per_request": quantiles(co2 * 1000.0 / total_requests)}
    if with_training:
        per_day = co2 * 24.0 / hours
        res["breakeven_days"] = quantiles(v["training"] / per_day)
    return res
