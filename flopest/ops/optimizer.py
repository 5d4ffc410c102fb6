"""The optimizer step's cost rows: FLOPs and elements moved per trainable parameter element.

Framework-free: a training capture (any front end) appends these rows, tagged
``kinds.OPTIMIZER``, for its count of trainable parameter elements. Parameters and optimizer
states are taken as fp32 (4 bytes), as mixed-precision training keeps them.
"""

from __future__ import annotations

from .. import kinds
from ..errors import InputError, did_you_mean

# optimizer step FLOPs per trainable parameter element, elements read and written, and why
# (the update rules as torch.optim documents them, 2024)
OPTIMIZERS = {
    # p -= lr·g
    "sgd": (2, 2, 1, "p −= lr·g: mul, sub"),
    # buf = μ·buf + g; p −= lr·buf
    "sgd-momentum": (4, 3, 2, "buf = μ·buf + g (2); p −= lr·buf (2)"),
    # m = β1·m + (1−β1)·g (3); v = β2·v + (1−β2)·g² (4); m̂, v̂ bias corrections (2);
    # p −= lr·m̂/(√v̂ + ε) (5)
    "adam": (14, 4, 3, "m update 3, v update 4, bias corrections 2, step 5 (sqrt, add, div, mul, sub)"),
    "adamw": (16, 4, 3, "adam's 14 + decoupled weight decay p −= lr·λ·p (2)"),
}

STATE_BYTES = 4   # fp32 parameters and states


def check_optimizer(name: str) -> None:
    """InputError naming `name` unless it is one of OPTIMIZERS."""
    if name not in OPTIMIZERS:
        raise InputError(f"optimizer {name!r} is not one of {', '.join(OPTIMIZERS)}"
                         f"{did_you_mean(name, OPTIMIZERS)}")


def add_optimizer_rows(builder, name: str, trainable: int) -> str:
    """Append the step of optimizer `name` over `trainable` parameter elements to `builder`
    (a TableBuilder): one elementwise row of flops·trainable FLOPs reading reads·trainable
    elements and writing the parameter, plus a zero-FLOP row for the other states written.
    Returns the note that says what was counted."""
    check_optimizer(name)
    flops, reads, writes, why = OPTIMIZERS[name]
    builder.add(kinds.ELEMENTWISE, [trainable, flops, reads * trainable], elsize=STATE_BYTES,
                outsize=STATE_BYTES, op=f"optimizer.{name}", node=f"optimizer.{name}",
                module="(optimizer)", phase=kinds.OPTIMIZER)
    if writes > 1:
        builder.add(kinds.ELEMENTWISE, [(writes - 1) * trainable, 0, 0], elsize=STATE_BYTES,
                    outsize=STATE_BYTES, op=f"optimizer.{name}", node=f"optimizer.{name}.state",
                    module="(optimizer)", phase=kinds.OPTIMIZER)
    return f"optimizer {name}: {flops} FLOPs per trainable parameter ({why}); fp32 parameters and states"
