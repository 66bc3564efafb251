from rq.job import Job

from core import db as dbm
from core.jobs import enqueue_after_commit, ping, queue


def test_job_is_sent_only_after_commit(db, redis_conn, run_jobs):
    enqueue_after_commit(ping, "hello", job_id="ping-1")
    assert queue().count == 0                      # nothing sent before the commit
    dbm.commit()
    assert queue().count == 1
    run_jobs()
    assert Job.fetch("ping-1", connection=redis_conn, serializer=queue().serializer).return_value() == "hello"


def test_rolled_back_work_sends_no_job(db, redis_conn):
    enqueue_after_commit(ping, "never")
    dbm.rollback()
    dbm.commit()
    assert queue().count == 0


def test_same_job_id_is_queued_once(db, redis_conn):
    enqueue_after_commit(ping, "a", job_id="same")
    enqueue_after_commit(ping, "a", job_id="same")
    dbm.commit()
    assert queue().count == 1


def test_worker_process_runs_jobs(app, redis_conn, tmp_path):
    """A real `rq worker --burst` process (as in production), not an in-process worker."""
    import os
    import subprocess
    import sys
    q = queue(app=app)
    job = q.enqueue(ping, "from-a-process")
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "REDIS_URL": app.config["REDIS_URL"],
           "ARCHIVE_URL": app.config["ARCHIVE_URL"], "SECRET_KEY": "x"}
    subprocess.run([sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", app.config["REDIS_URL"],
                    "--serializer", "rq.serializers.JSONSerializer", "default"],
                   check=True, env=env, cwd=str(app.root_path.rsplit("/", 1)[0]), capture_output=True, timeout=120)
    job.refresh()
    assert job.is_finished and job.return_value() == "from-a-process"


class _RunsCodeWhenUnpickled:
    """What an attacker with write access to Redis would queue: unpickling it creates a file."""
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_worker_refuses_a_pickled_payload(db, redis_conn, run_jobs, tmp_path):
    from rq import Queue
    from rq.registry import FailedJobRegistry
    from rq.serializers import DefaultSerializer
    marker = tmp_path / "pwned"
    pickled = Queue("default", connection=redis_conn, serializer=DefaultSerializer)
    job = pickled.enqueue(ping, _RunsCodeWhenUnpickled(marker))
    assert not marker.exists()
    run_jobs()
    assert not marker.exists()                                   # the payload was never unpickled
    assert FailedJobRegistry(queue=queue()).get_job_ids() == [job.id] and queue().job_ids == []


def test_job_with_wrong_argument_shape_fails_cleanly(db, redis_conn, run_jobs):
    from rq.registry import FailedJobRegistry

    from sheets.tasks import run_batch
    bad = queue("signing").enqueue(run_batch, {"id": 1})
    run_jobs()
    bad = Job.fetch(bad.id, connection=redis_conn, serializer=queue().serializer)
    assert bad.is_failed and bad.id in FailedJobRegistry(queue=queue("signing")).get_job_ids()
    assert "argument 'batch_id' must be int, got dict" in bad.latest_result().exc_string
