"""Who signs what: two class teachers in one school; each certifies, imports and reads only their own class.
Every signature made here is validated against the test PKI."""
import io
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from core.db import session
from sheets import class_teachers, services
from sheets.models import BatchKind, BatchStatus, ClassTeacher, SheetStatus, SummarySheet
from tests.helpers import csrf_token
from tests.sheets import pki as test_pki
from tests.sheets.helpers import assert_all_valid
from tests.sheets.test_render import page_texts
from tests.sheets.test_sheet_flow import YEAR, class_marks, test_pki_signer


@pytest.fixture
def two(tree, make_user, client, logged_in, trusting):
    """School A with teachers A (class 5А) and B (class 5Б), assigned by the director on the page."""
    school = tree["a"]
    people = SimpleNamespace(
        org=school, director=make_user("director", school, login="ct-director", full_name=test_pki.NAMES["director"]),
        a=make_user("class_teacher", school, login="ct-teacher-a", full_name=test_pki.NAMES["teacher"]),
        b=make_user("class_teacher", school, login="ct-teacher-b", full_name=test_pki.NAMES["teacher2"]))
    people.sheet_a, people.sheet_b = services.import_classes(
        school, YEAR, {"5А": class_marks("5А", seed=1), "5Б": class_marks("5Б", seed=2)}, actor=people.director)
    logged_in(people.director)
    for name, teacher in (("5 «А»", people.a), ("5Б", people.b)):
        resp = client.post("/sheets/class-teachers", data={
            "csrf_token": csrf_token(client, "/sheets/class-teachers"), "school_id": school.id,
            "school_year": YEAR, "class_name": name, "user_id": teacher.id})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    page = client.get(f"/sheets/class-teachers?school_id={school.id}&school_year={YEAR}").get_data(as_text=True)
    assert test_pki.NAMES["teacher"] in page and test_pki.NAMES["teacher2"] in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    return people


def _render(people):
    for s in (people.sheet_a, people.sheet_b):
        services.render_pdf(s, actor=people.director)


def _token(user) -> dict:
    from orgs import accounts
    return {"Authorization": f"Bearer {accounts.issue_token(user, 'test')[1]}"}


def test_the_rendered_sheet_prints_its_class_teacher(two):
    _render(two)
    assert test_pki.NAMES["teacher"] in page_texts(two.sheet_a.pdf)[-1]
    assert test_pki.NAMES["teacher2"] in page_texts(two.sheet_b.pdf)[-1]


def test_teacher_b_cannot_view_import_or_certify_class_a(two, client, logged_in, pki):
    _render(two)
    logged_in(two.b)
    # view: page, PDF, list, API
    assert client.get(f"/sheets/{two.sheet_a.id}").status_code == 403
    assert client.get(f"/sheets/{two.sheet_a.id}/pdf").status_code == 403
    assert client.get(f"/sheets/{two.sheet_b.id}").status_code == 200
    listing = client.get(f"/sheets?year={YEAR}").get_data(as_text=True)
    assert f"/sheets/{two.sheet_b.id}\"" in listing and f"/sheets/{two.sheet_a.id}\"" not in listing
    h = _token(two.b)
    assert client.get(f"/api/v1/sheets/{two.sheet_a.id}", headers=h).status_code == 403
    assert [s["class_name"] for s in client.get("/api/v1/sheets", headers=h).json["items"]] == ["5Б"]
    # import: service (CLI and pages call it), API — nothing written
    before = session.scalar(select(SummarySheet.marks).where(SummarySheet.id == two.sheet_a.id))
    with pytest.raises(services.SheetFlowError, match="класса 5А загружает его классный руководитель"):
        services.import_classes(two.org, YEAR, {"5А": class_marks("5А", seed=7)}, actor=two.b)
    rec = {"класс": "5А", "ученик": "Ёлкина Софья Дмитриевна", "предмет": "Математика", "период": "Год", "оценка": 5}
    resp = client.post("/api/v1/sheets/marks", headers=h,
                       json={"school_id": two.org.id, "school_year": YEAR, "records": [rec]})
    assert resp.status_code == 422 and "5А" in resp.json["message"]
    session.refresh(two.sheet_a)
    assert two.sheet_a.marks == before and two.sheet_a.status is SheetStatus.rendered
    # certify: page, service, external signer API
    resp = client.post(f"/sheets/{two.sheet_a.id}/sign", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/"), "role": "teacher", "passphrase": test_pki.PASSPHRASE,
        "key": (io.BytesIO(pki.pkcs12("teacher")), "key.p12")})
    assert resp.status_code == 403
    with pytest.raises(services.SheetFlowError, match=test_pki.NAMES["teacher"]):
        services.sign(two.sheet_a, "teacher", test_pki_signer(pki, "teacher"), actor=two.b)
    resp = client.post(f"/api/v1/sheets/{two.sheet_a.id}/external/prepare", headers=h,
                       json={"role": "teacher", "certificate": ""})
    assert resp.status_code == 403
    assert two.sheet_a.status is SheetStatus.rendered and two.sheet_a.teacher_signed_at is None


def test_each_teachers_batch_signs_exactly_their_class(two, app, pki, tmp_path):
    _render(two)
    batch = services.start_batch(BatchKind.sign_teacher, two.org, YEAR, actor=two.a,
                                 pkcs12=pki.pkcs12("teacher"), passphrase=test_pki.PASSPHRASE)
    assert batch.sheet_ids == [two.sheet_a.id]
    from sheets.tasks import process_batch
    process_batch(batch.id, signer=test_pki_signer(pki, "teacher"))
    assert batch.status is BatchStatus.done and batch.done_ids == [two.sheet_a.id]
    assert two.sheet_a.status is SheetStatus.teacher_signed and two.sheet_a.class_teacher_id == two.a.id
    assert_all_valid(two.sheet_a.pdf, pki, count=1)
    assert two.sheet_b.status is SheetStatus.rendered
    # the CLI, as teacher B: only 5Б
    key = tmp_path / "teacher2.p12"
    key.write_bytes(pki.pkcs12("teacher2"))
    from core import db
    db.commit()
    out = app.test_cli_runner().invoke(args=["sheets", "sign", "--org", two.org.code, "--year", YEAR,
                                             "--as", "ct-teacher-b", "--role", "teacher", "--key", str(key)],
                                       input=test_pki.PASSPHRASE + "\n")
    assert out.exit_code == 0 and "Готово 1 из 1" in out.output, out.output
    session.refresh(two.sheet_b)
    assert two.sheet_b.status is SheetStatus.teacher_signed and two.sheet_b.class_teacher_id == two.b.id
    assert_all_valid(two.sheet_b.pdf, pki, count=1)
    # nothing left for teacher A
    with pytest.raises(services.SheetFlowError, match="Нет ведомостей"):
        services.start_batch(BatchKind.sign_teacher, two.org, YEAR, actor=two.a,
                             pkcs12=pki.pkcs12("teacher"), passphrase=test_pki.PASSPHRASE)


def test_a_sheet_without_a_class_teacher_is_refused_naming_the_class(two, pki):
    (sheet,) = services.import_classes(two.org, YEAR, {"9Г": class_marks("9Г", seed=3)}, actor=two.director)
    services.render_pdf(sheet, actor=two.director)
    with pytest.raises(services.SheetFlowError, match=r"Классу 9Г \(2025/2026\) не назначен классный руководитель"):
        services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=two.a)
    with pytest.raises(services.SheetFlowError, match="Нет ведомостей"):   # not in anybody's batch
        services.start_batch(BatchKind.sign_teacher, two.org, YEAR, actor=two.a,
                             pkcs12=pki.pkcs12("teacher"), passphrase=test_pki.PASSPHRASE)
    assert sheet.status is SheetStatus.rendered


def test_assigned_after_rendering_the_sheet_is_rendered_again(two, pki):
    _render(two)
    class_teachers.assign(two.org, YEAR, "5А", two.b, actor=two.director)
    with pytest.raises(services.SheetFlowError, match="сформируйте её заново"):
        services.sign(two.sheet_a, "teacher", test_pki_signer(pki, "teacher"), actor=two.b)
    services.render_pdf(two.sheet_a, actor=two.director)
    services.sign(two.sheet_a, "teacher", test_pki_signer(pki, "teacher2"), actor=two.b)
    assert_all_valid(two.sheet_a.pdf, pki, count=1)


def test_reassigning_after_certification_keeps_who_certified(two, pki, client, logged_in):
    from core.audit import AuditEntry
    _render(two)
    services.sign(two.sheet_a, "teacher", test_pki_signer(pki, "teacher"), actor=two.a)
    signed = two.sheet_a.pdf
    class_teachers.assign(two.org, YEAR, "5А", two.b, actor=two.director)
    assert two.sheet_a.class_teacher_id == two.a.id and two.sheet_a.pdf == signed
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "class_teacher.assign")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry.summary["previous_user_id"] == two.a.id and entry.summary["user_id"] == two.b.id
    assert entry.summary["certified_sheet_ids"] == [two.sheet_a.id]
    logged_in(two.director)
    page = client.get(f"/sheets/{two.sheet_a.id}").get_data(as_text=True)
    assert test_pki.NAMES["teacher2"] in page          # the class teacher now
    assert f'id="certified-by">{test_pki.NAMES["teacher"]}' in page   # who certified
    services.sign(two.sheet_a, "director", test_pki_signer(pki, "director"), actor=two.director)
    assert_all_valid(two.sheet_a.pdf, pki, count=2)


def test_staff_file_import_all_or_nothing(two, client, logged_in, tree, make_user):
    logged_in(two.director)
    bad = ("код_школы;класс;логин\n"
           f"{two.org.code};6А;ct-teacher-a\n"
           f"{two.org.code};6 Б;nobody\n"
           f"{two.org.code};шестой;ct-teacher-b\n").encode()
    resp = client.post("/sheets/class-teachers", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/sheets/class-teachers"), "school_id": two.org.id, "school_year": YEAR,
        "file": (io.BytesIO(bad), "staff.csv")})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "staff.csv, строка 3, поле «логин» («nobody»)" in page and "staff.csv, строка 4, поле «класс»" in page
    assert class_teachers.assignment(two.org.id, YEAR, "6А") is None     # nothing written
    good = ("код_школы;класс;логин\n"
            f"{two.org.code};6А;ct-teacher-a\n"
            f"{two.org.code};6 Б;CT-Teacher-B\n").encode()
    resp = client.post("/sheets/class-teachers", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/sheets/class-teachers"), "school_id": two.org.id, "school_year": YEAR,
        "file": (io.BytesIO(good), "staff.csv")})
    assert resp.status_code == 302
    assert class_teachers.assignment(two.org.id, YEAR, "6Б").user_id == two.b.id
    # another school's director cannot assign here
    other = make_user("director", tree["b"], login="ct-director-b")
    with pytest.raises(Exception) as exc:
        class_teachers.import_file(good, "staff.csv", YEAR, actor=other)
    assert "нет права назначать" in str(exc.value)


def test_class_teacher_api(two, client):
    h = _token(two.director)
    listed = client.get(f"/api/v1/sheets/class-teachers?school_id={two.org.id}&school_year={YEAR}", headers=h).json
    assert {r["class_name"]: r["teacher"]["login"] for r in listed["items"]} == {"5А": "ct-teacher-a",
                                                                               "5Б": "ct-teacher-b"}
    resp = client.put("/api/v1/sheets/class-teachers", headers=h, json={
        "school_id": two.org.id, "school_year": YEAR, "class_name": "5А", "login": "ct-teacher-b"})
    assert resp.status_code == 200 and class_teachers.teacher_of(two.sheet_a).id == two.b.id
    resp = client.put("/api/v1/sheets/class-teachers", headers=h, json={
        "school_id": two.org.id, "school_year": YEAR, "class_name": "5А", "login": "ct-director"})
    assert resp.status_code == 422 and "не классный руководитель" in resp.json["message"]
    resp = client.put("/api/v1/sheets/class-teachers", headers=h, json={
        "school_id": two.org.id, "school_year": YEAR, "class_name": "5А", "login": None})
    assert resp.status_code == 200 and class_teachers.teacher_of(two.sheet_a) is None
    # a teacher cannot assign
    assert client.put("/api/v1/sheets/class-teachers", headers=_token(two.a), json={
        "school_id": two.org.id, "school_year": YEAR, "class_name": "5А", "login": "ct-teacher-a"}).status_code == 403
    assert session.scalar(select(ClassTeacher).where(ClassTeacher.class_name == "5А")) is None


def test_deputy_assigns_and_reads_every_class_but_does_not_sign(two, make_user, client, logged_in, pki):
    deputy = make_user("deputy_director", two.org, login="ct-deputy")
    logged_in(deputy)
    assert client.get(f"/sheets/{two.sheet_a.id}").status_code == 200
    assert client.get(f"/sheets/{two.sheet_b.id}").status_code == 200
    assert client.get(f"/sheets/class-teachers?school_id={two.org.id}").status_code == 200
    _render(two)
    resp = client.post(f"/sheets/{two.sheet_a.id}/sign", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/"), "role": "teacher", "passphrase": test_pki.PASSPHRASE,
        "key": (io.BytesIO(pki.pkcs12("teacher")), "key.p12")})
    assert resp.status_code == 403
    logged_in(two.a)
    assert client.get(f"/sheets/class-teachers?school_id={two.org.id}").status_code == 403


def test_staff_file_from_the_cli(app, two, tmp_path):
    path = tmp_path / "staff.csv"
    path.write_text(f"код_школы;класс;логин;учебный_год\n{two.org.code};11А;ct-teacher-b;2026/2027\n"
                    f"{two.org.code};11Б;ct-teacher-a;\n", encoding="utf-8")
    from core import db
    db.commit()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["sheets", "class-teachers", str(path), "--year", YEAR, "--as", "ct-director"])
    assert out.exit_code == 0 and "Назначено: 2" in out.output, out.output
    assert class_teachers.assignment(two.org.id, "2026/2027", "11А").user_id == two.b.id
    assert class_teachers.assignment(two.org.id, YEAR, "11Б").user_id == two.a.id
    out = runner.invoke(args=["sheets", "class-teachers", str(path), "--year", YEAR, "--as", "ct-teacher-a"])
    assert out.exit_code == 1 and "нет права назначать" in out.output and "Ничего не записано" in out.output


def test_the_plugin_batch_lists_only_the_teachers_own_classes(two, client, logged_in):
    _render(two)
    logged_in(two.b)
    url = f"/sheets/kep/waiting?role=teacher&organisation_id={two.org.id}&school_year={YEAR}"
    assert [s["id"] for s in client.get(url).json["sheets"]] == [two.sheet_b.id]
    assert client.get(url.replace("role=teacher", "role=director")).status_code == 403
    assert client.post(f"/sheets/{two.sheet_a.id}/kep/prepare", json={"role": "teacher", "certificate": ""},
                       headers={"X-CSRFToken": csrf_token(client, "/")}).status_code == 403
