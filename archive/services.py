"""Archive operations: register documents for ingest, scope, the access log, legal holds, retention.

Services flush, never commit. Pupils' names never go to logs, the audit log or the access log.
"""
import datetime as dt
import logging
from pathlib import Path

from flask import current_app, has_request_context, request
from rq import Retry
from sqlalchemy import false, or_, select

from archive.models import (
    DEFAULT_RETENTION_YEARS,
    PERMANENT_YEARS,
    AccessLog,
    ArchiveRecord,
    Hold,
    RecordKind,
    RecordStatus,
    RetentionRule,
)
from core import audit
from core.db import present, session, utcnow
from orgs.access import covers, scopes
from orgs.models.organisations import Organisation, OrgKind

log = logging.getLogger(__name__)

# Storage down: RQ retries with backoff; after the last one the record stays pending (dashboard) and
# the scheduled `resume_pending` job queues it again.
INGEST_RETRY = Retry(max=8, interval=[10, 30, 60, 120, 300, 600, 1800, 3600])
SOURCE_SHEET = "summary_sheet"


class ArchiveError(ValueError):
    """An archive operation that is not allowed now; the message (Russian) says why."""


# ---- retention ----------------------------------------------------------------------------------------------

def retention_years(kind: RecordKind) -> int:
    rule = session.get(RetentionRule, kind)
    return rule.years if rule is not None else DEFAULT_RETENTION_YEARS[kind]


def retention_until(years: int, archived: dt.date) -> dt.date:
    """Counted from 1 January of the year after the document came to the archive."""
    return dt.date(archived.year + 1 + years, 1, 1)


def set_retention(kind: RecordKind, years: int, basis: str, *, actor, reason: str = "") -> RetentionRule | None:
    """Change the rule for new records (None: nothing changed). Records already archived keep the date they
    were locked with (an S3 retention can be extended, never shortened). A change needs its reason, which
    the audit log keeps."""
    if not 1 <= years <= PERMANENT_YEARS:
        raise ArchiveError(f"Срок хранения «{kind.label}»: от 1 до {PERMANENT_YEARS} лет ({PERMANENT_YEARS} — "
                           "постоянно).")
    rule = session.get(RetentionRule, kind) or RetentionRule(kind=kind)
    if rule.years == years and (rule.basis or "") == basis.strip():
        return None
    if not reason.strip():
        raise ArchiveError(f"Срок хранения «{kind.label}» меняется: укажите причину изменения.")
    before = {"years": rule.years, "basis": rule.basis}
    rule.years, rule.basis, rule.updated_at, rule.updated_by_id = years, basis.strip(), utcnow(), actor.id
    session.add(rule)
    session.flush()
    audit.record("archive.retention", object_type="RetentionRule", object_id=kind.value, actor=actor,
                 before=before, after={"years": years, "basis": rule.basis}, reason=reason.strip())
    return rule


# ---- registering documents -----------------------------------------------------------------------------------

def _org_chain(org: Organisation) -> dict:
    chain = org.ancestors() + [org]
    return {
        "region": next((o for o in chain if o.kind is OrgKind.region), None),
        "municipality": next((o for o in chain if o.kind is OrgKind.municipality), None),
        "school": next((o for o in chain if o.kind is OrgKind.school), None),
    }


def record_for(source_type: str, source_id: int) -> ArchiveRecord | None:
    return session.scalar(select(ArchiveRecord).where(ArchiveRecord.source_type == source_type,
                                                      ArchiveRecord.source_id == source_id))


def register_sheet(sheet) -> ArchiveRecord:
    """The hook run when the director has signed (same transaction): a pending record now, the
    ingest job after the commit. Idempotent per sheet version."""
    from core.db import on_commit_gathered
    record = record_for(SOURCE_SHEET, sheet.id)
    if record is None:
        chain = _org_chain(sheet.school)
        record = ArchiveRecord(
            kind=RecordKind.summary_sheet, source_type=SOURCE_SHEET, source_id=sheet.id,
            document_id=sheet.document_id, title=f"Сводная ведомость {sheet.label}",
            organisation_id=sheet.school_id, org_path=sheet.school.path, school_id=sheet.school_id,
            municipality_id=chain["municipality"].id if chain["municipality"] else None,
            region_id=chain["region"].id if chain["region"] else None,
            school_year=sheet.school_year, class_name=sheet.class_name, class_label=sheet.class_label,
            source_sha256=sheet.pdf_sha256, status=RecordStatus.pending)
        session.add(record)
        session.flush()
        log.info("archive: record %s pending for sheet %s", record.id, sheet.id)
        on_commit_gathered("archive-ingest", sheet.id, _send_ingests)
    elif record.status is RecordStatus.pending:
        requeue(record)          # unless its job is still waiting or running
    return record


def _send_ingests(sheet_ids: list[int]) -> None:
    """The ingest jobs of the sheets a transaction signed: one a sheet signed alone, one a handful of a batch's
    (archive/ingest.py, INGEST_GROUP). Queued as from enqueue_after_commit, after the commit: Redis unreachable
    leaves them to the sweep."""
    from archive.ingest import INGEST_GROUP
    from archive.tasks import ingest_sheet, ingest_sheets
    from core.jobs import send_job
    size = max(1, int(current_app.config.get("ARCHIVE_INGEST_GROUP") or INGEST_GROUP))
    for start in range(0, len(sheet_ids), size):
        ids = sheet_ids[start:start + size]
        if len(ids) == 1:
            send_job(ingest_sheet, ids[0], queue_name="archive", job_id=f"ingest-sheet-{ids[0]}", retry=INGEST_RETRY,
                     swept=True)
        else:
            send_job(ingest_sheets, ",".join(map(str, ids)), queue_name="archive",
                     job_id=f"ingest-sheets-{ids[0]}-{len(ids)}", retry=INGEST_RETRY, swept=True)


def register_document(kind: RecordKind, pdf: bytes, *, source_type: str, source_id: int | None,
                      organisation: Organisation, title: str, school_year: str | None = None) -> ArchiveRecord:
    """Hand any other final PDF (a readiness statement, an order's attachment, a disposal act) to the
    archive: a pending record with the bytes staged, the ingest job after the commit."""
    import hashlib

    from archive.tasks import ingest_record
    from core.jobs import enqueue_after_commit
    chain = _org_chain(organisation)
    import uuid
    record = ArchiveRecord(
        # the public id of /verify/<id>; a sheet's record has its sheet's
        kind=kind, source_type=source_type, source_id=source_id, title=title[:500], document_id=str(uuid.uuid4()),
        organisation_id=organisation.id, org_path=organisation.path,
        school_id=chain["school"].id if chain["school"] else None,
        municipality_id=chain["municipality"].id if chain["municipality"] else None,
        region_id=chain["region"].id if chain["region"] else None,
        school_year=school_year, staged_pdf=pdf, source_sha256=hashlib.sha256(pdf).hexdigest(),
        status=RecordStatus.pending)
    session.add(record)
    session.flush()
    enqueue_after_commit(ingest_record, record.id, queue_name="archive", job_id=f"ingest-record-{record.id}",
                         retry=INGEST_RETRY, swept=True)
    return record


def requeue(record: ArchiveRecord) -> bool:
    """Queue the ingest of a pending record again (dashboard button, scheduled sweep). False if its job
    is still waiting or running. A finished or failed job of the same id is replaced."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from archive.tasks import ingest_record, ingest_sheet
    from core.jobs import SERIALIZER, enqueue_after_commit, redis_connection
    if record.status is not RecordStatus.pending:
        return False
    if record.source_type == SOURCE_SHEET:
        func, arg, job_id = ingest_sheet, record.source_id, f"ingest-sheet-{record.source_id}"
    else:
        func, arg, job_id = ingest_record, record.id, f"ingest-record-{record.id}"
    try:
        job = Job.fetch(job_id, connection=redis_connection(), serializer=SERIALIZER)
    except NoSuchJobError:
        job = None
    if job is not None:
        if job.get_status(refresh=True) in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED,
                                            JobStatus.DEFERRED):
            return False
        job.delete()
    enqueue_after_commit(func, arg, queue_name="archive", job_id=job_id, retry=INGEST_RETRY)
    return True


# ---- scope ----------------------------------------------------------------------------------------------------

def scope_condition(user, action: str = "archive.view"):
    """Records of the organisations whose subtrees `user` may do `action` in."""
    roots = scopes(user, action)
    if not roots:
        return false()
    return or_(*[ArchiveRecord.org_path.startswith(o.path, autoescape=True) for o in roots])


def may(user, action: str, record: ArchiveRecord) -> bool:
    return covers(user, action, record.org_path)


def on_document_signed(document, *, kind: str, **meta) -> ArchiveRecord:
    """core.signals.document_signed: a summary sheet, or any other final PDF, comes to the archive."""
    if kind == RecordKind.summary_sheet.value:
        return register_sheet(document)
    return register_document(RecordKind(kind), meta.pop("pdf"), **meta)


def on_detached_signature(document, *, kind: str, cms: bytes) -> None:
    """core.signals.detached_signature: an archived sheet's .sig is stored now; a pending one's at its ingest."""
    from archive.ingest import store_detached_signature
    record = record_for(SOURCE_SHEET, document.id) if kind == RecordKind.summary_sheet.value else None
    if record is not None and record.status is RecordStatus.archived:
        store_detached_signature(record, cms)


def read_archived(record: ArchiveRecord, *, user, purpose: str, **details) -> bytes:
    """core.records.read_archived: the pending record's staged bytes or the stored object, hash-checked,
    then written to the access log. The archived copy may carry the archive timestamp (B-LTA), so the hash
    is the record's, not the original upload's."""
    import hashlib

    from core.records import CopyBroken
    from core.storage import get_storage
    if record.status is RecordStatus.pending:
        data, expected = record.staged_pdf, record.sha256 or record.source_sha256
    else:
        data, expected = get_storage().get(present(record.key, f"record {record.id}'s key")), record.sha256
    if data is None or (expected and hashlib.sha256(data).hexdigest() != expected):
        raise CopyBroken(f"archive record {record.id}: the copy does not match its sha256")
    log_access(record, "download", purpose, user=user, sha256=hashlib.sha256(data).hexdigest(), **details)
    return data


# ---- access log -----------------------------------------------------------------------------------------------

def log_access(record: ArchiveRecord, action: str, purpose: str, *, user, **details) -> AccessLog:
    """Append to the access log (and the hash-chained audit log). The purpose is required."""
    purpose = (purpose or "").strip()
    if not purpose:
        raise ArchiveError("Укажите цель обращения к документу: она записывается в журнал доступа.")
    entry = AccessLog(user_id=getattr(user, "id", None), user_label=getattr(user, "login", None) or "system",
                      record_id=record.id, action=action, purpose=purpose[:2000],
                      ip=request.remote_addr if has_request_context() else None, details=details, at=utcnow())
    session.add(entry)
    session.flush()
    audit.record(f"archive.{action}", record, actor=user, purpose=purpose[:2000], **details)
    return entry


# ---- legal holds ----------------------------------------------------------------------------------------------

def object_keys(record: ArchiveRecord) -> list[str]:
    """Every object of a record: all versions and the manifest."""
    keys = []
    for v in record.versions:
        keys += [v.key] + ([v.manifest_key] if v.manifest_key else [])
    for k in (record.key, record.manifest_key, record.detached_sig_key):
        if k and k not in keys:
            keys.append(k)
    return keys


def place_hold(record: ArchiveRecord, reason: str, *, actor) -> Hold:
    """A legal hold: the record cannot be disposed of; on S3 the server refuses deletes as well."""
    from core.storage import StorageError, get_storage
    reason = (reason or "").strip()
    if not reason:
        raise ArchiveError("Укажите основание для приостановки уничтожения (судебный запрос, проверка…).")
    if record.status is RecordStatus.disposed:
        raise ArchiveError("Документ уже уничтожен по акту.")
    if record.status is RecordStatus.archived:
        try:
            storage = get_storage()
            for key in object_keys(record):
                storage.set_legal_hold(key, True)
        except StorageError as e:
            raise ArchiveError(f"Хранилище не приняло запрет на удаление: {e}. Повторите позже.") from None
    hold = Hold(record=record, reason=reason, placed_by_id=actor.id, placed_at=utcnow())
    record.legal_hold = True
    session.add(hold)
    session.flush()
    audit.record("archive.hold", record, actor=actor, hold_id=hold.id, reason=reason)
    return hold


def lift_hold(hold: Hold, reason: str, *, actor) -> None:
    from core.storage import StorageError, get_storage
    reason = (reason or "").strip()
    if not reason:
        raise ArchiveError("Укажите основание для снятия запрета.")
    if not hold.active:
        raise ArchiveError("Запрет уже снят.")
    record = hold.record
    hold.lifted_at, hold.lifted_by_id, hold.lift_reason = utcnow(), actor.id, reason
    still = any(h.active for h in record.holds if h is not hold)
    if not still and record.status is RecordStatus.archived:
        try:
            storage = get_storage()
            for key in object_keys(record):
                storage.set_legal_hold(key, False)
        except StorageError as e:
            raise ArchiveError(f"Хранилище не сняло запрет: {e}. Повторите позже.") from None
    record.legal_hold = still
    session.flush()
    audit.record("archive.hold_lift", record, actor=actor, hold_id=hold.id, reason=reason)


# ---- configuration helpers ---------------------------------------------------------------------------------------

def instance_demo_pki() -> Path:
    return Path(current_app.instance_path) / "demo-pki"
