"""Reconcile the bucket with the database: objects under records/ that no record knows (a database
restored from a dump older than the bucket), and records whose objects are not in the bucket.
Reads only; the manifests next to orphaned objects say what they are."""
from dataclasses import dataclass, field

from sqlalchemy import select

from app.db import session
from archive import get_storage
from archive.models import ArchiveRecord, RecordStatus, RecordVersion


@dataclass
class Reconciliation:
    records: int = 0
    objects: int = 0
    orphans: list[str] = field(default_factory=list)
    missing: list[tuple[int, str]] = field(default_factory=list)


def compare() -> Reconciliation:
    storage = get_storage()
    stored = set(storage.list("records/"))
    known: dict[str, int] = {}
    for record_id, key, manifest_key in session.execute(select(RecordVersion.record_id, RecordVersion.key,
                                                               RecordVersion.manifest_key)):
        known[key] = record_id
        if manifest_key:
            known[manifest_key] = record_id
    archived = session.execute(select(ArchiveRecord.id, ArchiveRecord.key, ArchiveRecord.manifest_key)
                               .where(ArchiveRecord.status == RecordStatus.archived)).all()
    for record_id, key, manifest_key in archived:
        for k in (key, manifest_key):
            if k:
                known.setdefault(k, record_id)
    disposed = set(session.scalars(select(ArchiveRecord.id).where(ArchiveRecord.status == RecordStatus.disposed)))
    out = Reconciliation(records=len(archived), objects=len(stored))
    out.orphans = sorted(k for k in stored if k not in known)
    out.missing = sorted((rid, k) for k, rid in known.items() if k not in stored and rid not in disposed)
    return out
