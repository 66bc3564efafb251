"""Reconcile the bucket with the database: objects under records/ that no record knows (a database
restored from a dump older than the bucket), and records whose objects are not in the bucket.
`compare` only reads; `rebuild` recreates the unknown records from the manifests stored next to
their objects (docs/archive.md, "Restore")."""
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import func, select, text

from archive.models import ArchiveRecord, RecordKind, RecordStatus, RecordVersion
from core import audit
from core.db import session, utcnow
from core.storage import ObjectMissing, StorageError, StoredObject, get_storage
from orgs.models.organisations import Organisation


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
    for record_id, record_key, record_manifest in archived:
        for k in (record_key, record_manifest):
            if k:
                known.setdefault(k, record_id)
    disposed = set(session.scalars(select(ArchiveRecord.id).where(ArchiveRecord.status == RecordStatus.disposed)))
    out = Reconciliation(records=len(archived), objects=len(stored))
    out.orphans = sorted(k for k in stored if k not in known)
    out.missing = sorted((rid, k) for k, rid in known.items() if k not in stored and rid not in disposed)
    return out


# ---- rebuild: records back from their manifests ----------------------------------------------------------------------

@dataclass
class Rebuild:
    records: list[int] = field(default_factory=list)           # recreated
    versions: list[tuple[int, int]] = field(default_factory=list)   # (record, version number) added
    problems: list[tuple[str, str]] = field(default_factory=list)   # (manifest key, why it was left)


class _Skip(Exception):
    """This manifest is left as an orphan; the message says why (Russian)."""


def rebuild(record_ids: set[int] | None = None) -> Rebuild:
    """Recreate, from the manifests in the bucket, the records a restored database does not know: a record
    written after the dump comes back with its id, key, hashes, retention, signers and search text; an
    archive timestamp renewal (B-LTA) written after the dump comes back as the record's newest version.
    Each object is read and hashed before its record claims it. `record_ids` limits it to those records.
    Flushes; the caller commits."""
    from archive.ingest import MANIFEST_FORMAT
    storage = get_storage()
    out = Rebuild()
    found = []
    for key in compare().orphans:
        if not key.endswith(".json") or (record_ids is not None and _record_of(key) not in record_ids):
            continue
        try:
            manifest = json.loads(storage.get(key))
            if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
                raise ValueError("не манифест архива")
            found.append((int(manifest["record_id"]), int(manifest.get("version") or 1), key, manifest))
        except (StorageError, ValueError, KeyError, TypeError) as e:
            out.problems.append((key, f"манифест не прочитан: {e}"))
    for record_id, number, key, manifest in sorted(found, key=lambda f: f[:2]):    # versions in order
        try:
            with session.begin_nested():
                if number == 1:
                    _recreate(storage, key, manifest)
                    out.records.append(record_id)
                else:
                    _add_version(storage, key, manifest, number)
                    out.versions.append((record_id, number))
        except _Skip as e:
            out.problems.append((key, str(e)))
    if out.records:
        _advance_sequences()
    session.flush()
    return out


# The tables whose rows are archived (ArchiveRecord.source_type → table).
SOURCE_TABLES = {"summary_sheet": "summary_sheets", "readiness_statement": "transition_readiness_statements",
                 "disposal_act": "archive_disposal_acts", "ordinance_document": "ordinance_files",
                 "ordinance_attachment": "ordinance_files"}


def _advance_sequences() -> None:
    """New records must not take the ids the bucket holds, nor new documents the ids of the documents a
    rebuilt record names as its source: their rows were written after the dump, so the restored sequences
    would hand those ids out again (and a new sheet would find the old sheet's record as its own)."""
    session.execute(text("SELECT setval(pg_get_serial_sequence('archive_records', 'id'), "
                         "(SELECT max(id) FROM archive_records))"))
    for source_type, table in SOURCE_TABLES.items():
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # nosec B608 # table names from the constant above
            f"GREATEST((SELECT COALESCE(max(id), 1) FROM {table}), "
            "(SELECT COALESCE(max(source_id), 1) FROM archive_records WHERE source_type = :t)))"), {"t": source_type})


def _record_of(key: str) -> int | None:
    """records/<id>/<sha256>.json → id (object_key's layout)."""
    parts = key.split("/")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _object(storage, manifest: dict) -> tuple[StoredObject, bytes]:
    key, sha = manifest.get("object_key"), manifest.get("sha256")
    try:
        head = storage.head(key)
        data = storage.get(key)
    except ObjectMissing:
        raise _Skip(f"нет объекта {key}") from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise _Skip(f"SHA-256 объекта {key} не совпадает с манифестом")
    return head, data


def _org(ref: dict | None, what: str) -> Organisation | None:
    if not ref:
        return None
    org = session.get(Organisation, ref.get("id"))
    if org is None or org.code != ref.get("code"):
        org = session.scalar(select(Organisation).where(Organisation.code == ref.get("code")))
    if org is None:
        raise _Skip(f"{what} «{ref.get('name')}» (код {ref.get('code')}) нет в базе")
    return org


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _recreate(storage, manifest_key: str, m: dict) -> ArchiveRecord:
    record_id = int(m["record_id"])
    existing = session.get(ArchiveRecord, record_id)
    if existing is not None and existing.status is RecordStatus.pending and existing.key == m.get("object_key"):
        raise _Skip(f"запись № {record_id} в базе ожидает передачи этого объекта: её завершит повтор передачи")
    if existing is not None:
        raise _Skip(f"запись № {record_id} уже есть в базе с другим объектом: разберите вручную")
    source = m.get("source") or {}
    if source.get("id") is not None and session.scalar(select(ArchiveRecord.id).where(
            ArchiveRecord.source_type == source.get("type"), ArchiveRecord.source_id == source["id"])):
        raise _Skip(f"у документа {source.get('type')} № {source['id']} уже есть другая архивная запись")
    head, data = _object(storage, m)
    man_sha = hashlib.sha256(storage.get(manifest_key)).hexdigest()
    organisation = _org(m.get("organisation"), "Организации")
    if organisation is None:
        raise _Skip(f"в манифесте записи № {record_id} не указана организация")
    school, municipality = _org(m.get("school"), "Школы"), _org(m.get("municipality"), "Муниципалитета")
    region = _org(m.get("region"), "Региона")
    stamp = m.get("archive_timestamp") or {}
    retention = m.get("retention") or {}
    archived_at = _moment(m.get("prepared_at")) or utcnow()
    record = ArchiveRecord(
        id=record_id, kind=RecordKind(m["document_class"]), status=RecordStatus.archived,
        source_type=source.get("type") or "restored", source_id=source.get("id"), document_id=m.get("document_id"),
        title=m.get("title") or f"Запись № {record_id}", organisation_id=organisation.id, org_path=organisation.path,
        school_id=school and school.id, municipality_id=municipality and municipality.id,
        region_id=region and region.id,
        school_year=m.get("school_year"), class_name=m.get("class"), class_label=m.get("class_label"),
        signers=m.get("signers") or [], backend=storage.scheme, key=m["object_key"], sha256=m["sha256"],
        size=len(data), version_id=head.version_id, source_sha256=source.get("sha256"), manifest_key=manifest_key,
        manifest_sha256=man_sha, manifest=m, prepared_at=archived_at,
        retention_years=retention.get("years"),
        retention_until=dt.date.fromisoformat(retention["until"]) if retention.get("until") else head.retain_until,
        legal_hold=head.legal_hold, timestamp_at=_moment(stamp.get("time")),
        timestamp_expires_at=_moment(stamp.get("tsa_certificate_expires")), attempts=1, archived_at=archived_at,
        last_error=None)
    session.add(record)
    session.flush()
    session.add(RecordVersion(record=record, number=1, reason="ingest", backend=storage.scheme, key=record.key,
                              sha256=record.sha256, size=record.size, version_id=head.version_id,
                              manifest_key=manifest_key, manifest_sha256=man_sha, timestamp_at=record.timestamp_at,
                              timestamp_expires_at=record.timestamp_expires_at, created_at=archived_at))
    _search_text(record, data)
    session.flush()
    audit.record("archive.rebuild", record, key=record.key, sha256=record.sha256, manifest=manifest_key)
    return record


def _add_version(storage, manifest_key: str, m: dict, number: int) -> RecordVersion:
    record = session.get(ArchiveRecord, int(m["record_id"]))
    previous = m.get("previous") or {}
    if record is None or record.sha256 != previous.get("sha256"):
        raise _Skip(f"версия {number} записи № {m['record_id']}: в базе нет версии, которую она продлевает")
    head, data = _object(storage, m)
    man_sha = hashlib.sha256(storage.get(manifest_key)).hexdigest()
    stamp = m.get("archive_timestamp") or {}
    before = {"key": record.key, "sha256": record.sha256}
    version = RecordVersion(record=record, number=number, reason="lta_renewal", backend=storage.scheme,
                            key=m["object_key"], sha256=m["sha256"], size=len(data), version_id=head.version_id,
                            manifest_key=manifest_key, manifest_sha256=man_sha, timestamp_at=_moment(stamp.get("time")),
                            timestamp_expires_at=_moment(stamp.get("tsa_certificate_expires")))
    session.add(version)
    record.key, record.sha256, record.size = version.key, version.sha256, version.size
    record.version_id = head.version_id
    record.manifest, record.manifest_key, record.manifest_sha256 = m, manifest_key, man_sha
    record.timestamp_at, record.timestamp_expires_at = version.timestamp_at, version.timestamp_expires_at
    session.flush()
    audit.record("archive.rebuild_version", record, before=before, after={"key": record.key, "sha256": record.sha256},
                 version=number)
    return version


def _search_text(record: ArchiveRecord, pdf: bytes) -> None:
    """The search vectors the ingest made: signers' names; for a sheet, also the pupils' names from the
    marks.json the PDF carries (the manifest holds no personal data), the class and the school."""
    if record.signers:
        record.signer_search = func.to_tsvector("russian", " ".join(s.get("name", "") for s in record.signers))
    if record.kind is not RecordKind.summary_sheet:
        return
    from sheets.render import attached_marks
    marks = attached_marks(pdf) or {}
    pupils = [p.get("name", "") for p in marks.get("pupils") or [] if isinstance(p, dict)]
    school = record.school
    words = pupils + [record.class_label, record.class_name, school and school.name, school and school.short_name]
    record.search = func.to_tsvector("russian", " ".join(filter(None, words)))
