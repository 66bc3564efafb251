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
    # No app context here: each forked work-horse builds its own app and database pool (app.jobs.job).
    Worker([queue(n, app) for n in names], connection=redis_connection(app)).work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
