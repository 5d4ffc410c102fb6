"""The per-operator step-time model (flopest/impact/steptime.py): each term against hand
arithmetic on tiny OpTables, with a model and a device whose numbers are set here (not read from
time_model.csv), and the range calibration on a synthetic evidence table of known spread."""

import math

import numpy as np
import pytest

from flopest import kernel, kinds
from flopest.errors import InputError
from flopest.impact import steptime as st
from flopest.impact.uncertain import Uncertain
from flopest.ops.optimizer import add_optimizer_rows
from flopest.optable import TableBuilder

# a made-up GPU: 100 TFLOP/s fp16 tensor, 10 TFLOP/s fp32, 1000 GB/s, 4 SMs
GPU = {"id": "test-gpu", "kind": "gpu", "peak_fp16_tflops": 100, "peak_fp32_tflops": 10, "mem_bandwidth_gbps": 1000}
CPU = {"id": "test-cpu", "kind": "cpu", "peak_fp32_tflops": 0.1, "mem_bandwidth_gbps": 10, "basis": "measured",
       "launch_us": 10}


def model(**over):
    base = {"ceiling_tensor": 0.5, "ceiling_vector": 0.8, "bandwidth_fraction": 0.5, "fusion_glue": 0.25,
            "fusion_attention": 0.0, "fusion_matrix": 1.0, "launch_accelerator_s": 1e-6, "launch_cpu_s": 2e-6,
            "tile_m": 128, "tile_n": 128, "tile_k": 32, "tile_tpu": {"tpu": 128}, "compute_units": {"test-gpu": 4},
            "link_gbps": {"test-gpu": 100.0}, "link_default_gbps": 32.0, "link_efficiency": 0.5,
            "bucket_bytes": 1e6, "grad_bytes_per_param": 4.0,
            "optimizer_bytes_per_param": {"sgd": 12.0, "adamw": 28.0},
            "range_p5": 0.5, "range_p50": 1.0, "range_p95": 2.0}
    base.update(over)
    return st.TimeModel(**base)


def table(*rows, optimizer=None, trainable=0):
    b = TableBuilder()
    for kind, params, phase in rows:
        b.add(kind, params, elsize=4, op=f"row{len(b)}", node=f"n{len(b)}", module="m", phase=phase)
    if optimizer:
        add_optimizer_rows(b, optimizer, trainable)
    t = b.build()
    return t, kernel.evaluate(t)


FWD, BWD = kinds.FORWARD, kinds.BACKWARD


# ------------------------------------------------------------------------------ GEMM
def test_gemm_at_saturation_runs_at_the_ceiling():
    # 512 x 1024 @ 1024 x 256: 4 x 2 = 8 tiles of 128 x 128 on 4 SMs = 2 full waves, no padding: util 1
    t, c = table((kinds.GEMM, [1, 512, 256, 1024, 1, 1], FWD))
    s = st.step_time(t, c, GPU, precision="fp16", model=model())
    flops = 2 * 512 * 256 * 1024                                     # 268,435,456
    compute = flops / (100e12 * 0.5)                                 # 5.36870912e-06 s (tensor path)
    # bytes at 4 B counted, halved at fp16: ((512*1024 + 1024*256) + 512*256) * 4 / 2 = 1,835,008 B
    memory = 1_835_008 / (1000e9 * 0.5)                              # 3.670016e-06 s
    assert memory < compute
    assert s.time_s == pytest.approx(5.36870912e-06, rel=1e-12)
    assert s.compute_s == pytest.approx(5.36870912e-06, rel=1e-12) and s.memory_s == 0
    assert s.kernels == 1


def test_gemm_below_saturation_pays_tile_and_wave_quantization():
    # 300 x 4096 @ 4096 x 128: ceil(300/128) = 3 tiles of 128 rows, 1 of 128 columns -> 3 tiles;
    # tile util 300*128 / (384*128) = 0.78125; 3 tiles on 4 SMs: split-K floor(4/3) = 1, one wave
    # with 3 of 4 SMs busy: 0.75; util 0.5859375
    t, c = table((kinds.GEMM, [1, 300, 128, 4096, 1, 1], FWD))
    s = st.step_time(t, c, GPU, precision="fp16", model=model())
    # 2*300*128*4096 = 314,572,800 FLOPs / (100e12 * 0.5 * 0.5859375) = 1.073741824e-05 s
    # (vector path: 314,572,800 / (10e12 * 0.8) = 3.93216e-05 s, slower; memory: (300*4096 +
    # 4096*128 + 300*128) * 4 / 2 = 3,582,976 B / 5e11 = 7.165952e-06 s, less)
    assert s.time_s == pytest.approx(1.073741824e-05, rel=1e-12)
    # the same FLOPs at util 1 would take 314,572,800 / 5e13 = 6.291456e-06 s
    assert s.time_s / 6.291456e-06 == pytest.approx(1 / 0.5859375, rel=1e-12)


def test_split_k_fills_the_units_of_a_small_output():
    # 64 x 64 output (1 tile, util 64*64/128^2 = 0.25), K = 4096: split-K over floor(4/1) = 4 units
    # (<= ceil(4096/32) = 128 slices): one full wave -> util 0.25
    u = st._quantized_util(np.array([1.0]), np.array([64.0]), np.array([64.0]), np.array([4096.0]),
                           128, 128, 32, 4)
    assert u[0] == pytest.approx(0.25)
    # K = 32: only 1 slice, so no split: 1 tile on 4 units -> wave util 1/4 -> 0.0625
    u = st._quantized_util(np.array([1.0]), np.array([64.0]), np.array([64.0]), np.array([32.0]),
                           128, 128, 32, 4)
    assert u[0] == pytest.approx(0.0625)


def test_depthwise_convolution_falls_to_the_vector_path():
    # depthwise 3x3, 64 channels, 56x56, batch 8: groups 64, 1 output channel per group -> tile
    # util 1/128 on the tensor path; the CUDA-core path has no tile loss
    t, c = table((kinds.CONV, [8, 64, 64, 64, 3136, 9, 3136, 0], FWD))
    s = st.step_time(t, c, GPU, precision="fp16", model=model())
    flops = 2 * 8 * 64 * 3136 * 1 * 9                        # 28,901,376
    vector = flops / (10e12 * 0.8)                            # 3.612672e-06 s
    # bytes: (8*64*3136 in + 64*9 weights + 8*64*3136 out) * 4 / 2 = 6,423,680 B / 5e11 = 1.284736e-05 s
    memory = (8 * 64 * 3136 * 2 + 64 * 9) * 4 / 2 / 5e11
    assert memory == pytest.approx(1.284736e-05)
    assert s.time_s == pytest.approx(max(vector, memory), rel=1e-12)


# ------------------------------------------------------------------------------ memory-bound
def test_memory_bound_elementwise_with_fusion_and_precision():
    # 1e6 outputs of 1 FLOP reading 2e6 elements: 2e6*4 + 1e6*4 = 12,000,000 B counted
    t, c = table((kinds.ELEMENTWISE, [1_000_000, 1, 2_000_000], FWD))
    s16 = st.step_time(t, c, GPU, precision="fp16", model=model())
    # fp16: 12e6 / 2 = 6e6 B, x fusion.glue 0.25 = 1.5e6 B / (1000e9 * 0.5) = 3e-06 s; compute
    # 1e6 / (10e12 * 0.8) = 1.25e-07 s, less
    assert s16.time_s == pytest.approx(3e-06, rel=1e-12)
    assert s16.memory_s == pytest.approx(3e-06, rel=1e-12) and s16.compute_s == 0
    s32 = st.step_time(t, c, GPU, precision="fp32", model=model())
    assert s32.time_s == pytest.approx(6e-06, rel=1e-12)          # 12e6 * 0.25 / 5e11
    unfused = st.step_time(t, c, GPU, precision="fp32", model=model(fusion_glue=1.0))
    assert unfused.time_s == pytest.approx(2.4e-05, rel=1e-12)    # 12e6 / 5e11: the unfused bound


def test_launch_is_a_floor_on_accelerators_and_added_on_cpus():
    # a tiny op: 10 outputs, 20 inputs: 120 B counted
    t, c = table((kinds.ELEMENTWISE, [10, 1, 20], FWD), (kinds.FREE, [], FWD))
    gpu = st.step_time(t, c, GPU, precision="fp32", model=model())
    # memory 120 * 0.25 / 5e11 = 6e-11 s < launch 1e-6 s: the floor; the view launches nothing
    assert gpu.time_s == pytest.approx(1e-06, rel=1e-12)
    assert gpu.launch_s == pytest.approx(1e-06 - 6e-11, rel=1e-9)
    cpu = st.step_time(t, c, CPU, precision="fp32", model=model())
    # measured CPU: bandwidth 10 GB/s as is (no fraction): 120 * 0.25 / 1e10 = 3e-09 s; compute
    # 10 FLOPs / 1e11 = 1e-10 s; + the measured 10 us per recorded operator, the view included
    assert cpu.time_s == pytest.approx(3e-09 + 2 * 10e-06, rel=1e-12)


# ------------------------------------------------------------------------------ optimizer
def test_optimizer_term_is_memory_bound_over_fp32_states():
    t, c = table((kinds.ELEMENTWISE, [10, 1, 20], FWD), optimizer="adamw", trainable=1_000_000)
    s = st.step_time(t, c, GPU, precision="fp16", model=model())
    # read off the optimizer rows: 1e6 params, adamw; 28 B/param = 28e6 B / (1000e9 * 0.5) = 5.6e-05 s,
    # whatever the compute precision (fp32 master weights and states)
    assert (s.params, s.optimizer) == (1_000_000, "adamw")
    assert s.optimizer_s == pytest.approx(5.6e-05, rel=1e-12)
    assert s.time_s == pytest.approx(1e-06 + 5.6e-05, rel=1e-12)   # the tiny op's launch floor + optimizer
    sharded = st.step_time(t, c, GPU, precision="fp16", model=model(), optimizer_shards=4)
    assert sharded.optimizer_s == pytest.approx(1.4e-05, rel=1e-12)  # 5.6e-05 / 4


def test_optimizer_given_explicitly_and_unknown_optimizer():
    t, c = table((kinds.ELEMENTWISE, [10, 1, 20], FWD))
    s = st.step_time(t, c, GPU, precision="fp32", model=model(), params=500, optimizer="sgd")
    assert s.optimizer_s == pytest.approx(500 * 12 / 5e11, rel=1e-12)   # 1.2e-08 s
    with pytest.raises(InputError, match="optimizer 'lion'"):
        st.step_time(t, c, GPU, precision="fp32", model=model(), params=500, optimizer="lion")


# ------------------------------------------------------------------------------ all-reduce
def test_ring_all_reduce_overlapped_with_the_backward():
    # backward row: 1e6 outputs reading 2e6: 12e6 B * 0.25 / 5e11 = 6e-06 s
    t, c = table((kinds.ELEMENTWISE, [1_000_000, 1, 2_000_000], BWD))
    s = st.step_time(t, c, GPU, precision="fp32", model=model(), n_devices=4, params=1_000_000, optimizer="sgd")
    link = 100e9 * 0.5                                  # 5e10 B/s per direction, achievable
    comm = 2 * 3 / 4 * 1_000_000 * 4 / link             # ring: 2(n-1)/n x 4e6 B = 6e6 B -> 1.2e-04 s
    bucket = 2 * 3 / 4 * 1e6 / link                     # the last 1e6-B bucket: 3e-05 s
    assert comm == pytest.approx(1.2e-04) and bucket == pytest.approx(3e-05)
    assert s.communication_total_s == pytest.approx(1.2e-04, rel=1e-12)
    assert s.communication_s == pytest.approx(1.2e-04 - 6e-06, rel=1e-12)   # max(comm - backward, bucket)
    # a backward longer than the all-reduce hides all but the last bucket
    model_slow = model(bandwidth_fraction=0.01)          # backward: 12e6 * 0.25 / 1e10 = 3e-04 s
    s2 = st.step_time(t, c, GPU, precision="fp32", model=model_slow, n_devices=4, params=1_000_000,
                      optimizer="sgd")
    assert s2.communication_s == pytest.approx(3e-05, rel=1e-12)
    one = st.step_time(t, c, GPU, precision="fp32", model=model(), n_devices=1, params=1_000_000, optimizer="sgd")
    assert one.communication_s == 0 and one.communication_total_s == 0


def test_fsdp_volume_and_window():
    t, c = table((kinds.ELEMENTWISE, [1_000_000, 1, 2_000_000], BWD))
    s = st.step_time(t, c, GPU, precision="fp32", model=model(), n_devices=2, parallel="fsdp", params=1_000_000,
                     optimizer="sgd")
    # (n-1)/n x params x (2 all-gathers of 2 B + a 4-B reduce-scatter) = 0.5 * 1e6 * 8 = 4e6 B / 5e10 = 8e-05 s
    assert s.communication_total_s == pytest.approx(8e-05, rel=1e-12)
    assert s.communication_s == pytest.approx(8e-05 - 6e-06, rel=1e-12)
    assert s.optimizer_s == pytest.approx(1_000_000 / 2 * 12 / 5e11, rel=1e-12)   # sharded 2 ways
    with pytest.raises(InputError, match="parallel 'zero9'"):
        st.step_time(t, c, GPU, precision="fp32", model=model(), parallel="zero9")


# ------------------------------------------------------------------------------ attention, split
def test_score_matrix_rows_of_an_attention_backward_move_no_bytes():
    # forward attention: 2 heads x 256 queries x 256 keys; its math backward's softmax gradient
    # over the 2*256*256 = 131,072 scores in the same module moves nothing (flash attention)
    b = TableBuilder()
    b.add(kinds.ATTENTION, [2, 256, 256, 64, 64, 0, 2, 0], elsize=4, op="sdpa", module="attn")
    b.add(kinds.ELEMENTWISE, [131072, 4, 262144], elsize=4, op="softmax_bwd", module="attn", phase=BWD)
    b.add(kinds.ELEMENTWISE, [1000, 1, 2000], elsize=4, op="other_bwd", module="mlp", phase=BWD)
    t = b.build()
    f = st.features(t, kernel.evaluate(t), GPU, precision="fp16", model=model())
    names = [t.ops[t.op[i]] for i in f.rows]
    att = names.index("softmax_bwd")
    assert f.bytes_attention[att] == (131072 * 2 + 131072) * 4 / 2 and f.bytes_glue[att] == 0
    assert f.bytes_glue[names.index("other_bwd")] == (2000 + 1000) * 4 / 2


def test_split_and_top_by_time():
    t, c = table((kinds.GEMM, [1, 512, 256, 1024, 1, 1], FWD), (kinds.ELEMENTWISE, [1_000_000, 1, 2_000_000], FWD))
    s = st.step_time(t, c, GPU, precision="fp16", model=model())
    assert s.time_s == pytest.approx(5.36870912e-06 + 3e-06, rel=1e-12)
    assert sum(s.split().values()) == pytest.approx(s.time_s, rel=1e-12)
    top = s.top(t, 2)
    assert [r["time_s"] for r in top] == pytest.approx([5.36870912e-06, 3e-06])
    assert s.to_dict()["compute_bound_s"] == pytest.approx(5.36870912e-06)


def test_measured_gemm_curve_replaces_ceilings():
    # a probed device: fp32 GEMMs of side 100 reach 0.01 TFLOP/s, of side 1000, 0.1 TFLOP/s
    dev = dict(CPU, gemm_curve=(("fp32", ((100, 0.01), (1000, 0.1))),))
    # 1000^3 GEMM: n_eq = 1000 -> 2e9 FLOPs at 1e11 FLOP/s = 0.02 s (+ 10 us dispatch)
    t, c = table((kinds.GEMM, [1, 1000, 1000, 1000, 1, 1], FWD))
    s = st.step_time(t, c, dev, precision="fp32", model=model())
    assert s.time_s == pytest.approx(0.02 + 10e-06, rel=1e-9)
    # 100 x 100 x 100: 2e6 FLOPs at 1e10 = 2e-04 s
    t, c = table((kinds.GEMM, [1, 100, 100, 100, 1, 1], FWD))
    assert st.step_time(t, c, dev, precision="fp32", model=model()).time_s == pytest.approx(2e-04 + 10e-06, rel=1e-9)


def test_device_without_the_precision_is_an_input_error():
    t, c = table((kinds.GEMM, [1, 8, 8, 8, 1, 1], FWD))
    with pytest.raises(InputError, match="precision 'fp64'"):
        st.step_time(t, c, GPU, precision="fp64", model=model())
    with pytest.raises(InputError, match="no fp8"):
        st.step_time(t, c, {"id": "x", "kind": "gpu", "mem_bandwidth_gbps": 10}, precision="fp8", model=model())


# ------------------------------------------------------------------------------ ranges
def test_range_of_a_step_time():
    u = st.step_time_range(2.0, model())
    assert isinstance(u, Uncertain) and (u.p5, u.p50, u.p95) == (1.0, 2.0, 4.0)   # x 0.5, 1, 2
    assert u.unit == "s"


def test_conformal_quantiles_of_residuals():
    r = np.log(np.arange(1, 20, dtype=float))   # 19 residuals: ln 1 .. ln 19
    lo, mid, hi = st.range_multipliers(r, coverage=0.90)
    # n = 19, alpha/2 = 0.05: floor(0.05*20) = 1st smallest = 1; ceil(0.95*20) = 19th = 19; median 10
    assert (lo, mid, hi) == pytest.approx((1.0, 10.0, 19.0))
    with pytest.raises(InputError):
        st.range_multipliers([0.1, 0.2])


def test_jackknife_ranges_cover_90_percent_of_a_known_lognormal_spread():
    # synthetic evidence: 12 devices x 25 rows; measured = predicted x exp(e), e ~ N(0, 0.4) (the
    # predictions are exact up to a log-normal error of known spread). The ranges of each device
    # come from the other devices' residuals only; they should hold ~90 % of the measurements and
    # their width should approach the true 5-95 % ratio exp(2 x 1.645 x 0.4) = 3.72
    rng = np.random.default_rng(15)
    covers, widths = [], []
    for _ in range(20):
        groups = np.repeat(np.arange(12), 25)
        pred = rng.uniform(0.01, 10.0, len(groups))
        e = rng.normal(0.0, 0.4, len(groups))
        meas = pred * np.exp(e)
        iv = st.jackknife_intervals(pred, np.log(meas / pred), groups)
        covers.append(np.mean((meas >= iv[:, 0]) & (meas <= iv[:, 2])))
        widths.append(np.median(iv[:, 2] / iv[:, 0]))
    assert 0.87 <= np.mean(covers) <= 0.95
    assert np.median(widths) == pytest.approx(math.exp(2 * 1.6449 * 0.4), rel=0.15)
    # each row's own residual never enters its range: a single huge outlier does not widen its own
    groups = np.repeat(np.arange(4), 10)
    res = np.zeros(40)
    res[0] = 5.0
    iv = st.jackknife_intervals(np.ones(40), res, groups)
    assert iv[0, 2] == pytest.approx(1.0)


def test_embedded_time_model_loads_and_fitted_rows_name_their_evidence():
    from flopest import data
    m = st.TimeModel.load()
    assert 0 < m.ceiling_tensor <= 1 and 0 < m.bandwidth_fraction <= 1 and m.range_p5 < 1 < m.range_p95
    rows = data.time_model()
    fitted = [r for r in rows.values() if r.basis == "fitted"]
    assert {r.id for r in fitted} >= {"ceiling.tensor", "ceiling.vector", "bandwidth.fraction", "fusion.glue",
                                      "range.p5", "range.p50", "range.p95"}
    for r in rows.values():
        assert r.source and 1990 <= r.year <= 2100
        if r.basis == "fitted":
            assert "throughput_evidence.csv" in r.evidence, r.id


def test_a_symbolic_onnx_table_is_timed_at_its_bound_dims():
    # a symbolic table holds 0 where a dim goes: the step model must read the bound parameters,
    # or a (batch·512) × 512 GEMM is timed as a 1 × 512 one on the slow vector path. The same
    # model with the dim written in the file gives the same time (a second graph, not a formula)
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    import flopest

    def model(batch):
        w = numpy_helper.from_array(np.ones((512, 512), np.float32), "w")
        g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 512])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 512])], [w])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    sym = flopest.count(model("batch"), dims={"batch": 4096})
    fixed = flopest.count(model(4096))
    assert sym.flops == fixed.flops == 2 * 4096 * 512 * 512
    t_sym = st.step_time(sym.table, sym.evaluate()._rc, "h100-sxm", precision="bf16", optimizer="sgd", params=1)
    t_fix = st.step_time(fixed.table, fixed.evaluate()._rc, "h100-sxm", precision="bf16", optimizer="sgd", params=1)
    assert t_sym.time_s == pytest.approx(t_fix.time_s, rel=1e-12)
    assert onnx.__version__


def test_an_inference_pass_is_its_rows_without_optimizer_or_communication():
    # the optimizer test's table: the tiny op (launch floor 1e-06 s) and adamw rows for 1e6 params;
    # an inference pass times the rows only: no 5.6e-05 s optimizer term, no all-reduce, no note
    t, c = table((kinds.ELEMENTWISE, [10, 1, 20], FWD), optimizer="adamw", trainable=1_000_000)
    s = st.forward_time(t, c, GPU, precision="fp16", model=model())
    assert s.time_s == pytest.approx(1e-06, rel=1e-12)
    assert s.optimizer_s == 0 and s.communication_s == 0 and s.notes == []


def test_a_pass_replayed_as_a_cuda_graph_pays_no_eager_launch_floor():
    # the launch test's tiny op: eager, the 1e-06 s launch floor; replayed as a graph with
    # launch_graph_s = 0 its memory time only, 120 B * 0.25 / 5e11 = 6e-11 s; with 2e-07 s per
    # replayed kernel, that floor. A CPU dispatches in line whatever: 3e-09 + 2 * 10e-06 s as before
    t, c = table((kinds.ELEMENTWISE, [10, 1, 20], FWD), (kinds.FREE, [], FWD))
    assert st.forward_time(t, c, GPU, precision="fp32", model=model()).time_s == pytest.approx(1e-06, rel=1e-12)
    g = st.forward_time(t, c, GPU, precision="fp32", model=model(), graph_replay=True)
    assert g.time_s == pytest.approx(6e-11, rel=1e-9) and g.launch_s == 0
    g2 = st.forward_time(t, c, GPU, precision="fp32", model=model(launch_graph_s=2e-07), graph_replay=True)
    assert g2.time_s == pytest.approx(2e-07, rel=1e-12)
    cpu = st.forward_time(t, c, CPU, precision="fp32", model=model(), graph_replay=True)
    assert cpu.time_s == pytest.approx(3e-09 + 2 * 10e-06, rel=1e-12)


def test_cpu_outputs_above_the_mmap_threshold_pay_their_page_faults():
    # two GEMMs on a CPU: (4096 x 1) @ (1 x 4096) writes 4096·4096·4 B = 67,108,864 B, above a 32 MiB
    # threshold (33,554,432 B): mapped afresh, faulted in at 2 GB/s = 0.033554432 s; (2048 x 1) @
    # (1 x 2048) writes 16 MiB, reused by the allocator: no fault
    t, c = table((kinds.GEMM, [1, 4096, 4096, 1, 1, 1], FWD), (kinds.GEMM, [1, 2048, 2048, 1, 1, 1], FWD))
    m = model(mmap_threshold_bytes=32 * 2**20)
    base = st.step_time(t, c, CPU, precision="fp32", model=m)            # measured row without fault_gbps
    assert base.page_faults_s == 0 and "page_faults_s" not in base.split()
    probed = st.step_time(t, c, dict(CPU, fault_gbps=2.0), precision="fp32", model=m)
    assert probed.page_faults_s == pytest.approx(67_108_864 / 2e9, rel=1e-12)
    assert probed.time_s - base.time_s == pytest.approx(0.033554432, rel=1e-9)
    assert probed.split()["page_faults_s"] == pytest.approx(0.033554432, rel=1e-12)
    # a datasheet CPU row has no measured rate: not charged, and said
    sheet = {k: v for k, v in CPU.items() if k not in ("basis", "launch_us")}
    s = st.step_time(t, c, sheet, precision="fp32", model=m)
    assert s.page_faults_s == 0 and any("page faults are not costed" in n for n in s.notes)
    # an accelerator's allocator caches its blocks: no fault term
    assert st.step_time(t, c, GPU, precision="fp32", model=m).page_faults_s == 0


def test_output_elements_follow_the_kind_layouts():
    # one row per kind, elements written by one call, from flopest/kinds.py LAYOUT
    p = np.zeros((7, kinds.NPARAM))
    rows = [(kinds.GEMM, [3, 4, 5, 6]), (kinds.CONV, [2, 3, 8, 1, 49, 9]), (kinds.ATTENTION, [6, 10, 12, 16, 8]),
            (kinds.ELEMENTWISE, [100, 1, 200, 0]), (kinds.ELEMENTWISE, [100, 1, 200, 1]), (kinds.REDUCE, [50, 5]),
            (kinds.RNN, [7, 2, 4, 8, 4, 2])]
    k = np.array([r[0] for r in rows])
    for i, (_, v) in enumerate(rows):
        p[i, :len(v)] = v
    # 3·4·5 = 60; 2·8·49 = 784; 6·10·8 = 480; 100; fused: 0; 5; 7·2·8·2 = 224
    assert st.output_elements(k, p).tolist() == [60, 784, 480, 100, 0, 5, 224]
