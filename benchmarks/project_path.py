"""Make the checkout importable from a benchmark script: its packages, and its `tests` helpers (sample sheets,
the test PKI). `gostcrypto` installs a top-level package named `tests` into site-packages, which would
otherwise shadow the checkout's `tests` directory (a namespace package loses to a regular one)."""
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def use_checkout() -> Path:
    for path in (str(ROOT / "benchmarks"), str(ROOT)):
        if path not in sys.path:
            sys.path.insert(0, path)
    tests = types.ModuleType("tests")
    tests.__path__ = [str(ROOT / "tests")]
    sys.modules["tests"] = tests
    return ROOT
