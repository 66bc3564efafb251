"""RQ jobs of the assignments: the daily run (overdue sweep + digests) and one digest per user.

Scheduling: when a worker starts (`python -m web.worker`, which runs with the RQ scheduler) it calls
`schedule_daily`, which puts tomorrow's (or today's, if the hour has not come) run into the scheduled-job
registry under the job id `assignments-daily-YYYYMMDD`. The run schedules the next day's the same way. The job
id is the day, so a second worker starting, a restart, or a run that is retried never adds a second run for the
same day: re-registration is idempotent. Each run is itself idempotent (the sweep changes only what is still
open and past due; each digest is claimed once per user and day).
"""
import datetime as dt
import logging

from flask import Flask
from rq.job import Job

from assignments import notifications
from assignments import services as svc
from core.jobs import enqueue_after_commit, job, queue, redis_connection
from core.signals import day_started

log = logging.getLogger(__name__)
DAILY_AT = dt.time(7, 0)      # Moscow time: before the working day starts
QUEUE = "notifications"


def daily_job_id(day: dt.date) -> str:
    return f"assignments-daily-{day:%Y%m%d}"


def digest_job_id(day: dt.date, user_id: int) -> str:
    return f"digest-{day:%Y%m%d}-{user_id}"


@job
def daily_run(day_iso: str | None = None) -> int:
    """Mark what became overdue, queue each user's digest (after this commit), schedule tomorrow's run."""
    day = dt.date.fromisoformat(day_iso) if day_iso else svc.today()
    marked = svc.mark_overdue(day)
    day_started.send(day)            # the other domains' daily work (stages falling due) — before the digests
    for user_id in notifications.digest_recipients(day):
        enqueue_after_commit(send_digest, user_id, day.isoformat(), queue_name=QUEUE,
                             job_id=digest_job_id(day, user_id))
    schedule_daily(after=day)
    return marked


@job
def send_digest(user_id: int, day_iso: str) -> bool:
    return notifications.send_digest(user_id, dt.date.fromisoformat(day_iso))


def next_run(now: dt.datetime | None = None, *, after: dt.date | None = None) -> dt.datetime:
    """The next DAILY_AT (Moscow) strictly after `now`, or on the day after `after`."""
    if after is not None:
        day = after + dt.timedelta(days=1)
    else:
        now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(svc.MOSCOW)
        day = now.date() if now.time() < DAILY_AT else now.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, DAILY_AT, tzinfo=svc.MOSCOW)


def schedule_daily(app: Flask | None = None, *, now: dt.datetime | None = None,
                   after: dt.date | None = None) -> str:
    """Put the next daily run into RQ's scheduled registry unless it is there already; returns its job id."""
    when = next_run(now, after=after)
    job_id = daily_job_id(when.date())
    conn = redis_connection(app)
    if Job.exists(job_id, connection=conn):
        return job_id
    queue(QUEUE, app).enqueue_at(when.astimezone(dt.timezone.utc), daily_run, when.date().isoformat(),
                                 job_id=job_id, result_ttl=7 * 86400, failure_ttl=30 * 86400)
    log.info("daily assignments run scheduled at %s (%s)", when.isoformat(), job_id)
    return job_id
