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


def test_a_clone_under_a_private_directory_runs_and_opens_nothing():
    private = Path(tempfile.mkdtemp(prefix="jt-clone-"))                    # 0700
    clone = private / "project"
    try:
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True, timeout=120)
        before = modes(private)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/ops/test_private_directory.py", "tests/ops/test_embedded_auth.py"],
                           cwd=clone, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        after = {k: v for k, v in modes(private).items() if k in before}
        assert after == before                                                # nothing opened, nothing closed
    finally:
        shutil.rmtree(private, ignore_errors=True)
