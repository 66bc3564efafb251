"""Formula injection in exports, hostile upload names and oversized requests."""
import io
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from core.tabular import FORMULA_PREFIXES, workbook_bytes
from tests.helpers import csrf_token

ROOT = Path(__file__).resolve().parents[2]


@settings(max_examples=100, deadline=None)
@given(cells=st.lists(st.one_of(st.text(max_size=40), st.sampled_from(FORMULA_PREFIXES).map(lambda p: p + "1+1"),
                                st.integers(-10**9, 10**9)), min_size=1, max_size=8))
def test_no_exported_cell_is_ever_a_formula(cells):
    ws = load_workbook(io.BytesIO(workbook_bytes([f"h{i}" for i in range(len(cells))], [cells]))).active
    row = [c for c in next(ws.iter_rows(min_row=2))]
    for cell, given_value in zip(row, cells):
        assert cell.data_type != "f"
        if isinstance(given_value, str) and given_value.startswith(FORMULA_PREFIXES):
            assert cell.value == "'" + given_value.replace("\r\n", "\n") or str(cell.value).startswith("'")


def test_every_xlsx_export_goes_through_core_tabular():
    """One escaping point: no module builds a workbook or a CSV for download on its own."""
    offenders = []
    for pkg in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]:
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name == "tabular.py" and pkg == "core":
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(r"\bWorkbook\(|csv\.writer|csv\.DictWriter|text/csv", text):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders


# ---- upload names ------------------------------------------------------------------------------------------------

HOSTILE_NAMES = ["../../../etc/passwd.pdf", "..\\..\\windows\\win.ini.pdf", "/etc/shadow.pdf", "..", ".",
                 "C:\\boot.pdf", "a\x00b.pdf", "\u202eexe.pdf", "evil\r\nX-Header: 1.pdf"]


@pytest.fixture
def occurrence(db, tree, make_user):
    import datetime as dt

    from assignments import services as assignment_services
    from assignments.models import Occurrence
    from ordinances import services as ordinance_services
    from ordinances.models.ordinances import OrdinanceStatus
    from ordinances.parsing.parser import parse_file
    official = make_user("regional_official", tree["region"])
    order = ordinance_services.create_from_parsed(
        parse_file(next((ROOT / "tests" / "data" / "seeds").glob("001_*.txt"))), issuer=tree["region"], actor=official)
    ordinance_services.set_status(order, OrdinanceStatus.in_force, actor=official)
    a = assignment_services.create_assignment(next(i for i in order.plan.items if i.number == "2.1"), tree["region"],
                                              [tree["a"]], horizon=(dt.date(2010, 9, 1), dt.date(2011, 8, 31)))
    return db.scalars(select(Occurrence).where(Occurrence.assignment_id == a.id)).one()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_evidence_upload_names_cannot_traverse(client, db, tree, make_user, logged_in, occurrence, name):
    from assignments.models import OccurrenceEvidence
    logged_in(make_user("director", tree["a"]))
    token = csrf_token(client, f"/assignments/occurrences/{occurrence.id}")
    resp = client.post(f"/assignments/occurrences/{occurrence.id}/submit",
                       data={"csrf_token": token, "text": "Сделано", "files": (io.BytesIO(b"%PDF-1.4 x"), name)},
                       content_type="multipart/form-data")
    assert resp.status_code in (302, 400), resp.status_code
    db.expire_all()
    for ev in db.scalars(select(OccurrenceEvidence).where(OccurrenceEvidence.occurrence_id == occurrence.id)):
        assert "/" not in ev.filename and "\\" not in ev.filename and ev.filename.strip(". ")
        assert not any(not c.isprintable() for c in ev.filename)
        assert re.fullmatch(r"evidence/[0-9a-f]{2}/[0-9a-f]{64}", ev.storage_key)
        got = client.get(f"/assignments/evidence/{ev.id}")
        assert got.status_code == 200
        cd = got.headers["Content-Disposition"]
        assert "\r" not in cd and "\n" not in cd and "/" not in cd.split("filename", 1)[1].replace("%2F", "")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_import_file_names_are_shown_without_their_path(name):
    from core.tabular import ImportFailed  # noqa: F401
    from sheets.marks_import import MarksImportFailed, import_marks
    with pytest.raises(MarksImportFailed) as exc:
        import_marks(b"", name)
    shown = str(exc.value.errors[0].filename)
    assert "/" not in shown and "\\" not in shown and "\x00" not in shown


# ---- oversized requests ---------------------------------------------------------------------------------------

@pytest.fixture
def small_limit(app):
    old = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    yield
    app.config["MAX_CONTENT_LENGTH"] = old


def test_an_oversized_upload_gets_a_russian_413_and_writes_nothing(client, db, tree, make_user, logged_in,
                                                                  small_limit):
    from orgs.models.organisations import Organisation
    logged_in(make_user("admin", tree["region"]))
    token = csrf_token(client, "/orgs/import")
    before = db.scalar(select(Organisation.id).order_by(Organisation.id.desc()).limit(1))
    body = ("code;name;kind;parent_code\n" + "X1;Школа;school;\n" * 10_000).encode()
    resp = client.post("/orgs/import", data={"csrf_token": token, "file": (io.BytesIO(body), "орг.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 413
    page = resp.get_data(as_text=True)
    assert "Файл слишком большой" in page and "65536 байт" in page
    db.expire_all()
    assert db.scalar(select(Organisation.id).order_by(Organisation.id.desc()).limit(1)) == before


def test_an_oversized_api_request_gets_json_413(client, db, tree, make_user, small_limit):
    from orgs import accounts as services
    user = make_user("regional_official", tree["region"])
    _, token = services.issue_token(user, "t")
    resp = client.post("/api/v1/ordinances/parse", json={"text": "x" * 100_000},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 413 and resp.is_json


@pytest.mark.parametrize("data", [b"PK\x03\x04garbage", b"", bytes(range(256)) * 10])
def test_a_broken_docx_through_the_api_is_422_not_500(client, db, tree, make_user, data):
    from orgs import accounts as services
    _, token = services.issue_token(make_user("regional_official", tree["region"]), "t")
    resp = client.post("/api/v1/ordinances/parse", headers={"Authorization": f"Bearer {token}"},
                       data={"file": (io.BytesIO(data), "../приказ.docx")}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "docx" in resp.json["message"]
