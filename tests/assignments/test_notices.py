"""Notifications for every duty (issue 18): a reply form or report form opened, a report or a stage returned, a
stage falling due — in the inbox, and in the daily e-mail digest unless the user turned it off."""
import datetime as dt
import email
from email import policy

from assignments import notifications
from assignments.models import Notification
from core.db import session
from reports import services as reports
from tests.assignments.test_tasks import smtp  # noqa: F401  (the local SMTP server fixture)
from tests.helpers import csrf_token
from transitions import services as transitions


def inbox(user) -> list[str]:
    return [n.kind for n in session.query(Notification).filter_by(user_id=user.id).order_by(Notification.id)]


def test_transition_and_report_notices_reach_the_inbox(db, tree, make_user):
    official = make_user("regional_official", tree["region"])
    mouo, mouo2 = make_user("municipal_official", tree["m1"]), make_user("municipal_official", tree["m2"])
    director = make_user("director", tree["a"])
    c = transitions.create_campaign(region=tree["region"], title="Безбумажно с 01.09.2026",
                                    target_date=dt.date(2026, 9, 1), reply_deadline=dt.date(2026, 6, 3), actor=official)
    transitions.set_recommended(c, [tree["a"], tree["b"]], actor=official)
    transitions.publish_list(c, actor=official)
    assert inbox(mouo) == ["transition.reply"] and inbox(mouo2) == ["transition.reply"] and inbox(director) == []
    note = session.query(Notification).filter_by(user_id=mouo.id).one()
    assert note.url == f"/transitions/{c.id}/reply/{tree['m1'].id}" and "03.06.2026" in note.text
    # a stage returned to the school
    stage = next(s for s in c.stages if s.code == "platform")
    transitions.submit_evidence(c, tree["a"], stage, {"platform": "dnevnik_ru"}, actor=director)
    transitions.decide(transitions.state_for(c, tree["a"], stage), accept=False, comment="Нет ссылки",
                       actor=mouo)
    assert inbox(director) == ["transition.stage.return"]
    # a report form opened for the municipalities, a report returned
    spec = reports.DEFAULT_FORMS["monthly"]
    form = reports.create_form(owner=tree["region"], title=spec["title"], periodicity=spec["periodicity"],
                               deadline_text=spec["deadline_text"], submitter_kind="municipality",
                               fields=spec["fields"], first_period=dt.date(2026, 10, 1), actor=official)
    assert inbox(mouo)[-1] == "report.form" and inbox(director) == ["transition.stage.return"]
    sub = reports.save_submission(form, tree["m1"], reports.period_from_key(form, "2026-10"),
                                  {"schools_total": "2", "schools_electronic": "1", "schools_paperless": "0",
                                   "paperless_share": "0", "parents_link": "no"}, submit=True, actor=mouo)
    reports.decide_submission(sub, accept=False, comment="Проверьте долю", actor=official)
    assert inbox(mouo)[-1] == "report.return"


def test_stages_falling_due_are_told_once_by_the_daily_run(db, tree, make_user):
    official = make_user("regional_official", tree["region"])
    director = make_user("director", tree["a"])
    c = transitions.create_campaign(region=tree["region"], title="Безбумажно с 01.09.2026",
                                    target_date=dt.date(2026, 9, 1), reply_deadline=dt.date(2026, 6, 3), actor=official)
    transitions.set_recommended(c, [tree["a"]], actor=official)
    transitions.publish_list(c, actor=official)
    stage = next(s for s in c.stages if s.code == "platform")
    transitions.update_stage(stage, title=stage.title, due_date=dt.date(2026, 7, 10), actor=official)
    from core.signals import day_started  # what the daily run (assignments.tasks.daily_run) sends
    day_started.send(dt.date(2026, 7, 6))
    assert inbox(director) == []                                       # four days ahead: not yet
    day_started.send(dt.date(2026, 7, 7))                              # three days ahead
    day_started.send(dt.date(2026, 7, 8))
    assert inbox(director) == ["transition.stage.due"]
    day_started.send(dt.date(2026, 7, 11))                             # the day after, not accepted
    assert inbox(director) == ["transition.stage.due"] * 2
    texts = [n.text for n in session.query(Notification).filter_by(user_id=director.id).order_by(Notification.id)]
    assert "10.07.2026: представьте" in texts[0] and "истёк 10.07.2026" in texts[1]


def test_the_digest_carries_new_notices_and_the_user_may_turn_it_off(app, db, tree, make_user, smtp,  # noqa: F811
                                                                     client, logged_in):
    official = make_user("regional_official", tree["region"])
    mouo = make_user("municipal_official", tree["m1"])
    mouo.email = "mouo@district.example"
    c = transitions.create_campaign(region=tree["region"], title="Безбумажно с 01.09.2026",
                                    target_date=dt.date(2026, 9, 1), reply_deadline=dt.date(2026, 6, 3), actor=official)
    transitions.set_recommended(c, [tree["a"]], actor=official)
    transitions.publish_list(c, actor=official)
    day = dt.date.today()
    assert mouo.id in notifications.digest_recipients(day)
    assert notifications.send_digest(mouo.id, day)
    (msg,) = smtp.messages
    body = email.message_from_bytes(msg.content, policy=policy.default).get_body().get_content()
    assert "Новые уведомления (1)" in body and f"/transitions/{c.id}/reply/{tree['m1'].id}" in body
    # the user turns the e-mail off on their account page: no digest the next day
    logged_in(mouo)
    resp = client.post("/account/digest", data={"csrf_token": csrf_token(client, "/account")})
    assert resp.status_code == 302 and mouo.email_digest is False
    assert mouo.id not in notifications.digest_recipients(day + dt.timedelta(days=1))
    assert not notifications.send_digest(mouo.id, day + dt.timedelta(days=1))
    assert len(smtp.messages) == 1
