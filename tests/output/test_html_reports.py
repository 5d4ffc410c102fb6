"""The HTML reports a person reads: the Estimate's (notebooks and --format html), a check's, a
comparison's and a Counts' show the plan in the header, the totals with ranges, the boundaries,
the time split, the assumptions with sources and an inline chart; every name from the model is
escaped. Checked in a real browser: headless Chromium screenshots each page and the PNG's pixels
are read back (not blank, the header text region not uniform, the chart's colours drawn)."""

import os
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

import flopest
from flopest import plots
from flopest.cli import main
from flopest.report import render_check, render_compare, render_estimate

MODEL = ["tests.cli.factories:mlp", "--input", "8x16", "--dataset-size", "800", "--device", "a100-sxm4-80gb",
         "--devices", "2", "--region", "FR", "--samples", "1000"]


class Page(HTMLParser):
    """Text per tag path, the tags seen, and whether a script or an external resource appears."""

    def __init__(self, text: str):
        super().__init__()
        self.tags, self.text, self.stack, self.header = [], [], [], []
        self.external = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.stack.append(tag)
        for k, v in attrs:   # a reference inside the page (#id, url(#id)) fetches nothing
            inside = v is not None and (v.startswith("#") or v.startswith("url(#"))
            if (k in ("src", "href", "xlink:href") or (v and "url(" in v)) and not inside:
                self.external.append((tag, k, v))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        self.text.append(data)
        if "header" in self.stack:
            self.header.append(data)


def rgb(hex_color):
    return np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])


def n_near(px, color, tol=6):
    return int((np.abs(px.reshape(-1, 3).astype(int) - np.asarray(color)) <= tol).all(axis=1).sum())


@pytest.fixture(scope="module")
def estimate_html(tmp_path_factory):
    d = flopest.estimate(params=7e9, tokens=2e12, device="h100-sxm", n_devices=256, region="FR", samples=2000).to_dict()
    return d, render_estimate(d, "html")


def test_estimate_page_structure(estimate_html):
    d, text = estimate_html
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    p = Page(text)
    header = " ".join(p.header)
    # the plan in the header: model (the plan's), device, devices, region, data centre, precision
    for want in ("7 G params × 2 T tokens", "NVIDIA H100 SXM5 80GB (h100-sxm)", "256", "France (FR)", "hyperscaler",
                 "bf16", "CO₂eq"):
        assert want in header, want
    body = " ".join(p.text)
    # the totals with ranges, the boundaries, the assumptions with their sources
    for want in ("flopest estimate (p5 – p50 – p95)", "accelerators only", "+ host (CPU, RAM, network)",
                 "+ facility (PUE)", "+ embodied (manufacturing share)", "cost (on-demand list price)",
                 "assumptions", "grid_intensity.csv [FR]", "prices.csv"):
        assert want in body, want
    # the chart inline: an <svg> with real text, no script and nothing fetched
    assert "svg" in p.tags and "script" not in p.tags and p.external == []
    assert "energy by boundary" in body and "CO₂eq by boundary" in body


def test_notebook_html_of_an_estimate_and_of_counts():
    est = flopest.estimate(params=1e9, tokens=2e10, device="a100-sxm4-80gb", region="FR", samples=1000)
    h = est._repr_html_()
    assert h.startswith("<div class='flopest-report'>") and "<svg" in h and "<table>" in h
    h = flopest.count(_onnx_model())._repr_html_()
    assert h.startswith("<div class='flopest-report'>")
    p = Page(h)
    header = " ".join(p.header)
    # x(4, 8) @ W(8, 16): 2·4·8·16 = 1,024 FLOPs in the matmul; 128 parameters; Foo not costed, named
    assert "flopest count" in header and "128" in header and "Foo ×1" in header and "coverage" in header
    body = " ".join(p.text)
    assert "breakdown" in body and "MatMul" in body and "1,024" in body


def _onnx_model():
    from tests.ops._onnx_build import model, node, weight
    return model([node("MatMul", ["x", "W"], ["y"]), node("Relu", ["y"], ["r"]),
                  node("Foo", ["r"], ["z"], domain="custom")],
                 [("x", (4, 8))], ["z"], inits=[weight("W", (8, 16))], domains=["custom"])


def test_names_from_the_model_are_escaped(estimate_html):
    d, _ = estimate_html
    d = {**d, "plan": {**d["plan"], "model": "<script>alert(1)</script>"},
         "notes": ["<img src=x onerror=alert(1)>"]}
    text = render_estimate(d, "html")
    p = Page(text)
    assert "script" not in p.tags and "img" not in p.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


@pytest.mark.torch
def test_cli_html_of_a_model_shows_the_time_split(tmp_path):
    out = tmp_path / "report.html"
    assert main(["estimate", *MODEL, "--format", "html", "-o", str(out), "-q"]) == 0
    p = Page(out.read_text())
    body = " ".join(p.text)
    assert "tests.cli.factories:mlp" in " ".join(p.header)     # the model as the user named it
    for want in ("time split (one counted step, step-time model)", "kernel launches", "optimizer step",
                 "costliest operators by time"):
        assert want in body, want


def test_check_and_compare_pages(tmp_path):
    plan = ["--params", "1B", "--tokens", "20B", "--samples", "1000"]
    out = tmp_path / "check.html"
    assert main(["check", *plan, "--budget", "co2eq=1t", "--no-config", "--format", "html", "-o", str(out)]) == 0
    p = Page(out.read_text())
    assert "flopest check" in " ".join(p.header) and "within" in " ".join(p.text).lower() and "svg" in p.tags
    out = tmp_path / "compare.html"
    assert main(["compare", *plan, "--device", "h100-sxm,a100-sxm4-80gb", "--region", "FR,PL", "--format", "html",
                 "-o", str(out)]) == 0
    text = out.read_text()
    p = Page(text)
    assert "svg" in p.tags and "cost p50" in " ".join(p.text) and "first choice" in " ".join(p.header)
    assert "CO₂eq of 1 G params × 20 G tokens · 1 device(s)" in text   # the plan in the chart's title


# ------------------------------------------------------------------------------ a real browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(html_path, png_path, tmp_path, size="1200,1400"):
    """Headless Chromium's screenshot of a local file: no GPU, no network, a fresh profile."""
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
           f"--screenshot={png_path}", f"--window-size={size}", "--hide-scrollbars", f"file://{html_path}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    from matplotlib.image import imread
    with open(png_path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    img = imread(str(png_path))
    return (img[..., :3] * 255).round().astype(np.uint8)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; CI installs it)")
def test_estimate_page_in_a_real_browser(estimate_html, tmp_path):
    _, text = estimate_html
    page = tmp_path / "estimate.html"
    page.write_text(text, encoding="utf-8")
    px = screenshot(page, tmp_path / "estimate.png", tmp_path)
    h, w, _ = px.shape
    assert (w, h) == (1200, 1400)
    flat = px.reshape(-1, 3)
    assert 0.05 < (flat != 255).any(axis=1).mean() < 0.95              # not blank, not a solid block
    # the header: the report's dark band with white text in it, so the region is not uniform
    head = px[20:130, 20:1100]
    assert n_near(head, rgb("#0b3954")) > 0.5 * head.shape[0] * head.shape[1]
    assert n_near(head, (255, 255, 255), tol=40) > 500                   # the plan's text
    assert len(np.unique(head.reshape(-1, 3), axis=0)) > 20             # text antialiased over the band
    # the chart, drawn by the browser from the inline SVG: every boundary's colour fills its bar
    for c in plots.BOUNDARY_COLORS.values():
        assert n_near(px, rgb(c)) > 1500, c


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; CI installs it)")
def test_compare_page_in_a_real_browser(tmp_path):
    rows = [flopest.estimate(params=1e9, tokens=2e10, device=dev, region=reg, samples=1000)
            for dev in ("a100-sxm4-80gb", "h100-sxm") for reg in ("FR", "PL")]
    d = flopest.impact.compare(rows)
    page = tmp_path / "compare.html"
    page.write_text(render_compare(d, "html"), encoding="utf-8")
    px = screenshot(page, tmp_path / "compare.png", tmp_path, "1200,1000")
    head = px[20:120, 20:1100]
    assert len(np.unique(head.reshape(-1, 3), axis=0)) > 20
    # colours mean the device: two devices, two colours, each on two bars
    for c in plots.SERIES_COLORS[:2]:
        assert n_near(px, rgb(c)) > 2000, c
    assert n_near(px, (0, 0, 0), tol=10) > 500                           # the first choice's outline, text, whiskers


def test_check_page_renders_the_verdict_first():
    est = flopest.estimate(params=1e9, tokens=2e10, device="a100-sxm4-80gb", region="FR", samples=500)
    from flopest.budget import evaluate, parse_budget
    res = evaluate(est, [parse_budget("co2eq=1mg")], "p95")
    d = {**est.to_dict(), "check": res.to_dict()}
    text = render_check(d, "html")
    body = " ".join(Page(text).text)
    assert body.index("OVER") < body.index("flopest estimate (p5 – p50 – p95)")


def test_without_matplotlib_the_page_says_how_to_get_the_chart(estimate_html, monkeypatch):
    import sys
    d, _ = estimate_html
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    text = render_estimate(d, "html")
    p = Page(text)
    assert "svg" not in p.tags and 'pip install "flopest[plot]"' in " ".join(p.text)
    assert "flopest estimate (p5 – p50 – p95)" in " ".join(p.text)   # the report itself still comes
