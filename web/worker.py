"""The RQ worker process: `python -m web.worker [queue ...]` (queues in priority order).

Its Redis client waits out an outage (a Redis restart, a network cut) of up to REDIS_WAIT_S,
reconnecting with a capped backoff. Without that an RQ worker quits at the first failed Redis call
made while a job runs (rq 3's monitor_work_horse lets the ConnectionError of a heartbeat or of
`job.get_status()` end `work()`), and its job stays "started" until RQ's cleanup of abandoned jobs,
minutes later (tests/faults/test_redis_outage.py). Only the worker waits: a web request gets its
error at once (a batch started then is marked failed, see signing/services.py)."""
import gc
import os
import sys
import time
from pathlib import Path

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from rq import SimpleWorker, Worker

from core.jobs import QUEUES, SERIALIZER, queue, redis_connection
from web import create_app
from web.config import ConfigError, require_public_url

REDIS_WAIT_S = 120        # after this long without Redis a worker gives up (systemd starts it again)
WORKER_NICE = 10          # default CPU priority of a worker below the web's (WORKER_NICE=0: the same)


class PatientRetry(Retry):
    """Retry connection errors (backoff 0.05 s doubling to 1 s) until `seconds` after the first failure.
    A time limit rather than a count: redis-py nests the connect's retries in the command's."""

    def __init__(self, seconds: float):
        super().__init__(ExponentialBackoff(cap=1.0, base=0.05), retries=-1)
        self.seconds = seconds

    def __eq__(self, other):
        return isinstance(other, PatientRetry) and other.seconds == self.seconds and super().__eq__(other)

    __hash__ = Retry.__hash__

    def call_with_retry(self, do, fail, is_retryable=None, with_failure_count=False):
        give_up_at = time.monotonic() + self.seconds

        def fail_or_give_up(error, *count):
            fail(error, *count)
            if time.monotonic() >= give_up_at:
                raise error
        return super().call_with_retry(do, fail_or_give_up, is_retryable, with_failure_count)


def patient_redis(url: str, seconds: float = REDIS_WAIT_S) -> Redis:
    return Redis.from_url(url, retry=PatientRetry(seconds))


def lower_priority(level: int) -> int:
    """Let the web go first when both want the CPU: a year-end batch must not starve the pages (issue 20;
    benchmarks/load.py measured a dashboard p95 of 1.2 s with workers at the web's priority). nice alone is
    not enough: with the kernel's autogroups (the default) a process competes only inside its session's
    group, so the worker takes a session of its own and lowers that group too. Returns the new nice."""
    if level <= 0:
        return os.nice(0)
    new = os.nice(level)
    try:
        os.setsid()                 # its own session, hence its own autogroup (not the web's, under `serve`)
    except OSError:
        pass                        # already a session leader (systemd, a terminal's job)
    try:
        Path("/proc/self/autogroup").write_text(str(min(level, 19)))
    except OSError:
        pass                        # no autogroups in this kernel: nice is what counts then
    return new


def main(argv: list[str]) -> None:
    lower_priority(int(os.environ.get("WORKER_NICE", WORKER_NICE)))
    app = create_app()
    try:
        require_public_url(app.config)   # sheets rendered by a batch print it
    except ConfigError as exc:
        raise SystemExit(f"Обработчик заданий не запущен: {exc}") from None
    # One client for the worker, its work-horses (the jobs' redis_connection()) and its scheduler.
    app.extensions["redis"] = patient_redis(app.config["REDIS_URL"])
    names = argv or ["notifications", "signing", "archive", "reports", "default"]
    unknown = set(names) - set(QUEUES)
    if unknown:
        raise SystemExit(f"unknown queues: {', '.join(sorted(unknown))}")
    preload(app)
    from assignments.tasks import schedule_daily
    schedule_daily(app)   # the daily overdue sweep + digests; idempotent (one job id per day)
    from archive.tasks import schedule as schedule_archive
    schedule_archive(app)  # archive: fixity hourly, B-LTA renewal daily, pending sweep; idempotent
    worker = worker_class()([queue(n, app) for n in names], connection=redis_connection(app), serializer=SERIALIZER)
    worker.work(with_scheduler=True)


def worker_class() -> type[Worker] | type[SimpleWorker]:
    """Warm by default (issue 20): jobs run in this process, which has loaded the app, the job modules, the
    fonts and the mappers once (`preload`), instead of a forked work-horse per job paying part of that again
    and losing its connections (database pool, TSA keep-alive, cached font subsets) at exit. A job's
    exception is still caught and recorded by RQ (failed registry, the job's failure callback); a job that
    kills the process (kill -9, out of memory) ends the worker, systemd or `serve` starts it again, and RQ's
    cleanup records the abandoned job as failed (its callback marks a batch «прерван»). WORKER_FORK=1 brings
    back RQ's fork per job for isolation at that cost."""
    return Worker if os.environ.get("WORKER_FORK", "").strip().lower() in ("1", "true", "yes", "on") else SimpleWorker


def preload(app) -> None:
    """Warm the worker once: the app, the job modules and the fonts loaded before the first job (and, with
    WORKER_FORK=1, inherited by each forked work-horse; core.jobs then gives the horse a fresh database pool)."""
    import importlib

    from core import jobs
    jobs.adopt_worker_app(app)
    # What the jobs import inside their functions too: minio and its crypto alone cost a horse ~0.17 s.
    for module in ("sheets.tasks", "archive.tasks", "assignments.tasks", "archive.ingest", "archive.lta",
                   "archive.verify", "pades", "minio"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            pass
    from sheets import render
    render.register_fonts()
    import pades
    pades.warm_up()
    from archive.ingest import software_version
    software_version()
    if app.config.get("ARCHIVE_URL"):
        from core.storage import get_storage
        get_storage(app)      # builds the client only (no I/O): each horse opens its own connections
        get_storage(app, name="files")
    # Mapper configuration runs on the first query of a process: ~0.4 s of every job when each
    # forked horse did it again (measured with cProfile in the horses of benchmarks/year_end.py).
    from sqlalchemy.orm import configure_mappers

    from core.db import import_models
    import_models()
    configure_mappers()
    freeze_startup_objects()
    gc.set_threshold(*WORKER_GC_THRESHOLDS)


# A batch allocates and frees PDFs' parse trees by the thousand objects. At Python's default thresholds (700, 10,
# 10) the collector ran a hundred times in a 50-sheet batch of benchmarks/year_end.py, the middle generation holding
# those trees (2.5-4 ms a collection), plus a full one: 94-104 ms a worker, 6 % of its CPU (gc.callbacks). At
# these, 49-55 ms: what refcounting frees never reaches the collector, cycles still do, the RSS is the same.
WORKER_GC_THRESHOLDS = (20_000, 20, 20)


def freeze_startup_objects() -> None:
    """Move what start-up built (≈ 300,000 objects: modules, mappers, fonts, templates) out of the cyclic
    garbage collector's reach. They live as long as the process, yet every full collection walked them again:
    a batch that decodes a class's marks (≈ 10,000 new objects a sheet) triggered one every few sheets, up to
    20 ms each (measured in the render batch). Objects made later are collected as before."""
    gc.collect()
    gc.freeze()


if __name__ == "__main__":
    main(sys.argv[1:])
