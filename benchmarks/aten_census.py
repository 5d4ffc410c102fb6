"""Census of the aten operators PyTorch dispatches for the zoo and a set of small nn models,
forward and backward, on meta tensors: the coverage target of the operator registry.

    python benchmarks/aten_census.py [--models resnet50,gpt2] [--no-zoo] [--no-small] [--unknown]

Each model is run under a tiny ``TorchDispatchMode`` recorder (``Recorder``) that sees the ops
as the PyTorch front end will: after autograd and the CompositeImplicit decompositions. The
module's parameters and buffers are swapped for meta tensors with
``torch.func.functional_call`` (parameters requiring grad), the inputs are converted to meta,
and the backward pass runs from ``loss = sum of every float output``. Each op is named by its
overload packet (``aten.addmm``). A model that cannot run on meta tensors (a data-dependent
op such as ``.item()``) is reported with the last op dispatched and the error.

Printed: per model the op names with counts, then the union with counts and, per op, whether
the registry knows it (``reg`` = lowering, ``free`` = zero cost, ``UNKNOWN``).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_map  # noqa: E402

from flopest.ops import T as _T  # noqa: E402


def _as_T(x):
    """A tensor as the registry sees it: flopest.ops.T(shape, element size)."""
    if isinstance(x, torch.Tensor):
        return _T(tuple(int(d) for d in x.shape), x.element_size())
    return x


def _user_frame() -> str:
    """file:line of the innermost frame outside torch (where a data-dependent read happens)."""
    import traceback
    for fr in reversed(traceback.extract_stack()):
        if "/torch/" not in fr.filename and not fr.filename.endswith("aten_census.py"):
            return f"{Path(fr.filename).name}:{fr.lineno} {fr.line}"
    return "?"


class Recorder(TorchDispatchMode):
    """Counts every op dispatched, by overload packet name (``aten.addmm``); with
    ``keep=True`` also keeps (name, args, kwargs, out) of each call with every tensor as a
    flopest ``T`` (shape, element size; holding no tensor, which would change what autograd
    does: AccumulateGrad copies a gradient someone else references). With ``stand_ins=True`` a
    data-dependent read (``aten._local_scalar_dense``: ``.item()``, ``bool(t)``) returns a
    stand-in (True / 1 / 1.0) instead of failing, and is listed in ``data_dependent``."""

    def __init__(self, keep: bool = False, stand_ins: bool = False):
        super().__init__()
        self.ops: Counter = Counter()
        self.calls: list = []
        self.keep = keep
        self.stand_ins = stand_ins
        self.data_dependent: list = []
        self.last = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = str(func.overloadpacket)
        self.last = str(func)
        self.ops[name] += 1
        if self.stand_ins and name == "aten._local_scalar_dense":
            t = args[0]
            self.data_dependent.append(_user_frame())
            return True if t.dtype == torch.bool else (1.0 if t.is_floating_point() else 1)
        out = func(*args, **kwargs)
        if self.keep:
            self.calls.append((name, tree_map(_as_T, args), tree_map(_as_T, kwargs), tree_map(_as_T, out)))
        return out


@dataclass
class Capture:
    """The ops of one model (forward, backward) and the reason it stopped, if it did."""
    name: str
    forward: Counter = field(default_factory=Counter)
    backward: Counter = field(default_factory=Counter)
    error: str = ""
    data_dependent: list = field(default_factory=list)   # stand-ins used: where they were read
    strict_error: str = ""   # why the run without stand-ins stopped (then rerun with them)
    cost_errors: dict = field(default_factory=dict)      # op -> the error its lowering raised
    flops: int = 0
    matmul_flops: int = 0
    bytes: int = 0
    flop_counter: int = 0    # torch.utils.flop_counter's total for the same run

    @property
    def ops(self) -> Counter:
        return self.forward + self.backward


def _to_meta(x):
    """A meta leaf of the same shape and dtype (requires_grad kept)."""
    if not isinstance(x, torch.Tensor):
        return x
    return x.detach().to("meta").requires_grad_(x.requires_grad)


def _float_outputs(out) -> list:
    found = []

    def visit(o):
        if isinstance(o, torch.Tensor):
            if o.is_floating_point() and o.requires_grad:
                found.append(o)
        elif isinstance(o, (list, tuple)):
            for v in o:
                visit(v)
        elif isinstance(o, dict):
            for v in o.values():
                visit(v)
        elif hasattr(o, "to_tuple"):           # transformers ModelOutput
            visit(o.to_tuple())

    visit(out)
    return found


def capture(name: str, module: torch.nn.Module, inputs: tuple, *, train: bool = True,
            backward: bool = True, keep: bool = False, stand_ins: bool = False) -> tuple:
    """Run `module(*inputs)` on meta tensors (forward, then backward of the sum of its float
    outputs) under a Recorder each; returns (Capture, forward Recorder, backward Recorder)."""
    module.train(train)
    state = {k: torch.empty_like(v, device="meta").requires_grad_(v.is_floating_point())
             for k, v in module.named_parameters()}
    state.update({k: torch.empty_like(v, device="meta") for k, v in module.named_buffers()})
    meta_in = tree_map(_to_meta, tuple(inputs))
    cap = Capture(name)
    fwd, bwd = Recorder(keep, stand_ins), Recorder(keep, stand_ins)
    try:
        with fwd:
            out = torch.func.functional_call(module, state, meta_in)
        cap.forward = fwd.ops
        if backward:
            outs = _float_outputs(out)
            if outs:
                with bwd:
                    loss = sum(o.sum() for o in outs)
                    loss.backward()
                cap.backward = bwd.ops
    except Exception as exc:  # noqa: BLE001 - a census records every failure and goes on
        rec = bwd if bwd.ops else fwd
        cap.forward, cap.backward = fwd.ops, bwd.ops
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        cap.error = f"after {rec.last}: {type(exc).__name__}: {msg[:200]}"
    cap.data_dependent = fwd.data_dependent + bwd.data_dependent
    return cap, fwd, bwd


class _Fn(torch.nn.Module):
    """Wraps a function of tensors (with parameters of its own submodules) as a module."""

    def __init__(self, fn, **mods):
        super().__init__()
        self.fn = fn
        for k, m in mods.items():
            setattr(self, k, m)

    def forward(self, *xs):
        return self.fn(self, *xs)


def _tensor_ops(s, x, tok):
    """A spread of tensor operators (indexing, scatter, reductions, sorting, masking, repeats)."""
    y = x * 2
    z = y[:, :2].clone()
    z[:, :, 0] = 1.0                                   # copy_ into a slice
    y = y.index_put((torch.zeros(1, dtype=torch.long),), y[:1] * 3)
    idx = torch.zeros(2, 4, 8, 8, dtype=torch.long)
    y = y.scatter(3, idx, x) + y.scatter_add(3, idx, x) + y.gather(3, idx)
    v, i = y.topk(3, dim=-1)
    srt, _ = y.sort(dim=-1)
    m = y.masked_fill(y > 0, 0.0) + torch.where(y < 1, y, x)
    r = (y.var(dim=(2, 3)).sum() + y.std().sum() + y.norm() + y.amax() + y.amin(dim=1).sum() + y.prod()
         + y.logsumexp(dim=-1).sum() + y.cumsum(-1).sum() + y.argmax() + v.sum() + srt.sum() + m.sum())
    e = x.flatten(1).index_select(1, tok.flatten()[:3]).sum() + x.repeat(1, 2, 1, 1).sum()
    e = e + x.flip(-1).sum() + x.roll(1, -1).sum() + x.tril().sum() + x.clamp(min=0).sum() + x.clamp(0, 1).sum()
    e = e + x.expand(3, 2, 4, 8, 8).sum() + x.permute(0, 2, 3, 1).contiguous().sum() + x.abs().sqrt().sum()
    e = e + x.exp().log1p().sum() + x.pow(3).sum() + (1 / (x.abs() + 1)).sum() + torch.stack([x, x]).sum()
    e = e + x.lerp(y, 0.5).sum() + torch.addcmul(x, x, y).sum() + torch.addcdiv(x, x, y.abs() + 1).sum()
    e = e + x.unfold(3, 2, 2).sum() + torch.diagonal(x, 0, 2, 3).sum() + x.maximum(y).sum() + x.max(y).sum()
    return r + e + z.sum() + x.float().half().float().sum() + x.to(torch.float64).sum()


def _losses(s, x, t):
    F = torch.nn.functional
    return (F.binary_cross_entropy_with_logits(x, t) + F.binary_cross_entropy(torch.sigmoid(x), t)
            + F.smooth_l1_loss(x, t) + F.huber_loss(x, t) + F.l1_loss(x, t) + F.kl_div(x.log_softmax(-1), t)
            + F.nll_loss(x.log_softmax(-1), t.argmax(-1), weight=torch.ones(10, device=x.device))
            + F.cross_entropy(x, t.argmax(-1), label_smoothing=0.1) + F.soft_margin_loss(x, t))


def small_models() -> list:
    """(name, module, inputs, train) of small nn layers, each on its own."""
    nn, F = torch.nn, torch.nn.functional
    x4 = torch.randn(2, 4, 8, 8)
    x3 = torch.randn(2, 5, 16)          # (B, L, E)
    q = torch.randn(2, 4, 5, 8, requires_grad=True)     # (B, H, L, D)
    kv = torch.randn(2, 4, 7, 8, requires_grad=True)
    gq = torch.randn(2, 8, 5, 8, requires_grad=True)    # 8 query heads over 2 kv heads
    gk = torch.randn(2, 2, 7, 8, requires_grad=True)
    tok = torch.randint(0, 10, (2, 5))
    mods = [
        ("Linear", nn.Linear(16, 8), (x3,), True),
        ("Linear-nobias", nn.Linear(16, 8, bias=False), (x3,), True),
        ("Linear-2d", nn.Linear(16, 8), (torch.randn(3, 16),), True),
        ("Conv2d", nn.Conv2d(4, 6, 3, padding=1), (x4,), True),
        ("Conv2d-groups-stride", nn.Conv2d(4, 8, 3, stride=2, groups=2), (x4,), True),
        ("Conv1d", nn.Conv1d(5, 6, 3), (torch.randn(2, 5, 10),), True),
        ("ConvTranspose2d", nn.ConvTranspose2d(4, 6, 2, stride=2), (x4,), True),
        ("BatchNorm2d-train", nn.BatchNorm2d(4), (x4,), True),
        ("BatchNorm2d-eval", nn.BatchNorm2d(4), (x4,), False),
        ("GroupNorm", nn.GroupNorm(2, 4), (x4,), True),
        ("LayerNorm", nn.LayerNorm(16), (x3,), True),
        ("MultiheadAttention", _Fn(lambda s, x: s.m(x, x, x)[0], m=nn.MultiheadAttention(16, 4, batch_first=True)),
         (x3,), True),
        ("MultiheadAttention-noweights", _Fn(lambda s, x: s.m(x, x, x, need_weights=False)[0],
                                             m=nn.MultiheadAttention(16, 4, batch_first=True)), (x3,), False),
        ("sdpa", _Fn(lambda s, a, b, c: F.scaled_dot_product_attention(a, b, c)), (q, kv, kv), True),
        ("sdpa-causal", _Fn(lambda s, a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True)),
         (q, kv, kv), True),
        ("sdpa-gqa", _Fn(lambda s, a, b, c: F.scaled_dot_product_attention(a, b, c, enable_gqa=True)),
         (gq, gk, gk), True),
        ("sdpa-mask", _Fn(lambda s, a, b, c, m: F.scaled_dot_product_attention(a, b, c, attn_mask=m)),
         (q, kv, kv, torch.zeros(5, 7)), True),
        ("LSTM", _Fn(lambda s, x: s.m(x)[0], m=nn.LSTM(16, 8, batch_first=True)), (x3,), True),
        ("LSTM-2layer-bi", _Fn(lambda s, x: s.m(x)[0], m=nn.LSTM(16, 8, num_layers=2, bidirectional=True)),
         (x3,), True),
        ("GRU", _Fn(lambda s, x: s.m(x)[0], m=nn.GRU(16, 8, batch_first=True)), (x3,), True),
        ("RNN", _Fn(lambda s, x: s.m(x)[0], m=nn.RNN(16, 8, batch_first=True)), (x3,), True),
        ("Embedding", nn.Embedding(10, 16), (tok,), True),
        ("Dropout-train", _Fn(lambda s, x: s.m(x) * 1.0, m=nn.Dropout(0.1)), (x3,), True),
        ("CrossEntropyLoss", _Fn(lambda s, x, t: s.m(x, t), m=nn.CrossEntropyLoss()),
         (torch.randn(6, 10, requires_grad=True), torch.randint(0, 10, (6,))), True),
        ("CrossEntropyLoss-3d", _Fn(lambda s, x, t: s.m(x.transpose(1, 2), t), m=nn.CrossEntropyLoss()),
         (torch.randn(2, 5, 10, requires_grad=True), tok), True),
        ("MSELoss", _Fn(lambda s, x, t: s.m(x, t), m=nn.MSELoss()),
         (torch.randn(6, 10, requires_grad=True), torch.randn(6, 10)), True),
        ("MaxPool2d", nn.MaxPool2d(2), (x4.detach().requires_grad_(),), True),
        ("AdaptiveAvgPool2d", nn.AdaptiveAvgPool2d(1), (x4,), True),
        ("AdaptiveAvgPool2d-3", nn.AdaptiveAvgPool2d(3), (x4,), True),
        ("AvgPool2d", nn.AvgPool2d(2), (x4,), True),
        ("interpolate-nearest", _Fn(lambda s, x: F.interpolate(x, scale_factor=2)), (x4,), True),
        ("interpolate-bilinear", _Fn(lambda s, x: F.interpolate(x, scale_factor=2, mode="bilinear")), (x4,), True),
        ("Flatten", nn.Flatten(), (x4,), True),
        ("softmax-logsoftmax", _Fn(lambda s, x: F.softmax(x, -1) + F.log_softmax(x, -1)), (x3,), True),
        ("tensor-ops", _Fn(_tensor_ops), (x4.detach().requires_grad_(), tok), True),
        ("losses", _Fn(_losses), (torch.randn(6, 10, requires_grad=True), torch.rand(6, 10)), True),
        ("baddbmm-einsum", _Fn(lambda s, a, b: torch.baddbmm(a[:, :, :7], a, b.transpose(1, 2))
                               + torch.einsum("bij,bkj->bik", a, b)[..., :7].sum()),
         (torch.randn(2, 5, 7, requires_grad=True), torch.randn(2, 7, 7, requires_grad=True)), True),
        ("pad-shuffle-grid", _Fn(lambda s, x: F.grid_sample(F.pixel_shuffle(F.pad(x, (1, 1, 1, 1), mode="reflect"), 2),
                                                            torch.zeros(2, 4, 4, 2, device=x.device)).sum()
                                 + F.pad(x, (1, 1, 1, 1), mode="replicate").sum()),
         (torch.randn(2, 4, 8, 8, requires_grad=True),), True),
        ("prelu-elu-glu", _Fn(lambda s, x: s.p(x) + F.selu(x) + F.celu(x) + F.glu(torch.cat([x, x], 1), 1)
                              + F.logsigmoid(x) + F.softsign(x) + F.hardshrink(x), p=nn.PReLU(4)),
         (torch.randn(2, 4, 8, 8, requires_grad=True),), True),
        ("InstanceNorm-LocalResponseNorm", _Fn(lambda s, x: s.i(x) + F.local_response_norm(x, 2),
                                               i=nn.InstanceNorm2d(4, affine=True)), (x4,), True),
        ("Conv3d-MaxPool3d-Upsample3d", _Fn(lambda s, x: F.interpolate(F.max_pool3d(s.c(x), 2), scale_factor=2,
                                                                        mode="trilinear"), c=nn.Conv3d(2, 3, 3)),
         (torch.randn(1, 2, 6, 6, 6),), True),
        ("Transformer-layer", nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), (x3,), True),
        ("Bilinear-CosineSim", _Fn(lambda s, a, b: s.b(a, b).sum() + F.cosine_similarity(a, b).sum()
                                   + F.pairwise_distance(a, b).sum(), b=nn.Bilinear(16, 16, 4)),
         (torch.randn(3, 16), torch.randn(3, 16)), True),
    ]
    acts = {"GELU": nn.GELU(), "GELU-tanh": nn.GELU(approximate="tanh"), "SiLU": nn.SiLU(),
            "Tanh": nn.Tanh(), "Sigmoid": nn.Sigmoid(), "Hardswish": nn.Hardswish(), "ReLU": nn.ReLU(),
            "ReLU6": nn.ReLU6(), "LeakyReLU": nn.LeakyReLU(), "Hardsigmoid": nn.Hardsigmoid(),
            "ELU": nn.ELU(), "Softplus": nn.Softplus(), "Mish": nn.Mish()}
    for k, m in acts.items():
        # Linear first: the activation's input then requires grad and its backward runs
        mods.append((k, nn.Sequential(nn.Linear(16, 16), m), (x3,), True))
    return mods


def zoo_models(names=None) -> list:
    import model_zoo
    out = []
    for n in names or model_zoo.names():
        module, inputs, _, _ = model_zoo.get(n, size="tiny")
        # training: batch 2 (BatchNorm in train mode needs more than one value per channel)
        inputs = tuple(torch.cat([x, x]) if isinstance(x, torch.Tensor) else x for x in inputs)
        out.append((n, module, inputs, True))
        cfg = getattr(getattr(module, "model", None), "config", None)
        if cfg is not None and hasattr(cfg, "_attn_implementation"):
            module2, _, _, _ = model_zoo.get(n, size="tiny")
            inputs2 = inputs
            try:
                module2.model.config._attn_implementation = "sdpa"
                out.append((n + "[sdpa]", module2, inputs2, True))
            except Exception:  # noqa: BLE001 - a model without an sdpa path keeps eager only
                pass
    return out


def _flat_T(x) -> list:
    if isinstance(x, _T):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _flat_T(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _flat_T(v)]
    return []


def ctx_of(name, args, kwargs, out):
    """The Ctx the PyTorch front end builds for one recorded call (see
    flopest.frontends.torch): registry name as op, every tensor argument's shape (flattened,
    in argument order, kwargs after args), every tensor result's shape, arguments with tensors
    as T."""
    from flopest.ops import Ctx, lookup_aten
    fn, adapter, reg, free = lookup_aten(name)
    flat_in, flat_out = _flat_T((args, kwargs)), _flat_T(out)
    ctx = Ctx(op=reg, inputs=[t.shape for t in flat_in], outputs=[t.shape for t in flat_out],
              args=tuple(args), kwargs=dict(kwargs))
    es = flat_in[0].itemsize if flat_in else (flat_out[0].itemsize if flat_out else 4)
    return fn, adapter, free, ctx, es


def cost_calls(calls) -> tuple:
    """Run every recorded call through the registry as the front end will; returns (rows as
    (name, kind, params, repeat, elsize), Counter of unknown names, {name: first error})."""
    rows, unknown, errors = [], Counter(), {}
    for name, args, kwargs, out in calls:
        fn, adapter, free, ctx, es = ctx_of(name, args, kwargs, out)
        if free:
            continue
        if fn is None:
            unknown[name] += 1
            continue
        try:
            if adapter is not None:
                ctx = adapter(ctx)
            for r in fn(ctx):
                rows.append((name, r[0], r[1], r[2] if len(r) > 2 else 1, es))
        except Exception as exc:  # noqa: BLE001 - reported by name
            errors.setdefault(name, f"{type(exc).__name__}: {exc}")
    return rows, unknown, errors


def evaluate_rows(rows):
    """flops, matmul_flops, bytes of cost rows, through the OpTable and the kernel."""
    from flopest.kernel import evaluate
    from flopest.optable import TableBuilder
    b = TableBuilder()
    for name, kind, params, repeat, es in rows:
        b.add(kind, params, elsize=es, op=name, repeat=repeat)
    t = b.build()
    rc = evaluate(t)
    return rc.total("flops"), rc.total("matmul_flops"), rc.total("bytes")


def status(name: str) -> str:
    from flopest.ops import lookup_aten
    fn, _, _, free = lookup_aten(name)
    return "free" if free else ("reg" if fn is not None else "UNKNOWN")


def flop_counter_total(module, inputs, train: bool, stand_ins: bool) -> int:
    """torch.utils.flop_counter's total (matmul, conv, attention; forward + backward) for the
    same run, on meta tensors; -1 if it cannot run."""
    from torch.utils.flop_counter import FlopCounterMode
    module.train(train)
    state = {k: torch.empty_like(v, device="meta").requires_grad_(v.is_floating_point())
             for k, v in module.named_parameters()}
    state.update({k: torch.empty_like(v, device="meta") for k, v in module.named_buffers()})
    try:
        with FlopCounterMode(display=False) as fc, Recorder(stand_ins=stand_ins):
            out = torch.func.functional_call(module, state, tree_map(_to_meta, tuple(inputs)))
            outs = _float_outputs(out)
            if outs:
                sum(o.sum() for o in outs).backward()
        return fc.get_total_flops()
    except Exception:  # noqa: BLE001
        return -1


def run(models) -> list:
    """Capture each model; one stopped by a data-dependent read is captured again with
    stand-ins (the first error kept in ``strict_error``)."""
    caps = []
    for name, module, inputs, train in models:
        cap, fwd, bwd = capture(name, module, inputs, train=train, keep=True)
        if cap.error and "_local_scalar_dense" in cap.error:
            cap2, fwd, bwd = capture(name, module, inputs, train=train, keep=True, stand_ins=True)
            cap2.strict_error = cap.error
            cap = cap2
        rows, _, cap.cost_errors = cost_calls(fwd.calls + bwd.calls)
        cap.flops, cap.matmul_flops, cap.bytes = evaluate_rows(rows) if rows else (0, 0, 0)
        cap.flop_counter = flop_counter_total(module, inputs, train, cap.strict_error != "")
        caps.append(cap)
    return caps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="comma-separated zoo names (default: all)")
    ap.add_argument("--no-zoo", action="store_true")
    ap.add_argument("--no-small", action="store_true")
    ap.add_argument("--unknown", action="store_true", help="print only the ops the registry lacks")
    a = ap.parse_args(argv)
    models = []
    if not a.no_zoo:
        models += zoo_models(a.models.split(",") if a.models else None)
    if not a.no_small:
        models += small_models()
    caps = run(models)
    total = Counter()
    for cap in caps:
        total += cap.ops
        if a.unknown:
            continue
        print(f"== {cap.name}: {sum(cap.forward.values())} forward, {sum(cap.backward.values())} backward ops; "
              f"{cap.flops:,} FLOPs ({cap.matmul_flops:,} matmul; flop_counter {cap.flop_counter:,}"
              f"{'' if cap.flop_counter == cap.matmul_flops else ' DIFFERS'}), {cap.bytes:,} bytes"
              + (f"  FAILED {cap.error}" if cap.error else ""))
        print("   fwd: " + ", ".join(f"{k} {v}" for k, v in sorted(cap.forward.items())))
        if cap.backward:
            print("   bwd: " + ", ".join(f"{k} {v}" for k, v in sorted(cap.backward.items())))
    print(f"\n== union: {len(total)} ops")
    unknown = 0
    for k, v in sorted(total.items()):
        s = status(k)
        unknown += s == "UNKNOWN"
        if not a.unknown or s == "UNKNOWN":
            print(f"{k:55s} {v:6d}  {s}")
    failed = [c for c in caps if c.error]
    print(f"\n{unknown} unknown of {len(total)}; {len(failed)} model(s) failed on meta tensors")
    for c in failed:
        print(f"  {c.name}: {c.error}")
    errs = {k: v for c in caps for k, v in c.cost_errors.items()}
    print(f"{len(errs)} op(s) whose lowering raised on a recorded call")
    for k, v in sorted(errs.items()):
        print(f"  {k}: {v}")
    dd = [c for c in caps if c.strict_error]
    print(f"{len(dd)} model(s) needed stand-ins for data-dependent reads (census taken with them)")
    for c in dd:
        print(f"  {c.name}: {c.strict_error}")
        for where, n in Counter(c.data_dependent).items():
            print(f"      {n} x at {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
