"""The bottom layer: database session and commit point, jobs, audit trail, storage, clock, signals.

Nothing here knows a domain; every other package may import it.
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent   # the checkout: templates/, migrations/, instance/


def instance_dir() -> Path:
    """Where local state lives (embedded servers' data, the generated secret key, caches); INSTANCE_PATH
    overrides."""
    return Path(os.environ.get("INSTANCE_PATH") or ROOT / "instance").resolve()
