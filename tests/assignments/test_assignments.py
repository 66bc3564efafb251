"""Assignments: fan-out, cascade, regeneration without duplicates, the status workflow, overdue at a frozen date,
dashboards that agree with a naive count."""
import datetime as dt
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from assignments import dashboards
from assignments import services as svc
from assignments.models import Assignment, Notification, Occurrence, OccurrenceEvent, OccurrenceKind
from assignments.models import OccurrenceStatus as S
from core.audit import AuditEntry
from ordinances import services as ordsvc
from ordinances.models.ordinances import OrdinanceStatus
from ordinances.parsing.parser import parse_file

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
D = dt.date


def seed(prefix: str) -> Path:
    return next(SEEDS.glob(f"{prefix}_*.txt"))


@pytest.fixture
def people(tree, make_user):
    return {
        "region": make_user("regional_official", tree["region"]),
        "m1": make_user("municipal_official", tree["m1"]),
        "m2": make_user("municipal_official", tree["m2"]),
        "a": make_user("director", tree["a"]),
        "a2": make_user("director", tree["a2"]),
        "b": make_user("director", tree["b"]),
    }


@pytest.fixture
def plan001(db, tree, people):
    """Order 001 in force: its plan items by number."""
    o = ordsvc.create_from_parsed(parse_file(seed("001")), issuer=tree["region"], actor=people["region"])
    ordsvc.set_status(o, OrdinanceStatus.in_force, actor=people["region"])
    return {i.number: i for i in o.plan.table_items}


def occs(a: Assignment, **where) -> list[Occurrence]:
    from core.db import session
    stmt = select(Occurrence).where(Occurrence.assignment_id == a.id).filter_by(**where) \
        .order_by(Occurrence.org_id, Occurrence.kind, Occurrence.planned_date)
    return list(session.scalars(stmt))


SCHOOL_YEAR_2010 = (D(2010, 9, 1), D(2011, 8, 31))


def test_fan_out_one_by_one_by_kind_and_schools_of_municipalities(db, tree, people, plan001):
    region = tree["region"]
    one = svc.resolve_targets(region, org_ids=[tree["a"].id, tree["institute"].id])
    assert {o.id for o in one} == {tree["a"].id, tree["institute"].id}
    by_kind = svc.resolve_targets(region, kinds=["school"])
    assert {o.id for o in by_kind} == {tree[k].id for k in ("a", "a2", "b", "b2")}
    of_m1 = svc.resolve_targets(region, municipality_ids=[tree["m1"].id])
    assert {o.id for o in of_m1} == {tree["a"].id, tree["a2"].id}
    with pytest.raises(svc.AssignmentError, match="не входит"):
        svc.resolve_targets(tree["m1"], org_ids=[tree["b"].id])

    # 1.3 «Апрель, сентябрь» over the school year 2010/11: 30.04.2011 (30.09.2010 is before the order's date)
    a = svc.create_assignment(plan001["1.3"], region, by_kind, actor=people["region"], horizon=SCHOOL_YEAR_2010,
                              appointment_due=D(2010, 11, 20))
    rows = occs(a)
    deadlines = [o for o in rows if o.kind is OccurrenceKind.deadline]
    assert {(o.org_id, o.due_date) for o in deadlines} == {(s.id, D(2011, 4, 30)) for s in by_kind}
    appointments = [o for o in rows if o.kind is OccurrenceKind.appointment]
    assert len(appointments) == 4 and {o.due_date for o in appointments} == {D(2010, 11, 20)}
    # denormalised placement for the dashboards
    a_occ = next(o for o in deadlines if o.org_id == tree["a"].id)
    assert (a_occ.municipality_id, a_occ.region_id) == (tree["m1"].id, region.id)
    # the directors got an inbox entry; the audit has the assignment
    from core.db import session
    assert session.scalar(select(func.count()).select_from(Notification)
                          .where(Notification.user_id == people["a"].id, Notification.kind == "assignment.new")) == 1
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "assignment.create", AuditEntry.object_id == str(a.id))) == 1


def test_continuous_item_needs_a_confirmation_choice(db, tree, people, plan001):
    schools = svc.resolve_targets(tree["region"], kinds=["school"])
    with pytest.raises(svc.AssignmentError, match="периодичность"):
        svc.create_assignment(plan001["2.5"], tree["region"], schools, horizon=SCHOOL_YEAR_2010)
    q = svc.create_assignment(plan001["2.5"], tree["region"], schools, rule="quarterly", horizon=SCHOOL_YEAR_2010)
    # «Постоянно» from 08.11.2010: quarter ends 31.12, 31.03, 30.06 (30.09.2010 is before the start)
    assert sorted({o.due_date for o in occs(q)}) == [D(2010, 12, 31), D(2011, 3, 31), D(2011, 6, 30)]
    none = svc.create_assignment(plan001["2.7"], tree["region"], schools[:1], rule="none", horizon=SCHOOL_YEAR_2010)
    assert occs(none) == []


def test_draft_ordinance_cannot_be_assigned(db, tree, people):
    o = ordsvc.create_from_parsed(parse_file(seed("001")), issuer=tree["region"], actor=people["region"])
    with pytest.raises(svc.AssignmentError, match="не действует"):
        svc.create_assignment(o.plan.items[4], tree["region"], [tree["a"]])


def test_regeneration_is_idempotent_and_keeps_submitted_work(db, tree, people, plan001):
    region = tree["region"]
    schools = svc.resolve_targets(region, kinds=["school"])
    # 2.6 «Ежеквартально» over 2010/11: 31.12.2010, 31.03.2011, 30.06.2011
    a = svc.create_assignment(plan001["2.6"], region, schools, horizon=SCHOOL_YEAR_2010)
    assert len(occs(a)) == 4 * 3
    again = svc.generate(a)
    assert (again.inserted, again.deleted) == (0, 0)
    assert len(occs(a)) == 4 * 3

    # School A answers the first quarter, then the rule changes to monthly within Jan–Mar only.
    first = next(o for o in occs(a) if o.org_id == tree["a"].id and o.due_date == D(2010, 12, 31))
    svc.submit(first, actor=people["a"], text="Отчёт за квартал")
    result = svc.change_rule(a, rule="monthly", horizon=(D(2011, 1, 1), D(2011, 3, 31)), actor=people["region"])
    dates_a = sorted(o.due_date for o in occs(a, org_id=tree["a"].id))
    # monthly Jan–Mar, plus the submitted 31.12 kept; the untouched 30.06 is gone; 31.03 was kept, not duplicated
    assert dates_a == [D(2010, 12, 31), D(2011, 1, 31), D(2011, 2, 28), D(2011, 3, 31)]
    assert result.deleted == 4 + 3          # 31.12 of three schools, 30.06 of four
    kept = next(o for o in occs(a) if o.id == first.id)
    assert kept.status is S.submitted
    assert svc.generate(a).inserted == 0

    # The set changes: B2 leaves, the institute joins. B2's untouched occurrences go; nothing is duplicated.
    new_set = [o for o in schools if o.id != tree["b2"].id] + [tree["institute"]]
    svc.set_targets(a, new_set, actor=people["region"])
    orgs = {o.org_id for o in occs(a)}
    assert tree["b2"].id not in orgs and tree["institute"].id in orgs
    total = len(occs(a))
    svc.set_targets(a, new_set, actor=people["region"])
    assert len(occs(a)) == total
    # the unique key holds in the database too
    from core.db import session
    dup = session.execute(select(Occurrence.org_id, Occurrence.kind, Occurrence.planned_date, func.count())
                          .where(Occurrence.assignment_id == a.id)
                          .group_by(Occurrence.org_id, Occurrence.kind, Occurrence.planned_date)
                          .having(func.count() > 1)).all()
    assert dup == []


def test_full_status_workflow(db, tree, people, plan001):
    a = svc.create_assignment(plan001["2.1"], tree["region"], [tree["a"]], horizon=SCHOOL_YEAR_2010)
    (occ,) = occs(a)
    assert occ.status is S.pending and occ.due_date == D(2010, 11, 11)
    with pytest.raises(svc.AssignmentError, match="Опишите"):
        svc.submit(occ, actor=people["a"])
    with pytest.raises(svc.AssignmentError, match="Ссылка"):
        svc.submit(occ, actor=people["a"], link="javascript:alert(1)")
    svc.submit(occ, actor=people["a"], text="Назначен ответственный", link="https://school.example/order.pdf",
               files=[svc.Upload("приказ №5.pdf", b"%PDF-1.4 order", "application/pdf")])
    assert occ.status is S.submitted and occ.submitted_by_id == people["a"].id
    (ev,) = occ.evidence
    assert ev.filename == "приказ №5.pdf" and ev.storage_key == svc.evidence_key(ev.sha256)
    assert ev.store == "files"                      # the ordinary store, not the archive's WORM bucket
    assert svc.read_evidence(ev) == b"%PDF-1.4 order"

    # the director cannot review own school; the municipality can; the same file again reuses the object
    assert not svc.may_accept(people["a"], occ) and svc.may_accept(people["m1"], occ)
    assert not svc.may_accept(people["m2"], occ)
    svc.return_(occ, actor=people["m1"], comment="Нет подписи директора")
    assert occ.status is S.returned
    svc.submit(occ, actor=people["a"], text="Подпись добавлена")
    with pytest.raises(svc.AssignmentError, match="комментари"):
        svc.return_(occ, actor=people["m1"], comment=" ")
    svc.accept(occ, actor=people["m1"])
    assert occ.status is S.accepted and occ.late is True          # submitted in 2026 for a 2010 deadline
    kinds = [e.kind for e in occ.events]
    assert kinds == ["submit", "return", "submit", "accept"]
    from core.db import session
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "Occurrence",
                                                              AuditEntry.object_id == str(occ.id))
                              .order_by(AuditEntry.id)).all()
    assert actions == ["occurrence.submit", "occurrence.return", "occurrence.submit", "occurrence.accept"]
    with pytest.raises(svc.AssignmentError):
        svc.accept(occ, actor=people["m1"])


def test_own_submission_cannot_be_accepted_by_the_submitter(db, tree, people, plan001):
    a = svc.create_assignment(plan001["2.1"], tree["region"], [tree["a"]], horizon=SCHOOL_YEAR_2010)
    (occ,) = occs(a)
    svc.submit(occ, actor=people["m1"], text="за школу")      # МОУО may answer for its school…
    assert not svc.may_accept(people["m1"], occ)              # …but then someone else accepts it
    with pytest.raises(svc.AssignmentError, match="Свой"):
        svc.accept(occ, actor=people["m1"])
    svc.accept(occ, actor=people["region"])


def test_appointment_names_the_responsible_person(db, tree, people, plan001):
    a = svc.create_assignment(plan001["2.6"], tree["region"], [tree["m1"]], horizon=SCHOOL_YEAR_2010,
                              appointment_due=D(2010, 11, 30))
    appt = occs(a, kind=OccurrenceKind.appointment)[0]
    with pytest.raises(svc.AssignmentError, match="ответственного"):
        svc.submit(appt, actor=people["m1"], text="назначили")
    svc.submit(appt, actor=people["m1"], responsible={"name": "Иванова А.А.", "position": "ведущий специалист"},
               files=[svc.Upload("prikaz.pdf", b"order 12")])
    assert appt.target.responsible_name == "Иванова А.А."
    svc.accept(appt, actor=people["region"])


def test_extension_with_reason_reopens_an_overdue_occurrence(db, tree, people, plan001):
    a = svc.create_assignment(plan001["2.2"], tree["region"], [tree["a"]], horizon=SCHOOL_YEAR_2010)
    (occ,) = occs(a)
    with freeze_time("2010-11-20"):
        assert svc.mark_overdue() == 1
        db.refresh(occ)
        assert occ.status is S.overdue
        with pytest.raises(svc.AssignmentError, match="причину"):
            svc.extend(occ, actor=people["m1"], new_due=D(2010, 12, 1), reason="")
        with pytest.raises(svc.AssignmentError, match="позже"):
            svc.extend(occ, actor=people["m1"], new_due=D(2010, 11, 1), reason="x")
        svc.extend(occ, actor=people["m1"], new_due=D(2010, 12, 1), reason="Школа на карантине")
        assert occ.status is S.pending and occ.due_date == D(2010, 12, 1) and occ.planned_date == D(2010, 11, 15)
        ext = occ.events[-1]
        assert (ext.kind, ext.actor_id, ext.text, ext.old_due) == ("extend", people["m1"].id, "Школа на карантине",
                                                                   D(2010, 11, 15))
        assert svc.may_extend(people["m1"], occ) and not svc.may_extend(people["a"], occ)
        # regeneration keys on the rule's date: the extended occurrence is not duplicated
        assert svc.generate(a).inserted == 0


def test_overdue_at_a_frozen_date(db, tree, people, plan001):
    schools = svc.resolve_targets(tree["region"], kinds=["school"])
    a = svc.create_assignment(plan001["2.6"], tree["region"], schools, horizon=SCHOOL_YEAR_2010)
    region = tree["region"]
    first_a = next(o for o in occs(a) if o.org_id == tree["a"].id and o.due_date == D(2010, 12, 31))
    with freeze_time("2010-12-20"):
        svc.submit(first_a, actor=people["a"], text="в срок")
    with freeze_time("2011-01-10"):
        today = svc.today()
        assert today == D(2011, 1, 10)
        # before the sweep the dashboards already count the three silent schools as overdue
        rows, total = dashboards.region_dashboard(region, start=SCHOOL_YEAR_2010[0], end=SCHOOL_YEAR_2010[1],
                                                  today=today)
        assert (total.counts.assigned, total.counts.overdue, total.counts.on_review) == (12, 3, 1)
        assert svc.mark_overdue() == 3
        assert svc.mark_overdue() == 0                      # a second run changes nothing
        statuses = {(o.org_id, o.due_date): o.status for o in occs(a)}
        assert statuses[(tree["a"].id, D(2010, 12, 31))] is S.submitted
        assert statuses[(tree["b"].id, D(2010, 12, 31))] is S.overdue
        assert statuses[(tree["b"].id, D(2011, 3, 31))] is S.pending
        rows2, total2 = dashboards.region_dashboard(region, start=SCHOOL_YEAR_2010[0], end=SCHOOL_YEAR_2010[1],
                                                    today=today)
        assert total2.counts == total.counts
        from core.db import session
        assert session.scalar(select(func.count()).select_from(OccurrenceEvent)
                              .where(OccurrenceEvent.kind == "overdue")) == 3
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "occurrence.overdue")) == 1
        # A on time: accepted; its completion was before the due date
        svc.accept(first_a, actor=people["m1"])
        assert first_a.late is False


def test_cascade_parent_completes_when_schools_are_accepted(db, tree, people, plan001):
    region = tree["region"]
    a = svc.create_assignment(plan001["2.1"], region, [tree["m1"], tree["m2"]], horizon=SCHOOL_YEAR_2010)
    m1_target = next(t for t in a.targets if t.org_id == tree["m1"].id)
    assert svc.may_cascade(people["m1"], m1_target) and not svc.may_cascade(people["m2"], m1_target)
    child = svc.cascade(m1_target, [tree["a"], tree["a2"]], actor=people["m1"])
    with pytest.raises(svc.AssignmentError, match="уже передал"):
        svc.cascade(m1_target, [tree["a"]], actor=people["m1"])
    with pytest.raises(svc.AssignmentError, match="не входит"):
        svc.cascade(next(t for t in a.targets if t.org_id == tree["m2"].id), [tree["a"]], actor=people["m2"])
    (parent,) = occs(a, org_id=tree["m1"].id)
    kids = occs(child)
    assert len(kids) == 2 and {k.parent_id for k in kids} == {parent.id}
    assert {k.due_date for k in kids} == {D(2010, 11, 11)}

    # M1 cannot close its own occurrence while the schools are not done — unless it gives a reason
    with pytest.raises(svc.AssignmentError, match="причину"):
        svc.submit(parent, actor=people["m1"], text="готово")
    ka, ka2 = sorted(kids, key=lambda k: k.org_id)
    svc.submit(ka, actor=people["a"], text="сделано")
    svc.accept(ka, actor=people["m1"])
    db.refresh(parent)
    assert parent.status is S.pending
    svc.submit(ka2, actor=people["a2"], text="сделано")
    svc.accept(ka2, actor=people["m1"])
    db.refresh(parent)
    assert parent.status is S.submitted and parent.events[-1].kind == "auto_submit"
    # the region accepts the municipality's occurrence; M1 itself cannot
    assert not svc.may_accept(people["m1"], parent) and svc.may_accept(people["region"], parent)
    svc.accept(parent, actor=people["region"])

    # M2 closes its occurrence with a reason instead (it has no cascade)
    (p2,) = occs(a, org_id=tree["m2"].id)
    svc.submit(p2, actor=people["m2"], text="Выполнено силами МОУО")
    assert p2.status is S.submitted and p2.closed_reason is None


def test_cascade_closed_with_a_reason(db, tree, people, plan001):
    a = svc.create_assignment(plan001["2.1"], tree["region"], [tree["m1"]], horizon=SCHOOL_YEAR_2010)
    child = svc.cascade(a.targets[0], [tree["a"], tree["a2"]], actor=people["m1"])
    (parent,) = occs(a)
    svc.submit(parent, actor=people["m1"], text="Итоги", close_reason="Школа А2 закрыта на ремонт")
    assert parent.status is S.submitted and parent.closed_reason == "Школа А2 закрыта на ремонт"
    # the rule changes at the top: the cascade follows, without duplicates
    svc.change_rule(a, rule="dates", dates=[D(2010, 11, 11), D(2010, 12, 1)], horizon=SCHOOL_YEAR_2010)
    assert sorted({o.due_date for o in occs(child)}) == [D(2010, 11, 11), D(2010, 12, 1)]
    assert len(occs(child)) == 4
    new_parent = next(o for o in occs(a) if o.due_date == D(2010, 12, 1))
    assert {k.parent_id for k in occs(child) if k.due_date == D(2010, 12, 1)} == {new_parent.id}


def test_dashboards_agree_with_a_naive_count(db, tree, people, plan001):
    region = tree["region"]
    targets = svc.resolve_targets(region, kinds=["school", "municipality", "institute"])
    a = svc.create_assignment(plan001["2.6"], region, targets, horizon=SCHOOL_YEAR_2010)
    by = {(o.org_id, o.due_date): o for o in occs(a)}
    with freeze_time("2010-12-30"):
        svc.submit(by[(tree["a"].id, D(2010, 12, 31))], actor=people["a"], text="в срок")
        svc.submit(by[(tree["b"].id, D(2010, 12, 31))], actor=people["b"], text="в срок")
    with freeze_time("2011-01-05"):
        svc.submit(by[(tree["a2"].id, D(2010, 12, 31))], actor=people["a2"], text="поздно")
        svc.accept(by[(tree["a"].id, D(2010, 12, 31))], actor=people["m1"])
        svc.accept(by[(tree["a2"].id, D(2010, 12, 31))], actor=people["m1"])
    today = D(2011, 4, 5)
    rows, total = dashboards.region_dashboard(region, start=SCHOOL_YEAR_2010[0], end=SCHOOL_YEAR_2010[1], today=today)
    naive = dashboards.region_dashboard_naive(region, start=SCHOOL_YEAR_2010[0], end=SCHOOL_YEAR_2010[1], today=today)
    assert {r.org_id: r.counts for r in rows if r.counts.assigned} == naive
    m1 = next(r for r in rows if r.org_id == tree["m1"].id)
    # M1: itself + A + A2, three quarters each = 9; A on time, A2 late; due so far: 31.12 and 31.03
    assert (m1.counts.assigned, m1.counts.on_time, m1.counts.late, m1.counts.overdue) == (9, 1, 1, 4)
    assert m1.counts.rate == pytest.approx(1 / 6)
    inst = next(r for r in rows if r.org_id is None)
    assert inst.label == dashboards.REGION_LEVEL and inst.counts.assigned == 3
    drill, mtotal = dashboards.municipality_dashboard(tree["m1"], start=SCHOOL_YEAR_2010[0], end=SCHOOL_YEAR_2010[1],
                                                      today=today)
    assert [r.org_id for r in drill][0] == tree["m1"].id
    assert mtotal.counts == m1.counts
    assert {r.org_id: r.counts.assigned for r in drill} == {tree["m1"].id: 3, tree["a"].id: 3, tree["a2"].id: 3}
