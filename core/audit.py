"""Append-only, hash-chained audit log: who did what, to what, when.

Each entry stores the SHA-256 of the previous one, so a changed or removed entry
breaks the chain at that point. Appends are serialised with a transaction-level
advisory lock; a database trigger refuses UPDATE and DELETE on the table. The lock is held until the
transaction ends, so entries wait and are appended just before the commit: in a web request (every
commit of its session) and inside `gathered()` (a worker's chunk). Appended at once, an early entry held
the lock over the rest of the request — a file upload, a page render — and every audited write of the
service queued behind it (benchmarks/load.py: waiters in 68 % of samples with the batch at nice 0).
"""
import contextlib
import hashlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import g, has_request_context, request
from sqlalchemy import BigInteger, ForeignKey, String, event, insert, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import AppSession, Base, session, utcnow

GENESIS = "0" * 64
AUDIT_LOCK_KEY = 0x41554454  # "AUDT"


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_label: Mapped[str] = mapped_column(String(300))   # login or "system", kept if the user goes
    action: Mapped[str] = mapped_column(String(100), index=True)
    object_type: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str | None] = mapped_column(String(100))
    summary: Mapped[dict] = mapped_column(JSONB, default=dict)   # {"before": ..., "after": ...} or details
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def payload(self) -> bytes:
        """The canonical bytes the hash covers."""
        return json.dumps({
            "id": self.id, "at": self.at.astimezone(timezone.utc).isoformat(), "actor_id": self.actor_id,
            "actor": self.actor_label,
            "action": self.action, "object_type": self.object_type, "object_id": self.object_id,
            "summary": self.summary, "ip": self.ip, "prev": self.prev_hash,
        }, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def record(action: str, obj=None, *, object_type: str | None = None, object_id=None,
           before: dict | None = None, after: dict | None = None, actor=None, **details) -> AuditEntry:
    """Append an entry for `action` on `obj` by the current user (or `actor`). Never commits; outside a web
    request and `gathered()` it is written (and the chain's lock taken) at once.
    Keep personal data (pupils' names, marks) out of `before/after/details`: refer to them by id.
    Inside `gathered()` the entry waits and is written with the others at the end of the block; in a web
    request it waits for the request's next commit (and goes with a rollback).
    """
    if actor is None and has_request_context():
        actor = g.get("user")
    summary = dict(details)
    if before is not None:
        summary["before"] = before
    if after is not None:
        summary["after"] = after
    fields = dict(
        at=utcnow(), actor_id=getattr(actor, "id", None), actor_label=getattr(actor, "login", None) or "system",
        action=action, object_type=object_type or (type(obj).__name__ if obj is not None else "-"),
        object_id=str(object_id if object_id is not None else getattr(obj, "id", "")) or None,
        summary=json.loads(json.dumps(summary, ensure_ascii=False, default=str)),
        ip=request.remote_addr if has_request_context() else None)
    waiting = _gathering.get()
    if waiting is None and has_request_context():
        waiting = g.setdefault("audit_waiting", [])
    if waiting is not None:
        waiting.append(fields)
        return AuditEntry(**fields)
    return _append([fields])[0]


_gathering: ContextVar[list[dict] | None] = ContextVar("audit_gathering", default=None)


@contextlib.contextmanager
def gathered() -> Iterator[list[dict]]:
    """Entries recorded inside the block are appended together when it ends without an exception: one
    lock, one read of the chain's end and one INSERT for a batch's chunk instead of four statements per
    sheet. The list is yielded so a step rolled back to its savepoint can drop its own entries."""
    waiting: list[dict] = []
    token = _gathering.set(waiting)
    try:
        yield waiting
    finally:
        _gathering.reset(token)
    _append(waiting)


@event.listens_for(AppSession, "before_commit")
def _append_request_entries(session_) -> None:
    # a savepoint's release is no commit: the entries wait for the outermost one, so the lock is not held
    # from a savepoint to the end of the request
    if has_request_context() and not session_.in_nested_transaction():
        _append(g.pop("audit_waiting", None) or [])


@event.listens_for(AppSession, "after_transaction_create")
def _mark_savepoint(_session, transaction) -> None:
    if transaction.nested and has_request_context():
        g.setdefault("audit_savepoints", {})[transaction] = len(g.get("audit_waiting") or ())


@event.listens_for(AppSession, "after_soft_rollback")
def _drop_entries_of_rolled_back_savepoint(_session, transaction) -> None:
    if transaction.nested and has_request_context():
        mark = g.get("audit_savepoints", {}).pop(transaction, None)
        if mark is not None:
            del g.get("audit_waiting", [])[mark:]


@event.listens_for(AppSession, "after_transaction_end")
def _drop_rolled_back_entries(_session, transaction) -> None:
    # after a commit the list is gone already; after a rollback of the whole transaction its entries go too
    if transaction.parent is None and has_request_context():
        g.pop("audit_waiting", None)
        g.pop("audit_savepoints", None)


def _append(items: list[dict]) -> list[AuditEntry]:
    if not items:
        return []
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
    prev = session.execute(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).scalar() or GENESIS
    ids = session.scalars(text("SELECT nextval('audit_log_id_seq') FROM generate_series(1, :n)"),
                          {"n": len(items)}).all()
    entries = []
    for entry_id, fields in zip(sorted(ids), items):
        entry = AuditEntry(id=entry_id, prev_hash=prev, **fields)
        entry.hash = prev = hashlib.sha256(entry.payload()).hexdigest()
        entries.append(entry)
    session.execute(insert(AuditEntry), [{c.key: getattr(e, c.key) for c in AuditEntry.__table__.columns}
                                         for e in entries])
    return entries


@dataclass
class ChainReport:
    checked: int
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk the log in order; report the first entry whose hash or link does not hold."""
    prev, checked, last_id = GENESIS, 0, 0
    while True:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.id > last_id)
                               .order_by(AuditEntry.id).limit(batch)).all()
        if not rows:
            return ChainReport(checked)
        for e in rows:
            if e.prev_hash != prev:
                return ChainReport(checked, e.id, "ссылка на предыдущую запись не совпадает "
                                                  "(запись удалена или вставлена)")
            if hashlib.sha256(e.payload()).hexdigest() != e.hash:
                return ChainReport(checked, e.id, "содержимое записи изменено")
            prev, checked, last_id = e.hash, checked + 1, e.id
