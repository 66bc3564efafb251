"""kill -9 an RQ worker (and its work-horse) in the middle of a director's signing batch, then run
the batch again on a fresh worker: every sheet ends signed exactly once, none half-signed, and
every signed sheet reaches the archive with its object verified."""
from types import SimpleNamespace

from sqlalchemy import select

from tests.faults.conftest import wait_for


def _validate_all(stack, sheets, count):
    import pades
    from core.trust import load_roots
    ca = load_roots(stack.env["TRUST_ROOTS"])
    for s in sheets:
        reports = pades.validate(s.pdf, ca)
        assert len(reports) == count, (s.id, len(reports))
        assert all(r.intact and r.valid and r.trusted and r.bottom_line for r in reports), \
            [r.summary_ru for r in reports]


def test_worker_killed_mid_signing_batch(stack):
    from archive.models import ArchiveRecord, RecordStatus
    from core.jobs import queue
    from sheets.models import BatchKind, BatchStatus, SheetBatch, SheetStatus, SummarySheet
    from sheets.tasks import run_batch
    ids = stack.school(classes=14)
    stack.batch(BatchKind.render, ids, in_process=True)
    stack.batch(BatchKind.sign_teacher, ids, in_process=True)

    def batch_state(batch_id):
        return stack.query(lambda s: (lambda b: (b.status, list(b.done_ids), list(b.errors), list(b.sheet_ids)))(
            s.get(SheetBatch, batch_id)))

    worker = stack.start_worker()
    batch_id = stack.batch(BatchKind.sign_director, ids)
    wait_for(lambda: len(batch_state(batch_id)[1]) >= 3, 60, "the first signed sheets")
    stack.kill_worker(worker)
    status, done, errors, sheet_ids = batch_state(batch_id)
    assert status is BatchStatus.running and 3 <= len(done) < len(sheet_ids) == 14, (status, done)

    # Nothing half-done: every sheet is either signed by both (committed) or still teacher-signed.
    def sheets(s):
        return [SimpleNamespace(id=r.id, status=r.status, pdf=r.pdf) for r in s.scalars(
            select(SummarySheet).where(SummarySheet.school_id == ids["school"]).order_by(SummarySheet.id))]
    mid = stack.query(sheets)
    assert {r.status for r in mid} <= {SheetStatus.signed, SheetStatus.teacher_signed}
    _validate_all(stack, [r for r in mid if r.status is SheetStatus.signed], 2)
    _validate_all(stack, [r for r in mid if r.status is SheetStatus.teacher_signed], 1)
    assert {r.id for r in mid if r.status is SheetStatus.signed} >= set(done)

    # A fresh worker, and the batch run again (what `rq requeue` of the abandoned job does).
    stack.start_worker()
    with stack.app.app_context():
        queue("signing").enqueue(run_batch, batch_id, job_id=f"sheet-batch-{batch_id}-rerun")
    wait_for(lambda: batch_state(batch_id)[0] is BatchStatus.done, 90, "the resumed batch")
    status, done, errors, sheet_ids = batch_state(batch_id)
    assert errors == [] and sorted(done) == sorted(sheet_ids) and len(done) == len(set(done)) == 14

    after = stack.query(sheets)
    assert [r.status for r in after] == [SheetStatus.signed] * 14
    _validate_all(stack, after, 2)      # exactly two signatures each: nobody signed twice

    # The archive got every one of them, stored and read back.
    sheet_ids = [r.id for r in after]

    def archived(s):
        return s.scalars(select(ArchiveRecord.status).where(ArchiveRecord.source_id.in_(sheet_ids))).all()
    wait_for(lambda: (lambda st: len(st) == 14 and set(st) == {RecordStatus.archived})(stack.query(archived)),
             60, "the signed sheets in the archive")
    stack.stop_workers()
