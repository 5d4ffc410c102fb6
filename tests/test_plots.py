"""flopest.plots: each chart is a valid PNG with real content (read back pixel by pixel), a
valid SVG, written atomically, from real Counts and a real Estimate."""

import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import flopest
from flopest import plots
from flopest.errors import InputError
from flopest.io import umask as _umask
from flopest.units import format_quantity
from tests.conftest import mlp_model
from tests.ops._onnx_build import model, node, weight

SVG_NS = "{http://www.w3.org/2000/svg}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def onnx_counts():
    """x(4, 8) @ W(8, 16) -> Relu -> custom:Foo (not costed)."""
    m = model([node("MatMul", ["x", "W"], ["y"]), node("Relu", ["y"], ["r"]),
               node("Foo", ["r"], ["z"], domain="custom")],
              [("x", (4, 8))], ["z"], inits=[weight("W", (8, 16))], domains=["custom"])
    return flopest.count(m)


@pytest.fixture(scope="module")
def estimate():
    return flopest.estimate(params=1e9, tokens=2e10, device="a100-sxm4-80gb", region="FR", samples=2000)


@pytest.fixture(scope="module")
def estimate_pl():
    return flopest.estimate(params=1e9, tokens=2e10, device="a100-sxm4-80gb", region="PL", samples=2000)


# ----------------------------------------------------------------------------- reading back
def rgb(hex_color: str) -> np.ndarray:
    return np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])


def read_png(path) -> np.ndarray:
    """(H, W, 3) uint8 pixels of a PNG file, checked to be one."""
    from matplotlib.image import imread
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    img = imread(str(path))   # (H, W, 4) floats in [0, 1]
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    return (img[..., :3] * 255).round().astype(np.uint8)


def n_near(px: np.ndarray, color, tol: int = 3) -> int:
    """Pixels within `tol` of `color` on every channel."""
    return int((np.abs(px.reshape(-1, 3).astype(int) - np.asarray(color)) <= tol).all(axis=1).sum())


def assert_drawn(path, colors=(), min_px: int = 200) -> np.ndarray:
    """A PNG of a real chart: not blank, many shades, and each of `colors` filling at least
    `min_px` pixels (bars and bands, not only text)."""
    px = read_png(path)
    h, w, _ = px.shape
    assert w >= 600 and h >= 300, (w, h)
    flat = px.reshape(-1, 3)
    ink = (flat != 255).any(axis=1).mean()
    assert 0.02 < ink < 0.9, f"{ink:.1%} of the pixels are not white"
    assert len(np.unique(flat, axis=0)) >= 8   # bars, text, grid, antialiasing
    for c in colors:
        assert n_near(px, rgb(c) if isinstance(c, str) else c) >= min_px, c
    return px


def read_svg(path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == SVG_NS + "svg"
    return root


def svg_text(root) -> str:
    return " ".join(t for el in root.iter(SVG_NS + "text") for t in el.itertext())


def svg_text_y(root, text: str) -> float:
    for el in root.iter(SVG_NS + "text"):
        if "".join(el.itertext()).strip() == text:
            return float(el.get("y"))
    raise AssertionError(f"{text!r} not in the SVG")


def only_files(folder) -> list:
    """The folder's entries: a temporary file left behind would show here."""
    return sorted(os.listdir(folder))


# ----------------------------------------------------------------------------- breakdown
def test_breakdown_by_op_png_and_svg(onnx_counts, tmp_path):
    rows = onnx_counts.breakdown("op")
    # MatMul 2*4*16*8 = 1024, Relu 4*16 = 64, custom:Foo not costed (flops None)
    assert [(r["name"], r["flops"]) for r in rows] == [("MatMul", 1024), ("Relu", 64), ("custom:Foo", None)]
    png = plots.plot_breakdown(rows, tmp_path / "ops.png", by="op")
    assert png == str(tmp_path / "ops.png")
    px = assert_drawn(png, [plots.KIND_COLORS["gemm"], plots.KIND_COLORS["elementwise"]])
    assert n_near(px, rgb(plots.UNKNOWN_COLOR), tol=10) >= 20   # the "not costed" annotation, in red
    root = read_svg(plots.plot_breakdown(rows, tmp_path / "ops.svg", by="op"))
    text = svg_text(root)
    assert "custom:Foo ×1" in text and "not costed: FLOPs unknown (not 0)" in text
    assert "1.02 kFLOP (94.1 %)" in text and "64 FLOP (5.9 %)" in text   # 1024 / 1088, 64 / 1088
    assert only_files(tmp_path) == ["ops.png", "ops.svg"]


def test_breakdown_by_kind(onnx_counts, tmp_path):
    png = plots.plot_breakdown(onnx_counts.breakdown("kind"), tmp_path / "kinds.png", by="kind")
    assert_drawn(png, [plots.KIND_COLORS["gemm"]])


def test_breakdown_by_module_names_unknown_ops_given_apart(onnx_counts, tmp_path):
    rows = onnx_counts.breakdown("module")   # by module the breakdown does not list unknown ops
    assert all(r["flops"] is not None for r in rows)
    path = plots.plot_breakdown(rows, tmp_path / "mod.svg", unknown_ops=onnx_counts.unknown_ops)
    assert "custom:Foo ×1" in svg_text(read_svg(path))


def test_unknown_ops_are_never_bars():
    rows = [{"name": "MatMul", "kind": "gemm", "count": 1, "flops": 1024, "bytes": 896},
            {"name": "Reshape", "kind": "free", "count": 2, "flops": 0, "bytes": 0},
            {"name": "custom:Foo", "kind": "unknown", "count": 3, "flops": None, "bytes": None}]
    bars, unknown = plots.breakdown_bars(rows, top=15, unknown_ops={"custom:Foo": 3, "dom:Bar": 1})
    assert [b["name"] for b in bars] == ["MatMul", "Reshape"]   # a known zero stays a (zero) bar
    assert unknown == [{"name": "custom:Foo", "count": 3}, {"name": "dom:Bar", "count": 1}]   # named once


def test_top_folds_the_rest_into_other(tmp_path):
    c = flopest.count(mlp_model(), dims={"batch": 8})
    rows = c.breakdown("node")
    # MatMul 2*8*64*32 = 32768, Add 8*32 = 256, Relu 256
    assert [r["flops"] for r in rows] == [32768, 256, 256]
    bars, unknown = plots.breakdown_bars(rows, top=1)
    assert [(b["name"], b["flops"], b["other"]) for b in bars] == [("MatMul_0", 32768, False),
                                                                   ("other (2)", 512, True)]
    assert sum(b["flops"] for b in bars) == c.flops and unknown == []
    assert_drawn(plots.plot_breakdown(rows, tmp_path / "top1.png", by="node", top=1),
                 [plots.KIND_COLORS["gemm"], plots.OTHER_COLOR])


def test_long_module_names_and_many_unknown_ops(tmp_path):
    rows = [{"name": f"model.transformer.h.{i}.attention.self.query_key_value", "kind": "gemm", "count": 1,
             "flops": 10 ** 15 // (i + 1), "bytes": 0} for i in range(30)]
    rows += [{"name": f"dom:Op{i}", "kind": "unknown", "count": 2, "flops": None, "bytes": None} for i in range(9)]
    path = plots.plot_breakdown(rows, tmp_path / "big.svg", top=10, title="GPT-ish")
    text = svg_text(read_svg(path))
    assert "GPT-ish" in text and "other (20)" in text and "4 more ops ×8" in text   # 5 shown, 4 folded
    assert "…" in text and "PFLOP" in text   # a long name keeps its end; axis in PFLOP


@pytest.mark.torch
def test_breakdown_of_a_torch_capture_by_module(tmp_path):
    import torch
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    c = flopest.count(net, torch.zeros(2, 8))
    rows = c.breakdown("module")
    # Linear 0: 2*2*16*8 + 2*16 = 544, Linear 2: 2*2*4*16 + 2*4 = 264, ReLU 2*16 = 32
    assert [(r["name"], r["flops"]) for r in rows] == [("0", 544), ("2", 264), ("1", 32)]
    assert_drawn(plots.plot_breakdown(rows, tmp_path / "torch.png", by="module"),
                 [plots.KIND_COLORS["gemm"], plots.KIND_COLORS["elementwise"]], min_px=100)


# ----------------------------------------------------------------------------- scopes
def test_scopes_png_and_svg(estimate, tmp_path):
    d = estimate.to_dict()
    s2, s3 = d["co2eq_kg_by_scope"]["scope2"], d["co2eq_kg_by_scope"]["scope3"]
    assert 0 < s2["p5"] < s2["p50"] < s2["p95"] and 0 < s3["p5"] < s3["p50"] < s3["p95"]
    png = plots.plot_scopes(d, tmp_path / "scopes.png")
    px = assert_drawn(png, [plots.SCOPE_COLORS["scope2"], plots.SCOPE_COLORS["scope3"],
                            plots.SCOPE_COLORS["total"]], min_px=2000)
    assert n_near(px, (0, 0, 0), tol=0) >= 100   # the black p5-p95 error bars (and text)
    root = read_svg(plots.plot_scopes(estimate, tmp_path / "scopes.svg", title="my run"))   # Estimate works too
    text = svg_text(root)
    assert "my run" in text and "scope 2" in text and "scope 3" in text
    assert format_quantity(s2["p50"], "kg") in text and format_quantity(s3["p95"], "kg") in text


def test_scopes_needs_an_estimate(tmp_path):
    with pytest.raises(InputError, match="co2eq_kg_by_scope"):
        plots.plot_scopes({"flops": 1}, tmp_path / "s.png")
    assert only_files(tmp_path) == []


# ----------------------------------------------------------------------------- compare
def test_compare_in_the_given_order(estimate, estimate_pl, tmp_path):
    rows = [{"label": "France", **estimate.to_dict()}, {"label": "Poland", **estimate_pl.to_dict()}]
    assert rows[0]["co2eq_kg"]["p50"] < rows[1]["co2eq_kg"]["p50"]   # low-carbon grid first
    png = plots.plot_compare(rows, tmp_path / "cmp.png")
    assert_drawn(png, plots.SERIES_COLORS[:2])
    root = read_svg(plots.plot_compare(rows[::-1], tmp_path / "cmp.svg", metric="energy_kwh"))
    assert svg_text_y(root, "Poland") < svg_text_y(root, "France")   # first row on top (smaller y)
    assert "energy" in svg_text(root)


def test_compare_plain_numbers_and_bad_rows(onnx_counts, tmp_path):
    rows = [{"label": "b=4", "flops": onnx_counts.flops}, {"label": "b=8", "flops": 2 * onnx_counts.flops}]
    assert_drawn(plots.plot_compare(rows, tmp_path / "f.png", metric="flops"), plots.SERIES_COLORS[:2])
    with pytest.raises(InputError, match=r"row 'b=4' has no 'flop'.*did you mean 'flops'"):
        plots.plot_compare(rows, tmp_path / "g.png", metric="flop")
    with pytest.raises(InputError, match="nothing to compare"):
        plots.plot_compare([], tmp_path / "g.png")
    with pytest.raises(InputError, match="needs p50"):
        plots.plot_compare([{"label": "x", "co2eq_kg": {"p5": 1}}], tmp_path / "g.png")
    with pytest.raises(InputError, match="finite"):
        plots.plot_compare([{"label": "x", "co2eq_kg": float("nan")}], tmp_path / "g.png")
    assert only_files(tmp_path) == ["f.png"]


# ----------------------------------------------------------------------------- sweep
def test_sweep_flops_against_batch(tmp_path):
    c = flopest.count(mlp_model(), dims={"batch": 1})
    xs = [1, 4, 16, 64, 256]
    flops = [c.at(batch=b).flops for b in xs]
    # per example: MatMul 2*64*32 = 4096 + Add 32 + Relu 32 = 4160
    assert flops == [4160 * b for b in xs]
    series = {"flops": flops, "matmul_flops": [c.at(batch=b).matmul_flops for b in xs]}
    png = plots.plot_sweep(xs, series, tmp_path / "sweep.png", xlabel="batch", ylabel="FLOPs per step")
    assert_drawn(png, plots.SERIES_COLORS[:2], min_px=100)
    text = svg_text(read_svg(plots.plot_sweep(xs, series, tmp_path / "sweep.svg", xlabel="batch",
                                              ylabel="FLOPs per step")))
    assert "FLOPs per step (MFLOP)" in text   # 4160 * 256 = 1.06 MFLOP at most
    assert all(str(b) in text for b in xs)    # 256x span: log x, a tick per batch size


def test_sweep_co2eq_band(tmp_path):
    tokens = [1e9, 5e9, 2e10, 1e11]
    co2 = [flopest.estimate(params=1e9, tokens=t, device="a100-sxm4-80gb", region="FR", samples=2000)
           .to_dict()["co2eq_kg"] for t in tokens]
    assert all(v["p5"] < v["p50"] < v["p95"] for v in co2)
    for logy in (False, True):
        png = plots.plot_sweep(tokens, {"FR": co2}, tmp_path / f"co2-{logy}.png", xlabel="tokens",
                               ylabel="CO2eq", logy=logy)
        px = assert_drawn(png, [plots.SERIES_COLORS[0]], min_px=50)
        band = 255 * 0.75 + rgb(plots.SERIES_COLORS[0]) * 0.25   # alpha 0.25 over white
        assert n_near(px, band) >= 5000, "no p5-p95 band"


def test_sweep_bad_input(tmp_path):
    with pytest.raises(InputError, match="series 'a' has 2 values for 3 x values"):
        plots.plot_sweep([1, 2, 3], {"a": [1, 2]}, tmp_path / "s.png", xlabel="x", ylabel="y")
    with pytest.raises(InputError, match="log y axis"):
        plots.plot_sweep([1, 2], {"a": [0, 2]}, tmp_path / "s.png", xlabel="x", ylabel="y", logy=True)
    with pytest.raises(InputError, match="x is empty"):
        plots.plot_sweep([], {"a": []}, tmp_path / "s.png", xlabel="x", ylabel="y")
    with pytest.raises(InputError, match=r"x\[1\] is 'b'"):
        plots.plot_sweep([1, "b"], {"a": [1, 2]}, tmp_path / "s.png", xlabel="x", ylabel="y")
    assert only_files(tmp_path) == []


# ----------------------------------------------------------------------------- files
@pytest.mark.parametrize("name", ["chart.jpg", "chart", "chart.png.bak", "chart.pdf"])
def test_bad_suffix_names_plot_and_the_fix(name, tmp_path):
    with pytest.raises(InputError, match=r"--plot .*\.png or \.svg"):
        plots.plot_sweep([1, 2], {"a": [1, 2]}, tmp_path / name, xlabel="x", ylabel="y")
    assert only_files(tmp_path) == []


def test_bad_paths(tmp_path):
    with pytest.raises(InputError, match="empty"):
        plots.plot_compare([{"label": "a", "co2eq_kg": 1}], "")
    with pytest.raises(InputError, match="does not exist; create it first"):
        plots.plot_compare([{"label": "a", "co2eq_kg": 1}], tmp_path / "nope" / "c.png")
    (tmp_path / "d.png").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        plots.plot_compare([{"label": "a", "co2eq_kg": 1}], tmp_path / "d.png")


def test_suffix_case_and_overwrite(tmp_path):
    target = tmp_path / "C.PNG"
    target.write_bytes(b"old")
    plots.plot_compare([{"label": "a", "co2eq_kg": {"p5": 1, "p50": 2, "p95": 4}}], target)
    assert_drawn(target, [plots.SERIES_COLORS[0]])
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~_umask()   # an ordinary file, not mkstemp's 0600
    assert only_files(tmp_path) == ["C.PNG"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failed_save_leaves_no_file(exc, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def half_written(self, f, **kw):
        f.write(PNG_MAGIC + b"half")
        raise exc

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(type(exc)):
        plots.plot_compare([{"label": "a", "co2eq_kg": 1}], tmp_path / "new.png")
    assert only_files(tmp_path) == []   # neither the image nor the temporary file
    (tmp_path / "old.svg").write_text("<svg/>")
    with pytest.raises(type(exc)):
        plots.plot_compare([{"label": "a", "co2eq_kg": 1}], tmp_path / "old.svg")
    assert (tmp_path / "old.svg").read_text() == "<svg/>"   # the previous file is untouched
    assert only_files(tmp_path) == ["old.svg"]


def test_disk_error_is_an_input_error(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def full(self, f, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    with pytest.raises(InputError, match=r"--plot .*cannot write it \(No space left on device\)"):
        plots.plot_compare([{"label": "a", "co2eq_kg": 1}], tmp_path / "c.png")
    assert only_files(tmp_path) == []


def test_matplotlib_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    with pytest.raises(InputError, match=r'pip install "flopest\[plot\]"'):
        plots.plot_compare([{"label": "a", "co2eq_kg": 1}], tmp_path / "c.png")
    assert only_files(tmp_path) == []


def test_no_matplotlib_on_import_and_no_pyplot(tmp_path):
    """import flopest (and flopest.plots) loads no matplotlib; drawing loads no pyplot and
    leaves the user's backend setting as it was."""
    code = (
        "import sys, flopest, flopest.plots as p\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported by import flopest'\n"
        "import matplotlib\n"
        "before = dict.__getitem__(matplotlib.rcParams, 'backend')\n"
        f"p.plot_sweep([1, 2, 3], {{'a': [1, 4, 9]}}, {str(tmp_path / 's.png')!r}, xlabel='x', ylabel='y')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert dict.__getitem__(matplotlib.rcParams, 'backend') == before\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    r = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert_drawn(tmp_path / "s.png", [plots.SERIES_COLORS[0]], min_px=50)


# ----------------------------------------------------------------------------- compare: log axis, colours, first
def _compare_rows():
    return [flopest.estimate(params=1e9, tokens=2e10, device=dev, region=reg, samples=1000)
            for dev in ("a100-sxm4-80gb", "h100-sxm") for reg in ("FR", "PL")]


def test_compare_log_axis_one_unit_colours_by_device_first_outlined(tmp_path):
    d = flopest.impact.compare(_compare_rows())
    rows, first = d["rows"], d["first_choice"]
    title = "CO₂eq of 1 G params × 20 G tokens · 1 device(s)"
    root = read_svg(plots.plot_compare(rows, tmp_path / "c.svg", title=title, first=first))
    text = svg_text(root)
    assert title in text and f"{first}  (first choice)" in text
    # one unit for the whole axis (kg here: the largest p95 is under a tonne) and a log scale
    assert "CO₂eq (kg; log scale" in text
    # the legend says what the colours mean: the two devices
    assert "device" in text and "a100-sxm4-80gb" in text and "h100-sxm" in text
    px = assert_drawn(plots.plot_compare(rows, tmp_path / "c.png", title=title, first=first),
                      plots.SERIES_COLORS[:2], min_px=1000)
    assert n_near(px, (0, 0, 0), tol=0) >= 300    # the first choice's thick outline, whiskers and text
    # the same device has the same colour: a100 rows draw SERIES_COLORS[0] or [1], never a third colour
    assert n_near(px, rgb(plots.SERIES_COLORS[2])) < 50


def test_compare_colours_by_region_when_one_device_and_linear_when_needed(estimate, estimate_pl, tmp_path):
    rows = [{"label": "France", **estimate.to_dict()}, {"label": "Poland", **estimate_pl.to_dict()}]
    by, keys = plots._group_key(rows)
    assert by == "region" and keys == ["FR", "PL"]
    text = svg_text(read_svg(plots.plot_compare(rows, tmp_path / "r.svg")))
    assert "region" in text and "log scale" in text
    # a value of 0 cannot sit on a log axis: linear by default, an error when asked for log
    zero = [{"label": "a", "flops": 0}, {"label": "b", "flops": 10}]
    assert "log scale" not in svg_text(read_svg(plots.plot_compare(zero, tmp_path / "z.svg", metric="flops")))
    with pytest.raises(InputError, match="log axis"):
        plots.plot_compare(zero, tmp_path / "z2.svg", metric="flops", log=True)


def test_dollar_signs_in_titles_are_text(tmp_path):
    # a model path with '$' would open matplotlib's mathtext: it is drawn as written
    root = read_svg(plots.plot_compare([{"label": "a", "co2eq_kg": 1}], tmp_path / "d.svg", title="m$odel$x"))
    assert "m$odel$x" in svg_text(root)


# ----------------------------------------------------------------------------- boundaries, HTML charts
def test_boundaries_chart(estimate, tmp_path):
    d = estimate.to_dict()
    px = assert_drawn(plots.plot_boundaries(d, tmp_path / "b.png"), list(plots.BOUNDARY_COLORS.values()), min_px=500)
    assert n_near(px, (0, 0, 0), tol=0) >= 100
    text = svg_text(read_svg(plots.plot_boundaries(estimate, tmp_path / "b.svg", title="my plan")))
    assert "my plan" in text and "energy by boundary" in text and "CO₂eq by boundary" in text
    assert "+ embodied" in text and format_quantity(d["by_boundary"]["embodied"]["co2eq_kg"]["p50"], "kg") in text
    with pytest.raises(InputError, match="by_boundary"):
        plots.plot_boundaries({"flops": 1}, tmp_path / "x.png")


def test_svg_text_for_the_html_reports(estimate):
    from flopest import views
    svg = views.render("estimate", "svg", estimate.to_dict())   # registered by flopest.plots
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "energy by boundary" in svg
    assert svg == plots.estimate_svg(estimate.to_dict())         # no date: the same text twice
    d = flopest.impact.compare(_compare_rows()[:2])
    assert "(first choice)" in views.render("compare", "svg", d)
