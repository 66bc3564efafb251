"""An ordinance's files (the signed order and its attachments): PDF only, kept while a draft, archived when
the ordinance comes in force (or at once afterwards), frozen then; access, audit, API."""
import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from core.audit import AuditEntry
from ordinances import files
from ordinances import services as svc
from ordinances.models.files import OrdinanceFile
from ordinances.models.ordinances import OrdinanceStatus
from ordinances.parsing.parser import parse_file
from orgs import accounts as auth
from tests.helpers import csrf_token

SEED_001 = next((Path(__file__).resolve().parents[1] / "data" / "seeds").glob("001_*.txt"))


def make_pdf(text: str = "Приказ № 3116", pages: int = 1, encrypt=None) -> bytes:
    from reportlab.pdfgen.canvas import Canvas
    out = io.BytesIO()
    c = Canvas(out, encrypt=encrypt)
    for i in range(pages):
        c.drawString(100, 750, f"{text} — стр. {i + 1}")
        c.showPage()
    c.save()
    return out.getvalue()


@pytest.fixture
def official(tree, make_user):
    return make_user("regional_official", tree["region"])


@pytest.fixture
def order(db, tree, official):
    """Order 001 of the test region (one attachment: № 1 «План»), a draft."""
    return svc.create_from_parsed(parse_file(SEED_001), issuer=tree["region"], actor=official)


def _page(client, o) -> str:
    return client.get(f"/ordinances/{o.id}").get_data(as_text=True)


def _post_file(client, o, data: bytes, name: str, slot: str = "order", **fields):
    token = csrf_token(client, f"/ordinances/{o.id}")
    return client.post(f"/ordinances/{o.id}/files", content_type="multipart/form-data",
                       data={"csrf_token": token, "slot": slot, "file": (io.BytesIO(data), name), **fields})


def _files(db, o) -> list[OrdinanceFile]:
    db.expire_all()
    return list(db.scalars(select(OrdinanceFile).where(OrdinanceFile.ordinance_id == o.id).order_by(OrdinanceFile.id)))


def _audits(db, action: str) -> int:
    return db.query(AuditEntry).filter_by(action=action).count()


# ---- upload to a draft -----------------------------------------------------------------------------------------

def test_pdf_uploaded_to_a_draft_is_listed_with_size_and_hash(client, db, logged_in, official, order):
    logged_in(official)
    pdf, att = make_pdf(), make_pdf("План мероприятий", pages=2)
    resp = _post_file(client, order, pdf, "Приказ 3116 (подписан).pdf")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/ordinances/{order.id}#files")
    assert _post_file(client, order, att, "plan.pdf", slot="attachment:1").status_code == 302
    (f_order, f_att) = _files(db, order)
    assert (f_order.role, f_order.filename, f_order.size) == ("order", "Приказ 3116 (подписан).pdf", len(pdf))
    assert f_order.sha256 == hashlib.sha256(pdf).hexdigest() and f_order.content == pdf
    assert (f_att.role, f_att.attachment_number, f_att.title) == ("attachment", "1", "План")
    assert f_order.archive_record_id is None and files.status_of(f_order) == "draft"
    page = _page(client, order)
    assert "Приказ 3116 (подписан).pdf" in page and "plan.pdf" in page and "Приложение № 1 «План»" in page
    assert f_order.sha256[:12] in page and "черновик" in page
    got = client.get(f"/ordinances/{order.id}/files/{f_order.id}")
    assert got.status_code == 200 and got.data == pdf and got.mimetype == "application/pdf"
    assert "filename*=UTF-8''" in got.headers["Content-Disposition"]
    assert _audits(db, "ordinance.file.upload") == 2 and _audits(db, "ordinance.file.download") == 1


def test_a_draft_file_is_replaced_and_removed_with_audit(client, db, logged_in, official, order):
    logged_in(official)
    first, second = make_pdf("первая редакция"), make_pdf("вторая редакция")
    _post_file(client, order, first, "a.pdf")
    assert _post_file(client, order, second, "b.pdf").status_code == 302
    (f,) = _files(db, order)
    assert f.filename == "b.pdf" and f.content == second
    entry = db.query(AuditEntry).filter_by(action="ordinance.file.replace").one()
    assert entry.summary["before"]["sha256"] == hashlib.sha256(first).hexdigest()
    token = csrf_token(client, f"/ordinances/{order.id}")
    assert client.post(f"/ordinances/{order.id}/files/{f.id}/remove", data={"csrf_token": token}).status_code == 302
    assert _files(db, order) == [] and _audits(db, "ordinance.file.remove") == 1


def test_an_attachment_the_parser_did_not_find_is_added_with_its_file(client, db, logged_in, official, order):
    logged_in(official)
    resp = _post_file(client, order, make_pdf(), "form.pdf", slot="new", number="2", title="")
    assert resp.status_code == 400 and "укажите его название" in resp.get_data(as_text=True)
    assert _files(db, order) == [] and len(order.attachments) == 1
    resp = _post_file(client, order, make_pdf("Форма отчёта"), "form.pdf", slot="new", number="2",
                      title="Форма отчёта")
    assert resp.status_code == 302
    db.expire_all()
    assert [(a.number, a.title) for a in order.attachments] == [("1", "План"), ("2", "Форма отчёта")]
    (f,) = _files(db, order)
    assert (f.attachment_number, f.title) == ("2", "Форма отчёта")
    assert _audits(db, "ordinance.attachment.add") == 1
    # Editing the draft rebuilds the attachment rows: the file stays linked by its number.
    svc.update_draft(order, svc.to_dict(order), issuer=order.issuer, actor=official)
    slots = {s.key: s for s in files.panel(order).slots}
    assert slots["attachment:2"].file.id == f.id and slots["attachment:2"].in_text


# ---- bad files -------------------------------------------------------------------------------------------------

@pytest.fixture
def small_files(app):
    old = app.config.get("ORDINANCE_FILE_MAX_BYTES")
    app.config["ORDINANCE_FILE_MAX_BYTES"] = 8 * 1024
    yield
    app.config["ORDINANCE_FILE_MAX_BYTES"] = old


def _docx_bytes() -> bytes:
    import docx
    out = io.BytesIO()
    d = docx.Document()
    d.add_paragraph("ПРИКАЗ")
    d.save(out)
    return out.getvalue()[:4096]      # the start of a .docx (a zip): what matters is it is not a PDF


@pytest.mark.parametrize(("make", "name", "expected"), [
    (lambda: b"", "empty.pdf", "«empty.pdf» пустой"),
    (_docx_bytes, "приказ.docx", "«приказ.docx» не является PDF"),
    (lambda: b"%PDF-1.7\n" + b"garbage " * 100, "broken.pdf", "«broken.pdf» повреждён"),
    (lambda: make_pdf()[:600], "cut.pdf", "«cut.pdf» повреждён"),
    (lambda: make_pdf(encrypt="secret"), "secret.pdf", "«secret.pdf» защищён паролем"),
    (lambda: make_pdf("x" * 50, pages=200), "big.pdf", "«big.pdf» слишком большой: допускается не больше 8 КБ"),
])
def test_a_file_that_is_not_a_readable_pdf_is_refused_and_nothing_stored(client, db, logged_in, official, order,
                                                                         small_files, make, name, expected):
    logged_in(official)
    data = make()
    assert name == "big.pdf" or len(data) <= 8 * 1024     # each fails for its own reason
    resp = _post_file(client, order, data, name)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and expected in page and "Ничего не сохранено" in page, page
    assert _files(db, order) == [] and _audits(db, "ordinance.file.upload") == 0


def test_pdf_check_accepts_a_real_pdf_within_the_limit(app, db):
    from reportlab.lib.pdfencrypt import StandardEncryption
    files.check_pdf(make_pdf(), "ok.pdf")
    with pytest.raises(files.OrdinanceFileError, match="защищён паролем") as exc:
        files.check_pdf(make_pdf(encrypt=StandardEncryption("", ownerPassword="owner", canPrint=0)), "perm.pdf")
    assert exc.value.code == "encrypted"


@pytest.mark.parametrize("name", ["../../../etc/passwd.pdf", "..\\..\\windows\\win.ini.pdf", "/etc/shadow.pdf",
                                  "..", ".", "C:\\boot.pdf", "a\x00b.pdf", "\u202eexe.pdf",
                                  "evil\r\nX-Header: 1.pdf"])
def test_upload_names_cannot_traverse_or_inject_headers(client, db, logged_in, official, order, name):
    logged_in(official)
    resp = _post_file(client, order, make_pdf(), name)
    if resp.status_code == 400:           # the multipart parser may drop a part whose name has CR/LF in it
        assert "Выберите файл" in resp.get_data(as_text=True) and _files(db, order) == []
        return
    assert resp.status_code == 302
    (f,) = _files(db, order)
    assert "/" not in f.filename and "\\" not in f.filename and f.filename.strip(". ")
    assert all(c.isprintable() for c in f.filename)
    got = client.get(f"/ordinances/{order.id}/files/{f.id}")
    cd = got.headers["Content-Disposition"]
    assert got.status_code == 200 and "\r" not in cd and "\n" not in cd
    assert "/" not in cd.split("filename", 1)[1].replace("%2F", "")


# ---- in force: archived, frozen ----------------------------------------------------------------------------------

def test_put_in_force_the_files_are_archived_with_the_order_class_retention(client, db, logged_in, official,
                                                                            order, run_jobs):
    from archive.models import RecordKind, RecordStatus
    from archive.services import retention_until
    from core import db as dbm
    from core.storage import get_storage
    logged_in(official)
    pdf, att = make_pdf("Приказ подписан"), make_pdf("План", pages=3)
    _post_file(client, order, pdf, "prikaz.pdf")
    _post_file(client, order, att, "plan.pdf", slot="attachment:1")
    token = csrf_token(client, f"/ordinances/{order.id}")
    assert client.post(f"/ordinances/{order.id}/status", data={"csrf_token": token, "status": "in_force"}
                       ).status_code == 302
    f_order, f_att = _files(db, order)
    for f, kind, source in ((f_order, RecordKind.order, "ordinance_document"),
                            (f_att, RecordKind.attachment, "ordinance_attachment")):
        r = f.archive_record
        assert r.status is RecordStatus.pending and r.kind is kind
        assert (r.source_type, r.source_id, r.organisation_id) == (source, f.id, order.issuer_id)
        assert r.source_sha256 == f.sha256 and f.content is None      # the archive holds the bytes now
    assert f_order.archive_record.title.startswith("Приказ № 3116 от 08.11.2010 «")
    assert f_att.archive_record.title == "Приказ № 3116 от 08.11.2010 — Приложение № 1 «План»"
    assert "передаётся в архив" in _page(client, order)
    # pending: the download is the staged copy, logged in the archive's access log
    got = client.get(f"/ordinances/{order.id}/files/{f_att.id}")
    assert got.status_code == 200 and got.data == att
    dbm.commit()
    run_jobs()
    storage = get_storage()
    for f, data in ((f_order, pdf), (f_att, att)):
        db.refresh(f.archive_record)
        r = f.archive_record
        assert r.status is RecordStatus.archived, r.last_error
        assert storage.get(r.key) == data and r.sha256 == hashlib.sha256(data).hexdigest()   # no TSA: as uploaded
        assert r.retention_years == 100                    # orders of main activity: permanently (ст. 19а)
        assert r.retention_until == retention_until(100, r.archived_at.date())
        assert storage.head(r.key).retain_until == r.retention_until
        assert r.staged_pdf is None
    page = _page(client, order)
    assert "в архиве" in page and f"/archive/records/{f_order.archive_record_id}" not in page  # no archive role
    got = client.get(f"/ordinances/{order.id}/files/{f_order.id}")
    assert got.status_code == 200 and got.data == pdf
    from archive.models import AccessLog
    logged = db.scalars(select(AccessLog).where(AccessLog.record_id == f_order.archive_record_id)).all()
    assert [(a.action, a.details["via"]) for a in logged] == [("download", "ordinance")] and logged[0].purpose


def test_in_force_files_cannot_be_replaced_or_removed(client, db, logged_in, official, order):
    logged_in(official)
    _post_file(client, order, make_pdf(), "prikaz.pdf")
    svc.set_status(order, OrdinanceStatus.in_force, actor=official)
    (f,) = _files(db, order)
    resp = _post_file(client, order, make_pdf("другой"), "other.pdf")
    assert resp.status_code == 400 and "нельзя заменить или удалить" in resp.get_data(as_text=True)
    token = csrf_token(client, f"/ordinances/{order.id}")
    resp = client.post(f"/ordinances/{order.id}/files/{f.id}/remove", data={"csrf_token": token})
    assert resp.status_code == 400 and "новым документом" in resp.get_data(as_text=True)
    (same,) = _files(db, order)
    assert same.sha256 == f.sha256 and same.filename == "prikaz.pdf"
    # a new attachment row is a change of the ordinance: refused too
    resp = _post_file(client, order, make_pdf(), "x.pdf", slot="new", number="7", title="Новое")
    assert resp.status_code == 400 and "Приложения № 7 нет в документе" in resp.get_data(as_text=True)
    assert "Удалить" not in _page(client, order)


def test_a_file_uploaded_after_in_force_is_archived_at_once(client, db, logged_in, official, order, run_jobs):
    from archive.models import RecordKind, RecordStatus
    from core import db as dbm
    from core.storage import get_storage
    svc.set_status(order, OrdinanceStatus.in_force, actor=official)
    logged_in(official)
    page = _page(client, order)
    assert "Загрузить недостающий файл" in page and "Новое приложение" not in page
    att = make_pdf("План мероприятий (скан)")
    assert _post_file(client, order, att, "plan-scan.pdf", slot="attachment:1").status_code == 302
    (f,) = _files(db, order)
    assert f.content is None and f.archive_record.status is RecordStatus.pending
    assert f.archive_record.kind is RecordKind.attachment
    dbm.commit()
    run_jobs()
    db.refresh(f.archive_record)
    assert f.archive_record.status is RecordStatus.archived
    assert get_storage().get(f.archive_record.key) == att
    assert _audits(db, "ordinance.file.archive") == 1


def test_an_archivist_sees_the_link_to_the_archive_record(client, db, tree, make_user, logged_in, official, order):
    from orgs.models.users import Role
    f, _ = files.upload(order, role="order", data=make_pdf(), filename="p.pdf", actor=official)
    svc.set_status(order, OrdinanceStatus.in_force, actor=official)
    both = make_user("regional_official", tree["region"])
    auth.grant(both, Role.archivist, tree["region"])
    logged_in(both)
    page = _page(client, order)
    assert f"/archive/records/{f.archive_record_id}" in page
    assert client.get(f"/archive/records/{f.archive_record_id}").status_code == 200


# ---- access ------------------------------------------------------------------------------------------------------

def test_who_may_upload_and_download(client, db, tree, make_org, make_user, logged_in, official, order):
    f, _ = files.upload(order, role="order", data=make_pdf(), filename="p.pdf", actor=official)
    director = make_user("director", tree["a"])                 # reads the region's orders once in force, not drafts
    logged_in(director)
    assert client.get(f"/ordinances/{order.id}/files/{f.id}").status_code == 404
    token = csrf_token(client, "/")
    resp = client.post(f"/ordinances/{order.id}/files", content_type="multipart/form-data",
                       data={"csrf_token": token, "slot": "order", "file": (io.BytesIO(make_pdf()), "x.pdf")})
    assert resp.status_code == 404
    assert client.post(f"/ordinances/{order.id}/files/{f.id}/remove", data={"csrf_token": token}).status_code == 404
    other_region = make_org("region", name="Другая область")
    stranger = make_user("regional_official", other_region)
    client.post("/logout", data={"csrf_token": token})
    logged_in(stranger)
    assert client.get(f"/ordinances/{order.id}/files/{f.id}").status_code == 403
    _, tok = auth.issue_token(stranger, "test")
    h = {"Authorization": f"Bearer {tok}"}
    assert client.get(f"/api/v1/ordinances/{order.id}/files/{f.id}/content", headers=h).status_code == 403
    assert client.post(f"/api/v1/ordinances/{order.id}/files", headers=h, content_type="multipart/form-data",
                       data={"role": "order", "file": (io.BytesIO(make_pdf()), "x.pdf")}).status_code == 403
    assert client.get(f"/api/v1/ordinances/{order.id}/files", headers=h).status_code == 403
    assert client.get(f"/api/v1/ordinances/{order.id}/files").status_code == 401
    (same,) = _files(db, order)
    assert same.filename == "p.pdf"


# ---- API ---------------------------------------------------------------------------------------------------------

def test_api_upload_list_download_and_remove_with_a_bearer_token(client, db, official, order, run_jobs):
    _, token = auth.issue_token(official, "document system")
    h = {"Authorization": f"Bearer {token}"}
    base = f"/api/v1/ordinances/{order.id}/files"
    pdf = make_pdf("Приказ 3116")
    resp = client.post(base, headers=h, content_type="multipart/form-data",
                       data={"role": "order", "file": (io.BytesIO(pdf), "prikaz.pdf")})
    assert resp.status_code == 201, resp.json
    assert resp.json["sha256"] == hashlib.sha256(pdf).hexdigest() and resp.json["status"] == "draft"
    fid = resp.json["id"]
    bad = client.post(base, headers=h, content_type="multipart/form-data",
                      data={"role": "attachment", "number": "1", "file": (io.BytesIO(b"PK\x03\x04"), "plan.docx")})
    assert bad.status_code == 422 and bad.json["error"] == "not_pdf" and "plan.docx" in bad.json["message"]
    again = client.post(base, headers=h, content_type="multipart/form-data",
                        data={"role": "attachment", "number": "1", "file": (io.BytesIO(make_pdf("План")), "p.pdf")})
    assert again.status_code == 201 and again.json["attachment_number"] == "1"
    listing = client.get(base, headers=h).json
    assert [s["role"] for s in listing["slots"]] == ["order", "attachment"] and listing["can_edit"]
    assert listing["slots"][0]["file"]["id"] == fid
    got = client.get(f"{base}/{fid}/content", headers=h)
    assert got.status_code == 200 and got.data == pdf
    assert client.delete(f"{base}/{again.json['id']}", headers=h).status_code == 204
    status = client.post(f"/api/v1/ordinances/{order.id}/status", json={"status": "in_force"}, headers=h)
    assert status.status_code == 200
    listing = client.get(base, headers=h).json
    assert listing["slots"][0]["file"]["status"] == "pending"
    assert client.delete(f"{base}/{fid}", headers=h).status_code == 409
    late = client.post(base, headers=h, content_type="multipart/form-data",
                       data={"role": "attachment", "number": "1", "file": (io.BytesIO(make_pdf("План")), "p.pdf")})
    assert late.status_code == 201 and late.json["status"] == "pending"
    run_jobs()
    listing = client.get(base, headers=h).json
    assert {s["file"]["status"] for s in listing["slots"]} == {"archived"}
    assert all(s["file"]["archive"]["record_id"] is None for s in listing["slots"])   # no archive role: no link
    spec = client.get("/api/v1/openapi.json").json
    assert {"/ordinances/{id}/files", "/ordinances/{id}/files/{file_id}/content"} <= set(spec["paths"])


def test_hand_over_is_idempotent_and_a_disposed_file_is_not_served(client, db, logged_in, official, order):
    from archive.models import ArchiveRecord, RecordStatus
    from core.db import utcnow
    f, _ = files.upload(order, role="order", data=make_pdf(), filename="p.pdf", actor=official)
    svc.set_status(order, OrdinanceStatus.in_force, actor=official)
    files.archive_all(order, actor=official)                   # again: nothing new
    assert db.query(ArchiveRecord).filter_by(source_type="ordinance_document", source_id=f.id).count() == 1
    r = f.archive_record
    r.status, r.disposed_at, r.staged_pdf = RecordStatus.disposed, utcnow(), None   # as a disposal act leaves it
    logged_in(official)
    got = client.get(f"/ordinances/{order.id}/files/{f.id}")
    assert got.status_code == 410 and "уничтожен по акту" in got.get_data(as_text=True)
    assert "уничтожен по акту" in _page(client, order)
