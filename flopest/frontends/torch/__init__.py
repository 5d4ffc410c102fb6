"""PyTorch front end: capture a ``torch.nn.Module`` into an OpTable on meta tensors.

``inputs`` (example inputs: specs, dtypes, meta tensors), ``replay`` (meta kernels replayed from
their arguments' metadata), ``patches`` (counting stand-ins for attention and recurrent layers),
``capture`` (the recorder and :func:`capture`), ``keras`` (Keras 3 models on the torch backend).
The optimizer's rows are in ``flopest.ops.optimizer``.
"""

from ...errors import DataDependentError, ModelRunError
from ...ops.optimizer import OPTIMIZERS
from .capture import MATERIALIZE_LIMIT_BYTES, Captured, capture
from .inputs import DTYPES, TensorSpec, build_on_meta, examples_per_pass, parse_dtype, seeded, sequence_first, spec
from . import keras   # Keras 3 models on the torch backend (Keras itself is imported when one is met)

__all__ = ["Captured", "capture", "spec", "build_on_meta", "TensorSpec", "parse_dtype", "DTYPES", "examples_per_pass", "seeded", "sequence_first",
           "OPTIMIZERS", "MATERIALIZE_LIMIT_BYTES", "ModelRunError", "DataDependentError", "keras"]
