"""The public page the QR code opens: anyone uploads the copy in hand and gets the same validation as
the archive's page, and a plain Russian verdict on which copy it is — never a pupil's name."""
import io

import pytest

from archive.models import RecordKind, RecordStatus
from core import db
from core.db import session
from core.storage import get_storage
from tests.archive.conftest import class_marks, signer
from tests.archive.test_disposal import _age, _archive
from tests.archive.test_verify import _tamper
from tests.helpers import csrf_token

PUPIL = "Шарипова Гульнара Ренатовна"


def _upload(client, document_id: str, data: bytes, name="copy.pdf", **kw):
    return client.post(f"/verify/{document_id}", content_type="multipart/form-data", **kw,
                       data={"csrf_token": csrf_token(client, f"/verify/{document_id}"),
                             "file": (io.BytesIO(data), name)})


def _verdict(resp) -> str:
    import re
    page = resp.get_data(as_text=True)
    assert PUPIL not in page                               # nothing of the pupils, ever
    m = re.search(r'id="verdict">(.*?)</div>', page, re.S) or re.search(r'id="verdict">(.*?)</p>', page, re.S)
    assert m, page[:3000]
    return " ".join(re.sub(r"<[^>]+>", " ", m.group(1)).split())


@pytest.fixture
def archived(tree, sign_sheet, run_jobs, tsa):
    from archive.services import record_for
    sheet = sign_sheet(tree["a"], "8А", rename={"Борисов Никита Ильич": PUPIL})
    db.commit()
    run_jobs()
    record = record_for("summary_sheet", sheet.id)
    assert record.status is RecordStatus.archived, record.last_error
    assert PUPIL in [p["name"] for p in sheet.marks["pupils"]]     # so "never shown" means something
    return sheet, record


def test_the_signed_copy_and_the_archive_copy_are_genuine(client, archived):
    sheet, record = archived
    archive_copy = get_storage().get(record.key)
    assert archive_copy != sheet.pdf and archive_copy.startswith(sheet.pdf)   # B-LTA: DSS + archive timestamp
    for data, which in ((sheet.pdf, "подписанный подлинник"), (archive_copy, f"архивная копия (запись № {record.id})")):
        resp = _upload(client, sheet.document_id, data)
        assert resp.status_code == 200
        verdict = _verdict(resp)
        assert verdict.startswith("ПОДЛИННЫЙ") and "действительны" in verdict, verdict
        assert which in resp.get_data(as_text=True)


def test_a_changed_byte_a_later_edit_and_another_document_each_get_their_verdict(client, archived, tree,
                                                                                  sign_sheet):
    sheet, record = archived
    assert "изменён после подписания" in _verdict(_upload(client, sheet.document_id, _tamper(sheet.pdf)))
    # an unsigned incremental update after the director's signature (a changed annotation)
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    w = IncrementalPdfFileWriter(io.BytesIO(sheet.pdf))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(90)
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    verdict = _verdict(_upload(client, sheet.document_id, out.getvalue()))
    assert verdict.startswith("НЕ ПОДТВЕРЖДЁН") and "После подписания в файл внесены изменения" in verdict, verdict
    other = sign_sheet(tree["a"], "8Б")
    verdict = _verdict(_upload(client, sheet.document_id, other.pdf))
    assert verdict.startswith("НЕ ПОДТВЕРЖДЁН") and "Другой документ" in verdict, verdict


def test_a_superseded_version_says_which_version_is_in_force(client, archived, people):
    from sheets import services
    sheet, _ = archived
    new = services.correct(sheet, class_marks("8А", seed=5), reason="исправлена оценка", actor=people.director)
    db.commit()
    verdict = _verdict(_upload(client, sheet.document_id, sheet.pdf))
    assert verdict.startswith("НЕ ПОДТВЕРЖДЁН") and "заменена исправленной" in verdict, verdict
    assert f"Действует версия {new.version}" in verdict
    # the old copy under the new version's link: another version of the same sheet
    verdict = _verdict(_upload(client, new.document_id, sheet.pdf))
    assert "это версия 1 ведомости, а ссылка — на версию 2" in verdict, verdict


def test_a_disposed_record_says_so(client, app, tree, people, pki, sign_sheet, run_jobs, local_storage):
    from archive import disposal
    (sheet,), (record,) = _archive(tree, sign_sheet, run_jobs, "9Д")
    kept = bytes(sheet.pdf)
    _age(record, local_storage)
    act = disposal.draft([record], "Истечение сроков хранения", actor=people.archivist, organisation=tree["region"])
    disposal.sign(act, signer(pki, "director"), actor=people.archivist)
    db.commit()
    run_jobs()
    session.refresh(record)
    assert record.status is RecordStatus.disposed
    verdict = _verdict(_upload(client, sheet.document_id, kept))
    assert verdict.startswith("НЕ ПОДТВЕРЖДЁН") and f"уничтожен по акту № {act.number}" in verdict, verdict


def test_the_archived_copy_of_an_ordinance_scan_verifies(client, tree, run_jobs, trusting, tsa):
    from reportlab.pdfgen import canvas

    from archive.services import register_document
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, "Prikaz 271 (scan)")
    c.save()
    record = register_document(RecordKind.order, buf.getvalue(), source_type="test_scan", source_id=None,
                               organisation=tree["region"], title="Приказ № 271 (скан)")
    db.commit()
    run_jobs()
    assert record.status is RecordStatus.archived and record.document_id
    stored = get_storage().get(record.key)
    verdict = _verdict(_upload(client, record.document_id, stored))
    assert verdict.startswith("ПОДЛИННЫЙ") and f"запись № {record.id}" in verdict, verdict
    verdict = _verdict(_upload(client, record.document_id, _tamper(stored)))
    assert verdict.startswith("НЕ ПОДТВЕРЖДЁН"), verdict


def test_uploads_are_capped_and_rate_limited(client, app, archived, monkeypatch, redis_conn):
    sheet, _ = archived
    monkeypatch.setitem(app.config, "PUBLIC_VERIFY_MAX_BYTES", 100_000)
    assert _upload(client, sheet.document_id, b"%PDF-1.7\n" + b"0" * 200_000).status_code == 413
    monkeypatch.setitem(app.config, "PUBLIC_VERIFY_PER_MINUTE", 2)
    redis_conn.flushdb()
    codes = [_upload(client, sheet.document_id, b"%PDF-1.7 not really").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert client.get("/verify/no-such-document").status_code == 404
