"""Duties given in an order's clauses (orders without a plan table): parsed with their executors and deadlines,
shown for correction, saved, and assigned and tracked exactly as plan rows are (issue 18)."""
import datetime as dt
import json
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from assignments import dashboards
from assignments import services as asvc
from assignments.models import Occurrence, OccurrenceKind
from ordinances import services as svc
from ordinances.models.ordinances import DeadlineKind, ExecutorKind, OrdinanceStatus
from ordinances.parsing.parser import parse_file
from tests.helpers import csrf_token, form_fields

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
HEADS = ["З.И.Гонтарь", "О.И.Здрок", "О.А.Литвинова", "Ю.Г.Цыпкин"]
START = "Муниципальному учреждению «Краснодарский методический центр информационно-коммуникационных " \
        "технологий «Старт» (В.А.Дьяченко)"


def seed(prefix: str) -> Path:
    return next(SEEDS.glob(f"{prefix}_*.txt"))


def duties(o) -> dict:
    return {c.number: c.duty for c in o.clauses if c.duty is not None}


@pytest.fixture
def start_centre(make_org, tree):
    return make_org("methodical_centre", tree["m1"],
                    name="МУ «Краснодарский методический центр информационно-коммуникационных технологий «Старт»»")


def test_004_clause_duties_as_written(tree, make_user, start_centre):
    official = make_user("municipal_official", tree["m1"])
    o = svc.create_from_parsed(parse_file(seed("004")), issuer=tree["m1"], actor=official)
    d = duties(o)
    assert set(d) == {"2.1", "2.2", "2.3", "3.1", "3.2", "3.3", "3.4", "3.5", "4.1", "4.2"}
    assert [e.text for e in d["2.1"].executors] == HEADS
    assert d["2.1"].deadline_kind is DeadlineKind.once and d["2.1"].dates == [dt.date(2011, 4, 25)]
    assert any("раньше даты документа" in w for w in d["2.1"].warnings)         # before the order: still warned
    assert d["2.3"].deadline_kind is DeadlineKind.recurring and d["2.3"].dates[:2] == [dt.date(2011, 4, 30),
                                                                                       dt.date(2011, 5, 30)]
    for n in ("3.1", "3.2", "3.3", "3.4", "3.5"):
        (e,) = d[n].executors
        assert e.text == "Руководителям общеобразовательных учреждений"
        assert (e.kind, e.group_roles, e.group_kinds) == (ExecutorKind.group, ["director"], ["school"])
    assert d["3.5"].deadline_kind is DeadlineKind.continuous
    assert d["3.1"].deadline_kind is DeadlineKind.unparsed and "Срок не указан" in d["3.1"].warnings
    for n in ("4.1", "4.2"):
        (e,) = d[n].executors
        assert e.text == START and e.kind is ExecutorKind.organisation and e.organisation_id == start_centre.id
    assert d["4.2"].deadline_kind is DeadlineKind.recurring
    # headings, «Утвердить», the control clause: done by the issuer itself
    assert not {"1", "2", "3", "4", "5"} & set(d)
    assert o.plan.title == "Поручения по документу" and [s.from_clauses for s in o.plan.sections] == [True]


def test_001_and_002_clause_duties(tree, make_user):
    official = make_user("regional_official", tree["region"])
    o1 = svc.create_from_parsed(parse_file(seed("001")), issuer=tree["region"], actor=official)
    d = duties(o1)
    assert set(d) == {"2.1", "2.2", "3.1", "4.1", "4.2", "4.3"}
    assert [e.text for e in d["3.1"].executors] == ["ТОГУ «Компьютерный центр» (Маковеев С.Н.)"]
    groups = [(e.group_roles, e.group_kinds) for e in d["4.1"].executors]
    assert groups == [(["municipal_official"], ["municipality"]), (["director"], ["school"])]
    table = [s for s in o1.plan.sections if not s.from_clauses]
    assert sum(len(s.items) for s in table) == 11                    # the plan table as before
    o2 = svc.create_from_parsed(parse_file(seed("002")), issuer=tree["m1"], actor=official)
    (only,) = duties(o2).values()
    assert only.number == "1" and [e.group_kinds for e in only.executors] == [["school"]]
    assert only.deadline_kind is DeadlineKind.unparsed


@pytest.mark.parametrize("prefix", ["000", "003"])
def test_letters_have_no_clause_duties(tree, make_user, prefix):
    data = parse_file(seed(prefix))
    data["title"] = data["title"] or "Об электронных журналах"          # 003 has none: the user types it
    o = svc.create_from_parsed(data, issuer=tree["region"], actor=make_user("regional_official", tree["region"]))
    assert o.plan is None and not duties(o)


def test_cli_parse_prints_clause_executors_and_deadlines(app):
    result = app.test_cli_runner().invoke(args=["ordinance", "parse", str(seed("004"))])
    assert result.exit_code == 0, result.output
    clauses = {c["number"]: c for c in json.loads(result.output)["clauses"]}
    assert clauses["2.1"]["executors"] == HEADS and clauses["2.1"]["deadline"]["dates"] == ["2011-04-25"]
    assert clauses["2"]["executors"] == [] and clauses["4.2"]["deadline"]["kind"] == "recurring"


def test_preview_corrects_a_clause_duty_and_edit_keeps_it(client, make_user, tree, logged_in, start_centre):
    official = make_user("municipal_official", tree["m1"])
    logged_in(official)
    with open(seed("004"), "rb") as f:
        preview = client.post("/ordinances/new", data={"csrf_token": csrf_token(client, "/ordinances/new"),
                                                       "file": (f, "prikaz_271.txt")},
                              content_type="multipart/form-data")
    html = preview.get_data(as_text=True)
    assert "Срок 25.04.2011 раньше даты документа 26.04.2011" in html
    fields = form_fields(html, "ordinance-form")
    row = next(k.rsplit("-", 1)[0] for k, v in fields.items() if k.endswith("-number") and v == "3.1"
               and k.startswith("clause-"))
    assert fields[f"{row}-executors"] == "Руководителям общеобразовательных учреждений"
    fields[f"{row}-deadline"] = "до 01.09.2011"                                  # the user adds the date
    row22 = next(k.rsplit("-", 1)[0] for k, v in fields.items() if k.startswith("clause-") and v == "2.2")
    fields[f"{row22}-executors"] = ""                                            # and drops a duty
    resp = client.post("/ordinances/save", data=fields)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    from core.db import session
    from ordinances.models.ordinances import Ordinance
    o = session.scalars(select(Ordinance).where(Ordinance.number == "271")).one()
    d = duties(o)
    assert "2.2" not in d and d["3.1"].dates == [dt.date(2011, 9, 1)]
    page = client.get(f"/ordinances/{o.id}").get_data(as_text=True)
    assert f'href="#item-{d["3.1"].id}"' in page and "По пунктам документа" in page
    # the edit form shows the duty again; saving it unchanged keeps executors and dates
    edit = form_fields(client.get(f"/ordinances/{o.id}/edit").get_data(as_text=True), "ordinance-form")
    assert client.post(f"/ordinances/{o.id}/edit", data=edit).status_code == 302
    session.refresh(o)
    again = duties(o)
    assert set(again) == set(d) and again["3.1"].dates == [dt.date(2011, 9, 1)]
    assert [e.text for e in again["2.1"].executors] == HEADS


def test_a_clause_duty_is_assigned_answered_and_counted(tree, make_user, start_centre):
    official = make_user("municipal_official", tree["m1"])
    o = svc.create_from_parsed(parse_file(seed("004")), issuer=tree["m1"], actor=official)
    svc.set_status(o, OrdinanceStatus.in_force, actor=official)
    d = duties(o)
    horizon = (dt.date(2011, 4, 26), dt.date(2011, 8, 31))
    monthly = asvc.create_assignment(d["2.3"], tree["m1"], [tree["a"], tree["a2"]], actor=official, horizon=horizon)
    support = asvc.create_assignment(d["4.2"], tree["m1"], [start_centre], actor=official, horizon=horizon)
    occs = session_occurrences(monthly.id)
    assert {(oc.org_id, oc.due_date) for oc in occs} >= {(tree["a"].id, dt.date(2011, 4, 30)),
                                                         (tree["a2"].id, dt.date(2011, 5, 30))}
    director = make_user("director", tree["a"])
    first = next(oc for oc in occs if oc.org_id == tree["a"].id and oc.due_date == dt.date(2011, 4, 30))
    with freeze_time("2011-04-29"):
        asvc.submit(first, actor=director, text="отчёт за апрель")
        asvc.accept(first, actor=official)
    assert session_occurrences(support.id)                                     # МЦ «Старт» has its own
    counts = dashboards.org_counts(tree["a"], start=horizon[0], end=horizon[1], today=dt.date(2011, 6, 15))
    assert counts.assigned == len([oc for oc in occs if oc.org_id == tree["a"].id])
    assert (counts.on_time, counts.late, counts.overdue) == (1, 0, 1)           # April on time, May overdue


def session_occurrences(assignment_id: int) -> list[Occurrence]:
    from core.db import session
    return list(session.scalars(select(Occurrence).where(Occurrence.assignment_id == assignment_id,
                                                         Occurrence.kind == OccurrenceKind.deadline)))


@pytest.mark.parametrize(("prefix", "reply", "target"), [("000", "2014-06-03", "2014-09-01"),
                                                         ("003", "", "2014-01-01")])
def test_a_campaign_from_a_letter_takes_its_dates(client, tree, make_user, logged_in, prefix, reply, target):
    from transitions.models import Campaign
    official = make_user("regional_official", tree["region"])
    data = parse_file(seed(prefix))
    data["title"] = data["title"] or "О переводе на электронные журналы"
    letter = svc.create_from_parsed(data, issuer=tree["region"], actor=official)
    svc.set_status(letter, OrdinanceStatus.in_force, actor=official)
    logged_in(official)
    assert "Кампания перехода по документу" in client.get(f"/ordinances/{letter.id}").get_data(as_text=True)
    page = client.get(f"/transitions/new?ordinance_id={letter.id}").get_data(as_text=True)
    fields = form_fields(page, "campaign-form")
    assert (fields["ordinance_id"], fields["reply_deadline"], fields["target_date"]) == (str(letter.id), reply, target)
    assert client.post("/transitions/new", data=fields).status_code == 302             # saved without retyping
    from core.db import session
    c = session.scalars(select(Campaign).where(Campaign.ordinance_id == letter.id)).one()
    assert c.target_date.isoformat() == target and (c.reply_deadline.isoformat() if c.reply_deadline else "") == reply


def test_a_support_body_answers_its_task(client, logged_in, tree, make_user, start_centre):
    """МЦ «Старт» staff (the executor role) see the task of п. 4.2 in their inbox and answer it on the page;
    the municipality accepts it. They see nothing of the schools."""
    from assignments.models import Notification, OccurrenceStatus
    from core.db import session
    official = make_user("municipal_official", tree["m1"])
    o = svc.create_from_parsed(parse_file(seed("004")), issuer=tree["m1"], actor=official)
    svc.set_status(o, OrdinanceStatus.in_force, actor=official)
    staff = make_user("executor", start_centre, full_name="Дьяченко Валентина Андреевна")
    a = asvc.create_assignment(duties(o)["4.2"], tree["m1"], [start_centre], actor=official,
                               horizon=(dt.date(2026, 9, 1), dt.date(2027, 5, 31)))
    assert session.query(Notification).filter_by(user_id=staff.id).count() >= 1
    occ = session_occurrences(a.id)[0]
    logged_in(staff)
    assert "мониторинг апробации" in client.get("/assignments/my").get_data(as_text=True)
    resp = client.post(f"/assignments/occurrences/{occ.id}/submit",
                       data={"csrf_token": csrf_token(client, "/"), "text": "Мониторинг за сентябрь проведён"})
    assert resp.status_code == 302 and occ.status is OccurrenceStatus.submitted and occ.submitted_by_id == staff.id
    assert client.get(f"/year-end/{tree['m1'].id}").status_code == 403
    assert client.get("/sheets").status_code == 403
    asvc.accept(occ, actor=official)
    assert occ.status is OccurrenceStatus.accepted


def test_district_offices_sit_between_a_city_and_its_schools(tree, make_org, make_user):
    """Krasnodar's district offices (004 п. 2): schools under them count as the city's — they are found when
    the city gives a task to «all its schools», and the district's head answers for its office."""
    from orgs.models.organisations import municipality_of
    from orgs.services import OrgError
    district = make_org("district_office", tree["m1"], name="Отдел образования Западного округа")
    school = make_org("school", district, name="Школа З")
    with pytest.raises(OrgError, match="может входить только в"):
        make_org("district_office", tree["region"])
    assert municipality_of(school).id == tree["m1"].id
    official = make_user("municipal_official", tree["m1"])
    o = svc.create_from_parsed(parse_file(seed("004")), issuer=tree["m1"], actor=official)
    svc.set_status(o, OrdinanceStatus.in_force, actor=official)
    targets = asvc.resolve_targets(tree["region"], municipality_ids=[tree["m1"].id])
    assert school.id in {t.id for t in targets}
    a = asvc.create_assignment(duties(o)["2.1"], tree["m1"], [district], actor=official,
                               horizon=(dt.date(2011, 4, 1), dt.date(2011, 8, 31)))
    (occ,) = session_occurrences(a.id)
    assert occ.municipality_id == tree["m1"].id
    head = make_user("municipal_official", district)
    asvc.submit(occ, actor=head, text="График представлен")
    asvc.accept(occ, actor=official)


def test_002_keeps_its_authors_phone(tree, make_user):
    o = svc.create_from_parsed(parse_file(seed("002")), issuer=tree["m1"], actor=make_user("municipal_official",
                                                                                           tree["m1"]))
    (author,) = [a for a in o.approvals if a.role == "author"]
    assert (author.name, author.phone) == ("А.И.Юсупов", "246-26-07")
    assert svc.to_dict(o)["approval"]["author"]["phone"] == "246-26-07"


def test_004_controllers_see_their_parts(client, logged_in, tree, make_user, start_centre):
    """004 п. 5 splits control: А.С.Некрасов — «апробации и внедрения», И.А.Алфёрова — «функционирования».
    Each is matched to their user and sees the duties of their part with how their assignments stand."""
    from ordinances.control import duties_by_controller
    nekrasov = make_user("municipal_official", tree["m1"], full_name="Некрасов Александр Сергеевич")
    alfyorova = make_user("municipal_official", tree["m1"], full_name="Алфёрова Ирина Анатольевна")
    o = svc.create_from_parsed(parse_file(seed("004")), issuer=tree["m1"], actor=nekrasov)
    svc.set_status(o, OrdinanceStatus.in_force, actor=nekrasov)
    by_user = {c.user_id: c for c in o.controllers}
    assert set(by_user) == {nekrasov.id, alfyorova.id}
    by_controller = duties_by_controller(o)
    parts = {c.user_id: {it.number for it in by_controller[c.id]} for c in o.controllers}
    assert {"2.2", "3.3"} <= parts[nekrasov.id] and "2.2" not in parts[alfyorova.id]       # апробация и внедрение
    assert "4.2" in parts[nekrasov.id] and "4.2" in parts[alfyorova.id]   # мониторинг апробации … и функционирования
    asvc.create_assignment(duties(o)["3.3"], tree["m1"], [tree["a"], tree["a2"]], actor=nekrasov,
                           horizon=(dt.date(2026, 9, 1), dt.date(2027, 5, 31)), rule="dates",
                           dates=[dt.date(2026, 10, 1)])
    logged_in(nekrasov)
    assert "ход исполнения по частям" in client.get(f"/ordinances/{o.id}").get_data(as_text=True)
    page = client.get(f"/assignments/control/{o.id}").get_data(as_text=True)
    assert page.index("это вы") < page.index("Алфёрова") and "апробации и внедрения" in page
    assert f"/assignments/control/{o.id}" in client.get("/assignments/control").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(make_user("municipal_official", tree["m2"]))                  # another district: not theirs
    assert client.get(f"/assignments/control/{o.id}").status_code == 403
