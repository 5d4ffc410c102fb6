"""Coverage-guided fuzzing of the ONNX reader with atheris (libFuzzer), seeded with corpus/.
Not a pytest test (it runs until stopped); the Hypothesis fuzzers in test_fuzz_onnx.py run in CI.

    pip install atheris
    python tests/robustness/atheris_fuzz.py /tmp/atheris-corpus tests/robustness/corpus \\
        -max_total_time=600 -timeout=5 -rss_limit_mb=4096 -artifact_prefix=/tmp/atheris-

Every input must count or raise a FlopestError within 5 s. A crash (any other exception) or a
timeout is written under -artifact_prefix; add it to corpus/ with the fix.
"""

from __future__ import annotations

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import atheris  # noqa: E402

with atheris.instrument_imports(include=["flopest"]):   # submodules load lazily: import them here
    import flopest  # noqa: E402
    import flopest.counts  # noqa: E402, F401
    import flopest.dims  # noqa: E402, F401
    import flopest.frontends.onnx.proto  # noqa: E402, F401
    import flopest.frontends.onnx.propagate  # noqa: E402, F401
    import flopest.frontends.onnx  # noqa: E402, F401
    import flopest.kernel  # noqa: E402, F401
    import flopest.ops  # noqa: E402, F401
    import flopest.optable  # noqa: E402, F401
from flopest.errors import FlopestError  # noqa: E402

_fd, PATH = tempfile.mkstemp(suffix=".onnx")
os.close(_fd)


def one_input(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    try:
        c = flopest.count(PATH, dims={"batch": 3})
        c.to_dict(by="op")
    except FlopestError:
        pass


def main() -> None:
    import onnxruntime.tools.symbolic_shape_infer  # noqa: F401  (imports outside the time limit)
    flopest.count(os.path.join(ROOT, "tests", "robustness", "corpus", "cycle.onnx")).to_dict(by="op")
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
