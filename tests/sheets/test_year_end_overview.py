"""«Итоги года»: officials see how far each municipality, school and class has come with its sheets, against
the deadline they set — counts and states, never marks or pupils (issue 18)."""
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from archive.models import ArchiveRecord, RecordKind, RecordStatus
from core.audit import AuditEntry
from core.db import session
from orgs import accounts
from sheets import overview
from sheets.models import ClassTeacher, SheetStatus, SummarySheet
from tests.helpers import csrf_token, form_fields

YEAR = "2025/2026"
PUPIL = "Шереметьева"


def _sheet(school, class_name, status, *, version=1, supersedes=None, archived=False):
    s = SummarySheet(school_id=school.id, school_year=YEAR, class_name=class_name, class_label=class_name,
                     version=version, supersedes_id=supersedes.id if supersedes else None, status=status,
                     marks={"pupils": [{"name": PUPIL, "marks": {"Математика": "5"}}]},
                     pdf_sha256=None if status is SheetStatus.draft else "ab" * 32)
    session.add(s)
    session.flush()
    if archived:
        session.add(ArchiveRecord(kind=RecordKind.summary_sheet, status=RecordStatus.archived,
                                  source_type="summary_sheet", source_id=s.id, title=f"Ведомость {class_name}",
                                  organisation_id=school.id, org_path=school.path, school_id=school.id,
                                  key=f"k/{s.id}", sha256="cd" * 32,
                                  archived_at=dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)))
    return s


@pytest.fixture
def year_end(tree, make_user):
    """m1: school a done (2 classes archived), a2 half-way (a class still a draft, a class with a teacher and no
    marks, a corrected sheet); m2: b nothing yet."""
    a, a2 = tree["a"], tree["a2"]
    _sheet(a, "9А", SheetStatus.signed, archived=True)
    _sheet(a, "9Б", SheetStatus.signed, archived=True)
    old = _sheet(a2, "5А", SheetStatus.superseded)
    _sheet(a2, "5А", SheetStatus.teacher_signed, version=2, supersedes=old)
    _sheet(a2, "5Б", SheetStatus.draft)
    _sheet(a2, "6А", SheetStatus.rendered)
    teacher = make_user("class_teacher", a2, full_name="Петрова Анна Ивановна")
    session.add(ClassTeacher(school_id=a2.id, school_year=YEAR, class_name="7В", user_id=teacher.id))
    session.add(ClassTeacher(school_id=tree["b"].id, school_year=YEAR, class_name="1А", user_id=teacher.id))
    session.flush()
    return tree


def _counts(c):
    return tuple(getattr(c, n) for n in overview.STAGES)


def test_counts_per_school_and_municipality_late_first(year_end):
    tree = year_end
    today = dt.date(2026, 6, 20)
    schools = {row.org_id: row for _, row in overview.school_rows(tree["region"], YEAR, today=today)}
    assert _counts(schools[tree["a"].id].counts) == (2, 2, 2, 2, 2, 2)
    assert _counts(schools[tree["a2"].id].counts) == (4, 3, 2, 1, 0, 0)       # 5А v2 certified, 5Б draft, 6А, 7В
    assert _counts(schools[tree["b"].id].counts) == (1, 0, 0, 0, 0, 0)
    assert _counts(schools[tree["b2"].id].counts) == (0, 0, 0, 0, 0, 0)
    rows, total = overview.overview(tree["region"], YEAR, today=today)
    assert [r.org_id for r in rows] == [tree["m2"].id, tree["m1"].id] and not total.late      # by name: none late
    assert _counts(total.counts) == (7, 5, 4, 3, 2, 2)
    overview_deadline(tree["region"], dt.date(2026, 6, 15))
    overview_deadline(tree["m1"], dt.date(2026, 6, 25))                           # m1's own, later
    rows, total = overview.overview(tree["region"], YEAR, today=today)
    rows_by_late = [r.org_id for r in rows]
    assert rows_by_late == [tree["m2"].id, tree["m1"].id]                            # late first
    assert rows[0].late and rows[0].late_schools == 1 and not rows[1].late and total.late_schools == 1
    rows, _ = overview.overview(tree["m1"], YEAR, today=dt.date(2026, 6, 26))
    assert [(r.org_id, r.late) for r in rows] == [(tree["a2"].id, True), (tree["a"].id, False)]


def overview_deadline(org, due):
    from sheets.models import YearEndDeadline
    session.add(YearEndDeadline(organisation_id=org.id, school_year=YEAR, due_date=due))
    session.flush()


def test_pages_xlsx_api_and_who_sees_them(client, logged_in, make_user, year_end, clock):
    tree = year_end
    clock.move_to("2026-06-20 09:00:00")
    region = make_user("regional_official", tree["region"])
    logged_in(region)
    page = client.get(f"/year-end/{tree['region'].id}?year={YEAR}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Первый район" in html and "Второй район" in html and PUPIL not in html
    fields = form_fields(html, "deadline-form")
    fields["due_date"] = "2026-06-15"
    assert client.post(f"/year-end/{tree['region'].id}/deadline", data=fields).status_code == 302
    assert session.query(AuditEntry).filter_by(action="sheet.year_end_deadline").count() == 1
    html = client.get(f"/year-end/{tree['region'].id}?year={YEAR}").get_data(as_text=True)
    assert "15.06.2026" in html and "просрочили школ: 2" in html                # a2 and b
    school = client.get(f"/year-end/{tree['a2'].id}?year={YEAR}").get_data(as_text=True)
    assert "7В" in school and "Петрова Анна Ивановна" in school and "версия 2" in school and PUPIL not in school
    x = client.get(f"/year-end/{tree['region'].id}?year={YEAR}&format=xlsx")
    rows = list(load_workbook(io.BytesIO(x.data)).active.values)
    assert rows[0][0] == "Организация" and rows[-1][:7] == ("Тестовая область", 7, 5, 4, 3, 2, 2)
    _, token = accounts.issue_token(region, "t")
    api = client.get(f"/api/v1/sheets/year-end/{tree['a2'].id}?year={YEAR}",
                     headers={"Authorization": f"Bearer {token}"}).json
    assert api["total"]["classes"] == 4 and api["total"]["late"] is True
    assert {c["class_name"]: c["status"] for c in api["classes"]}["5А"] == "teacher_signed"
    assert PUPIL not in str(api)
    # a municipality sees its own, not its neighbour; a director and a teacher have no overview
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(make_user("municipal_official", tree["m1"]))
    assert client.get(f"/year-end/{tree['m1'].id}?year={YEAR}").status_code == 200
    assert client.get(f"/year-end/{tree['m2'].id}?year={YEAR}").status_code == 403
    assert client.get(f"/year-end/{tree['region'].id}?year={YEAR}").status_code == 403
    assert client.post(f"/year-end/{tree['m2'].id}/deadline",
                       data={"csrf_token": csrf_token(client, "/"), "year": YEAR, "due_date": "2026-06-01"}
                       ).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(make_user("director", tree["a"]))
    assert client.get("/year-end").status_code == 403
    assert client.get(f"/year-end/{tree['a'].id}").status_code == 403
