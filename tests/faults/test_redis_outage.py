"""Redis killed (kill -9) for 30 s and started again on the same port and data dir, while two RQ
workers sign a director's batch and ingest the signed sheets into the archive, and another director
starts a batch: afterwards every job has finished, nothing queued is lost, every sheet is signed
exactly once and archived with its object verified.

- Why kill -9 and not a clean stop: it is the nastier case (no shutdown, no last write of the AOF,
  connections reset mid-command). The fault stack's Redis keeps an AOF with `appendfsync always`
  (conftest.py), so nothing it acknowledged is lost; its queues, registries and scheduled jobs come
  back with it. Production Redis must run with AOF for the same reason (docs/operations.md).
- The workers ride the outage out: their Redis client waits up to web.worker.REDIS_WAIT_S for Redis
  (before that fix both workers quit within a second: rq 3 ends `work()` on the ConnectionError of
  `job.get_status()` or of a heartbeat made while a job runs, and their jobs stayed "started").
  So the same two processes are still alive afterwards and no job is left started or failed.
- The batch started while Redis is down cannot be queued: it is marked failed with a clear message
  (signing/services.py `_unqueued_on_error`) and started again once Redis is back, as the director
  does from the sheets page (which calls the same `start_batch`).
"""
import hashlib
import time
from types import SimpleNamespace

from sqlalchemy import select

from tests.faults.conftest import wait_for

PAUSE_S = 30


def _signatures(stack, pdf: bytes) -> int:
    import pades
    from core.trust import load_roots
    reports = pades.validate(pdf, load_roots(stack.env["TRUST_ROOTS"]))
    assert all(r.intact and r.valid and r.trusted and r.bottom_line for r in reports), \
        [r.summary_ru for r in reports]
    return len(reports)


def _rq_jobs(stack):
    """Ids of the jobs RQ holds as started, and as failed, in the workers' queues."""
    from rq.registry import FailedJobRegistry, StartedJobRegistry

    from core.jobs import queue
    with stack.app.app_context():
        qs = [queue("signing"), queue("archive")]
        return ({j for q in qs for j in StartedJobRegistry(queue=q).get_job_ids()},
                {j for q in qs for j in FailedJobRegistry(queue=q).get_job_ids()})


def test_redis_killed_during_batches(stack):
    from archive import fixity
    from archive.models import ArchiveRecord, RecordStatus
    from core import db
    from core.db import session
    from core.storage import get_storage
    from sheets.models import BatchKind, BatchStatus, SheetBatch, SheetStatus, SummarySheet
    a = stack.school(classes=30)      # long enough to be half-way when Redis goes
    b = stack.school(classes=3)
    for ids in (a, b):
        stack.batch(BatchKind.render, ids, in_process=True)
        stack.batch(BatchKind.sign_teacher, ids, in_process=True)
    schools = [a["school"], b["school"]]
    failed_before = _rq_jobs(stack)[1]       # other fault tests' jobs (storage down) are not ours

    def status(batch_id):
        return stack.query(lambda s: (lambda x: (x.status, len(x.done_ids), len(x.sheet_ids), list(x.errors)))(
            s.get(SheetBatch, batch_id)))

    def archived():
        return stack.query(lambda s: s.scalars(select(ArchiveRecord.status).where(
            ArchiveRecord.school_id.in_(schools))).all()).count(RecordStatus.archived)

    def ingesting():
        return archived() >= 1 or any(j.startswith("ingest-") for j in _rq_jobs(stack)[0])

    workers = [stack.start_worker(), stack.start_worker()]
    signing = stack.batch(BatchKind.sign_director, a)
    wait_for(lambda: status(signing)[1] >= 3 and ingesting(), 90,
             "the director's batch to be under way and the archive to ingest")
    stack.kill_redis()
    down_at = time.monotonic()
    try:
        st, done, total, _ = status(signing)
        assert st is BatchStatus.running and done < total == 30, (st, done)    # really mid-batch
        # Another director starts a batch meanwhile: it cannot be queued, so it is marked failed
        # with a clear message instead of waiting "queued" for ever.
        lost = stack.batch(BatchKind.sign_director, b)
        st, done, _, errors = status(lost)
        assert st is BatchStatus.failed and done == 0
        assert "Очередь заданий недоступна" in errors[0]["message"]
        time.sleep(max(0.0, PAUSE_S - (time.monotonic() - down_at)))     # the outage itself
        assert [w.poll() for w in workers] == [None, None], "a worker quit while Redis was down"
    finally:
        stack.start("redis")
    outage = time.monotonic() - down_at
    assert outage >= PAUSE_S

    again = stack.batch(BatchKind.sign_director, b)     # started again from the sheets page
    wait_for(lambda: status(signing)[0] is BatchStatus.done, 120, "the director's batch")
    wait_for(lambda: status(again)[0] is BatchStatus.done, 60, "the batch started again")
    assert status(signing)[1:] == (30, 30, []) and status(again)[1:] == (3, 3, [])
    assert status(lost)[0] is BatchStatus.failed          # the failed one stays failed, with its message

    # Every sheet signed exactly once by the teacher and once by the director; none half-signed.
    def sheets(s):
        return [SimpleNamespace(id=r.id, status=r.status, pdf=r.pdf) for r in s.scalars(
            select(SummarySheet).where(SummarySheet.school_id.in_(schools)).order_by(SummarySheet.id))]
    after = stack.query(sheets)
    assert [r.status for r in after] == [SheetStatus.signed] * 33
    assert [_signatures(stack, r.pdf) for r in after] == [2] * 33

    # Each in the archive, once, its object there and its SHA-256 the PDF's; the fixity run is clean.
    wait_for(lambda: archived() == 33, 120, "the signed sheets in the archive")
    with stack.app.app_context():
        records = session.scalars(select(ArchiveRecord).where(ArchiveRecord.school_id.in_(schools))).all()
        assert sorted(r.source_id for r in records) == [r.id for r in after]
        pdfs = {r.id: r.pdf for r in after}
        store = get_storage()
        for r in records:
            assert r.sha256 == r.source_sha256 == hashlib.sha256(pdfs[r.source_id]).hexdigest()
            assert hashlib.sha256(store.get(r.key)).hexdigest() == r.sha256
        run = fixity.run(record_ids=[r.id for r in records], trigger="manual")
        db.commit()
        assert (run.checked, run.ok, run.changed, run.missing, run.errors) == (33, 33, 0, 0, 0)
        session.remove()

    # RQ lost nothing and holds nothing: no job of ours stuck "started" or failed; the same workers.
    wait_for(lambda: not _rq_jobs(stack)[0], 60, "no job left started")
    assert _rq_jobs(stack)[1] == failed_before
    assert [w.poll() for w in workers] == [None, None]
    stack.stop_workers()
