"""Ingest on the real SeaweedFS: a signed sheet becomes an archived record only once the object and
its manifest are stored and read back; B-LTA with a TSA; retries when the storage is down."""
import hashlib
import json

import pytest
from sqlalchemy import func, select

from archive.models import ArchiveRecord, RecordStatus
from core.db import session
from core.storage import get_storage


def _record(sheet):
    from archive.services import record_for
    return record_for("summary_sheet", sheet.id)


def test_signed_sheet_is_archived_with_manifest_and_retention(app, tree, people, sign_sheet, run_jobs, trusting):
    sheet = sign_sheet(tree["a"], "7А")
    record = _record(sheet)
    assert record is not None and record.status is RecordStatus.pending
    from core import db
    db.commit()
    run_jobs()
    session.refresh(record)
    assert record.status is RecordStatus.archived, record.last_error
    storage = get_storage()
    assert storage.get(record.key) == sheet.pdf            # no TSA: the object is the signed sheet as is
    assert record.sha256 == record.source_sha256 == sheet.pdf_sha256
    head = storage.head(record.key)
    assert head.retain_until == record.retention_until and record.retention_until.year >= 2052
    manifest = json.loads(storage.get(record.manifest_key))
    assert manifest["sha256"] == record.sha256 and manifest["document_class"] == "summary_sheet"
    assert [s["role"] for s in manifest["signers"]] == ["Классный руководитель", "Директор"]
    assert "Иванова Анна" not in storage.get(record.manifest_key).decode()   # no pupils in the manifest
    assert record.versions[0].sha256 == record.sha256


def test_with_a_tsa_the_archive_copy_is_b_lta_and_verifies(app, tree, people, sign_sheet, run_jobs, tsa):
    from archive.verify import verify_bytes
    from core import db
    sheet = sign_sheet(tree["a"], "8Б")
    db.commit()
    run_jobs()
    record = _record(sheet)
    assert record.status is RecordStatus.archived, record.last_error
    stored = get_storage().get(record.key)
    assert stored != sheet.pdf and stored.startswith(sheet.pdf)      # an incremental update on top
    assert record.source_sha256 == sheet.pdf_sha256 and record.sha256 == hashlib.sha256(stored).hexdigest()
    assert record.timestamp_at is not None and record.timestamp_expires_at.year == 2040
    v = verify_bytes(stored)
    assert v.ok, v.lines_ru()
    assert [s.kind for s in v.signatures] == ["signature", "signature", "archive_timestamp"]
    assert any(c.label.startswith("Долгосрочная") and c.ok for c in v.checks), v.lines_ru()
    assert v.record_id == record.id
    # the validation job ran after the ingest and kept its report with the record
    from archive.models import ValidationReport
    reports = session.query(ValidationReport).filter_by(record_id=record.id).all()
    assert [r.source for r in reports] == ["ingest"] and reports[0].ok, reports[0].summary if reports else None
    # the sheet as signed (before the archive timestamp) is recognised as the original
    original = verify_bytes(sheet.pdf)
    assert original.ok and "подписанным подлинником" in " ".join(c.text for c in original.checks)


@pytest.fixture
def tsa_asked(tsa, monkeypatch):
    """The archive's requests to the TSA, counted (its known TSA certificates forgotten first)."""
    from archive import lta
    asked = []
    real = lta.ArchiveTimeStamper.async_timestamp

    async def counted(self, message_digest, md_algorithm):
        asked.append(md_algorithm)
        return await real(self, message_digest, md_algorithm)
    monkeypatch.setattr(lta.ArchiveTimeStamper, "async_timestamp", counted)
    lta.tsa_tokens.clear()
    return asked


def test_the_tsa_certificate_is_learnt_once_not_per_document(app, tree, people, sign_sheet, run_jobs, tsa_asked):
    """pyHanko learns the TSA's certificate (for the DSS) from a dummy token per timestamper; the archive keeps
    that token per TSA, so N ingests ask the TSA N + 1 times, not 2N, and each copy is still B-LTA."""
    from archive.verify import verify_bytes
    from core import db
    asked = tsa_asked
    sheets = [sign_sheet(tree["a"], name) for name in ("9А", "9Б", "9В")]
    db.commit()
    run_jobs()
    assert len(asked) == 3 + 1
    for sheet in sheets:
        record = _record(sheet)
        assert record.status is RecordStatus.archived, record.last_error
        stored = get_storage().get(record.key)
        v = verify_bytes(stored)
        assert v.ok and any(c.label.startswith("Долгосрочная") and c.ok for c in v.checks), v.lines_ru()
    changed = bytearray(stored)
    changed[stored.index(b"/Producer") + 3] ^= 0x01
    assert not verify_bytes(bytes(changed)).ok


def test_sheets_signed_together_are_archived_by_the_handful_and_one_bad_copy_stops_no_other(
        app, tree, people, sign_sheet, run_jobs, tsa_asked, monkeypatch):
    """A director's batch hands its sheets to the archive in groups (ARCHIVE_INGEST_GROUP): one job a group, their
    archive timestamps asked for together. A sheet whose PDF no longer matches its hash fails alone: the others
    are archived (B-LTA, verified), it stays pending with the reason, and the group's job is retried."""
    from archive.verify import verify_bytes
    from core import db
    from core.jobs import queue
    asked = tsa_asked
    monkeypatch.setitem(app.config, "ARCHIVE_INGEST_GROUP", 3)
    sheets = [sign_sheet(tree["a"], name) for name in ("5А", "5Б", "5В", "5Г")]
    broken = sheets[1]
    broken.pdf = broken.pdf.replace(b"/Producer", b"/Produced", 1)     # changed after signing: its hash differs
    db.commit()
    q = queue("archive")
    group_id, alone_id = f"ingest-sheets-{sheets[0].id}-3", f"ingest-sheet-{sheets[3].id}"
    assert sorted(q.get_job_ids()) == sorted([group_id, alone_id])
    run_jobs()
    assert len(asked) == 3 + 1                       # the TSA's certificate learnt once, a token a good copy
    for sheet in (sheets[0], sheets[2], sheets[3]):
        record = _record(sheet)
        assert record.status is RecordStatus.archived, record.last_error
        stored = get_storage().get(record.key)
        assert stored.startswith(sheet.pdf) and hashlib.sha256(stored).hexdigest() == record.sha256
        v = verify_bytes(stored)
        assert v.ok and any(c.label.startswith("Долгосрочная") and c.ok for c in v.checks), v.lines_ru()
    changed = bytearray(stored)
    changed[len(sheet.pdf) - 200] ^= 0x01
    assert not verify_bytes(bytes(changed)).ok
    record = _record(broken)
    session.refresh(record)
    assert record.status is RecordStatus.pending and record.attempts == 1 and record.key is None
    assert "не совпадает" in record.last_error
    assert q.scheduled_job_registry.get_job_ids() == [group_id]       # retried with backoff; the rest is done


def test_a_groups_reads_do_not_grow_with_its_size(app, tree, people, sign_sheet, tsa):
    """A group reads its sheets, their PDFs and pupils' names, the retention rules and its records a query each
    for the whole group: a group of four sends the same SELECTs as a group of two (the row refreshed after the
    commit, the identity map's weakly held rule and sheets, a names query a record were one query a record).
    Its stored records are marked archived, with their first versions, by one UPDATE and one INSERT."""
    from archive import tasks
    from core import db
    from core.jobs import queue
    from tests.helpers import statements_sent
    sheets = [sign_sheet(tree["a"], name) for name in ("5А", "5Б", "5В", "5Г", "6А", "6Б")]
    db.commit()
    queue("archive").empty()                        # the groups are run here, one at a time
    selects, stored = [], []
    for group in (sheets[:2], sheets[2:]):
        ids, records = ",".join(str(s.id) for s in group), [_record(s).id for s in group]
        with statements_sent(app) as seen:
            assert tasks.ingest_sheets(ids) == records
        selects.append(sum(s.lstrip().startswith("SELECT") for s in seen))
        # the records say "archived" and get their first versions together, at the commit
        stored.append([s.split(" SET")[0].split(" (")[0] for s in seen
                       if s.startswith(("UPDATE archive_records SET status", "INSERT INTO archive_record_versions"))])
    assert selects[0] == selects[1], selects
    assert stored[0] == stored[1] == ["UPDATE archive_records", "INSERT INTO archive_record_versions"], stored
    for sheet in sheets:
        record = _record(sheet)
        assert record.status is RecordStatus.archived and record.timestamp_at is not None, record.last_error
        surname = sheet.marks["pupils"][-1]["name"].split()[0]       # the names read for the group, searchable
        pupil = ArchiveRecord.search.op("@@")(func.plainto_tsquery("russian", surname))
        assert session.scalar(select(ArchiveRecord.id).where(pupil, ArchiveRecord.id == record.id)) == record.id


def test_ingest_with_storage_stopped_finishes_once_it_is_back(app, tree, people, sign_sheet, run_jobs, redis_conn,
                                                              client, logged_in, tmp_path):
    """A SeaweedFS of this test's own is stopped: the record stays pending (shown on the status page),
    the job is retried; once the server is back the retry stores the same bytes and the record is archived."""
    from rq.job import Job

    from core import db
    from core.jobs import queue
    from core.storage import storage_from_url
    from tests.conftest import S3_KEY, S3_SECRET
    from web import embedded
    ports = embedded.free_ports(10)
    start = lambda: embedded.start_seaweed(tmp_path / "weed", ports, S3_KEY, S3_SECRET, fast_stop=True,
                                           max_volumes=8, volume_mb=16)
    stop = start()
    own = storage_from_url(f"s3://{S3_KEY}:{S3_SECRET}@127.0.0.1:{ports[embedded.S3_PORT_INDEX]}/down-test?secure=0")
    own.ping()                                  # the Object Lock bucket exists
    saved = app.extensions.get("archive")
    app.extensions["archive"] = own
    try:
        stop()
        stop = None
        sheet = sign_sheet(tree["a"], "9В")
        db.commit()
        run_jobs()
        record = _record(sheet)
        session.refresh(record)
        assert record.status is RecordStatus.pending and record.attempts == 1
        assert "Хранилище недоступно" in record.last_error
        assert record.key and record.prepared_at               # staged: the retry writes these very bytes
        staged_key = record.key
        q = queue("archive")
        assert q.scheduled_job_registry.get_job_ids() == [f"ingest-sheet-{sheet.id}"]   # retried with backoff
        logged_in(people.archivist)
        page = client.get("/archive/status").get_data(as_text=True)
        assert "Ожидают передачи в архив (1)" in page and "Хранилище недоступно" in page
        stop = start()                                             # the storage comes back
        for job_id in q.scheduled_job_registry.get_job_ids():      # what the scheduler does when the retry is due
            q.scheduled_job_registry.remove(job_id)
            q.enqueue_job(Job.fetch(job_id, connection=redis_conn, serializer=q.serializer))
        run_jobs()
        session.refresh(record)
        assert record.status is RecordStatus.archived and record.key == staged_key and record.last_error is None
        assert hashlib.sha256(own.get(record.key)).hexdigest() == record.sha256
        assert "Ожидают передачи в архив (0)" in client.get("/archive/status").get_data(as_text=True)
    finally:
        app.extensions.pop("archive", None)
        if saved is not None:
            app.extensions["archive"] = saved
        if stop:
            stop()


def test_a_retried_put_of_the_same_bytes_is_idempotent(app, tree, people, sign_sheet):
    """A worker killed after the put but before the commit: the rerun finds the key holding the same
    SHA-256 and completes."""
    from archive import ingest
    from core import db
    from core.storage import ObjectExists
    sheet = sign_sheet(tree["a"], "10А")
    record = _record(sheet)
    ingest.prepare(record)
    db.commit()
    storage = get_storage()
    storage.put(record.key, sheet.pdf, retain_until=record.retention_until)   # the killed attempt's write
    assert ingest.ingest(record) and record.status is RecordStatus.archived
    try:
        storage.put(record.key, b"%PDF-other", retain_until=record.retention_until)
    except ObjectExists:
        pass
    else:
        raise AssertionError("a key is written once")


def test_an_archived_object_cannot_be_deleted_or_overwritten_before_its_retention_date(app, servers, tree, people,
                                                                                      sign_sheet, run_jobs):
    """The server refuses: our wrapper, and the raw S3 API with the storage's own credentials."""

    from minio import Minio
    from minio.error import S3Error

    from core import db
    from core.storage import ObjectExists, ObjectLocked
    from tests.conftest import S3_KEY, S3_SECRET
    sheet = sign_sheet(tree["a"], "11А")
    db.commit()
    run_jobs()
    record = _record(sheet)
    assert record.status is RecordStatus.archived
    storage = get_storage()
    for key in (record.key, record.manifest_key):
        with pytest.raises(ObjectLocked):
            storage.delete(key)
        with pytest.raises(ObjectExists):
            storage.put(key, b"forged", retain_until=record.retention_until)
    raw = Minio(servers["s3_endpoint"], access_key=S3_KEY, secret_key=S3_SECRET, secure=False)
    with pytest.raises(S3Error) as refused:
        raw.remove_object(storage.bucket, storage.prefix + record.key, version_id=record.version_id)
    assert refused.value.code == "AccessDenied"
    import datetime as dt

    from minio.commonconfig import GOVERNANCE
    from minio.retention import Retention
    with pytest.raises(S3Error):            # shortening the COMPLIANCE retention is refused too
        raw.set_object_retention(storage.bucket, storage.prefix + record.key, Retention(
            GOVERNANCE, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)), version_id=record.version_id)
    assert storage.get(record.key, version_id=record.version_id) == sheet.pdf


@pytest.mark.parametrize("with_tsa", [False, True], ids=["B-B", "B-T"])
def test_quick_signer_reading_agrees_with_the_full_parse(app, tree, people, sign_sheet, trusting, request, with_tsa):
    from archive import lta
    if with_tsa:
        request.getfixturevalue("tsa")
    for sheet in (sign_sheet(tree["a"], "3А"), sign_sheet(tree["a"], "3Б", director_label="revoked")):
        full = lta.signer_info(sheet.pdf)
        assert lta.signer_info(sheet.pdf, ["ClassTeacher", "Director"]) == full
        assert [s["field"] for s in full] == ["ClassTeacher", "Director"] and all(s["signed_at"] for s in full)
    assert lta.signer_info(sheet.pdf, ["OnlyOne"]) == full          # unexpected shape: the full parse decides


def _run_again_and_archived(batch, sheet, record, pki, run_jobs) -> None:
    """The director's batch runs again: done without signing twice, and the sheet reaches the archive."""
    import pades
    from sheets.models import BatchStatus
    from sheets.tasks import process_batch
    from tests.archive.conftest import signer
    process_batch(batch.id, signer=signer(pki, "director"))
    assert batch.status is BatchStatus.done and batch.done_ids == [sheet.id] and batch.errors == []
    run_jobs()
    session.refresh(record)
    assert record.status is RecordStatus.archived
    assert len(pades.validate(sheet.pdf, [pki.root], other_certs=[pki.interm], require_ours=False)) == 2


def test_a_batch_run_again_hands_over_a_signed_sheet_whose_archive_job_was_lost(app, tree, people, pki, sign_sheet,
                                                                               run_jobs):
    """A worker killed between a sheet's commit and the sending of its archive job (sent only after the
    commit) leaves the record pending with no job. Running the director's batch again hands it over."""
    from archive.services import record_for
    from core import db
    from sheets.models import BatchKind, BatchStatus, SheetBatch
    from tests.archive.conftest import YEAR
    sheet = sign_sheet(tree["a"], "11А")
    db._after_commit_jobs().clear()                   # the job that was never sent
    db.commit()
    record = record_for("summary_sheet", sheet.id)
    run_jobs()
    assert record.status is RecordStatus.pending      # nothing would archive it but the 15-minute sweep
    batch = SheetBatch(kind=BatchKind.sign_director, organisation_id=tree["a"].id, school_year=YEAR,
                       requested_by_id=people.director.id, sheet_ids=[sheet.id], done_ids=[], errors=[],
                       status=BatchStatus.queued)
    session.add(batch)
    db.commit()
    _run_again_and_archived(batch, sheet, record, pki, run_jobs)


def test_a_batch_run_again_hands_over_the_sheets_its_killed_run_had_committed(app, tree, people, pki, sign_sheet,
                                                                             run_jobs):
    """The same window inside a batch: the chunk with the sheet committed (the batch counts it done), the worker
    killed before the chunk's archive jobs were sent. The run again hands the counted sheets over too."""
    from archive.services import record_for
    from core import db
    from sheets.models import BatchKind, BatchStatus, SheetBatch
    from tests.archive.conftest import YEAR
    sheet = sign_sheet(tree["a"], "11Б")
    db._after_commit_jobs().clear()                   # the job that was never sent
    batch = SheetBatch(kind=BatchKind.sign_director, organisation_id=tree["a"].id, school_year=YEAR,
                       requested_by_id=people.director.id, sheet_ids=[sheet.id], done_ids=[sheet.id], errors=[],
                       status=BatchStatus.running)
    session.add(batch)
    db.commit()
    record = record_for("summary_sheet", sheet.id)
    run_jobs()
    assert record.status is RecordStatus.pending
    _run_again_and_archived(batch, sheet, record, pki, run_jobs)


def test_an_unreachable_tsa_is_an_error_not_an_unstamped_archive_copy(app, trusting):
    """The archive's timestamper is the signing path's strict one: a TSA that does not answer stops the
    ingest with a clear message (the record stays pending and is retried)."""
    import io

    from reportlab.pdfgen import canvas

    from archive import lta
    from web.embedded import free_ports
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, "scan")
    c.save()
    dead = f"http://127.0.0.1:{free_ports(1)[0]}/tsa"
    with pytest.raises(lta.ArchiveTimestampError, match="Служба штампов времени недоступна"):
        lta.add_archive_timestamp(buf.getvalue(), dead, [])


def test_the_room_for_the_archive_timestamp_is_learned_and_made_again_when_outgrown(
        app, tree, people, sign_sheet, run_jobs, tsa, caplog):
    """Like a signature's (tests/sheets/test_pades.py): the worst case first, then the last token's size plus
    a margin; a token that outgrows it is stamped again in the worst case. Every copy verifies."""
    import logging
    import re

    from archive.lta import TIMESTAMP_RESERVED
    from archive.verify import verify_bytes
    from core import db
    from pades import room

    def stamped(name):
        sheet = sign_sheet(tree["a"], name)
        db.commit()
        run_jobs()
        record = _record(sheet)
        assert record.status is RecordStatus.archived, record.last_error
        pdf = get_storage().get(record.key)
        assert verify_bytes(pdf).ok, verify_bytes(pdf).lines_ru()
        return pdf, len(re.findall(rb"/Contents\s*<([0-9A-Fa-f]*)>", pdf)[-1])

    room.forget()
    first, first_room = stamped("10А")
    _, learned = stamped("10Б")
    assert first_room == TIMESTAMP_RESERVED
    assert learned == 2 * (room.newest_cms_length(first) + room.MARGIN) < TIMESTAMP_RESERVED
    room.forget()
    room.remember(room.timestamp_key(tsa), 100)
    with caplog.at_level(logging.WARNING, logger="pades.room"):
        again, again_room = stamped("10В")
    assert "outgrew its learned room" in caplog.text and again_room == TIMESTAMP_RESERVED
    changed = bytearray(again)
    changed[again.index(b"/Producer") + 3] ^= 0x01
    assert not verify_bytes(bytes(changed)).ok


def test_an_ingest_writes_its_record_twice_prepared_and_stored(app, tree, people, sign_sheet, run_jobs, tsa):
    """One UPDATE of the record's row when prepared and one when stored: the reads in between (retention rule,
    pupils' names, organisations) do not flush it again, each time rewriting a row with full-text indexes."""
    from core import db
    from tests.helpers import statements_sent
    sheet = sign_sheet(tree["a"], "8В")
    db.commit()
    with statements_sent(app, "UPDATE archive_records") as updates:
        run_jobs()
    record = _record(sheet)
    assert record.status is RecordStatus.archived, record.last_error
    assert record.search is not None and record.signer_search is not None and record.manifest["signers"]
    assert len(updates) == 2, updates


def test_a_batch_validates_each_certificate_once_and_every_copy_keeps_its_validation_data(
        app, tree, people, sign_sheet, tsa, monkeypatch):
    """The sheets of a batch carry the same teacher, director and TSA certificates: their paths are built and
    checked once per validation context, not five times a sheet. Every copy still gets the revocation data in
    its DSS (B-LTA verifies), and a tampered copy fails."""
    from pyhanko_certvalidator import CertificateValidator

    from archive import lta
    from archive.verify import configured_trust_roots, verify_bytes
    validated = []
    real = CertificateValidator.async_validate_usage

    async def counted(self, *args, **kwargs):
        validated.append(self._certificate.subject.human_friendly[:40])
        return await real(self, *args, **kwargs)
    signed = [sign_sheet(tree["a"], name).pdf for name in ("10А", "10Б", "10В")]
    lta._local.__dict__.clear()          # a fresh validation context, as in a new worker
    roots = list(configured_trust_roots())
    monkeypatch.setattr(CertificateValidator, "async_validate_usage", counted)
    stamped = [lta.add_archive_timestamp(pdf, tsa, roots) for pdf in signed]
    monkeypatch.undo()
    # Once each for the three sheets: teacher, director, the TSA of their signature timestamps, and the TSA
    # again for the archive timestamp (for time-stamping). It was five a sheet: the TSA once per timestamp.
    assert len(validated) == 4, validated
    for pdf, copy in zip(signed, stamped):
        assert copy.pdf.startswith(pdf) and not copy.notes, copy.notes
        assert _b_lta_holds(verify_bytes(copy.pdf))         # (no archive record: stamped outside an ingest)
    last = stamped[-1].pdf
    changed = bytearray(last)
    changed[last.index(b"/Producer") + 3] ^= 0x01
    assert not _b_lta_holds(verify_bytes(bytes(changed)))


def _b_lta_holds(v) -> bool:
    lta = [c.ok for c in v.checks if c.label.startswith("Долгосрочная")]
    return bool(v.signatures) and all(s.ok for s in v.signatures) and lta == [True]


def test_an_ingest_writes_document_and_manifest_once_each_and_reads_back_the_versions_written(
        app, tree, people, sign_sheet, run_jobs, trusting, monkeypatch):
    """Per object: is the key free, write, read back the version written — three requests, not four (the
    server is not asked again after the write what the read-back proves anyway)."""
    from core import db
    storage = get_storage()
    sent = []
    real = storage.client._url_open

    def counted(method, region, bucket_name=None, object_name=None, query_params=None, **kwargs):
        sent.append((method, object_name, (query_params or {}).get("versionId")))
        return real(method, region, bucket_name=bucket_name, object_name=object_name, query_params=query_params,
                    **kwargs)
    monkeypatch.setattr(storage.client, "_url_open", counted)
    sheet = sign_sheet(tree["a"], "11А")
    db.commit()
    run_jobs()
    monkeypatch.undo()
    record = _record(sheet)
    assert record.status is RecordStatus.archived, record.last_error
    for key in (record.key, record.manifest_key):
        mine = [(method, version) for method, name, version in sent if name and name.endswith(key)]
        assert [m for m, _ in mine[:3]] == ["HEAD", "PUT", "GET"], mine     # (then the validation job reads it)
        assert mine[2][1] is not None, mine          # the version written is the one read back
    pdf_reads = [version for method, name, version in sent if method == "GET" and (name or "").endswith(record.key)]
    assert pdf_reads[0] == record.version_id
    assert storage.get(record.key) == sheet.pdf
