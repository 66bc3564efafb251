"""The layers of docs/architecture.md hold: import-linter's contract (pyproject.toml) is kept by the code,
and it does break when a module imports a layer above its own, also from inside a function. No module
imports another package's underscored name."""
import ast
import shutil
import subprocess  # nosec B404 # runs lint-imports from this venv with a fixed argument list
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
LINT = str(Path(sys.executable).with_name("lint-imports"))


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,  # nosec B603
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)})


def test_the_code_keeps_the_layers():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


def test_an_import_up_the_layers_breaks_the_contract(tmp_path):
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    clock = tmp_path / "core" / "clock.py"
    clock.write_text(clock.read_text() + "\n\ndef _late():\n    from archive import services  # noqa\n")
    out = _lint(tmp_path)
    assert out.returncode != 0
    assert "core is not allowed to import archive" in out.stdout
    assert "core.clock -> archive.services" in out.stdout


def test_no_underscored_name_is_imported_from_another_package():
    found = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    top = node.module.split(".")[0]
                    private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                    if top in PACKAGES and top != pkg and private:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.module} {private}")
    assert not found, "\n".join(found)
