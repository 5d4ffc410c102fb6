"""The layer contracts of docs/architecture.md hold (import-linter), and a wrong import breaks them."""

import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def lint(root: pathlib.Path) -> subprocess.CompletedProcess:
    """lint-imports with the contracts of root/pyproject.toml, on root's copy of the package."""
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                           "lint_imports_command()"],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)


def test_contracts_kept():
    r = lint(ROOT)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "BROKEN" not in r.stdout


@pytest.mark.parametrize("module, line, contract", [
    # the vocabulary layer importing the CLI: a lower layer reaching up
    ("flopest/kinds.py", "from . import cli  # noqa", "layers"),
    # the kernel importing a front end: evaluation must not know where a count came from
    ("flopest/kernel/__init__.py", "from .. import frontends  # noqa", "evaluation never imports a front end"),
    # the impact model importing torch itself
    ("flopest/counts.py", "import torch  # noqa", "only the front ends import torch"),
])
def test_a_wrong_import_breaks_a_contract(tmp_path, module, line, contract):
    shutil.copytree(ROOT / "flopest", tmp_path / "flopest", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + "\n" + line + "\n")
    r = lint(tmp_path)
    assert r.returncode != 0, r.stdout[-3000:]
    broken = [ln for ln in r.stdout.splitlines() if ln.endswith("BROKEN")]
    assert any(ln.startswith(contract) for ln in broken) or contract in r.stdout.split("Broken contracts")[-1], \
        r.stdout[-3000:]


def _private_imports():
    """(module, name) pairs where one module of flopest imports another's `_private` name."""
    out = []
    for path in sorted((ROOT / "flopest").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("flopest")):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        out.append((str(path.relative_to(ROOT)), f"{node.module}.{alias.name}"))
    return out


def test_no_private_name_is_imported_across_modules():
    assert _private_imports() == []
