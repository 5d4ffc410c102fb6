"""Run by test_concurrency.py in a fresh interpreter: count several ONNX models and PyTorch
models from 8 threads released at once (first calls: the kernel loads, onnxruntime's tool and
flopest's front ends are imported lazily, all racing), then the same calls one by one; print
both as JSON. argv[1]: "threads" (threads, then sequential) or "sequential"."""

import json
import os
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import onnx  # noqa: E402
import torch  # noqa: E402  (a Module exists only once torch is imported: the user's doing)

import flopest  # noqa: E402

CORPUS = os.path.join(ROOT, "tests", "robustness", "corpus")


def onnx_jobs(folder):
    from tests.conftest import mlp_model
    from tests.frontends.test_onnx_read import big_model
    mlp = os.path.join(folder, "mlp.onnx")
    onnx.save(mlp_model(), mlp)
    big = os.path.join(folder, "big.onnx")
    onnx.save(big_model(), big)
    return [
        ("mlp", mlp, {"batch": 8}),
        ("big", big, {"batch": 3}),
        ("big_proto", big_model(), {"batch": 5}),
        ("loop_2pow62", os.path.join(CORPUS, "loop_trip_count_2pow62.onnx"), {}),
        ("cycle", os.path.join(CORPUS, "cycle.onnx"), {}),                      # onnxruntime's tool runs
        ("cos_2pow80", os.path.join(CORPUS, "constant_of_shape_2pow80.onnx"), {}),  # idem
    ]


def torch_jobs():
    from transformers import GPT2Config, GPT2LMHeadModel
    with torch.device("meta"):
        gpt = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=256, n_positions=64))
    mlp = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    return [("gpt2_tiny", gpt, {"input_ids": flopest.spec((2, 16), "int64")}),
            ("mlp_train", mlp, {"training": True, "optimizer": "adamw", "_args": (torch.zeros(8, 16),)})]


def run(job):
    name, model, kw = job
    kw = dict(kw)
    if isinstance(model, torch.nn.Module):
        args = kw.pop("_args", ())
        c = flopest.count(model, *args, **kw)
        by = "module"
    else:
        c = flopest.count(model, dims=kw)
        by = "op"
    d = c.to_dict(by=by)
    d.pop("version")
    return d


def main():
    import tempfile
    mode = sys.argv[1]
    with tempfile.TemporaryDirectory() as folder:
        jobs = onnx_jobs(folder) + torch_jobs()
        assert len(jobs) == 8
        out = {}
        if mode == "threads":
            results, errors = {}, {}
            barrier = threading.Barrier(len(jobs))

            def worker(job):
                barrier.wait()
                try:
                    results[job[0]] = run(job)
                except BaseException as exc:  # reported, not swallowed
                    errors[job[0]] = f"{type(exc).__name__}: {exc}"

            threads = [threading.Thread(target=worker, args=(j,)) for j in jobs]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            out["threads"] = results
            out["thread_errors"] = errors
        out["sequential"] = {j[0]: run(j) for j in jobs}
    json.dump(out, sys.stdout, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
