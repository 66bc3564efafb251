"""Fixity: re-read every stored object, re-hash it, compare with the database.

Reads what a reader would get (the newest version of the key), so a changed object — on S3 a
newer version put under the same key by someone with the storage's own credentials — or a missing
one (deleted, or hidden behind a delete marker) is reported. For a changed S3 object the check
also reads the version the archive wrote, to say whether the original bytes survive.

Scheduled runs take the records checked longest ago first, in batches (STYLE §6); the CLI checks
them all. Problems go to the record (fixity_ok, fixity_message), the run row, the audit log, the
archivists' status page and — once per newly broken record, not on every re-check — the inbox of
each archivist whose organisations hold it. Nothing here changes or repairs an object.
"""
import hashlib
import logging
from dataclasses import dataclass, field

from sqlalchemy import select

from archive.models import ArchiveRecord, FixityRun, RecordStatus
from core import audit
from core.db import session, utcnow
from core.storage import ObjectMissing, StorageError, StorageUnavailable, get_storage
from orgs.models.organisations import path_ids

log = logging.getLogger(__name__)


@dataclass
class Finding:
    record_id: int
    key: str
    problem: str                    # changed | missing | error
    message: str

    def as_dict(self) -> dict:
        return {"record_id": self.record_id, "key": self.key, "problem": self.problem, "message": self.message}


@dataclass
class RecordCheck:
    record_id: int
    objects: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def _expected(record: ArchiveRecord) -> list[tuple[str, str, str | None]]:
    """(key, sha256, S3 version id written by the archive) of every object of a record."""
    out = []
    for v in record.versions:
        out.append((v.key, v.sha256, v.version_id))
        if v.manifest_key and v.manifest_sha256:
            out.append((v.manifest_key, v.manifest_sha256, None))
    if not record.versions and record.key and record.sha256:
        out.append((record.key, record.sha256, record.version_id))
    if record.manifest_key and record.manifest_sha256 and all(k != record.manifest_key for k, _, _ in out):
        out.append((record.manifest_key, record.manifest_sha256, None))
    return out


def check_record(record: ArchiveRecord, storage=None) -> RecordCheck:
    storage = storage or get_storage()
    result = RecordCheck(record.id)
    for key, sha, version_id in _expected(record):
        result.objects += 1
        try:
            data = storage.get(key)
        except ObjectMissing:
            result.findings.append(Finding(record.id, key, "missing", "объект отсутствует в хранилище"))
            continue
        except StorageUnavailable as e:
            result.findings.append(Finding(record.id, key, "error", f"хранилище недоступно: {e}"))
            continue
        except StorageError as e:
            result.findings.append(Finding(record.id, key, "error", f"ошибка чтения: {e}"))
            continue
        got = hashlib.sha256(data).hexdigest()
        if got == sha:
            continue
        message = f"SHA-256 объекта {got} не совпадает с записанным {sha}"
        if version_id:
            try:
                original = hashlib.sha256(storage.get(key, version_id=version_id)).hexdigest()
                message += ("; исходная версия объекта цела" if original == sha
                            else "; исходная версия объекта тоже изменена")
            except StorageError:
                message += "; исходной версии объекта нет"
        result.findings.append(Finding(record.id, key, "changed", message))
    return result


def run(*, limit: int | None = None, record_ids: list[int] | None = None, trigger: str = "schedule",
        on_progress=None) -> FixityRun:
    """Check archived records (the longest unchecked first), note each result, return the run. Flushes."""
    stmt = select(ArchiveRecord).where(ArchiveRecord.status == RecordStatus.archived)
    if record_ids is not None:
        stmt = stmt.where(ArchiveRecord.id.in_(record_ids))
    stmt = stmt.order_by(ArchiveRecord.last_fixity_at.asc().nulls_first(), ArchiveRecord.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    storage = get_storage()
    fr = FixityRun(started_at=utcnow(), trigger=trigger, problems=[])
    session.add(fr)
    problems = []
    newly_broken: list[ArchiveRecord] = []
    for record in session.scalars(stmt):
        check = check_record(record, storage)
        fr.checked += 1
        kinds = {f.problem for f in check.findings}
        if check.ok:
            fr.ok += 1
        elif "changed" in kinds:
            fr.changed += 1
        elif "missing" in kinds:
            fr.missing += 1
        else:
            fr.errors += 1
        # An unreachable store says nothing about the object: the record keeps its last verdict.
        if kinds - {"error"} or check.ok:
            was_ok = record.fixity_ok
            record.fixity_ok = check.ok
            record.fixity_message = "; ".join(f"{f.key}: {f.message}" for f in check.findings) or None
            record.last_fixity_at = utcnow()
            if not check.ok and was_ok is not False:
                log.warning("archive fixity: record %s: %s", record.id, record.fixity_message)
                audit.record("archive.fixity_problem", record, findings=[f.as_dict() for f in check.findings])
                newly_broken.append(record)
        problems += [f.as_dict() for f in check.findings]
        if on_progress:
            on_progress(fr)
    fr.problems = problems[:1000]
    fr.finished_at = utcnow()
    session.flush()
    tell_archivists(newly_broken)
    return fr


def tell_archivists(records: list[ArchiveRecord]) -> int:
    """One inbox entry per archivist: the record itself if one broke, the status page if several."""
    from assignments.notifications import notify, users_with
    by_user: dict[int, list[ArchiveRecord]] = {}
    for record in records:
        holders = path_ids(record.org_path)
        for user_id in users_with("archive.hold", holders):
            by_user.setdefault(user_id, []).append(record)
    sent = 0
    for user_id, broken in by_user.items():
        if len(broken) == 1:
            r = broken[0]
            message = f"Нарушена целостность архивной записи № {r.id} «{r.title}»: {r.fixity_message}"
            url = f"/archive/records/{r.id}"
        else:
            numbers = ", ".join(f"№ {r.id}" for r in broken[:20]) + (" …" if len(broken) > 20 else "")
            message = f"Проверка целостности: нарушена у {len(broken)} архивных записей ({numbers})."
            url = "/archive/status"
        sent += notify([user_id], "archive.fixity", message, url=url)
    return sent
