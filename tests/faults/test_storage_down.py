"""SeaweedFS stopped while the director's signed sheets go to the archive: the records stay
"pending" with the reason shown, nothing says "archived" without its object; once the storage is
back the retry (the dashboard's requeue, which the 15-minute sweep also does) archives them all,
each object read back, and the fixity run is clean."""
import hashlib

from sqlalchemy import select

from tests.faults.conftest import wait_for


def test_storage_down_during_ingest(stack):
    from archive import fixity
    from archive.models import ArchiveRecord, RecordStatus
    from archive.services import requeue
    from core import db
    from core.db import session
    from core.storage import get_storage
    from sheets.models import BatchKind, BatchStatus, SheetBatch, SheetStatus, SummarySheet
    ids = stack.school(classes=6)
    stack.batch(BatchKind.render, ids, in_process=True)
    stack.batch(BatchKind.sign_teacher, ids, in_process=True)
    sheet_ids = stack.query(lambda s: s.scalars(select(SummarySheet.id).where(
        SummarySheet.school_id == ids["school"])).all())
    assert len(sheet_ids) == 6

    def records(s):
        return [(r.id, r.status, r.attempts, r.last_error, r.key, r.sha256, r.source_sha256) for r in s.scalars(
            select(ArchiveRecord).where(ArchiveRecord.source_id.in_(sheet_ids)).order_by(ArchiveRecord.id))]

    stack.stop("weed")
    try:
        stack.start_worker()
        batch_id = stack.batch(BatchKind.sign_director, ids)
        wait_for(lambda: stack.query(lambda s: s.get(SheetBatch, batch_id).status) is BatchStatus.done, 60,
                 "the director's batch")
        assert stack.query(lambda s: set(s.scalars(select(SummarySheet.status).where(
            SummarySheet.id.in_(sheet_ids))))) == {SheetStatus.signed}
        # Every ingest tried once and failed: still pending, the reason kept for the dashboard.
        down = wait_for(lambda: (lambda rs: len(rs) == 6 and all(r[2] >= 1 for r in rs) and rs)(
            stack.query(records)), 60, "the failed ingest attempts")
        assert {r[1] for r in down} == {RecordStatus.pending}
        assert all("Хранилище недоступно" in (r[3] or "") for r in down), [r[3] for r in down]
    finally:
        stack.start("weed")

    # Back: requeue the pending records (a retry already scheduled by RQ is left to run).
    with stack.app.app_context():
        for r in session.scalars(select(ArchiveRecord).where(ArchiveRecord.source_id.in_(sheet_ids))):
            requeue(r)
        db.commit()
        session.remove()
    done = wait_for(lambda: (lambda rs: {r[1] for r in rs} == {RecordStatus.archived} and rs)(stack.query(records)),
                    60, "the records archived after the storage came back")
    stack.stop_workers()

    with stack.app.app_context():
        store = get_storage()
        pdfs = dict(session.execute(select(SummarySheet.id, SummarySheet.pdf)
                                    .where(SummarySheet.id.in_(sheet_ids))).all())
        for _id, _status, _attempts, _err, key, sha, _src in done:
            assert key and hashlib.sha256(store.get(key)).hexdigest() == sha
        assert sorted(hashlib.sha256(p).hexdigest() for p in pdfs.values()) == sorted(r[6] for r in done)
        run = fixity.run(record_ids=[r[0] for r in done], trigger="manual")
        db.commit()
        assert (run.checked, run.ok, run.changed, run.missing, run.errors) == (6, 6, 0, 0, 0)
        session.remove()
