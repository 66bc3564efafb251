"""A batch in chunks (issue 20): one transaction and one audit INSERT per chunk, signatures made by a small
thread pool (the TSA round trips overlap), a failing sheet rolled back to its own savepoint while the rest of
its chunk is kept. Every signature made here is validated; a changed byte fails."""
import pytest
from sqlalchemy import func, select

from core import audit, db
from core.audit import AuditEntry
from core.db import session
from sheets import services
from sheets.models import BatchKind, BatchStatus, SheetStatus
from tests.helpers import statements_sent
from tests.sheets import pki as test_pki
from tests.sheets.helpers import assert_all_valid
from tests.sheets.test_sheet_flow import YEAR, _sheets


@pytest.fixture
def audit_inserts(app):
    """How many INSERT statements reach audit_log."""
    with statements_sent(app, "INSERT INTO audit_log") as seen:
        yield seen


def test_a_teachers_batch_signs_in_chunks_with_one_audit_insert_and_one_read_each(
        app, school, pki, run_jobs, audit_inserts):
    app.config.update(SHEET_BATCH_CHUNK=2, SIGN_THREADS=3)
    try:
        sheets = _sheets(school, "4А", "4Б", "4В", "4Г", "4Д")
        for s in sheets:
            services.render_pdf(s, actor=school.director)
        db.commit()
        with app.test_request_context():
            batch = services.start_batch(BatchKind.sign_teacher, school.org, YEAR, actor=school.teacher,
                                         pkcs12=pki.pkcs12("teacher"), passphrase=test_pki.PASSPHRASE)
            db.commit()
        before = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "sheet.sign_teacher"))
        audit_inserts.clear()
        with statements_sent(app, "SELECT") as selects:
            run_jobs()
    finally:
        app.config.update(SHEET_BATCH_CHUNK=25, SIGN_THREADS=4)
    # each working PDF comes with its chunk's rows, not in a query of its own
    alone = [q for q in selects if " ".join(q.split()).startswith("SELECT summary_sheets.pdf FROM")]
    assert alone == [], alone
    # and each chunk's class teachers in one query, not one a sheet (chunks of 2, 2 and 1)
    assert len([q for q in selects if "FROM class_teachers" in " ".join(q.split())]) == 3, selects
    session.refresh(batch)
    assert batch.status is BatchStatus.done and sorted(batch.done_ids) == sorted(s.id for s in sheets)
    for s in sheets:
        session.refresh(s)
        assert s.status is SheetStatus.teacher_signed
        assert_all_valid(s.pdf, pki, count=1)
    signed = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "sheet.sign_teacher"))
    assert signed - before == 5
    assert len(audit_inserts) == 3                   # chunks of 2, 2 and 1: one INSERT each
    assert audit.verify_chain().ok                    # entries written together still chain one by one
    changed = bytearray(sheets[0].pdf)
    changed[len(changed) // 2] ^= 1
    with pytest.raises(AssertionError):
        assert_all_valid(bytes(changed), pki, count=1)


def test_a_sheet_that_fails_in_its_chunk_is_rolled_back_alone(app, school, pki, run_jobs, monkeypatch):
    """The director signs three sheets; the middle one's signature fails: the other two are signed and
    audited, the failed one is untouched, named in the batch's errors, and has no audit entry."""
    monkeypatch.setitem(app.config, "SHEET_BATCH_CHUNK", 25)
    sheets = _sheets(school, "6А", "6Б", "6В")
    for s in sheets:
        services.render_pdf(s, actor=school.director)
        services.sign(s, "teacher", _signer(pki, "teacher"), actor=school.teacher)
    db.commit()
    real = services.finish_signing

    def fail_middle(sheet, role, signer, signed, *, actor):
        if sheet.id == sheets[1].id:
            real(sheet, role, signer, signed, actor=actor)      # writes, then fails: all of it must go
            raise services.SheetFlowError("сбой при сохранении")
        return real(sheet, role, signer, signed, actor=actor)
    monkeypatch.setattr(services, "finish_signing", fail_middle)
    with app.test_request_context():
        batch = services.start_batch(BatchKind.sign_director, school.org, YEAR, actor=school.director,
                                     pkcs12=pki.pkcs12("director"), passphrase=test_pki.PASSPHRASE)
        db.commit()
    run_jobs()
    session.refresh(batch)
    assert sorted(batch.done_ids) == sorted([sheets[0].id, sheets[2].id])
    assert [e["sheet_id"] for e in batch.errors] == [sheets[1].id] and "сбой" in batch.errors[0]["message"]
    for s in sheets:
        session.refresh(s)
    assert [s.status for s in sheets] == [SheetStatus.signed, SheetStatus.teacher_signed, SheetStatus.signed]
    assert_all_valid(sheets[0].pdf, pki, count=2)
    assert_all_valid(sheets[1].pdf, pki, count=1)                 # as the teacher left it
    audited = set(session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "sheet.sign_director")))
    assert str(sheets[1].id) not in audited and {str(sheets[0].id), str(sheets[2].id)} <= audited
    assert audit.verify_chain().ok


def _signer(pki, label):
    import pades
    return pades.PKCS12Signer(pki.pkcs12(label), test_pki.PASSPHRASE)


def test_the_working_pdf_is_stored_without_a_compression_attempt(db):
    """A sheet's PDF, and the archive's staged copy of it, are Flate-compressed already: PostgreSQL stores them
    out of line as they are (EXTERNAL), rather than trying pglz on every write and keeping the original anyway
    (issue 20)."""
    from sqlalchemy import text
    for table, column in (("summary_sheets", "pdf"), ("archive_records", "staged_pdf")):
        assert db.scalar(text("SELECT attstorage FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
                              "AND attname = :c"), {"t": table, "c": column}) == "e", (table, column)


def test_a_render_chunk_reads_its_school_once_not_once_a_sheet(app, school, run_jobs):
    """Rendering sends no query a sheet: the school's heading (region, municipality, director) and the classes'
    teachers are read once per chunk, and each sheet's marks come with the chunk's rows."""
    def selects_while_rendering(classes):
        sheets = _sheets(school, *classes)
        db.commit()
        with app.test_request_context():
            batch = services.start_batch(BatchKind.render, school.org, YEAR, actor=school.director)
            db.commit()
        with statements_sent(app, "SELECT") as seen:
            run_jobs()
        session.refresh(batch)
        assert batch.status is BatchStatus.done and {s.id for s in sheets} <= set(batch.done_ids)
        for s in sheets:
            session.refresh(s)
            assert s.status is SheetStatus.rendered and s.pdf.startswith(b"%PDF")
        return seen, len(batch.done_ids)

    (two, n_two), (six, n_six) = selects_while_rendering(["7А", "7Б"]), selects_while_rendering(
        ["8А", "8Б", "8В", "8Г", "8Д", "8Е"])    # the second batch renders the first's sheets again, too
    assert n_six > n_two and len(six) == len(two), six   # rows, school, class teachers: a query each per chunk
    directors = [s for s in six if "role_grants.role =" in " ".join(s.split())]
    assert len(directors) == 1, "the director looked up more than once"
