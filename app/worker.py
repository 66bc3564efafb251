"""The RQ worker process: `python -m app.worker [queue ...]` (queues in priority order)."""
import sys

from rq import Worker

from app import create_app
from app.jobs import QUEUES, queue, redis_connection


def main(argv: list[str]) -> None:
    app = create_app()
    names = argv or ["notifications", "signing", "archive", "reports", "default"]
    unknown = set(names) - set(QUEUES)
    if unknown:
        raise SystemExit(f"unknown queues: {', '.join(sorted(unknown))}")
    preload(app)
    from workflow.tasks import schedule_daily
    schedule_daily(app)   # the daily overdue sweep + digests; idempotent (one job id per day)
    from archive.tasks import schedule as schedule_archive
    schedule_archive(app)  # archive: fixity hourly, B-LTA renewal daily, pending sweep; idempotent
    Worker([queue(n, app) for n in names], connection=redis_connection(app)).work(with_scheduler=True)


def preload(app) -> None:
    """Warm the parent once, so each forked work-horse starts with the app, the job modules and the
    fonts already loaded instead of paying for them on every job (app.jobs hands the horse this app
    and gives it a fresh database pool after the fork)."""
    import importlib

    from app import jobs
    jobs.adopt_worker_app(app)
    for module in ("signing.tasks", "archive.tasks", "workflow.tasks"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError:
            pass
    from signing import render
    render._register_fonts()


if __name__ == "__main__":
    main(sys.argv[1:])
