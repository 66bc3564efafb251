"""The daily run: overdue sweep, the e-mail digest (a real local SMTP server) sent once per user per day,
and the schedule registered idempotently."""
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from assignments import services as svc
from assignments import tasks
from assignments.models import DigestClaim, Occurrence
from assignments.models import OccurrenceStatus as S
from core.jobs import queue
from ordinances import services as ordsvc
from ordinances.models.ordinances import OrdinanceStatus
from ordinances.parsing.parser import parse_file
from orgs import accounts as auth
from web import embedded

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
D = dt.date


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp(app, monkeypatch):
    from aiosmtpd.controller import Controller
    sink = Sink()
    port = embedded.free_ports(1)[0]
    ctrl = Controller(sink, hostname="127.0.0.1", port=port)
    ctrl.start()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://journals.example.ru")
    try:
        yield sink
    finally:
        ctrl.stop()


@pytest.fixture
def setup(db, tree, make_user):
    official = make_user("regional_official", tree["region"])
    director = auth.create_user("dir-a", "Директор Школы А", "pass-word-123", email="dir-a@school.example")
    auth.grant(director, auth.Role.director, tree["a"])
    o = ordsvc.create_from_parsed(parse_file(next(SEEDS.glob("001_*.txt"))), issuer=tree["region"], actor=official)
    ordsvc.set_status(o, OrdinanceStatus.in_force, actor=official)
    items = {i.number: i for i in o.plan.table_items}
    year = (D(2010, 9, 1), D(2011, 8, 31))
    overdue = svc.create_assignment(items["2.1"], tree["region"], [tree["a"], tree["b"]], horizon=year)   # 11.11.2010
    soon = svc.create_assignment(items["2.2"], tree["region"], [tree["a"], tree["b"]], horizon=year)      # 15.11.2010
    return {"director": director, "official": official, "overdue": overdue, "soon": soon}


def test_digest_is_sent_once_per_user_and_day(db, app, setup, smtp, redis_conn, run_jobs):
    day = "2010-11-13"
    q = queue("notifications")
    q.enqueue(tasks.send_digest, setup["director"].id, day)
    run_jobs()
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg.rcpt_tos == ["dir-a@school.example"]
    body = msg.content.decode()
    assert "Subject: =?utf-8?" in body or "Поручения на 13.11.2010" in body
    import email
    from email import policy
    parsed = email.message_from_bytes(msg.content, policy=policy.default)
    text = parsed.get_content()
    assert "Просрочено (1)" in text and "Срок в ближайшие дни (1)" in text
    assert "Школа А" in text and "Школа Б" not in text
    assert "https://journals.example.ru/assignments/occurrences/" in text
    # the same job again (a retry, a second scheduler): nothing more is sent
    q.enqueue(tasks.send_digest, setup["director"].id, day)
    run_jobs()
    assert len(smtp.messages) == 1
    claims = db.scalars(select(DigestClaim)).all()
    assert [(c.user_id, c.day, c.sent) for c in claims] == [(setup["director"].id, D(2010, 11, 13), True)]
    # the next day is a new digest
    q.enqueue(tasks.send_digest, setup["director"].id, "2010-11-14")
    run_jobs()
    assert len(smtp.messages) == 2


def test_daily_run_twice_marks_overdue_once_and_mails_once(db, app, setup, smtp, redis_conn, run_jobs):
    q = queue("notifications")
    q.enqueue(tasks.daily_run, "2010-11-13")
    run_jobs()
    # 11.11 passed for A and B: overdue; 15.11 still pending
    statuses = db.execute(select(Occurrence.assignment_id, Occurrence.status, func.count())
                          .group_by(Occurrence.assignment_id, Occurrence.status)).all()
    assert set(statuses) == {(setup["overdue"].id, S.overdue, 2), (setup["soon"].id, S.pending, 2)}
    assert len(smtp.messages) == 1            # only the director has an e-mail address
    q.enqueue(tasks.daily_run, "2010-11-13")
    run_jobs()
    assert len(smtp.messages) == 1
    # the run scheduled the next day's run, once
    scheduled = q.scheduled_job_registry.get_job_ids()
    assert scheduled == [tasks.daily_job_id(D(2010, 11, 14))]


def test_no_smtp_no_mail_no_claim(db, app, setup, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    assert tasks.notifications.send_digest(setup["director"].id, D(2010, 11, 13)) is False
    assert db.scalar(select(func.count()).select_from(DigestClaim)) == 0


def test_a_failed_send_is_retried(db, app, setup, monkeypatch):
    """The claim is part of the job's transaction: if SMTP refuses, nothing is claimed and a retry sends."""
    port = embedded.free_ports(1)[0]                      # nothing listens there
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{port}")
    from core import db as dbm
    with pytest.raises(OSError):
        tasks.send_digest(setup["director"].id, "2010-11-13")
    dbm.rollback()
    assert db.scalar(select(func.count()).select_from(DigestClaim)) == 0


def test_schedule_is_registered_once(app, redis_conn):
    morning = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.timezone.utc)       # 05:00 in Moscow: today's run is ahead
    first = tasks.schedule_daily(app, now=morning)
    again = tasks.schedule_daily(app, now=morning + dt.timedelta(minutes=30))
    assert first == again == "assignments-daily-20260301"
    registry = queue("notifications", app).scheduled_job_registry
    assert registry.get_job_ids() == [first]
    when = registry.get_scheduled_time(first)
    assert when == dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.timezone.utc)   # 07:00 Moscow
    later = tasks.schedule_daily(app, now=dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc))
    assert later == "assignments-daily-20260302"
    assert sorted(registry.get_job_ids()) == [first, later]
