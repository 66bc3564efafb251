"""The bottom layer: database session and commit point, jobs, audit trail, storage, clock, signals.

Nothing here knows a domain; every other package may import it.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent   # the checkout: templates/, migrations/, instance/
