"""The audit chain's anchor outside the database.

The audit log is a hash chain (core/audit.py): a changed or removed entry breaks it — unless whoever
changes it recomputes every later hash, which anyone with database rights can do, and entries cut from
the end leave a shorter chain that still holds. So the head of the chain (the newest entry's id and hash,
and the number of entries) is regularly written, with an RFC 3161 timestamp of the TSA over it, as an
object in the archive's WORM bucket (Object Lock: it cannot be changed or deleted for its retention).

`verify` walks the chain and compares it with every anchor: an entry count below an anchor's, or an
anchored entry that is gone, is a truncation; an anchored entry whose hash is not the anchored one is a
rewrite — however consistent the rewritten chain is.

Anchors are made every ANCHOR_PERIOD by the archive's schedule (archive/tasks.py), and after each disposal
act and certified export (jobs queued after their commit, so an anchor never names an uncommitted entry).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select

from core.audit import AuditEntry, verify_chain
from core.db import session, utcnow

log = logging.getLogger(__name__)
FORMAT = "journals-audit-anchor/1"
RETENTION_YEARS = 50          # longer than any record the chain speaks of (sheets: 25 years)


class AnchorError(RuntimeError):
    pass


def prefix() -> str:
    """Where in the WORM bucket the anchors lie (AUDIT_ANCHOR_PREFIX; one installation, one prefix)."""
    return current_app.config.get("AUDIT_ANCHOR_PREFIX") or "audit-anchors/"


def head() -> dict:
    count, last_id = session.execute(select(func.count(AuditEntry.id), func.max(AuditEntry.id))).one()
    last_hash = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == last_id)) if last_id else None
    return {"entries": int(count), "head_id": last_id, "head_hash": last_hash}


def make_anchor(reason: str = "schedule") -> str | None:
    """Write the current head (with its TSA timestamp when TSA_URL is set) to the WORM bucket; its key.
    None when the log is empty or the head is anchored already."""
    from core.storage import get_storage
    now = utcnow()
    state = head()
    if not state["head_id"]:
        return None
    storage = get_storage()
    key = f"{prefix()}{state['head_id']:012d}-{state['head_hash'][:16]}.json"
    if any(True for _ in storage.list(key)):
        return None
    payload = {"format": FORMAT, **state, "at": now.isoformat(), "reason": reason}
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    doc = {"anchor": payload, "sha256": hashlib.sha256(body).hexdigest(), "timestamp_token": None}
    tsa = current_app.config.get("TSA_URL")
    if tsa:
        doc["timestamp_token"] = _timestamp(hashlib.sha256(body).digest(), tsa)
    storage.put(key, json.dumps(doc, ensure_ascii=False, indent=1).encode(), content_type="application/json",
                retain_until=(now + dt.timedelta(days=365 * RETENTION_YEARS)).date(),
                metadata={"document-class": "audit-anchor"})
    log.info("audit: anchored %s entries up to %s as %s", state["entries"], state["head_id"], key)
    return key


def _timestamp(digest: bytes, tsa_url: str) -> str:
    import base64

    from pades import run_sync
    from pades.timestamps import StrictTimeStamper, TimestampUnavailable
    try:
        token = run_sync(StrictTimeStamper(tsa_url, timeout=10).async_timestamp(digest, "sha256"))
    except TimestampUnavailable as e:
        raise AnchorError(f"Служба штампов времени недоступна ({tsa_url}): {e}") from None
    return base64.b64encode(token.dump()).decode()


@dataclass
class AnchorReport:
    checked: int
    anchors: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def anchors() -> list[dict]:
    from core.storage import get_storage
    storage = get_storage()
    return [json.loads(storage.get(k)) for k in storage.list(prefix())]


def _token_problem(doc: dict) -> str | None:
    """The anchor's timestamp token must be over exactly its payload."""
    import base64

    from asn1crypto import cms
    body = json.dumps(doc["anchor"], sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    if hashlib.sha256(body).hexdigest() != doc.get("sha256"):
        return "содержимое якоря не совпадает с его хешем"
    if not doc.get("timestamp_token"):
        return None
    token = cms.ContentInfo.load(base64.b64decode(doc["timestamp_token"]))
    imprint = token["content"]["encap_content_info"]["content"].parsed["message_imprint"]["hashed_message"].native
    return None if imprint == hashlib.sha256(body).digest() else "штамп времени якоря выдан на другие данные"


def verify() -> AnchorReport:
    """The chain itself, then against every anchor in the WORM bucket."""
    chain = verify_chain()
    found = anchors()
    report = AnchorReport(checked=chain.checked, anchors=len(found))
    if not chain.ok:
        report.problems.append(f"цепочка нарушена на записи № {chain.broken_id}: {chain.reason}")
    if not found:
        report.notes.append("якорей ещё нет: согласованную подмену цепочки обнаружить нечем "
                            "(их ставит расписание архива или flask audit anchor)")
        return report
    total = session.scalar(select(func.count(AuditEntry.id))) or 0
    for doc in sorted(found, key=lambda d: d["anchor"]["head_id"]):
        a = doc["anchor"]
        if (problem := _token_problem(doc)) is not None:
            report.problems.append(f"якорь на запись № {a['head_id']}: {problem}")
            continue
        anchored = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == a["head_id"]))
        when = a["at"][:19].replace("T", " ")
        if anchored is None or total < a["entries"]:
            report.problems.append(f"журнал обрезан: якорь {when} UTC заверил {a['entries']} записей до № "
                                   f"{a['head_id']}, а в журнале {total} записей"
                                   + ("" if anchored else f" и записи № {a['head_id']} нет"))
        elif anchored != a["head_hash"]:
            report.problems.append(f"журнал переписан: запись № {a['head_id']} не та, что заверил якорь {when} UTC "
                                   "(хеш другой)")
        else:
            below = session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.id <= a["head_id"]))
            if below != a["entries"]:
                report.problems.append(f"журнал изменён: до записи № {a['head_id']} {below} записей, "
                                       f"якорь {when} UTC заверил {a['entries']}")
    return report
