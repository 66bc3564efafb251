"""ruff (pyproject.toml: line length 120, pyflakes, pycodestyle, import order) and mypy are clean.

mypy covers every package ([tool.mypy] `files`)."""
import subprocess  # nosec B404 # runs the linters from this venv with fixed argument lists
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=ROOT, capture_output=True, text=True,  # nosec B603
                          timeout=600)


def test_ruff_is_clean():
    out = _run("ruff", "check", "--no-cache", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_is_clean():
    out = _run("mypy")
    assert out.returncode == 0, out.stdout + out.stderr
