"""flopest: what training and serving a model will cost, read off its graph before it runs.

>>> import flopest
>>> c = flopest.count("model.onnx", dims={"batch": 8, "sequence": 512})
>>> c.flops, c.matmul_flops, c.bytes, c.unknown_ops

Importing flopest imports neither torch, onnx nor numba (the kernel compiles on first use);
the public functions are the library's own, with their real signatures.
"""

from .budget import BudgetExceeded, CheckResult, check, guard
from .errors import (FlopestError, InputError, ModelReadError, ModelRunError, UnboundDimError,
                     UnknownOperatorError)
from .impact import estimate, estimate_phases, serve
from .impact.measured import calibrate_from   # a measured run (CodeCarbon, carbontracker) against the prediction
from .models import count   # the one resolver; front ends are imported when a model needs them
from .sweeps import sweep   # design-space sweeps on Dask (imported when a sweep runs)
from . import report as _report  # noqa: F401  (registers the renderers results use: flopest.views)
from . import plots as _plots  # noqa: F401  (registers the charts HTML reports embed; matplotlib stays unimported)
from .tracking import log_mlflow
from .version import __version__


def spec(shape, dtype=None):
    """An example input by shape for PyTorch capture: ``flopest.spec((8, 3, 224, 224))``,
    ``flopest.spec((1, 128), "int64")``."""
    from .models import torch_frontend
    return torch_frontend().spec(shape, dtype)


__all__ = ["count", "estimate", "estimate_phases", "serve", "calibrate_from", "sweep", "check", "guard", "spec", "log_mlflow", "BudgetExceeded", "FlopestError", "InputError", "ModelReadError", "UnboundDimError",
           "UnknownOperatorError", "ModelRunError", "CheckResult", "__version__"]
