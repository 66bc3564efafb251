"""bandit over the service's packages: no medium or high finding unless justified in the code with
`# nosec <id> # why` (the justification is required: a bare nosec fails this test too)."""
import json
import re
import subprocess  # nosec B404 # runs bandit from this venv with a fixed argument list
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]


def test_bandit_is_clean():
    out = subprocess.run([sys.executable, "-m", "bandit", "-q", "-r", *PACKAGES, "-f", "json"],  # nosec B603
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = json.loads(out.stdout)
    assert not report["errors"], report["errors"]
    bad = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_severity']}: {r['issue_text']}"
           for r in report["results"] if r["issue_severity"] in ("MEDIUM", "HIGH")]
    assert not bad, "\n".join(bad)


def test_every_nosec_says_why():
    bare = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                m = re.search(r"#\s*nosec\b(.*)", line)
                if m and not re.match(r"\s+B\d+(\s*,\s*B\d+)*\s*#\s*\S", m.group(1)):
                    bare.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not bare, "\n".join(bare)
