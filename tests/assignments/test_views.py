"""Assignment pages, API, exports, feed and access: a school sees only its own occurrences."""
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from icalendar import Calendar
from openpyxl import load_workbook
from sqlalchemy import select

from assignments import services as svc
from assignments.models import Assignment, Occurrence
from assignments.models import OccurrenceStatus as S
from ordinances import services as ordsvc
from ordinances.models.ordinances import OrdinanceStatus
from ordinances.parsing.parser import parse_file
from orgs import accounts as auth
from tests.helpers import csrf_token, form_fields, statements_sent

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
D = dt.date
YEAR_2010 = (D(2010, 9, 1), D(2011, 8, 31))


@pytest.fixture
def people(tree, make_user):
    return {
        "region": make_user("regional_official", tree["region"]),
        "m1": make_user("municipal_official", tree["m1"]),
        "a": make_user("director", tree["a"]),
        "b": make_user("director", tree["b"]),
    }


@pytest.fixture
def order(db, tree, people):
    o = ordsvc.create_from_parsed(parse_file(next(SEEDS.glob("001_*.txt"))), issuer=tree["region"],
                                  actor=people["region"])
    ordsvc.set_status(o, OrdinanceStatus.in_force, actor=people["region"])
    return o


def items(order):
    return {i.number: i for i in order.plan.table_items}


def schools(tree):
    return [tree[k] for k in ("a", "a2", "b", "b2")]


def test_assign_from_the_plan_page(client, logged_in, tree, people, order):
    logged_in(people["region"])
    page = client.get(f"/ordinances/{order.id}").get_data(as_text=True)
    item = items(order)["2.6"]
    assert f"/assignments/new/{item.id}" in page
    form = client.get(f"/assignments/new/{item.id}").get_data(as_text=True)
    fields = form_fields(form, "assign-form")
    for checkbox in ("org_ids", "kinds", "municipality_ids"):   # the helper collects unchecked boxes too
        fields.pop(checkbox, None)
    fields.update({"horizon_start": "2010-09-01", "horizon_end": "2011-08-31", "appointment_due": ""})
    # nothing chosen: a clear message, status 400, nothing written
    resp = client.post(f"/assignments/new/{item.id}", data=fields)
    assert resp.status_code == 400 and "Выберите хотя бы одну организацию" in resp.get_data(as_text=True)
    resp = client.post(f"/assignments/new/{item.id}", data={**fields, "kinds": "municipality",
                                                             "municipality_ids": str(tree["m2"].id)})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    from core.db import session
    made = session.scalars(select(Assignment).where(Assignment.plan_item_id == item.id)).one()
    assert {t.org_id for t in made.targets} == {tree["m1"].id, tree["m2"].id, tree["b"].id, tree["b2"].id}
    show = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Школа Б2" in show and "Ежеквартально" in show
    # bad date: named, 400
    resp = client.post(f"/assignments/new/{item.id}", data={**fields, "kinds": "school", "horizon_end": "31.02.2011"})
    assert resp.status_code == 400 and "31.02.2011" in resp.get_data(as_text=True)


def test_director_cannot_assign(client, logged_in, tree, people, order):
    logged_in(people["a"])
    assert client.get(f"/assignments/new/{items(order)['2.6'].id}").status_code == 403


def _assign(order, tree, number="2.6", targets=None, **kw):
    kw.setdefault("horizon", YEAR_2010)
    return svc.create_assignment(items(order)[number], tree["region"], targets or schools(tree), **kw)


def test_submit_return_accept_through_the_pages(client, logged_in, tree, people, order):
    a = _assign(order, tree, "2.1", targets=[tree["a"]])
    from core.db import session
    occ = session.scalars(select(Occurrence).where(Occurrence.assignment_id == a.id)).one()
    logged_in(people["a"])
    page = client.get(f"/assignments/occurrences/{occ.id}").get_data(as_text=True)
    assert "Отчитаться" in page and "Просрочено" in page       # 11.11.2010 is long past
    token = csrf_token(client, f"/assignments/occurrences/{occ.id}")
    resp = client.post(f"/assignments/occurrences/{occ.id}/submit", data={"csrf_token": token, "text": ""},
                       content_type="multipart/form-data")
    assert resp.status_code == 400 and "Опишите исполнение" in resp.get_data(as_text=True)
    resp = client.post(f"/assignments/occurrences/{occ.id}/submit",
                       data={"csrf_token": token, "text": "Назначен ответственный",
                             "files": (io.BytesIO(b"%PDF-1.4 prikaz 17"), "Приказ 17.pdf")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    page = client.get(f"/assignments/occurrences/{occ.id}").get_data(as_text=True)
    assert "На проверке" in page and "Приказ 17.pdf" in page and "Принять" not in page
    ev_id = re.search(r"/assignments/evidence/(\d+)", page).group(1)
    got = client.get(f"/assignments/evidence/{ev_id}")
    assert got.status_code == 200 and got.data == b"%PDF-1.4 prikaz 17"

    client.post("/logout", data={"csrf_token": csrf_token(client)})
    logged_in(people["m1"])
    token = csrf_token(client, f"/assignments/occurrences/{occ.id}")
    resp = client.post(f"/assignments/occurrences/{occ.id}/return", data={"csrf_token": token, "comment": ""})
    assert resp.status_code == 400 and "без комментария" in resp.get_data(as_text=True)
    resp = client.post(f"/assignments/occurrences/{occ.id}/return", data={"csrf_token": token,
                                                                         "comment": "Нет подписи"})
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Occurrence, occ.id).status is S.returned
    # the school resubmits through the API; the municipality accepts through the page
    _, plain = auth.issue_token(people["a"], "t")
    resp = client.post(f"/api/v1/occurrences/{occ.id}/submit", json={"text": "Подпись есть"},
                       headers={"Authorization": f"Bearer {plain}"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "submitted"
    resp = client.post(f"/assignments/occurrences/{occ.id}/accept", data={"csrf_token": token})
    assert resp.status_code == 302
    session.expire_all()
    done = session.get(Occurrence, occ.id)
    assert done.status is S.accepted and done.late is True
    # the director's inbox tells about the return and the acceptance
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    logged_in(people["a"])
    inbox = client.get("/assignments/inbox").get_data(as_text=True)
    assert "Возвращено на доработку" in inbox and "Принято" in inbox


def test_a_school_sees_only_its_occurrences(client, logged_in, tree, people, order, make_user):
    a = _assign(order, tree)
    from core.db import session
    occ_b = session.scalars(select(Occurrence).where(Occurrence.assignment_id == a.id,
                                                     Occurrence.org_id == tree["b"].id)).first()
    logged_in(people["a"])
    assert client.get(f"/assignments/occurrences/{occ_b.id}").status_code == 403
    assert client.get(f"/assignments/dashboard/org/{tree['b'].id}").status_code == 403
    assert client.get(f"/assignments/dashboard/region/{tree['region'].id}").status_code == 403
    assert client.get(f"/assignments/dashboard/municipality/{tree['m1'].id}").status_code == 403
    token = csrf_token(client, "/assignments/my")
    assert client.post(f"/assignments/occurrences/{occ_b.id}/submit", data={"csrf_token": token, "text": "x"},
                       content_type="multipart/form-data").status_code == 403
    # the dashboard entry point sends a director to the own school
    resp = client.get("/assignments/dashboard?year=2010")
    assert resp.status_code == 302 and f"/assignments/dashboard/org/{tree['a'].id}" in resp.headers["Location"]
    page = client.get(f"/assignments/dashboard/org/{tree['a'].id}?year=2010").get_data(as_text=True)
    assert page.count("/assignments/occurrences/") == 3
    # my tasks: only school A's, sorted by due date
    my = client.get("/assignments/my").get_data(as_text=True)
    ids = [int(x) for x in re.findall(r"/assignments/occurrences/(\d+)", my)]
    got = [session.get(Occurrence, i) for i in ids]
    assert {o.org_id for o in got} == {tree["a"].id} and len(got) == 3
    assert [o.due_date for o in got] == sorted(o.due_date for o in got)
    # API: the list holds only A's; B's is forbidden
    _, plain = auth.issue_token(people["a"], "t")
    h = {"Authorization": f"Bearer {plain}"}
    listed = client.get(f"/api/v1/occurrences?assignment_id={a.id}&per_page=100", headers=h).get_json()
    assert listed["total"] == 3 and {o["org_id"] for o in listed["items"]} == {tree["a"].id}
    assert client.get(f"/api/v1/occurrences/{occ_b.id}", headers=h).status_code == 403
    assert client.post(f"/api/v1/occurrences/{occ_b.id}/submit", json={"text": "x"}, headers=h).status_code == 403
    mine = next(o for o in listed["items"])
    # a director cannot accept even the own school's report
    client.post(f"/api/v1/occurrences/{mine['id']}/submit", json={"text": "готово"}, headers=h)
    assert client.post(f"/api/v1/occurrences/{mine['id']}/accept", headers=h).status_code == 403
    # the municipality of B does not see A's either
    m2 = make_user("municipal_official", tree["m2"])
    _, p2 = auth.issue_token(m2, "t")
    assert client.get(f"/api/v1/occurrences/{mine['id']}", headers={"Authorization": f"Bearer {p2}"}).status_code == 403


def test_dashboards_pages_and_xlsx_escaping(client, logged_in, tree, people, order):
    item = items(order)["2.6"]
    item.title = "=HYPERLINK(\"http://evil.example\",\"нажми\")"
    tree["a"].short_name = "+7 школа"
    a = _assign(order, tree, targets=schools(tree) + [tree["m1"]])
    logged_in(people["region"])
    resp = client.get("/assignments/dashboard?year=2010")
    assert resp.status_code == 302 and f"/region/{tree['region'].id}" in resp.headers["Location"]
    page = client.get(f"/assignments/dashboard/region/{tree['region'].id}?year=2010").get_data(as_text=True)
    assert "Первый район" in page and "Второй район" in page and "Итого по региону" in page
    drill = client.get(f"/assignments/dashboard/municipality/{tree['m1'].id}?year=2010").get_data(as_text=True)
    assert "+7 школа" in drill and "Школа А2" in drill and "Второй район" not in drill
    x = client.get(f"/assignments/dashboard/region/{tree['region'].id}?year=2010&format=xlsx")
    assert x.status_code == 200 and x.mimetype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(x.data)).active
    rows = list(ws.values)
    assert rows[0][0] == "Муниципалитет" and rows[-1][0] == "Итого по региону"
    assert rows[-1][1] == 15                  # 5 organisations × 3 quarters
    x = client.get(f"/assignments/dashboard/org/{tree['a'].id}?year=2010&format=xlsx")
    rows = list(load_workbook(io.BytesIO(x.data)).active.values)
    assert rows[1][0] == "'+7 школа"                       # escaped: stays text in Excel
    assert rows[1][2].startswith("'=HYPERLINK")
    x = client.get(f"/assignments/dashboard/municipality/{tree['m1'].id}?year=2010&format=xlsx")
    assert "'+7 школа" in [r[0] for r in load_workbook(io.BytesIO(x.data)).active.values]
    x = client.get(f"/assignments/{a.id}?format=xlsx")
    assert "'+7 школа" in [r[0] for r in load_workbook(io.BytesIO(x.data)).active.values]
    x = client.get("/assignments?format=xlsx")
    assert [r[3] for r in load_workbook(io.BytesIO(x.data)).active.values][1].startswith("'=HYPERLINK")
    cal = client.get("/assignments/calendar?month=2010-12").get_data(as_text=True)
    assert "HYPERLINK" in cal and "0/5" in cal
    assert client.get("/assignments/calendar?month=2010-13").status_code == 400


def test_rule_and_targets_changed_on_the_page(client, logged_in, tree, people, order):
    a = _assign(order, tree)
    logged_in(people["region"])
    page = client.get(f"/assignments/{a.id}").get_data(as_text=True)
    fields = form_fields(page, "rule-form")
    fields.update({"rule": "dates", "dates": "15.12.2010, 15.03.2011"})
    resp = client.post(f"/assignments/{a.id}/rule", data=fields)
    assert resp.status_code == 302
    from core.db import session
    session.expire_all()
    dates = sorted({o.due_date for o in session.scalars(select(Occurrence).where(Occurrence.assignment_id == a.id))})
    assert dates == [D(2010, 12, 15), D(2011, 3, 15)]
    fields["dates"] = "15.12.2010, 35.03.2011"
    resp = client.post(f"/assignments/{a.id}/rule", data=fields)
    assert resp.status_code == 400 and "35.03.2011" in resp.get_data(as_text=True)
    tf = form_fields(page, "targets-form")
    resp = client.post(f"/assignments/{a.id}/targets", data={"csrf_token": tf["csrf_token"],
                                                             "org_ids": [str(tree["a"].id), str(tree["b"].id)]})
    assert resp.status_code == 302
    session.expire_all()
    assert {o.org_id for o in session.scalars(select(Occurrence).where(Occurrence.assignment_id == a.id))} == \
        {tree["a"].id, tree["b"].id}


def test_cascade_on_the_page(client, logged_in, tree, people, order):
    a = _assign(order, tree, "2.1", targets=[tree["m1"], tree["m2"]])
    logged_in(people["m1"])
    page = client.get(f"/assignments/{a.id}").get_data(as_text=True)
    m1_target = next(t for t in a.targets if t.org_id == tree["m1"].id)
    assert f"/cascade/{m1_target.id}" in page
    m2_target = next(t for t in a.targets if t.org_id == tree["m2"].id)
    assert f"/cascade/{m2_target.id}" not in page
    fields = form_fields(page, f"cascade-{m1_target.id}")
    resp = client.post(f"/assignments/{a.id}/cascade/{m1_target.id}",
                       data={"csrf_token": fields["csrf_token"], "org_ids": [str(tree["a"].id)]})
    assert resp.status_code == 302
    token = csrf_token(client, "/assignments/my")
    assert client.post(f"/assignments/{a.id}/cascade/{m2_target.id}",
                       data={"csrf_token": token, "org_ids": [str(tree["b"].id)]}).status_code == 403


def test_ical_feed_with_a_secret_token(client, logged_in, tree, people, order):
    a = svc.create_assignment(items(order)["2.5"], tree["region"], [tree["a"]], rule="monthly",
                              horizon=(svc.today(), svc.today() + dt.timedelta(days=90)))
    logged_in(people["a"])
    assert client.get("/feed/not-a-token.ics").status_code in (302, 404)
    token = csrf_token(client, "/assignments/my")
    resp = client.post("/assignments/feed-token", data={"csrf_token": token}, follow_redirects=True)
    url = re.search(r"(http://jt\.test/feed/[A-Za-z0-9_-]+\.ics)", resp.get_data(as_text=True)).group(1)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    got = client.get(url.replace("http://jt.test", ""))            # no session: the token is the credential
    assert got.status_code == 200 and got.mimetype == "text/calendar"
    todos = Calendar.from_ical(got.data).walk("VTODO")
    from core.db import session
    n = session.query(Occurrence).filter_by(assignment_id=a.id).count()
    assert len(todos) == n >= 2
    assert all("Школа А" in str(t["summary"]) for t in todos)
    # a new token revokes the old URL
    logged_in(people["a"])
    client.post("/assignments/feed-token", data={"csrf_token": csrf_token(client, "/assignments/my")})
    assert client.get(url.replace("http://jt.test", "")).status_code == 404


def test_api_lists_and_creates(client, tree, people, order):
    _, plain = auth.issue_token(people["region"], "t")
    h = {"Authorization": f"Bearer {plain}"}
    item = items(order)["2.6"]
    resp = client.post("/api/v1/assignments", json={"plan_item_id": item.id, "assigner_id": tree["region"].id,
                                                    "kinds": ["school"], "horizon": ["2010-09-01", "2011-08-31"]},
                       headers=h)
    assert resp.status_code == 201, resp.get_json()
    aid = resp.get_json()["id"]
    assert len(resp.get_json()["targets"]) == 4
    bad = client.post("/api/v1/assignments", json={"plan_item_id": item.id, "assigner_id": tree["region"].id,
                                                   "kinds": ["school"], "rule": "daily"}, headers=h)
    assert bad.status_code == 422 and "daily" in bad.get_json()["message"]
    listed = client.get(f"/api/v1/assignments?plan_item_id={item.id}", headers=h).get_json()
    assert [x["id"] for x in listed["items"]] == [aid]
    page = client.get(f"/api/v1/occurrences?assignment_id={aid}&per_page=5&page=2&status=overdue", headers=h).get_json()
    assert page["total"] == 12 and len(page["items"]) == 5 and page["page"] == 2
    one = page["items"][0]
    resp = client.post(f"/api/v1/occurrences/{one['id']}/extend", json={"due_date": "2099-01-01", "reason": "карантин"},
                       headers=h)
    assert resp.status_code == 200 and resp.get_json()["due_date"] == "2099-01-01"
    assert resp.get_json()["status"] == "pending"
    resp = client.post(f"/api/v1/occurrences/{one['id']}/extend", json={"due_date": "2098-01-01", "reason": "x"},
                       headers=h)
    assert resp.status_code == 422
    assert client.get("/api/v1/occurrences?status=nonsense", headers=h).status_code == 400
    assert client.get("/api/v1/assignments").status_code == 401


def test_officials_feed_sums_up_each_date(client, logged_in, tree, people, order):
    start = svc.today()
    svc.create_assignment(items(order)["2.5"], tree["region"], schools(tree), rule="monthly",
                          horizon=(start, start + dt.timedelta(days=62)), appointment_due=start + dt.timedelta(days=5))
    logged_in(people["region"])
    resp = client.post("/assignments/feed-token", data={"csrf_token": csrf_token(client, "/assignments/my")},
                       follow_redirects=True)
    path = re.search(r"http://jt\.test(/feed/[A-Za-z0-9_-]+\.ics)", resp.get_data(as_text=True)).group(1)
    events = Calendar.from_ical(client.get(path).data).walk("VEVENT")
    summaries = [str(e["summary"]) for e in events]
    assert any(s.startswith("Назначить ответственного: 2.5") and s.endswith("выполнено 0 из 4") for s in summaries)
    assert sum(1 for s in summaries if s.startswith("2.5")) >= 2


def _statements_of(app, client, path: str) -> tuple[list[str], str]:
    from core.db import session
    session.flush()
    session.expunge_all()      # a request starts with an empty session
    with statements_sent(app) as statements:
        page = client.get(path).get_data(as_text=True)
    return statements, page


def test_the_occurrence_page_loads_its_history_in_a_fixed_number_of_queries(app, client, logged_in, tree, people,
                                                                             order):
    """Each submission's files and each event's author come with the page's few queries, not one per row: the
    page's cost stays the same however long the history grows."""
    from core.db import session
    from orgs.models.users import User
    a = _assign(order, tree, "2.1", targets=[tree["a"]])
    occ_id = session.scalars(select(Occurrence.id).where(Occurrence.assignment_id == a.id)).one()
    director, reviewer = people["a"].id, people["m1"].id
    logged_in(people["a"])

    def round_trip(n: int) -> None:
        occ = session.get(Occurrence, occ_id)
        svc.submit(occ, actor=session.get(User, director), text=f"отчёт {n}",
                   files=[svc.Upload(f"акт-{n}.pdf", b"%PDF-1.4 " + bytes([n]) * 64, "application/pdf")])
        svc.return_(occ, actor=session.get(User, reviewer), comment=f"доработать {n}")

    round_trip(1)
    path = f"/assignments/occurrences/{occ_id}"
    short, page = _statements_of(app, client, path)
    assert "акт-1.pdf" in page
    for n in (2, 3, 4):
        round_trip(n)
    long, page = _statements_of(app, client, path)
    assert all(f"акт-{n}.pdf" in page for n in (1, 2, 3, 4)) and "доработать 4" in page
    assert len(long) == len(short), "\n".join(long)


def test_the_review_list_loads_in_a_fixed_number_of_queries(app, client, logged_in, tree, people, order):
    """«Ждут вашей проверки» shows each report's organisation and plan item without a query per row."""
    from core.db import session
    from orgs.models.users import User
    a = _assign(order, tree, "2.1", targets=[tree["a"], tree["a2"]])
    occ_ids = {o.org_id: o.id for o in session.scalars(select(Occurrence).where(Occurrence.assignment_id == a.id))}
    director, a_id, a2_id, a2_name = people["a"].id, tree["a"].id, tree["a2"].id, tree["a2"].display_name
    logged_in(people["m1"])

    def report(org_id: int) -> None:
        svc.submit(session.get(Occurrence, occ_ids[org_id]), actor=session.get(User, director), text="готово")

    report(a_id)
    one, page = _statements_of(app, client, "/assignments/my")
    assert "Ждут вашей проверки (1)" in page
    report(a2_id)
    two, page = _statements_of(app, client, "/assignments/my")
    assert "Ждут вашей проверки (2)" in page and a2_name in page
    assert len(two) == len(one), "\n".join(two)


def test_list_rows_show_the_status_as_of_today_and_the_row_details(client, logged_in, tree, people, order):
    """My tasks and a school's dashboard read their rows as plain values: a pending row past its date reads
    «Просрочено» before the daily job marks it, with the item's number and title and the responsible person."""
    from core.db import session
    a = _assign(order, tree, "2.1", targets=[tree["a"]])
    occ = session.scalars(select(Occurrence).where(Occurrence.assignment_id == a.id)).one()
    occ.target.responsible_name = "Орлова Анна Сергеевна"
    item = occ.assignment.plan_item
    assert occ.status is S.pending and occ.due_date < svc.today()
    tree["a"].short_name = None                           # the full name stands in
    session.flush()
    logged_in(people["a"])
    board = client.get(f"/assignments/dashboard/org/{tree['a'].id}?year=2010").get_data(as_text=True)
    row = re.search(rf'<tr><td><a href="/assignments/occurrences/{occ.id}">.*?</tr>', board, re.S).group(0)
    assert "Просрочено" in row and item.title in row and f"<td>{item.number}</td>" in row
    assert "Орлова Анна Сергеевна" in row
    mine = client.get("/assignments/my").get_data(as_text=True)
    row = re.search(rf'<tr><td><a href="/assignments/occurrences/{occ.id}">.*?</tr>', mine, re.S).group(0)
    assert "Просрочено" in row and tree["a"].name in row and item.title in row


def test_the_dashboards_offer_the_documents_with_assignments_as_a_filter(client, logged_in, tree, people, order):
    """The filter's options carry each document's label (kind, date, number) though its text is not loaded."""
    from core.db import session
    a = _assign(order, tree, "2.1", targets=[tree["a"]])
    label, order_id, region_id = order.label, order.id, tree["region"].id
    assert a.ordinance_id == order_id
    session.flush()
    session.expunge_all()
    logged_in(people["region"])
    page = client.get(f"/assignments/dashboard/region/{region_id}?year=2010").get_data(as_text=True)
    option = re.search(rf'<option value="{order_id}"[^>]*>([^<]*)</option>', page)
    assert option and option.group(1) == label
    assert client.get(f"/assignments/dashboard/region/{region_id}?year=2010&ordinance={order_id}").status_code == 200
