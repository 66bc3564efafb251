"""The signature verdicts a sheet's page shows, kept by the PDF's bytes and the trust roots.

Validation on the page is offline (no OCSP, no CRL fetched), so a verdict changes only as certificates
expire: a sheet viewed again within VERDICT_SECONDS is not parsed and checked again. Each web process keeps
its own verdicts and shares them with the others through Redis: while a batch signs, every newly signed PDF
was otherwise validated once per gunicorn worker that showed it (most of such a page's CPU; benchmarks/load.py).
The shared copy is an optimisation only: any Redis error means validating here. (Redis is trusted as the job
queue is; the page's verdict informs, the archive's verification of its own copy is the one that counts.)
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime

from flask import current_app

import pades

log = logging.getLogger(__name__)

VERDICT_SECONDS = 300
MAX_VERDICTS = 512            # per process
PREFIX = "jt:sheet-verdict:"
_local: dict[str, tuple[float, list[pades.SignatureReport]]] = {}


def verdict(pdf: bytes, digest: bytes, roots: Sequence) -> list[pades.SignatureReport]:
    """The signatures of `pdf` (whose SHA-256 is `digest`) validated against `roots`; raises as
    `pades.validate` does."""
    key = digest.hex() + ":" + hashlib.sha256("".join(sorted(c.sha256.hex() for c in roots)).encode()).hexdigest()
    now = time.monotonic()
    kept = _local.get(key)
    if kept is not None and now - kept[0] < VERDICT_SECONDS:
        return kept[1]
    reports = _shared_get(key)
    if reports is None:
        reports = pades.validate(pdf, roots)
        _shared_put(key, reports)
    if len(_local) >= MAX_VERDICTS:
        _local.clear()
    _local[key] = (now, reports)
    return reports


def _redis():
    if not current_app.config.get("REDIS_URL"):
        return None
    from core.jobs import redis_connection
    return redis_connection()


def _shared_get(key: str) -> list[pades.SignatureReport] | None:
    try:
        redis = _redis()
        raw = redis.get(PREFIX + key) if redis is not None else None
        return None if raw is None else [_report(d) for d in json.loads(raw)]
    except Exception as e:    # noqa: BLE001 - a miss, whatever went wrong
        log.warning("sheet verdicts: shared read failed (%s)", type(e).__name__)
        return None


def _shared_put(key: str, reports: list[pades.SignatureReport]) -> None:
    try:
        redis = _redis()
        if redis is not None:
            redis.set(PREFIX + key, json.dumps([_plain(r) for r in reports]), ex=VERDICT_SECONDS)
    except Exception as e:    # noqa: BLE001 - validated here; only sharing it failed
        log.warning("sheet verdicts: shared write failed (%s)", type(e).__name__)


def _plain(report: pades.SignatureReport) -> dict:
    d = dataclasses.asdict(report)
    d["signing_time"] = report.signing_time.isoformat() if report.signing_time else None
    return d


def _report(d: dict) -> pades.SignatureReport:
    when = d.get("signing_time")
    return pades.SignatureReport(**{**d, "signing_time": datetime.fromisoformat(when) if when else None})
