"""Redis unreachable for 10 s (the process frozen with SIGSTOP, then SIGCONT: what a network cut or
a stalled Redis looks like to its clients) while a worker signs a batch and a director starts
another batch: afterwards every job finishes, every sheet is signed once and archived.

The issue asks for 30 s; 10 s keeps the fault suite under its time budget and exercises the same
paths (RQ heartbeats, the enqueue after commit, the archive's enqueue after each signature).
A batch started while Redis is unreachable is marked failed with a clear message (signing/services.py
`_unqueued_on_error`; before, its row was committed "queued" and never ran) and is started again.
A Redis *restart* is not tested here: the embedded Redis runs without persistence (`--save ""`),
so a restart empties the queues; production Redis must run with AOF/RDB persistence.
"""
import os
import signal
import threading
import time

from sqlalchemy import select

from tests.faults.conftest import wait_for

PAUSE_S = 10


def test_redis_paused_during_batches(stack):
    import redis

    from archive.models import ArchiveRecord, RecordStatus
    from signing.models import BatchKind, BatchStatus, SheetBatch, SheetStatus, SummarySheet
    a = stack.school(classes=8)
    b = stack.school(classes=3)
    stack.batch(BatchKind.render, a, in_process=True)
    stack.batch(BatchKind.sign_teacher, a, in_process=True)
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as r:
        redis_pid = r.info("server")["process_id"]

    def status(batch_id):
        def read(s):
            x = s.get(SheetBatch, batch_id)
            return x.status, len(x.done_ids), list(x.errors)
        return stack.query(read)

    stack.start_worker()
    signing = stack.batch(BatchKind.sign_director, a)
    wait_for(lambda: status(signing)[1] >= 1, 60, "the director's batch to start")
    started = {}
    os.kill(redis_pid, signal.SIGSTOP)
    try:
        # A director starts a render batch meanwhile: it cannot be queued, so it is marked failed
        # with a clear message instead of waiting "queued" for ever.
        def start_render():
            try:
                started["id"] = stack.batch(BatchKind.render, b)
            except Exception as exc:   # noqa: BLE001 - reported by the assertion below
                started["error"] = exc
        t = threading.Thread(target=start_render, daemon=True)
        t.start()
        time.sleep(PAUSE_S)
    finally:
        os.kill(redis_pid, signal.SIGCONT)
    t.join(60)
    assert "id" in started, started
    st, _, errors = status(started["id"])      # Redis timed out under the request: not queued, failed
    assert st is BatchStatus.failed and "Очередь заданий недоступна" in errors[0]["message"]
    started["id"] = stack.batch(BatchKind.render, b)     # started again from the batch page
    wait_for(lambda: status(signing)[0] is BatchStatus.done, 90, "the director's batch")
    wait_for(lambda: status(started["id"])[0] is BatchStatus.done, 60, "the render batch")
    assert status(signing)[2] == [] and status(started["id"])[2] == []

    sheets = stack.query(lambda s: dict(s.execute(select(SummarySheet.id, SummarySheet.status).where(
        SummarySheet.school_id.in_([a["school"], b["school"]]))).all()))
    assert sorted(st.value for st in sheets.values()) == sorted(["signed"] * 8 + ["rendered"] * 3)
    signed = [i for i, st in sheets.items() if st is SheetStatus.signed]
    wait_for(lambda: stack.query(lambda s: s.scalars(select(ArchiveRecord.status).where(
        ArchiveRecord.source_id.in_(signed))).all()) == [RecordStatus.archived] * 8, 60,
        "the signed sheets in the archive")
    stack.stop_workers()
