"""The serving model without a graph: exact sums over positions, the roofline per request, the fleet,
energy and CO₂eq over time. Every expected figure is the hand arithmetic written next to it."""

import math

import numpy as np
import pytest

from flopest.errors import FlopestError, InputError, ServingError
from flopest.generation import GenerationCost, Poly, fit_position, generation_cost_params
from flopest.impact import Roofline, roofline, serve

# ---------------------------------------------------------------- exact polynomial sums and fits


def test_poly_sum_is_exact():
    from fractions import Fraction
    f = Poly((Fraction(7), Fraction(3), Fraction(2)))
    # Σ_{p=10}^{20} 7 + 3p + 2p² = 11·7 + 3·165 + 2·(Σp² to 20 − Σp² to 9 = 2870 − 285 = 2585) = 77 + 495 + 5170
    assert f.sum(10, 20) == 5742 == sum(7 + 3 * p + 2 * p * p for p in range(10, 21))
    assert f.sum(5, 4) == 0
    # a 10²⁵-scale cost stays exact: 10²⁰ FLOPs per step × 10⁵ steps
    big = Poly((Fraction(10**20),))
    assert big.sum(1, 100_000) == 10**25


def test_fit_affine_then_quadratic_then_refuse():
    assert fit_position({8: 108, 10: 110, 12: 112, 20: 120}).c == (100, 1)          # 100 + p
    q = fit_position({1: 6, 2: 11, 3: 18, 5: 38})                                    # 3 + 2p + p²
    assert q.c == (3, 2, 1) and q.degree == 2
    with pytest.raises(ServingError, match="not a polynomial"):
        fit_position({1: 1, 2: 8, 3: 27, 4: 64})                                     # p³
    assert issubclass(ServingError, FlopestError)


def test_roofline_times_match_a_step_by_step_sum():
    rng = np.random.default_rng(0)
    ps = np.arange(100, 400, dtype=float)
    for compute, memory in ((2e-3 + 1e-6 * ps, 1e-3 + 4e-6 * ps),          # ratio falls with p
                            (1e-3 + 6e-6 * ps, 3e-3 + 1e-6 * ps),          # ratio rises with p
                            (1e-3 * (1 + np.sin(ps / 9) ** 2), np.full(len(ps), 1.5e-3))):   # not monotone
        rl = Roofline(1, 1, 0.01, 0.02, compute, memory, 0, 0, 0, 0, 0, len(ps) + 1)
        mfu, mbu = rng.uniform(0.1, 1, 200), rng.uniform(0.1, 1, 200)
        t_pf, t_dec = rl.times(mfu, mbu)
        brute = np.array([np.maximum(compute / a, memory / b).sum() for a, b in zip(mfu, mbu)])
        np.testing.assert_allclose(t_dec, brute, rtol=1e-12)
        np.testing.assert_allclose(t_pf, np.maximum(0.01 / mfu, 0.02 / mbu))


# ---------------------------------------------------------------- a 7B model without a graph, by hand
N, LAYERS, DMODEL, PROMPT, OUTPUT = 7 * 10**9, 32, 4096, 1000, 200
PEAK, BW = 989.4e12, 3350e9               # h100-sxm: dense bf16 FLOP/s, HBM3 bytes/s (devices.csv)


def _seven_b(**kw):
    args = {"params": "7B", "layers": LAYERS, "d_model": DMODEL, "context": 4096, "prompt_tokens": PROMPT,
            "output_tokens": OUTPUT, "requests_per_day": "100k", "days": 30, "device": "h100-sxm", "mfu": 0.5,
            "mbu": 0.5, "power_w": 700, "pue": 1.2, "intensity": 400, "lifetime_years": 5,
            "server_embodied_kg": 8000, "samples": 2000}
    args.update(kw)
    return serve(**args)


def test_7b_per_request_cost():
    c = generation_cost_params("7B", PROMPT, OUTPUT, LAYERS, DMODEL, context=4096)
    assert isinstance(c, GenerationCost)
    # decode step with p cached: 2N + (QKᵀ 2d + AV 2d) × 32 layers × (p + 1) keys = 14e9 + 524,288·(p + 1)
    assert c.decode_flops(1000) == 2 * N + 4 * 32 * 4096 * 1001
    # prefill, causal: 2N·P + 524,288 × P(P + 1)/2 = 14e12 + 524,288 × 500,500
    assert c.prefill_flops == 2 * N * 1000 + 524_288 * 500_500
    # 199 decode steps at p = 1000 … 1198: 199 × 14e9 + 524,288 × (1001 + … + 1199 = 218,900)
    assert c.decode_flops_total == 199 * 14 * 10**9 + 524_288 * 218_900
    # KV cache: K and V × 32 layers × 4096 = 262,144 elements per token
    assert c.kv_elements_per_token == 262_144
    assert c.matmul_params == N


def test_7b_latency_tokens_and_fleet():
    d = _seven_b().to_dict()
    # bf16: weights 14e9 B read per step; KV 524,288 B per token. Batch 1, MBU 0.5, MFU 0.5 (fixed):
    # decode is memory-bound: Σ_p (14e9 + 524,288·(p + 1)) / (3.35e12 × 0.5)
    #   = (199 × 14e9 + 524,288 × 218,900) / 1.675e12 = 1.73181 s
    t_dec = (199 * 14e9 + 524_288 * 218_900) / (BW * 0.5)
    # prefill is compute-bound: (14e12 + 524,288 × 500,500) / (989.4e12 × 0.5) = 28.83 ms
    # (against (14e9 + 524,288 × 1000) / 1.675e12 = 8.67 ms of memory)
    t_pf = (14e12 + 524_288 * 500_500) / (PEAK * 0.5)
    assert d["ttft_s"]["p50"] == pytest.approx(t_pf, rel=1e-9)
    assert d["latency_s"]["p50"] == pytest.approx(t_pf + t_dec, rel=1e-9)          # 1.7606 s
    assert d["latency_s"]["p5"] == d["latency_s"]["p95"]                             # all fixed
    # 200 output tokens per request / 1.7606 s = 113.6 tokens/s on the one device
    assert d["tokens_per_s"]["p50"] == pytest.approx(200 / (t_pf + t_dec), rel=1e-9)
    # 100k requests/day = 1.1574 /s against 1 / 1.7606 s = 0.568 /s per device: ⌈2.038⌉ = 3 devices
    assert d["devices_needed"]["p50"] == math.ceil(100_000 / 86_400 * (t_pf + t_dec)) == 3
    # 3 devices × 720 h × 700 W = 1,512 kWh; × PUE 1.2 = 1,814.4 kWh; × 0.4 kg/kWh = 725.76 kg
    assert d["energy_kwh"]["p50"] == pytest.approx(1814.4, rel=1e-9)
    assert d["co2eq_kg_by_scope"]["scope2"]["p50"] == pytest.approx(725.76, rel=1e-9)
    # scope 3: 3 devices × (8,000 kg / 8 per server) × 720 h / (5 × 8,760 h) = 49.315 kg
    assert d["co2eq_kg_by_scope"]["scope3"]["p50"] == pytest.approx(3 * 1000 * 720 / 43_800, rel=1e-9)
    # a month is 730 h: × 730/720; per request: 1,814.4 kWh / 3 M requests = 0.6048 Wh
    assert d["co2eq_kg_per_month"]["p50"] == pytest.approx((725.76 + 49.315068) * 730 / 720, rel=1e-6)
    assert d["energy_wh_per_request"]["p50"] == pytest.approx(1814.4e3 / 3e6, rel=1e-9)
    assert d["weight_bytes"] == 14e9 and d["kv_cache_bytes_per_token"] == 524_288
    # bytes per request at batch 1: prefill 14e9 + 524,288 × 1000; decode 199 × 14e9 + 524,288 × 218,900
    assert d["bytes_per_request"]["prefill"] == 14e9 + 524_288 * 1000
    assert d["bytes_per_request"]["decode"] == 199 * 14e9 + 524_288 * 218_900


def test_batch_shares_the_weights():
    d1 = _seven_b(batch=1).to_dict()
    d16 = _seven_b(batch=16).to_dict()
    # batch 16: one read of the weights serves 16 sequences; each step moves 14e9 + 16 × 524,288 × (p + 1)
    t_dec16 = (199 * 14e9 + 16 * 524_288 * 218_900) / (BW * 0.5)
    t_pf16 = 16 * (14e12 + 524_288 * 500_500) / (PEAK * 0.5)
    assert d16["latency_s"]["p50"] == pytest.approx(t_pf16 + t_dec16, rel=1e-9)
    # 16 × 200 tokens / 3.05 s = 1,049 tokens/s, 9.2× batch 1 (not 16×: the KV caches are read per sequence)
    ratio = d16["tokens_per_s"]["p50"] / d1["tokens_per_s"]["p50"]
    assert ratio == pytest.approx((16 * 200 / (t_pf16 + t_dec16)) / d1["tokens_per_s"]["p50"], rel=1e-9)
    assert 8 < ratio < 10


def test_compute_bound_at_large_batch_short_context():
    # 8 + 8 tokens at batch 1024: each step computes 1024 × (14e9 + 524,288·(p+1)) FLOPs = 1.43e13 →
    # 28.9 ms at 989.4e12 × 0.5, against (14e9 + 1024 × 524,288 × (p+1)) / 1.675e12 = 11.3 ms at p = 8
    rl = roofline(generation_cost_params("7B", 8, 8, LAYERS, DMODEL), "h100-sxm", 1024)
    comp = 1024 * (14e9 + 524_288 * 9) / PEAK
    mem = (14e9 + 1024 * 524_288 * 9) / BW
    assert rl.decode_compute_s[0] == pytest.approx(comp) and rl.decode_memory_s[0] == pytest.approx(mem)
    _, t_dec = rl.times(np.array([0.5]), np.array([0.5]))
    assert t_dec[0] == pytest.approx(sum(max(1024 * (14e9 + 524_288 * (p + 1)) / (PEAK * 0.5),
                                             (14e9 + 1024 * 524_288 * (p + 1)) / (BW * 0.5)) for p in range(8, 15)))


def test_max_latency_picks_the_largest_batch_that_meets_it():
    e = _seven_b(max_latency_s=10.0)
    b = e.info["batch"]
    # the roofline at the chosen batch meets 10 s, twice the batch does not (or needs more devices)
    lat = e.to_dict()["latency_s"]["p50"]
    assert lat <= 10.0
    nxt = _seven_b(batch=2 * b).to_dict()
    assert nxt["latency_s"]["p50"] > 10.0 or nxt["devices_per_replica"] > e.info["devices_per_replica"]
    assert b >= 2
    tight = _seven_b(max_latency_s=0.01).to_dict()      # even batch 1 takes 1.76 s: said, not hidden
    assert tight["batch"] == 1 and any("not met" in n for n in tight["notes"])


def test_ranges_and_collapse():
    free = serve(params="7B", layers=LAYERS, d_model=DMODEL, prompt_tokens=PROMPT, output_tokens=OUTPUT,
                 requests_per_day="100k", days=30, device="h100-sxm", region="FR", samples=20_000).to_dict()
    for k in ("latency_s", "energy_kwh", "co2eq_kg", "co2eq_kg_per_month"):
        assert free[k]["p5"] < free[k]["p50"] < free[k]["p95"], k
    fixed = _seven_b().to_dict()
    for k in ("latency_s", "ttft_s", "tokens_per_s", "devices_needed", "energy_kwh", "co2eq_kg", "co2eq_kg_per_year"):
        assert fixed[k]["p5"] == fixed[k]["p50"] == fixed[k]["p95"], k


def test_breakeven_against_training():
    # GPT-3's training footprint, 552 t (METHOD.md §5), against the fixed 7B service above:
    # (725.76 + 49.315) kg over 30 days = 25.836 kg/day → 552,000 / 25.836 = 21,366 days
    d = _seven_b(training=552_000).to_dict()
    per_day = (725.76 + 3 * 1000 * 720 / 43_800) / 30
    assert d["breakeven_days"]["p50"] == pytest.approx(552_000 / per_day, rel=1e-6)
    # a training estimate's JSON works too: its co2eq_kg range is sampled
    est = {"co2eq_kg": {"p5": 400_000.0, "p50": 552_000.0, "p95": 700_000.0}}
    d2 = _seven_b(training=est).to_dict()
    assert d2["breakeven_days"]["p5"] < d["breakeven_days"]["p50"] < d2["breakeven_days"]["p95"]


def test_fixed_fleet_spreads_over_its_replicas():
    # BLOOM-176B in bf16 (352 GB) on 16 × A100-40GB: 9 devices hold it, so one replica spans all 16
    e = serve(params="176.2B", layers=70, d_model=14336, prompt_tokens=100, output_tokens=20,
              requests_per_hour=558, days=18, device="a100-sxm4-40gb", n_devices=16, pue=1.0, samples=2000)
    assert e.info["devices_per_replica"] == 16 and e.to_dict()["devices_needed"]["p50"] == 16
    with pytest.raises(InputError, match="n_devices 4"):
        serve(params="176.2B", prompt_tokens=100, output_tokens=20, requests_per_hour=558, days=18,
              device="a100-sxm4-40gb", n_devices=4, samples=100)


def test_metrics_are_flat_and_named_for_budgets():
    m = _seven_b().metrics()
    assert {"co2eq_kg", "energy_kwh", "latency_s", "co2eq_kg_per_month", "ttft_s", "tokens_per_s",
            "devices_needed", "co2eq_kg_scope2", "co2eq_kg_scope3"} <= set(m)
    assert all(set(v) == {"p5", "p50", "p95"} for v in m.values())


@pytest.mark.parametrize("kw, name", [
    ({"prompt_tokens": 0}, "prompt_tokens"), ({"output_tokens": -3}, "output_tokens"),
    ({"requests_per_day": 0}, "requests_per_day"), ({"max_latency_s": -1}, "max_latency_s"),
    ({"batch": 0}, "batch"), ({"days": 0}, "days"), ({"prompt_tokens": 4000}, "exceed the model's context"),
    ({"utilisation": 1.5}, "utilisation")])
def test_bad_input_names_the_keyword(kw, name):
    # the library names its own keyword (the CLI puts its flag in its place: tests/serving/test_cli_flags_serve.py)
    with pytest.raises(InputError, match=name):
        _seven_b(**kw)
