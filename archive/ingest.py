"""Ingest: a final document becomes an archive record, stored once and read back.

Two steps, each committed (the job runner calls them, see archive/tasks.py):

1. *prepare*: the archive timestamp (B-LTA) when a TSA is configured, the key from record id and
   SHA-256, the retention date from the document class, the manifest. New bytes (timestamped) are
   staged in the row, so a retry after a storage failure writes the very same object under the same
   key; a sheet archived as signed is read again from its own row.
2. *store*: PDF, manifest (and a sheet's detached `.sig`) are put with an Object Lock retention
   (COMPLIANCE on S3), side by side; a key that already holds the same SHA-256 counts as written (the
   retried put is idempotent). All are read back and hashed; only then does the record say "archived".

Each step holds the record's row lock (SKIP LOCKED): a record another job holds is left to it. The sheets
of a director's batch go through both steps a handful at a time (`ingest_sheets`), their TSA requests and
object writes overlapping. Storage down (`StorageUnavailable`) leaves the record pending with the error
noted; the job retries.
"""
import hashlib
import json
import logging
import tomllib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from sqlalchemy import cast as sa_cast
from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import JSONPATH
from sqlalchemy.orm import undefer

from archive.models import ArchiveRecord, RecordKind, RecordStatus, RecordVersion, RetentionRule
from archive.services import SOURCE_SHEET, record_for, register_sheet, retention_until, retention_years
from core import audit, db
from core.db import present, session, utcnow
from core.storage import ObjectExists, StorageError, get_storage, object_key

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "journals-archive-manifest/1"


class IngestError(Exception):
    """The document cannot be archived as it is (no PDF, hash differs); the message is Russian."""


@lru_cache(maxsize=1)
def software_version() -> dict:
    from importlib.metadata import version

    from core import ROOT
    try:
        ours = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        ours = "unknown"
    return {"name": "journals", "version": ours, "pyhanko": version("pyHanko")}


def manifest_bytes(manifest: dict) -> bytes:
    """Canonical JSON, so the bytes (and their hash) are the same on every retry."""
    return json.dumps(manifest, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


# ---- entry points (called by the jobs) ---------------------------------------------------------------------------

def ingest_sheet(sheet_id: int) -> ArchiveRecord | None:
    from sheets.models import SheetStatus, SummarySheet
    sheet = session.get(SummarySheet, sheet_id)
    if sheet is None:
        return None
    record = record_for(SOURCE_SHEET, sheet_id)
    if record is None:                    # signed before the archive hook existed
        if sheet.status not in (SheetStatus.signed, SheetStatus.superseded) or sheet.director_signed_at is None:
            return None
        record = register_sheet(sheet)
    ingest(record)
    return record


def ingest(record: ArchiveRecord) -> bool:
    """Prepare (once) and store the record. True when it is archived; raises to make the job retry. False
    when another job holds the record (it archives it, or notes why not)."""
    if record.status is not RecordStatus.pending:
        return record.status is RecordStatus.archived
    if record.prepared_at is None:
        if not _locked_for_prepare([record.id]):
            return record.status is RecordStatus.archived
        if record.prepared_at is None:
            prepare(record)
        db.commit()                      # staged: from here a retry writes the same bytes
    store(record)
    return record.status is RecordStatus.archived


def _locked_for_prepare(ids: list[int]) -> list[ArchiveRecord]:
    """The records still pending, locked until the prepare's commit (SKIP LOCKED: a record another job is
    preparing or storing is left to that job, so no record is ever timestamped twice)."""
    return list(session.scalars(
        select(ArchiveRecord).where(ArchiveRecord.id.in_(ids), ArchiveRecord.status == RecordStatus.pending)
        .order_by(ArchiveRecord.id).with_for_update(skip_locked=True).execution_options(populate_existing=True)))


# A director's batch hands its sheets over by the handful (ARCHIVE_INGEST_GROUP): one job prepares and stores
# them together, so their archive timestamps are asked for at once and their objects written side by side —
# while one record waits on the TSA or the object store, the others are worked on. One at a time, a worker
# stood idle for half of each ingest (benchmarks/year_end.py's archive stage).
INGEST_GROUP = 5


def ingest_sheets(sheet_ids: list[int]) -> tuple[list[ArchiveRecord], dict[int, Exception]]:
    """The records of these signed sheets, archived together: (the records archived, the failures by record
    id). A failure leaves its record pending and rolled back to before it; the others go on. Records that
    another job holds are left to it."""
    from sheets.models import SummarySheet
    records = {r.source_id: r for r in session.scalars(select(ArchiveRecord).where(
        ArchiveRecord.source_type == SOURCE_SHEET, ArchiveRecord.source_id.in_(sheet_ids)))}
    # Read once for the group, not once a record: the signed PDFs (a sheet's row, then its deferred PDF) and
    # the retention rules. Held here because the session's identity map keeps objects only while referenced.
    held = [*session.scalars(select(SummarySheet).where(SummarySheet.id.in_(sheet_ids))
                             .options(undefer(SummarySheet.pdf))),
            *session.scalars(select(RetentionRule))]
    failures: dict[int, Exception] = {}
    archived = []
    for sheet_id in sheet_ids:
        if sheet_id not in records and (alone := _alone(sheet_id, failures)) is not None:
            archived.append(alone)
    fresh = [r for r in _locked_for_prepare([r.id for r in records.values()]) if r.prepared_at is None]
    sources = {}
    for record in fresh:
        try:
            sources[record.id] = _source_pdf(record)
        except IngestError as exc:
            failures[record.id] = exc
    stamps = stamp_all(list(sources.values())) if current_app.config.get("TSA_URL") else [None] * len(sources)
    readable = [r for r in fresh if r.id in sources]
    names = pupil_names([present(r.source_id, "source") for r in readable])
    made: dict[int, bytes] = {}        # the staged bytes, kept in hand: not read back from the row after the commit
    for record, stamped in zip(readable, stamps):
        if isinstance(stamped, BaseException):     # gathered: a cancelled request comes back as one too
            failures[record.id] = stamped if isinstance(stamped, Exception) else \
                IngestError(f"Штамп времени архива не получен: {stamped!r}")
            continue
        savepoint = session.begin_nested()
        try:
            prepare(record, stamped, sources[record.id], names.get(present(record.source_id, "source"), []))
            savepoint.commit()
            if record.staged_pdf is not None:
                made[record.id] = record.staged_pdf
        except Exception as exc:       # this record's problem must not stop the others
            savepoint.rollback()
            failures[record.id] = exc
    to_store = [r.id for r in records.values() if r.id not in failures]    # before the commit expires them
    db.commit()                        # staged: from here a retry writes the same bytes
    with audit.gathered():
        plans = []
        sigs = {i: sig for i, sig in session.execute(select(SummarySheet.id, SummarySheet.detached_sig)
                                                       .where(SummarySheet.id.in_(sheet_ids)))}
        for record in _locked_for_store(to_store, staged=not made):
            try:
                plan = _plan(record, sigs.get(present(record.source_id, "source")), made.get(record.id))
            except IngestError as exc:
                failures[record.id] = exc
                continue
            plans.append((plan, _write(get_storage(), plan.objects)))
        for plan, futures in plans:
            try:
                obj = _outcome(futures)
            except Exception as exc:
                failures[plan.record.id] = exc
                continue
            _stored(plan, obj)
            archived.append(plan.record)
    del held
    return archived, failures


def _alone(sheet_id: int, failures: dict[int, Exception]) -> ArchiveRecord | None:
    """A sheet without a record yet (signed before the archive hook existed): registered and ingested alone."""
    try:
        record = ingest_sheet(sheet_id)
    except Exception as exc:
        db.rollback()
        record = record_for(SOURCE_SHEET, sheet_id)
        if record is None:
            raise
        failures[record.id] = exc
        return None
    return record if record is not None and record.status is RecordStatus.archived else None


def stamp_all(sources: list[bytes]) -> list:
    """Archive timestamps over each of `sources`, asked for together: a Stamped, or the exception, for each."""
    from archive import lta
    from archive.verify import configured_trust_roots
    return lta.add_archive_timestamps(sources, current_app.config["TSA_URL"], list(configured_trust_roots()))


def note_failure(record_id: int, exc: Exception) -> None:
    """After a failed attempt (rolled back): keep the reason on the record for the dashboard."""
    db.rollback()
    record = session.get(ArchiveRecord, record_id)
    if record is None:
        return
    record.attempts += 1
    record.last_attempt_at = utcnow()
    record.last_error = describe(exc)[:2000]
    db.commit()


def describe(exc: Exception) -> str:
    from archive.lta import ArchiveTimestampError
    from core.storage import StorageUnavailable
    if isinstance(exc, StorageUnavailable):
        return f"Хранилище недоступно, повтор по расписанию: {exc}"
    if isinstance(exc, (IngestError, ArchiveTimestampError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# ---- step 1: prepare ------------------------------------------------------------------------------------------------

def _source_pdf(record: ArchiveRecord) -> bytes:
    if record.source_type == SOURCE_SHEET:
        from sheets.models import SummarySheet
        sheet = session.get(SummarySheet, record.source_id)
        if sheet is None or sheet.pdf is None:
            raise IngestError(f"Ведомость {record.source_id}: нет подписанного PDF.")
        if hashlib.sha256(sheet.pdf).hexdigest() != sheet.pdf_sha256:
            raise IngestError(f"Ведомость {record.source_id}: PDF не совпадает с записанным хешем.")
        return sheet.pdf
    if record.staged_pdf is None:
        raise IngestError(f"Запись {record.id}: нет документа для передачи в архив.")
    return record.staged_pdf


def prepare(record: ArchiveRecord, stamped=None, source: bytes | None = None,
            pupils: list[str] | None = None) -> None:
    """`stamped`: the archive timestamp already made over `source`, the record's document read and checked by
    the caller (a group's are made together); `pupils`: a sheet's pupils' names, read by the caller."""
    # The record's row is written once, by the flush at the end: the reads in between (the retention rule,
    # the pupils' names, the organisations for the manifest) would each flush it first, four UPDATEs of a row
    # with a full-text index instead of one.
    with session.no_autoflush:
        _prepare(record, stamped, source, pupils)
    session.flush()


def _prepare(record: ArchiveRecord, stamped=None, source: bytes | None = None,
             pupils: list[str] | None = None) -> None:
    from archive import lta
    source = _source_pdf(record) if source is None else source
    record.source_sha256 = hashlib.sha256(source).hexdigest()
    notes = []
    signers = None
    if stamped is None and current_app.config.get("TSA_URL"):
        stamped = stamp(source)
    if stamped is not None:
        pdf, notes, signers = stamped.pdf, stamped.notes, stamped.signers
        record.timestamp_at, record.timestamp_expires_at = stamped.timestamp_at, stamped.expires_at
    else:
        pdf = source
    sha = hashlib.sha256(pdf).hexdigest()
    now = utcnow()
    storage = get_storage()
    # Stage the bytes only when they are new (timestamped): otherwise the source row keeps them.
    if pdf is not source or record.source_type != SOURCE_SHEET:
        record.staged_pdf = pdf
    record.sha256, record.size = sha, len(pdf)
    record.key, record.manifest_key = object_key(record.id, sha), object_key(record.id, sha, ".json")
    record.backend, record.prepared_at = storage.scheme, now
    record.retention_years = retention_years(record.kind)
    record.retention_until = retention_until(record.retention_years, now.date())
    try:
        record.signers = signers if signers is not None else lta.signer_info(pdf, _field_names(record))
    except Exception as e:   # an unreadable signature dictionary: keep the document, say so
        log.warning("archive: record %s: signers not read (%s)", record.id, type(e).__name__)
        record.signers = []
    if record.signers:
        record.signer_search = func.to_tsvector("russian", " ".join(s["name"] for s in record.signers))
    if record.source_type == SOURCE_SHEET:
        record.search = func.to_tsvector("russian", _sheet_search_text(record, pupils))
    record.manifest = build_manifest(record, notes)


def stamp(source: bytes):
    """The archive timestamp (B-LTA) over `source`, from the configured TSA."""
    from archive import lta
    from archive.verify import configured_trust_roots
    return lta.add_archive_timestamp(source, current_app.config["TSA_URL"], list(configured_trust_roots()))


def _field_names(record: ArchiveRecord) -> list[str] | None:
    """The signature fields a summary sheet has, in signing order (the contract with signing/)."""
    if record.source_type != SOURCE_SHEET:
        return None
    from pades.layout import CLASS_TEACHER_FIELD, DIRECTOR_FIELD
    return [CLASS_TEACHER_FIELD, DIRECTOR_FIELD]


def _sheet_search_text(record: ArchiveRecord, pupils: list[str] | None = None) -> str:
    """Pupils' full names, the class and the school: what an archivist types."""
    from sheets.models import SummarySheet
    sheet = session.get_one(SummarySheet, record.source_id)
    if pupils is None:
        pupils = pupil_names([sheet.id]).get(sheet.id, [])
    school = sheet.school
    return " ".join(filter(None, [" ".join(pupils), sheet.class_label, sheet.class_name, school.name,
                                  school.short_name]))


def pupil_names(sheet_ids: list[int]) -> dict[int, list[str]]:
    """The pupils' names of each sheet, in one query. Only the names are read from the marks (a sheet's
    marks are a large JSON document)."""
    from sheets.models import SummarySheet
    if not sheet_ids:
        return {}
    path = sa_cast(literal("$.pupils[*].name"), JSONPATH)
    rows = session.execute(select(SummarySheet.id, func.jsonb_path_query_array(SummarySheet.marks, path))
                           .where(SummarySheet.id.in_(sheet_ids)))
    return {sheet_id: names or [] for sheet_id, names in rows}


def _org(org) -> dict | None:
    return None if org is None else {"id": org.id, "code": org.code, "name": org.name}


def build_manifest(record: ArchiveRecord, notes: Sequence[str] = ()) -> dict:
    """What the object is, without personal data (the pupils' names stay inside the PDF)."""
    return {
        "format": MANIFEST_FORMAT,
        "record_id": record.id,
        "document_class": record.kind.value,
        "document_class_label": record.kind.label,
        "title": record.title,
        "document_id": record.document_id,
        "source": {"type": record.source_type, "id": record.source_id, "sha256": record.source_sha256},
        "school": _org(record.school), "municipality": _org(record.municipality), "region": _org(record.region),
        "organisation": _org(record.organisation),
        "school_year": record.school_year, "class": record.class_name, "class_label": record.class_label,
        "signers": record.signers,
        "sha256": record.sha256, "size": record.size, "object_key": record.key,
        "retention": {"years": record.retention_years,
                      "until": present(record.retention_until, "retention").isoformat(), "mode": "COMPLIANCE"},
        "archive_timestamp": None if record.timestamp_at is None else {
            "time": record.timestamp_at.isoformat(),
            "tsa_certificate_expires": present(record.timestamp_expires_at, "TSA expiry").isoformat(),
            "tsa": current_app.config.get("TSA_URL")},
        "notes": list(notes),
        "prepared_at": present(record.prepared_at, "prepared_at").isoformat(),
        "software": software_version(),
    }


# ---- step 2: store and read back -------------------------------------------------------------------------------------

def put_once(storage, key: str, data: bytes, sha: str, **kwargs):
    """Write `data` once; a key already holding the same SHA-256 is the same write, done before."""
    try:
        return storage.put(key, data, **kwargs)
    except ObjectExists:
        head = storage.head(key)
        if head.sha256 != sha:
            raise StorageError(f"{key}: the key holds other bytes (sha256 {head.sha256})") from None
        return head


def read_back(storage, key: str, sha: str, version_id: str | None = None) -> None:
    got = hashlib.sha256(storage.get(key, version_id)).hexdigest()
    if got != sha:
        raise StorageError(f"{key}: read back sha256 {got}, expected {sha}")


def put_and_read_back(storage, key: str, data: bytes, sha: str, **kwargs):
    """Write once and read the written version back: its bytes, not the server's word for them, prove it."""
    stored = put_once(storage, key, data, sha, confirm=False, **kwargs)
    read_back(storage, key, sha, stored.version_id)
    return stored


# A record's objects are written and read back side by side: an ingest's wall time was mostly waiting on the
# object store, one request after another (benchmarks/year_end.py's archive stage).
_objects = ThreadPoolExecutor(4, thread_name_prefix="archive-put")


def store(record: ArchiveRecord) -> None:
    # The audit log's lock is held from an entry's append to the commit; appended at the end, a worker (niced
    # below the web) does not hold every audited page waiting while it puts and reads back the .sig.
    with audit.gathered():
        for locked in _locked_for_store([record.id]):
            plan = _plan(locked, _source_detached_signature(locked))
            _stored(plan, _outcome(_write(get_storage(), plan.objects)))


@dataclass
class _Plan:
    """What storing one prepared record writes: its document, manifest and (a sheet's) detached signature."""
    record: ArchiveRecord
    objects: list[tuple[str, bytes, str, dict]]        # key, bytes, SHA-256, put's keywords; the document first
    sig: tuple[str, str] | None = None                 # the .sig's key and SHA-256


def _locked_for_store(ids: list[int], staged: bool = True) -> list[ArchiveRecord]:
    """The prepared records still pending, locked (SKIP LOCKED: one that another job stores is left to it), read
    with their manifest (and staged bytes, unless the caller has them) in one query after the prepare's commit."""
    columns = (ArchiveRecord.staged_pdf, ArchiveRecord.manifest) if staged else (ArchiveRecord.manifest,)
    return list(session.scalars(
        select(ArchiveRecord).where(ArchiveRecord.id.in_(ids), ArchiveRecord.status == RecordStatus.pending,
                                    ArchiveRecord.prepared_at.is_not(None))
        .options(*(undefer(c) for c in columns))
        .order_by(ArchiveRecord.id).with_for_update(skip_locked=True).execution_options(populate_existing=True)))


def _plan(record: ArchiveRecord, sig: bytes | None, staged: bytes | None = None) -> _Plan:
    """`sig`: the source's detached signature (a sheet's), stored beside the record unless it is already;
    `staged`: the record's staged bytes as this job committed them (else read from the row)."""
    pdf = staged if staged is not None else record.staged_pdf if record.staged_pdf is not None else \
        _source_pdf(record)
    if hashlib.sha256(pdf).hexdigest() != record.sha256:
        raise IngestError(f"Запись {record.id}: документ изменился после подготовки к архивированию.")
    man = manifest_bytes(present(record.manifest, "manifest"))
    plan = _Plan(record, _document_and_manifest(record, present(record.key, "key"), pdf,
                                                present(record.sha256, "sha256"),
                                                present(record.manifest_key, "manifest key"), man))
    if sig is not None:
        sig_sha = hashlib.sha256(sig).hexdigest()
        if sig_sha != record.detached_sig_sha256:
            plan.sig = (object_key(record.id, sig_sha, ".sig"), sig_sha)
            plan.objects.append((plan.sig[0], sig, sig_sha,
                                 {**_put_keywords(record), "content_type": "application/pkcs7-signature"}))
    return plan


def _put_keywords(record: ArchiveRecord) -> dict:
    """How each of the record's objects is put: its retention, legal hold and metadata."""
    return {"retain_until": record.retention_until, "legal_hold": record.legal_hold,
            "metadata": {"record-id": str(record.id), "document-class": record.kind.value}}


def _document_and_manifest(record: ArchiveRecord, key: str, pdf: bytes, sha: str, man_key: str, man: bytes) -> list:
    """The (key, bytes, SHA-256, put's keywords) of a version's document and manifest, the document first."""
    kw = _put_keywords(record)
    return [(key, pdf, sha, kw),
            (man_key, man, hashlib.sha256(man).hexdigest(), {**kw, "content_type": "application/json"})]


def _write(storage, objects: list) -> list[Future]:
    """Each object written once and read back, side by side (the first object's future first)."""
    return [_objects.submit(put_and_read_back, storage, key, data, sha, **kw) for key, data, sha, kw in objects]


def _outcome(futures: list[Future]):
    """The first object's stored state once none of the writes still runs; the first error if one failed."""
    wait(futures)
    for f in futures:
        f.result()
    return futures[0].result()


def _stored(plan: _Plan, obj) -> None:
    """The record says "archived", with its first version and audit entries (the objects are written)."""
    record, storage = plan.record, get_storage()
    now = utcnow()
    man_sha = plan.objects[1][2]
    record.version_id, record.manifest_sha256 = obj.version_id, man_sha
    record.status, record.archived_at, record.staged_pdf, record.last_error = RecordStatus.archived, now, None, None
    record.attempts += 1
    record.last_attempt_at = now
    session.add(RecordVersion(record=record, number=1, reason="ingest", backend=storage.scheme, key=record.key,
                              sha256=record.sha256, size=record.size, version_id=obj.version_id,
                              manifest_key=record.manifest_key, manifest_sha256=man_sha,
                              timestamp_at=record.timestamp_at, timestamp_expires_at=record.timestamp_expires_at,
                              created_at=now))
    # not flushed here: a group's records and versions are written together by the commit (one UPDATE and one
    # INSERT for the group; a failure there leaves them all pending, and the retry finds its objects in place)
    audit.record("archive.ingest", record, key=record.key, sha256=record.sha256, retention_until=record.retention_until,
                 timestamp=record.timestamp_at is not None)
    log.info("archive: record %s archived as %s", record.id, record.key)
    if plan.sig is not None:
        _detached_signature_stored(record, *plan.sig)
    _after_archived(record)


def _source_detached_signature(record: ArchiveRecord) -> bytes | None:
    if record.source_type != SOURCE_SHEET:
        return None
    from sheets.models import SummarySheet
    return session.scalar(select(SummarySheet.detached_sig).where(SummarySheet.id == record.source_id))


def store_detached_signature(record: ArchiveRecord, cms: bytes) -> None:
    """The signer's detached CAdES over the document as signed (the .sig Госуслуги and КриптоАРМ check) as an
    object beside the record, under the same retention. It covers the PDF before the archive timestamp,
    whose SHA-256 is the record's source_sha256."""
    sha = hashlib.sha256(cms).hexdigest()
    if record.detached_sig_sha256 == sha:
        return
    storage = get_storage()
    key = object_key(record.id, sha, ".sig")
    put_and_read_back(storage, key, cms, sha, content_type="application/pkcs7-signature", **_put_keywords(record))
    _detached_signature_stored(record, key, sha)


def _detached_signature_stored(record: ArchiveRecord, key: str, sha: str) -> None:
    record.detached_sig_key, record.detached_sig_sha256 = key, sha
    session.flush()
    audit.record("archive.detached_signature", record, key=key, sha256=sha)


def _after_archived(record: ArchiveRecord) -> None:
    """A disposal act, once archived itself, lets its records be deleted."""
    if record.kind is RecordKind.disposal_act and record.source_id is not None:
        from archive.tasks import execute_disposal
        from core.jobs import enqueue_after_commit
        enqueue_after_commit(execute_disposal, record.source_id, queue_name="archive",
                             job_id=f"disposal-{record.source_id}")


# ---- B-LTA renewal ---------------------------------------------------------------------------------------------------

def renew(record: ArchiveRecord) -> RecordVersion:
    """A new document timestamp over the current object, written as a new object (new key); the old
    one stays. The record then points at the new version."""
    from archive import lta
    from archive.verify import configured_trust_roots
    tsa = current_app.config.get("TSA_URL")
    if not tsa:
        raise IngestError("Не настроена служба штампов времени (TSA_URL): продление невозможно.")
    if record.status is not RecordStatus.archived:
        raise IngestError(f"Запись {record.id} не в архиве.")
    storage = get_storage()
    current = storage.get(present(record.key, "key"))
    if hashlib.sha256(current).hexdigest() != record.sha256:
        raise IngestError(f"Запись {record.id}: объект {record.key} изменён — продление остановлено, "
                          "нужна проверка целостности.")
    stamped = lta.renew_archive_timestamp(current, tsa, list(configured_trust_roots()))
    sha = hashlib.sha256(stamped.pdf).hexdigest()
    key = object_key(record.id, sha)
    number = max((v.number for v in record.versions), default=0) + 1
    previous = {"key": record.key, "sha256": record.sha256}
    manifest = {**(record.manifest or {}), "sha256": sha, "size": len(stamped.pdf), "object_key": key,
                "version": number, "previous": previous, "prepared_at": utcnow().isoformat(),
                "archive_timestamp": {"time": present(stamped.timestamp_at, "timestamp").isoformat(),
                                      "tsa_certificate_expires": present(stamped.expires_at, "TSA expiry").isoformat(),
                                      "tsa": tsa},
                "software": software_version()}
    man, man_key = manifest_bytes(manifest), object_key(record.id, sha, ".json")
    objects = _document_and_manifest(record, key, stamped.pdf, sha, man_key, man)
    man_sha = objects[1][2]
    obj = _outcome(_write(storage, objects))
    version = RecordVersion(record=record, number=number, reason="lta_renewal", backend=storage.scheme, key=key,
                            sha256=sha, size=len(stamped.pdf), version_id=obj.version_id, manifest_key=man_key,
                            manifest_sha256=man_sha, timestamp_at=stamped.timestamp_at,
                            timestamp_expires_at=stamped.expires_at)
    session.add(version)
    before = previous
    record.key, record.sha256, record.size, record.version_id = key, sha, len(stamped.pdf), obj.version_id
    record.manifest, record.manifest_key, record.manifest_sha256 = manifest, man_key, man_sha
    record.timestamp_at, record.timestamp_expires_at = stamped.timestamp_at, stamped.expires_at
    session.flush()
    audit.record("archive.lta_renewal", record, before=before, after={"key": key, "sha256": sha},
                 version=number)
    return version
