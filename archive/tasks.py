"""RQ jobs of the archive. They take ids, run in the app context and are idempotent: a record
already archived is left alone, a retried put of the same bytes under the same key is a no-op.

Scheduled (app/worker.py calls `schedule`): fixity every hour (the longest unchecked first), B-LTA
renewal daily, and a sweep of pending records every 15 minutes.
"""
import datetime as dt
import logging

from flask import current_app
from sqlalchemy import or_, select

from archive.models import ArchiveRecord, RecordStatus, ValidationReport
from core import audit
from core.db import session, utcnow
from core.jobs import job

log = logging.getLogger(__name__)

FIXITY_BATCH = 500                        # records per hourly run (ARCHIVE_FIXITY_BATCH)
RENEW_BEFORE_DAYS = 365                   # renew when the TSA certificate ends within (ARCHIVE_LTA_RENEW_DAYS)
PENDING_SWEEP_AFTER = dt.timedelta(minutes=15)


@job
def ingest_sheet(sheet_id: int) -> int | None:
    """A summary sheet signed by the director: store it (queued by the signing hook)."""
    from archive import ingest
    from archive.services import SOURCE_SHEET, record_for
    try:
        record = ingest.ingest_sheet(sheet_id)
    except Exception as exc:
        record = _failed(lambda: record_for(SOURCE_SHEET, sheet_id), exc)
        raise
    _validate_later(record)
    return record.id if record else None


@job
def ingest_sheets(sheet_ids: str) -> list[int]:
    """A handful of sheets signed in one go (a director's batch, "12,13,14"), archived together
    (archive/ingest.py, INGEST_GROUP). A record that fails is noted and the job raises after the others are
    archived, so RQ retries it: the retry skips what is archived."""
    from archive import ingest
    from core import db
    try:
        ids = [int(i) for i in sheet_ids.split(",")]
    except ValueError:
        raise ValueError(f"ingest_sheets: sheet ids expected, got {sheet_ids!r}") from None
    archived, failures = ingest.ingest_sheets(ids)
    _validate_later(*archived)
    archived_ids = [r.id for r in archived]          # read before the commit expires them
    db.commit()
    for record_id, exc in failures.items():
        log.warning("archive: ingest of record %s failed: %s", record_id, type(exc).__name__)
        ingest.note_failure(record_id, exc)
    if failures:
        raise ingest.IngestError(f"{len(failures)} из {len(ids)} записей не переданы в архив, повтор по расписанию: "
                                 + "; ".join(f"{i}: {ingest.describe(e)}" for i, e in failures.items())[:2000])
    return archived_ids


@job
def ingest_record(record_id: int) -> int | None:
    from archive import ingest
    record = session.get(ArchiveRecord, record_id)
    if record is None:
        return None
    try:
        ingest.ingest(record)
    except Exception as exc:
        _failed(lambda: session.get(ArchiveRecord, record_id), exc)
        raise
    _validate_later(record)
    return record.id


def _failed(find, exc: Exception):
    from archive.ingest import note_failure
    from core import db
    db.rollback()
    record = find()
    if record is not None:
        log.warning("archive: ingest of record %s failed: %s", record.id, type(exc).__name__)
        note_failure(record.id, exc)
    return record


def _validate_later(*records) -> None:
    """The first validation report of each archived record, made off the ingest path."""
    ids = [r.id for r in records if r is not None and r.status is RecordStatus.archived]
    if not ids:
        return
    reported = set(session.scalars(select(ValidationReport.record_id).where(ValidationReport.record_id.in_(ids))))
    from core.jobs import enqueue_after_commit
    for record_id in ids:
        if record_id not in reported:
            enqueue_after_commit(validate_record, record_id, queue_name="archive",
                                 job_id=f"validate-record-{record_id}")


@job
def validate_record(record_id: int, source: str = "ingest") -> bool | None:
    """Verify the stored object and keep the report with the record."""
    from archive import verify
    record = session.get(ArchiveRecord, record_id)
    if record is None or record.status is not RecordStatus.archived:
        return None
    report = verify.verify_stored(record, source=source)
    return report.ok


@job
def resume_pending() -> int:
    """Queue again the records still pending some time after their last attempt (storage was down
    longer than the job's retries)."""
    from archive.services import requeue
    cutoff = utcnow() - PENDING_SWEEP_AFTER
    rows = session.scalars(select(ArchiveRecord).where(
        ArchiveRecord.status == RecordStatus.pending,
        or_(ArchiveRecord.last_attempt_at < cutoff,
            ArchiveRecord.last_attempt_at.is_(None) & (ArchiveRecord.created_at < cutoff)))
        .order_by(ArchiveRecord.id).limit(1000)).all()
    return sum(requeue(r) for r in rows)


@job
def fixity_batch(limit: int | None = None) -> dict:
    from archive import fixity
    limit = limit or current_app.config.get("ARCHIVE_FIXITY_BATCH") or FIXITY_BATCH
    fr = fixity.run(limit=limit, trigger="schedule")
    return {"checked": fr.checked, "ok": fr.ok, "changed": fr.changed, "missing": fr.missing, "errors": fr.errors}


def due_for_renewal(before: dt.datetime | None = None, limit: int = 100) -> list[ArchiveRecord]:
    days = current_app.config.get("ARCHIVE_LTA_RENEW_DAYS") or RENEW_BEFORE_DAYS
    before = before or utcnow() + dt.timedelta(days=days)
    return list(session.scalars(select(ArchiveRecord).where(
        ArchiveRecord.status == RecordStatus.archived, ArchiveRecord.timestamp_expires_at.is_not(None),
        ArchiveRecord.timestamp_expires_at < before).order_by(ArchiveRecord.timestamp_expires_at).limit(limit)))


@job
def renew_due(limit: int = 100) -> dict:
    """B-LTA renewal: a new document timestamp before the last one's certificate expires."""
    from archive import ingest
    from core import db
    if not current_app.config.get("TSA_URL"):
        return {"renewed": 0, "failed": 0, "skipped": "no TSA"}
    renewed = failed = 0
    for record in due_for_renewal(limit=limit):
        record_id = record.id
        try:
            ingest.renew(record)
            db.commit()
            renewed += 1
        except Exception as exc:      # one record's problem must not stop the others
            db.rollback()
            failed += 1
            log.warning("archive: renewal of record %s failed: %s", record_id, exc)
            audit.record("archive.lta_renewal_failed", object_type="ArchiveRecord", object_id=record_id,
                         error=str(exc)[:500])
            db.commit()
    return {"renewed": renewed, "failed": failed}


@job
def evidence_cycle() -> dict:
    """Daily: seal what was archived since yesterday with one timestamp, renew the evidence records whose
    TSA certificate ends within ARCHIVE_LTA_RENEW_DAYS with one more (archive/evidence_store.py)."""
    from archive import evidence_store
    if not current_app.config.get("TSA_URL"):
        return {"skipped": "no TSA"}
    return {"seal": evidence_store.seal(), "renew": evidence_store.renew()}


@job
def anchor_audit(reason: str = "schedule") -> str | None:
    """The audit chain's head, timestamped, to the WORM bucket (archive/audit_anchor.py)."""
    from archive.audit_anchor import make_anchor
    return make_anchor(reason=reason)


@job
def execute_disposal(act_id: int) -> dict | None:
    from archive import disposal
    return disposal.execute(act_id)


# ---- the schedule ------------------------------------------------------------------------------------------------
# Each periodic job sits in RQ's scheduled registry under an id naming its slot; when it runs it puts
# the next slot there. `schedule` (called by the worker at start) restores a broken chain. Idempotent:
# a slot already scheduled is left alone, so several workers starting at once schedule it once.

PERIODS = {"fixity": 3600, "renew": 24 * 3600, "sweep": 15 * 60, "anchor": 15 * 60, "evidence": 24 * 3600}


def _next_slot(period: int, now: dt.datetime) -> dt.datetime:
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp((epoch // period + 1) * period, dt.timezone.utc)


def schedule(app=None, *, now: dt.datetime | None = None) -> list[str]:
    return [_schedule_one(name, app, now) for name in PERIODS]


def _schedule_one(name: str, app=None, now: dt.datetime | None = None) -> str:
    from rq.job import Job

    from core.jobs import queue, redis_connection
    when = _next_slot(PERIODS[name], now or utcnow())
    job_id = f"archive-{name}-{when:%Y%m%d%H%M}"
    if not Job.exists(job_id, connection=redis_connection(app)):
        queue("archive", app).enqueue_at(when, periodic, name, job_id=job_id, result_ttl=7 * 86400,
                                         failure_ttl=30 * 86400)
    return job_id


@job
def periodic(name: str):
    """Run one of the archive's periodic jobs, then schedule its next slot (even if this one failed)."""
    try:
        return {"fixity": fixity_batch, "renew": renew_due, "sweep": resume_pending, "anchor": anchor_audit,
                "evidence": evidence_cycle}[name]()
    finally:
        _schedule_one(name)
