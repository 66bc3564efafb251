"""Archivists' pages: search in scope (pupil surname with the Russian stemmer, signer, year, class,
school), the record page, download of the stored bytes with a required purpose, the append-only
access log, certified export with a signed inventory, legal holds."""
import hashlib
import io
import json
import zipfile

import pytest
from sqlalchemy import text

from archive.models import AccessLog, RecordStatus
from core import db
from core.db import session
from core.storage import get_storage
from tests.helpers import csrf_token


def _archive(tree, sign_sheet, run_jobs, specs):
    from archive.services import record_for
    sheets = [sign_sheet(tree[school], name, **kw) for school, name, kw in specs]
    db.commit()
    run_jobs()
    records = [record_for("summary_sheet", s.id) for s in sheets]
    assert all(r.status is RecordStatus.archived for r in records), [r.last_error for r in records]
    return records


@pytest.fixture
def archived(tree, people, sign_sheet, run_jobs, trusting):
    return _archive(tree, sign_sheet, run_jobs, [
        ("a", "7А", {"rename": {"Борисов Никита Ильич": "Шешеринов Кирилл Максимович"}}),
        ("a", "8А", {"seed": 2}),
        ("b", "7А", {"seed": 3, "rename": {"Борисов Никита Ильич": "Шешеринов Олег Петрович"}}),
    ])


def _ids(html: str) -> set[int]:
    import re
    return {int(m) for m in re.findall(r'/archive/records/(\d+)"', html)}


def test_search_by_pupil_surname_finds_other_forms_within_scope(client, logged_in, people, archived):
    a7, a8, b7 = archived
    logged_in(people.archivist)                              # the whole region
    found = _ids(client.get("/archive?pupil=Шешеринова").get_data(as_text=True))
    assert found == {a7.id, b7.id}                           # «Шешеринова» finds «Шешеринов»
    assert _ids(client.get("/archive?pupil=Шешеринов+Олег").get_data(as_text=True)) == {b7.id}
    assert _ids(client.get("/archive?signer=Сафин").get_data(as_text=True)) >= {a7.id, a8.id, b7.id}
    assert _ids(client.get("/archive?class=7+«А»&year=2025/2026").get_data(as_text=True)) >= {a7.id, b7.id}
    assert a8.id not in _ids(client.get("/archive?class=7А").get_data(as_text=True))
    assert _ids(client.get(f"/archive?school={a7.school_id}").get_data(as_text=True)) >= {a7.id, a8.id}
    assert b7.id not in _ids(client.get(f"/archive?municipality={a7.municipality_id}").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/archive")})
    logged_in(people.archivist_m2)                           # only the second municipality
    assert _ids(client.get("/archive?pupil=Шешеринова").get_data(as_text=True)) == {b7.id}
    assert client.get(f"/archive/records/{a7.id}").status_code == 403
    resp = client.post(f"/archive/records/{a7.id}/download",
                       data={"csrf_token": csrf_token(client, "/archive"), "purpose": "любопытство"})
    assert resp.status_code == 403


def test_search_is_for_archivists_only(client, logged_in, people, archived):
    logged_in(people.director)
    assert client.get("/archive").status_code == 403
    assert client.get(f"/archive/records/{archived[0].id}").status_code == 403


def test_download_needs_a_purpose_returns_the_stored_bytes_and_is_logged(client, logged_in, people, archived):
    record = archived[0]
    logged_in(people.archivist)
    page = client.get(f"/archive/records/{record.id}").get_data(as_text=True)
    assert record.sha256 in page and "25 лет" in page and "Классный руководитель" in page
    token = csrf_token(client, f"/archive/records/{record.id}")
    refused = client.post(f"/archive/records/{record.id}/download", data={"csrf_token": token, "purpose": "  "})
    assert refused.status_code == 303
    assert session.query(AccessLog).filter_by(record_id=record.id).count() == 0
    resp = client.post(f"/archive/records/{record.id}/download",
                       data={"csrf_token": token, "purpose": "Запрос выпускника о справке"})
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.data == get_storage().get(record.key) and hashlib.sha256(resp.data).hexdigest() == record.sha256
    (entry,) = session.query(AccessLog).filter_by(record_id=record.id).all()
    assert (entry.user_id, entry.action, entry.purpose) == (people.archivist.id, "download",
                                                           "Запрос выпускника о справке")
    page = client.get(f"/archive/records/{record.id}").get_data(as_text=True)
    assert "Запрос выпускника о справке" in page and "скачивание" in page
    # the hash-chained audit log has it too, without personal data
    from core.audit import AuditEntry
    audit = session.query(AuditEntry).filter_by(action="archive.download", object_id=str(record.id)).one()
    assert audit.summary["purpose"] == "Запрос выпускника о справке"


def test_the_access_log_is_append_only(client, logged_in, people, archived):
    record = archived[0]
    logged_in(people.archivist)
    client.post(f"/archive/records/{record.id}/download",
                data={"csrf_token": csrf_token(client, "/archive"), "purpose": "проверка"})
    with pytest.raises(Exception, match="append-only"):
        with session.begin_nested():
            session.execute(text("UPDATE archive_access_log SET purpose = 'другое'"))
    with pytest.raises(Exception, match="append-only"):
        with session.begin_nested():
            session.execute(text("DELETE FROM archive_access_log"))


def test_certified_export_is_a_zip_with_pdfs_manifests_and_a_signed_inventory(app, client, logged_in, people,
                                                                             archived, pki, tmp_path):
    a7, a8, _ = archived
    seal = tmp_path / "seal.p12"
    from tests.sheets import pki as test_pki
    seal.write_bytes(pki.pkcs12("director"))
    app.config.update(ARCHIVE_SEAL_KEY=str(seal), ARCHIVE_SEAL_PASSPHRASE=test_pki.PASSPHRASE)
    try:
        logged_in(people.archivist)
        token = csrf_token(client, "/archive")
        refused = client.post("/archive/export", data={"csrf_token": token, "record_id": [a7.id, a8.id],
                                                       "purpose": ""})
        assert refused.status_code == 400 and "цель" in refused.get_data(as_text=True).lower()
        resp = client.post("/archive/export", data={"csrf_token": token, "record_id": [a7.id, a8.id],
                                                    "purpose": "Передача в суд по запросу № 12"})
    finally:
        app.config.update(ARCHIVE_SEAL_KEY=None, ARCHIVE_SEAL_PASSPHRASE=None)
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(resp.data))
    names = z.namelist()
    root = names[0].split("/")[0]
    inventory = json.loads(z.read(f"{root}/opis.json"))
    assert [r["record_id"] for r in inventory["records"]] == [a7.id, a8.id]
    for item in inventory["records"]:
        for f in item["files"]:
            assert hashlib.sha256(z.read(f"{root}/{f['name']}")).hexdigest() == f["sha256"]
    assert z.read(f"{root}/records/{a7.id}/{a7.sha256}.pdf") == get_storage().get(a7.key)
    # the inventory PDF is signed and lists opis.json's hash
    from archive.verify import verify_bytes
    v = verify_bytes(z.read(f"{root}/opis.pdf"), match_archive=False)
    (sig,) = v.signatures
    assert sig.ok and sig.signer == "Сафин Ринат Ильдарович", v.lines_ru()
    assert hashlib.sha256(z.read(f"{root}/opis.json")).hexdigest()[:20] in _pdf_text(z.read(f"{root}/opis.pdf"))
    logged = session.query(AccessLog).filter_by(action="export").all()
    assert {e.record_id for e in logged} == {a7.id, a8.id}
    assert {e.purpose for e in logged} == {"Передача в суд по запросу № 12"}


def _pdf_text(pdf: bytes) -> str:
    import shutil
    import subprocess
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_legal_hold_is_placed_and_lifted_with_reasons_and_set_on_the_objects(client, logged_in, people, archived):
    record = archived[0]
    logged_in(people.archivist)
    token = csrf_token(client, f"/archive/records/{record.id}")
    empty = client.post(f"/archive/records/{record.id}/holds", data={"csrf_token": token, "reason": ""})
    assert empty.status_code == 303
    assert not record.legal_hold
    assert client.post(f"/archive/records/{record.id}/holds",
                       data={"csrf_token": token, "reason": "Запрос прокуратуры № 5"}).status_code == 302
    session.refresh(record)
    assert record.legal_hold and get_storage().head(record.key).legal_hold and \
        get_storage().head(record.manifest_key).legal_hold
    (hold,) = record.holds
    assert client.post(f"/archive/holds/{hold.id}/lift", data={"csrf_token": token, "reason": ""}).status_code == 303
    assert client.post(f"/archive/holds/{hold.id}/lift",
                       data={"csrf_token": token, "reason": "Дело закрыто"}).status_code == 302
    session.refresh(record)
    session.refresh(hold)
    assert not record.legal_hold and not get_storage().head(record.key).legal_hold
    assert hold.lift_reason == "Дело закрыто" and hold.lifted_by_id == people.archivist.id
    page = client.get(f"/archive/records/{record.id}").get_data(as_text=True)
    assert "Запрос прокуратуры № 5" in page and "Дело закрыто" in page


def test_the_api_searches_downloads_with_a_purpose_and_verifies_within_scope(client, people, archived):
    from orgs.accounts import issue_token
    a7, _, b7 = archived
    _, token = issue_token(people.archivist_m2, "архив")
    h = {"Authorization": f"Bearer {token}"}
    found = client.get("/api/v1/archive/records?pupil=Шешеринова", headers=h).json
    assert [r["id"] for r in found["items"]] == [b7.id] and found["has_next"] is False
    assert client.get(f"/api/v1/archive/records/{a7.id}", headers=h).status_code == 403
    one = client.get(f"/api/v1/archive/records/{b7.id}", headers=h).json
    assert one["sha256"] == b7.sha256 and [v["number"] for v in one["versions"]] == [1]
    assert "search" not in one and "Шешеринов" not in str(one)          # no pupils' names
    assert client.post(f"/api/v1/archive/records/{b7.id}/download", json={}, headers=h).status_code == 400
    pdf = client.post(f"/api/v1/archive/records/{b7.id}/download", json={"purpose": "запрос суда"}, headers=h)
    assert pdf.status_code == 200 and hashlib.sha256(pdf.data).hexdigest() == b7.sha256
    assert session.query(AccessLog).filter_by(record_id=b7.id, purpose="запрос суда").count() == 1
    # a file of another municipality verifies, but its record is not named
    report = client.post("/api/v1/archive/verify", data=get_storage().get(a7.key),
                         headers={**h, "Content-Type": "application/pdf"}).json
    assert report["ok"] and report["record_id"] is None and "вне вашей области доступа" in report["summary"]
    assert client.get("/api/v1/archive/records").status_code == 401


@pytest.mark.parametrize("indexed, typed, found", [
    ("Иванов Кирилл Максимович", "Иванова", True), ("Иванова Анна Павловна", "Иванов", True),
    ("Сафина Алсу", "Сафин", True), ("Достоевская Анна", "Достоевский", True),
    ("Иванов Кирилл", "Иванова Анна", False), ("Петров Иван", "Иванова", False),
])
def test_surname_search_matches_both_genders_of_a_surname(db, indexed, typed, found):
    from sqlalchemy import func, select

    from archive.search import name_query
    assert session.scalar(select(func.to_tsvector("russian", indexed).op("@@")(name_query(typed)))) is found
