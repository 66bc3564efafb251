"""A sheet waiting for my signature, a batch that stopped: in the inbox of the one who must act (issue 18)."""
from assignments.models import Notification
from core import db, keyvault
from core.db import session
from sheets import services, tasks
from sheets.models import BatchKind, BatchStatus
from tests.helpers import csrf_token
from tests.sheets import pki as test_pki
from tests.sheets.helpers import assert_all_valid
from tests.sheets.test_sheet_flow import YEAR, _sheets, test_pki_signer


def inbox(user) -> list[Notification]:
    return list(session.query(Notification).filter_by(user_id=user.id).order_by(Notification.id))


def test_the_teacher_then_the_director_are_told_their_signature_is_awaited(school, pki):
    (sheet,) = _sheets(school, "8А")
    services.render_pdf(sheet, actor=school.director)
    (told,) = inbox(school.teacher)
    assert told.kind == "sheet.sign" and told.url == f"/sheets/{sheet.id}" and "классный руководитель" in told.text
    assert inbox(school.director) == []
    services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    assert_all_valid(sheet.pdf, pki, count=1)
    (waiting,) = inbox(school.director)
    assert waiting.kind == "sheet.sign" and "ждёт вашей подписи" in waiting.text


def test_a_batch_that_stops_tells_whoever_started_it(app, school, pki):
    sheets = _sheets(school, "8Б", "8В")
    for s in sheets:
        services.render_pdf(s, actor=school.director)
    with app.test_request_context():
        batch = services.start_batch(BatchKind.sign_teacher, school.org, YEAR, actor=school.teacher,
                                     pkcs12=pki.pkcs12("teacher"), passphrase=test_pki.PASSPHRASE)
        db.commit()
    keyvault.drop(batch.id)                         # the key expired before a worker took the batch
    tasks.process_batch(batch.id)
    session.refresh(batch)
    assert batch.status is BatchStatus.failed
    note = [n for n in inbox(school.teacher) if n.kind == "sheet.batch"]
    assert len(note) == 1 and note[0].url == f"/sheets/batches/{batch.id}" and "прерван" in note[0].text


def test_the_sheet_page_shows_the_sheet_before_and_after_signing(client, logged_in, school, pki, tmp_path,
                                                                  monkeypatch, make_user):
    """Pages as images (cached by the PDF's hash) and the marks table, before the director signs and after;
    the times in Moscow, named (issue 19)."""
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    (sheet,) = _sheets(school, "9А")
    services.render_pdf(sheet, actor=school.director)
    logged_in(school.teacher)
    page = client.get(f"/sheets/{sheet.id}").get_data(as_text=True)
    assert f"/sheets/{sheet.id}/preview/1.png" in page and 'id="marks"' in page
    pupil = sheet.marks["pupils"][0]["name"]
    assert pupil in page
    png = client.get(f"/sheets/{sheet.id}/preview/1.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert (tmp_path / "cache" / "previews" / f"{sheet.pdf_sha256}-1-60.png").read_bytes() == png.data
    assert client.get(f"/sheets/{sheet.id}/preview/99.png").status_code == 404
    services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    assert_all_valid(sheet.pdf, pki, count=1)
    page = client.get(f"/sheets/{sheet.id}").get_data(as_text=True)
    assert "МСК" in page and "UTC" not in page and 'id="marks"' in page
    assert client.get(f"/sheets/{sheet.id}/preview/1.png").status_code == 200
    assert (tmp_path / "cache" / "previews" / f"{sheet.pdf_sha256}-1-60.png").exists()   # the signed PDF's own
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(make_user("class_teacher", school.org))                       # not this class's teacher
    assert client.get(f"/sheets/{sheet.id}/preview/1.png").status_code in (403, 404)

