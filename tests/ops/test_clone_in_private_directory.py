"""A clone under a private (0700) directory — /root/project, a mktemp -d — runs its embedded servers and a part
of its suite, and no directory of the clone's or above it changes its mode (issue 19)."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from core import ROOT

pytestmark = pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the repository to clone")


def modes(path: Path) -> dict[str, int]:
    found = {}
    for root, dirs, _ in os.walk(path):
        dirs[:] = [d for d in dirs if d not in (".git", "__pycache__", ".pytest_cache")]
        found[root] = stat.S_IMODE(os.stat(root).st_mode)
    return found | {str(p): stat.S_IMODE(os.stat(p).st_mode) for p in path.parents}


def _clone_venv(clone: Path) -> str:
    """The clone gets its own .venv (as `scripts/install.sh` would make it there), so PostgreSQL's binaries
    live under the private directory too: the case that failed. A copy of this checkout's environment (hard
    links where the file system allows) instead of a second download of every package."""
    venv = Path(sys.prefix)
    if not venv.is_relative_to(ROOT) or not (venv / "pyvenv.cfg").exists():
        return sys.executable               # not run from the checkout's .venv: the clone uses this interpreter
    target = clone / venv.relative_to(ROOT)
    if subprocess.run(["cp", "-al", str(venv), str(target)], capture_output=True).returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(["cp", "-a", str(venv), str(target)], check=True, timeout=600)
    return str(target / "bin" / "python")


def test_a_clone_under_a_private_directory_runs_and_opens_nothing():
    private = Path(tempfile.mkdtemp(prefix="jt-clone-"))                    # 0700
    clone = private / "project"
    try:
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True, timeout=120)
        python = _clone_venv(clone)
        before = modes(private)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        r = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/ops/test_private_directory.py", "tests/ops/test_embedded_auth.py"],
                           cwd=clone, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        after = {k: v for k, v in modes(private).items() if k in before}
        assert after == before                                                # nothing opened, nothing closed
    finally:
        shutil.rmtree(private, ignore_errors=True)
