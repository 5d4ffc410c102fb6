"""Keras's backend, without importing Keras or torch: flopest counts Keras 3 models on the torch
backend (``flopest.frontends.torch.keras``), chosen through ``KERAS_BACKEND`` before Keras is
first imported; a Keras model of another backend gets one message that names the fix."""

from __future__ import annotations

import contextlib
import os
import sys

BACKEND = "torch"


def backend_of(mod) -> str | None:
    """The backend an imported keras module runs on (None when it cannot say: Keras 2)."""
    config = getattr(mod, "config", None)
    fn = getattr(config, "backend", None) or getattr(getattr(mod, "backend", None), "backend", None)
    try:
        return str(fn()) if fn is not None else None
    except Exception:   # a stub or a broken install: treated as not torch
        return None


def other_backend_message(backend) -> str:
    """What to do about a Keras model on `backend` (not torch)."""
    return (f"keras was imported on the {backend or 'unknown'!r} backend before flopest could choose "
            f"torch; flopest counts Keras 3 models on the torch backend: set KERAS_BACKEND=torch before "
            f"keras is first imported (in the shell, or os.environ['KERAS_BACKEND'] = 'torch' at the top "
            f"of the program), or export the model with tf2onnx and count the .onnx file "
            f"(docs/counting.md, Keras)")


def prepare_backend(override: bool = True) -> str | None:
    """Before Keras is imported: choose the torch backend (``KERAS_BACKEND``; with `override`
    False only when none is named, as before the user's own code runs). Returns a note when
    another backend named in the environment was replaced; None otherwise (also when Keras is
    already imported: its backend is checked where a model is met)."""
    if "keras" in sys.modules:
        return None
    prev = os.environ.get("KERAS_BACKEND")
    if prev and not override:
        return None
    os.environ["KERAS_BACKEND"] = BACKEND
    if prev and prev.strip().lower() != BACKEND:
        return (f"KERAS_BACKEND={prev} was replaced by torch for this process: flopest counts Keras models "
                f"on the torch backend (the count does not depend on the backend)")
    return None


@contextlib.contextmanager
def on_meta():
    """Build Keras objects on the meta device (Keras's device scope, when Keras is imported on the
    torch backend): no weight allocated or initialised."""
    mod = sys.modules.get("keras")
    scope = mod.device("meta") if mod is not None and backend_of(mod) == BACKEND else contextlib.nullcontext()
    with scope:
        yield


def is_keras(obj) -> bool:
    """A Keras 3 layer or model, of any backend (Keras already imported: it is never imported here)."""
    mod = sys.modules.get("keras")
    layer = getattr(mod, "Layer", None) if mod is not None else None
    return isinstance(layer, type) and isinstance(obj, layer)


def foreign_model_message(obj) -> str | None:
    """The fix for a Keras or TensorFlow model that is not a torch.nn.Module (a Keras 3 model on
    another backend, a tf.keras / Keras 2 model, a tf.Module); None for anything else."""
    if is_keras(obj):
        return f"a Keras {type(obj).__name__} that is not a torch.nn.Module: " + other_backend_message(
            backend_of(sys.modules["keras"]))
    tf, tf_keras = sys.modules.get("tensorflow"), sys.modules.get("tf_keras")
    bases = (getattr(tf, "Module", None), getattr(getattr(tf_keras, "layers", None), "Layer", None))
    if any(isinstance(b, type) and isinstance(obj, b) for b in bases):
        return (f"a TensorFlow / tf.keras {type(obj).__name__}: flopest counts Keras 3 models on the torch "
                f"backend; export this one with tf2onnx (python -m tf2onnx.convert) and count the .onnx "
                f"file (docs/counting.md, Keras)")
    return None
