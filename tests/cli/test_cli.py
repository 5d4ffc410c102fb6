"""The `flopest count` command: outputs, and every bad input -> one line on stderr, exit 2,
no traceback, no output file left behind."""

import json

import onnx

from tests.conftest import mlp_model

# MLP at batch=8: MatMul 2*8*64*32 = 32768, Add 8*32 = 256, Relu 256 -> flops 33280
MLP_FLOPS_B8 = 2 * 8 * 64 * 32 + 8 * 32 + 8 * 32


def test_json_fields_exact(mlp_path, cli):
    code, out, err = cli(["count", mlp_path, "--dim", "batch=8", "--format", "json", "--by", "op"])
    assert code == 0, err
    d = json.loads(out)
    assert d["flops"] == MLP_FLOPS_B8
    assert d["matmul_flops"] == 32768
    assert d["macs"] == 16384
    # bytes: MatMul (8*64 + 64*32 + 8*32)*4 = 11264; Add (256 + 32 + 256)*4 = 2176; Relu 2*256*4 = 2048
    assert d["bytes"] == 11264 + 2176 + 2048
    assert d["params"] == 64 * 32 + 32
    assert d["unknown_ops"] == {}
    assert d["coverage"] == 1.0
    assert "1 multiply-add = 2 FLOPs" in d["conventions"]
    assert set(d) >= {"flops", "matmul_flops", "macs", "bytes", "params", "unknown_ops", "coverage",
                      "conventions", "version", "breakdown"}
    names = {r["name"]: r for r in d["breakdown"]}
    assert names["MatMul"] == {"name": "MatMul", "kind": "gemm", "count": 1, "flops": 32768, "bytes": 11264}


def test_sweep_rows(mlp_path, cli):
    code, out, err = cli(["count", mlp_path, "--sweep", "batch=1,2,4", "--format", "csv"])
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "batch,flops,matmul_flops,macs,bytes"
    # batch=2: 2*2*64*32 + 2*2*32 = 8192 + 128 = 8320
    assert lines[2].split(",")[:2] == ["2", "8320"]
    assert len(lines) == 4


def test_markdown_and_table(mlp_path, cli):
    code, out, _ = cli(["count", mlp_path, "--dim", "batch=8", "--format", "markdown", "--by", "kind"])
    assert code == 0 and "| gemm" in out and "33,280" in out
    code, out, _ = cli(["count", mlp_path, "--dim", "batch=8"])
    assert code == 0 and "33,280" in out and "coverage: 100.0%" in out


def test_output_written_atomically(mlp_path, tmp_path, cli):
    dest = tmp_path / "out.json"
    code, out, _ = cli(["count", mlp_path, "--dim", "batch=8", "--format", "json", "--output", str(dest)])
    assert code == 0 and out == ""
    assert json.loads(dest.read_text())["flops"] == MLP_FLOPS_B8
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".flopest-")] == []


def test_strict_exits_2_on_unknown_op(tmp_path, cli):
    m = mlp_model()
    m.graph.node.append(onnx.helper.make_node("Frobnicate", ["r"], ["q"], domain="acme"))
    m.opset_import.append(onnx.helper.make_opsetid("acme", 1))
    p = tmp_path / "u.onnx"
    onnx.save(m, str(p))
    code, out, err = cli(["count", str(p), "--dim", "batch=1", "--format", "json"])
    assert code == 0 and json.loads(out)["unknown_ops"] == {"acme:Frobnicate": 1}
    assert json.loads(out)["coverage"] == 0.75   # 3 of 4 nodes costed
    code, out, err = cli(["count", str(p), "--dim", "batch=1", "--strict", "--output", str(tmp_path / "o.json")])
    assert code == 2 and "acme:Frobnicate" in err and not (tmp_path / "o.json").exists()


def _bad_inputs(tmp_path, mlp_path):
    notonnx = tmp_path / "notes.onnx"
    notonnx.write_text("this is not a model, just some text\n" * 20)
    data = open(mlp_path, "rb").read()
    trunc = tmp_path / "trunc.onnx"
    trunc.write_bytes(data[: len(data) // 2])
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    return [
        (["count", str(tmp_path / "missing.onnx")], "does not exist"),
        (["count", str(notonnx)], "ONNX"),
        (["count", str(trunc)], "truncated"),
        (["count", str(empty)], "ONNX"),
        (["count", str(tmp_path)], "directory"),
        (["count", mlp_path], "--dim batch=VALUE"),
        (["count", mlp_path, "--dim", "batch=-3"], "non-negative"),
        (["count", mlp_path, "--dim", "batch=2.5"], "non-negative integer"),
        (["count", mlp_path, "--dim", "batch"], "NAME=VALUE"),
        (["count", mlp_path, "--dim", "bath=3"], "did you mean 'batch'"),
        (["count", mlp_path, "--dim", "batch=1", "--format", "yaml"], "--format"),
        (["count", mlp_path, "--dim", "batch=1", "--by", "layer"], "--by"),
        (["count", mlp_path, "--sweep", "batch=1,x"], "--sweep"),
        (["count", mlp_path, "--dim", "batch=1", "--top", "-1"], "--top"),
        (["count", mlp_path, "--dim", "batch=1", "--output", str(tmp_path / "nodir" / "x.json")], "does not exist"),
    ]


def test_bad_inputs_one_line_exit_2(tmp_path, mlp_path, cli):
    for argv, needle in _bad_inputs(tmp_path, mlp_path):
        argv = argv + ["--output", str(tmp_path / "never.json")] if "--output" not in argv else argv
        code, out, err = cli(argv)
        assert code == 2, (argv, err)
        assert needle in err, (argv, err)
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert "Traceback" not in err
        assert not (tmp_path / "never.json").exists()


def test_python_dash_m_entry_point(mlp_path, flopest_proc):
    r = flopest_proc(["count", mlp_path, "--dim", "batch=8", "--format", "json"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["flops"] == MLP_FLOPS_B8
    r = flopest_proc(["count", mlp_path + ".nope"])
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
