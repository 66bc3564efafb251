"""The smaller scope checks of the security review (issue 17): drafts, the assignments API, the responsible
person named by id, the executor picked for an order."""
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from assignments import services as svc
from assignments.models import Occurrence, OccurrenceKind
from core.db import session
from ordinances import services as ordsvc
from ordinances.models.ordinances import ExecutorKind, OrdinanceStatus
from ordinances.parsing.parser import parse_file
from orgs import accounts
from tests.helpers import csrf_token

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"


def _order(issuer, actor, *, in_force=True):
    o = ordsvc.create_from_parsed(parse_file(next(SEEDS.glob("001_*.txt"))), issuer=issuer, actor=actor)
    if in_force:
        ordsvc.set_status(o, OrdinanceStatus.in_force, actor=actor)
    return o


def test_a_draft_is_seen_only_by_its_editors(client, logged_in, make_user, tree):
    official = make_user("regional_official", tree["region"])
    draft = _order(tree["region"], official, in_force=False)
    director = make_user("director", tree["a"])
    logged_in(director)
    assert client.get(f"/ordinances/{draft.id}").status_code == 404
    assert f"/ordinances/{draft.id}\"" not in client.get("/ordinances").get_data(as_text=True)
    _, token = accounts.issue_token(director, "t")
    listed = client.get("/api/v1/ordinances", headers={"Authorization": f"Bearer {token}"}).json
    assert draft.id not in [o["id"] for o in listed["items"]]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(official)
    assert client.get(f"/ordinances/{draft.id}").status_code == 200
    ordsvc.set_status(draft, OrdinanceStatus.in_force, actor=official)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(director)
    assert client.get(f"/ordinances/{draft.id}").status_code == 200           # in force: the school reads it


def test_the_assignments_api_checks_the_order_is_readable(client, make_user, tree, make_org):
    other_region = make_org("region", name="Соседняя область")
    theirs = _order(other_region, make_user("regional_official", other_region))
    official = make_user("regional_official", tree["region"])
    _, token = accounts.issue_token(official, "t")
    item = next(i for i in theirs.plan.items if i.number == "2.6")
    resp = client.post("/api/v1/assignments", headers={"Authorization": f"Bearer {token}"},
                       json={"plan_item_id": item.id, "assigner_id": tree["region"].id, "kinds": ["school"],
                             "horizon": ["2010-09-01", "2011-08-31"]})
    assert resp.status_code == 403


def test_the_responsible_person_named_by_id_must_work_there(make_user, tree):
    official = make_user("regional_official", tree["region"])
    municipal = make_user("municipal_official", tree["m1"])
    order = _order(tree["region"], official)
    item = next(i for i in order.plan.items if i.number == "2.6")
    a = svc.create_assignment(item, tree["region"], [tree["m1"]], horizon=(dt.date(2010, 9, 1), dt.date(2011, 8, 31)),
                              appointment_due=dt.date(2010, 11, 30))
    appt = session.scalars(select(Occurrence).where(Occurrence.assignment_id == a.id,
                                                    Occurrence.kind == OccurrenceKind.appointment)).first()
    stranger = make_user("director", tree["b"])                                # another municipality's school
    with pytest.raises(svc.AssignmentError, match="не сотрудник"):
        svc.submit(appt, actor=municipal, responsible={"name": "Чужой", "user_id": stranger.id},
                   files=[svc.Upload("prikaz.pdf", b"order 12")])
    colleague = make_user("municipal_official", tree["m1"])
    svc.submit(appt, actor=municipal, responsible={"name": "Коллега", "user_id": colleague.id},
               files=[svc.Upload("prikaz.pdf", b"order 12")])
    assert appt.target.responsible_user_id == colleague.id


def test_an_executor_is_picked_from_the_orders_region_only(make_user, tree, make_org):
    official = make_user("regional_official", tree["region"])
    order = _order(tree["region"], official, in_force=False)
    (executor,) = next(i for i in order.plan.items if i.number == "1.1").executors
    assert executor.kind is ExecutorKind.unmatched
    elsewhere = make_org("region", name="Другая область")
    outsider = make_user("regional_official", elsewhere)
    with pytest.raises(ordsvc.OrdinanceError, match="региона документа"):
        ordsvc.resolve_executor(executor, user_id=outsider.id, actor=official)
    with pytest.raises(ordsvc.OrdinanceError, match="региона документа"):
        ordsvc.resolve_executor(executor, organisation_id=elsewhere.id, actor=official)
    ordsvc.resolve_executor(executor, user_id=official.id, actor=official)
    assert executor.kind is ExecutorKind.person
