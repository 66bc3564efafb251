"""Verification of any PDF — the upload form, `flask archive verify FILE`, the stored copy: a good
archived sheet passes; a tampered copy, a revoked signer, a signer from an untrusted CA, a PDF that
is not ours, a broken file and a file that is not a PDF each get a clear Russian answer."""
import io
import json

import pytest

from archive.models import RecordStatus, ValidationReport
from archive.verify import verify_bytes
from core import db
from core.storage import get_storage
from tests.archive.conftest import signer
from tests.helpers import assign_teacher, csrf_token


def _archived(tree, sign_sheet, run_jobs, name, **kw):
    from archive.services import record_for
    sheet = sign_sheet(tree["a"], name, **kw)
    db.commit()
    run_jobs()
    record = record_for("summary_sheet", sheet.id)
    assert record.status is RecordStatus.archived, record.last_error
    return sheet, record


def _tamper(pdf: bytes) -> bytes:
    """One byte changed inside the signed range, the file still parses."""
    out = bytearray(pdf)
    at = pdf.index(b"/Producer") + 3
    out[at] ^= 0x01
    return bytes(out)


def test_an_archived_sheet_verifies_and_a_tampered_copy_fails(app, tree, people, sign_sheet, run_jobs, tsa):
    sheet, record = _archived(tree, sign_sheet, run_jobs, "7А")
    stored = get_storage().get(record.key)
    good = verify_bytes(stored, filename="copy.pdf")
    assert good.ok, good.lines_ru()
    labels = {c.label: c.ok for s in good.signatures if s.kind == "signature" for c in s.checks}
    assert labels == {"Целостность": True, "Подписант": True, "Цепочка сертификатов": True, "Статус отзыва": True,
                      "Штамп времени подписи": True, "Охват": True}
    bad = verify_bytes(_tamper(stored), filename="tampered.pdf")
    assert not bad.ok
    assert any("изменён после подписания" in s.summary for s in bad.signatures), bad.lines_ru()
    assert any(c.label == "Архив" and c.ok is False for c in bad.checks)     # no record has this hash
    assert "ИТОГ: ПРОВЕРКА НЕ ПРОЙДЕНА" in bad.lines_ru()[-1]
    # the report kept with a record is plain data: no PDF object from the reader in it (a field name was one,
    # and copying it for the report copied the whole parsed file)
    assert _leaf_types(good.as_dict()) <= {str, int, bool, type(None)}
    assert [s["field"] for s in good.as_dict()["signatures"]][:2] == ["ClassTeacher", "Director"]


def test_each_signed_revision_is_reviewed_once_and_a_later_edit_still_fails(app, tree, people, sign_sheet, run_jobs,
                                                                            tsa, monkeypatch):
    """The difference analysis after each signature and archive timestamp is run once per verification (as
    of now, the B-LTA check and the timestamps share its verdict), and the verdict is still the file's own:
    a page changed after the archive timestamp fails."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.diff_analysis import StandardDiffPolicy
    sheet, record = _archived(tree, sign_sheet, run_jobs, "7В")
    stored = get_storage().get(record.key)
    reviews: list[tuple[int, int]] = []
    real = StandardDiffPolicy.review_file

    def counted(self, reader, base_revision, *args, **kwargs):
        reviews.append((id(reader), base_revision))
        return real(self, reader, base_revision, *args, **kwargs)
    monkeypatch.setattr(StandardDiffPolicy, "review_file", counted)
    good = verify_bytes(stored)
    assert good.ok, good.lines_ru()
    assert reviews and len(reviews) == len(set(reviews)), reviews
    assert len(reviews) == 2              # the teacher's and the director's; the last timestamp covers the file

    w = IncrementalPdfFileWriter(io.BytesIO(stored))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(90)
    w.update_container(page)
    edited = io.BytesIO()
    w.write(edited)
    bad = verify_bytes(edited.getvalue())
    assert not bad.ok
    assert not any(s.ok for s in bad.signatures if s.kind == "signature"), bad.lines_ru()


def _leaf_types(value) -> set[type]:
    if isinstance(value, dict):
        return set().union(*map(_leaf_types, value.values()))
    if isinstance(value, list):
        return set().union(set(), *map(_leaf_types, value))
    return {type(value)}


def test_a_revoked_signer_fails(app, tree, people, sign_sheet, run_jobs, tsa):
    sheet, record = _archived(tree, sign_sheet, run_jobs, "7Б", director_label="revoked")
    for data in (sheet.pdf, get_storage().get(record.key)):
        v = verify_bytes(data)
        assert not v.ok
        director = next(s for s in v.signatures if s.field == "Director")
        assert "сертификат отозван" in director.summary
        assert ("Статус отзыва", False) in [(c.label, c.ok) for c in director.checks]
        teacher = next(s for s in v.signatures if s.field == "ClassTeacher")
        assert teacher.ok                      # the other signature is still fine


def test_a_signer_from_another_ca_is_untrusted(app, tree, people, pki, trusting, tmp_path):
    import pades
    from pades import demo_pki
    from sheets import services
    from tests.archive.conftest import YEAR, class_marks, signer
    demo_pki.make(tmp_path, {"stranger": "Посторонний Подписант"}, "pass-1234")
    (sheet,) = services.import_classes(tree["a"], YEAR, {"3А": class_marks("3А")}, actor=people.director)
    assign_teacher([sheet], people.teacher, people.director)
    services.render_pdf(sheet, actor=people.director)
    services.sign(sheet, "teacher", signer(pki, "teacher"), actor=people.teacher)
    stranger = pades.PKCS12Signer((tmp_path / "stranger.p12").read_bytes(), "pass-1234")
    with pytest.raises(pades.SigningError, match="выдан недоверенным удостоверяющим центром|Посторонний"):
        services.sign(sheet, "director", stranger, actor=people.director)      # the service refuses it…
    forged = pades.sign(sheet.pdf, "Director", stranger)                        # …a copy signed elsewhere
    v = verify_bytes(forged, allow_fetching=False)
    director = next(s for s in v.signatures if s.field == "Director")
    assert not v.ok and not director.ok
    assert "недоверенным УЦ" in director.summary, director.summary


@pytest.mark.parametrize("data, expected", [
    (b"just some text, not a document", "не является PDF"),
    (b"%PDF-1.7\n1 0 obj <</Type /Catalog>> garbage without xref", "повреждён"),
])
def test_not_a_pdf_or_a_broken_one_gets_a_clear_answer(app, db, data, expected):
    v = verify_bytes(data, filename="x.pdf")
    assert not v.ok and expected in v.summary


def test_a_pdf_that_is_not_ours_is_said_so(app, db, trusting):
    from reportlab.pdfgen.canvas import Canvas
    out = io.BytesIO()
    c = Canvas(out)
    c.drawString(100, 750, "Hello")
    c.save()
    v = verify_bytes(out.getvalue())
    assert not v.ok
    assert v.document.text == "выпущен не этой системой"
    assert "нет электронных подписей" in v.summary


def test_truncated_sheet_is_a_clear_failure(app, tree, people, sign_sheet, run_jobs, trusting):
    sheet, _ = _archived(tree, sign_sheet, run_jobs, "7В")
    v = verify_bytes(sheet.pdf[: len(sheet.pdf) // 2])
    assert not v.ok and v.summary


def test_cli_verify_exits_non_zero_on_failure_and_writes_json(app, tree, people, sign_sheet, run_jobs, tsa, tmp_path):
    sheet, record = _archived(tree, sign_sheet, run_jobs, "8А")
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(get_storage().get(record.key))
    bad.write_bytes(_tamper(good.read_bytes()))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["archive", "verify", str(good), "--json", str(tmp_path / "r.json")])
    assert out.exit_code == 0, out.output
    assert "ИТОГ: ПРОВЕРКА ПРОЙДЕНА" in out.output and f"записи № {record.id}" in out.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["ok"] and report["sha256"] == record.sha256 and report["record_id"] == record.id
    out = runner.invoke(args=["archive", "verify", str(bad)])
    assert out.exit_code == 1 and "ПРОВЕРКА НЕ ПРОЙДЕНА" in out.output
    (tmp_path / "note.txt").write_text("не PDF")
    out = runner.invoke(args=["archive", "verify", str(tmp_path / "note.txt")])
    assert out.exit_code == 1 and "не является PDF" in out.output and "Traceback" not in out.output
    out = runner.invoke(args=["archive", "verify", str(tmp_path / "absent.pdf")])
    assert out.exit_code != 0 and "не прочитан" in out.output
    stored = db_reports(record.id)
    assert [r.source for r in stored if r.source == "cli"] == ["cli"]      # kept with the record


def db_reports(record_id):
    from core.db import session
    return session.query(ValidationReport).filter_by(record_id=record_id).order_by(ValidationReport.id).all()


def test_upload_form_shows_the_report_stores_it_and_offers_json(app, client, logged_in, tree, people, sign_sheet,
                                                                run_jobs, tsa):
    sheet, record = _archived(tree, sign_sheet, run_jobs, "9А")
    logged_in(people.archivist)
    data = get_storage().get(record.key)
    resp = client.post("/archive/verify", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client, "/archive/verify"),
                             "file": (io.BytesIO(data), "vedomost.pdf")})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Проверка пройдена" in page and "Цепочка сертификатов" in page and f"№ {record.id}" in page
    rep = db_reports(record.id)[-1]
    assert rep.source == "upload" and rep.ok and rep.filename == "vedomost.pdf"
    js = client.get(f"/archive/reports/{rep.id}.json")
    assert js.status_code == 200 and js.json["sha256"] == record.sha256
    # the record page lists it in the validation history
    assert "загруженный файл: vedomost.pdf" in client.get(f"/archive/records/{record.id}").get_data(as_text=True)
    # a file that is not a PDF: a clear answer, not a traceback
    resp = client.post("/archive/verify", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client, "/archive/verify"),
                             "file": (io.BytesIO(b"MZ\x90\x00binary"), "program.exe")})
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Проверка НЕ пройдена" in page and "не является PDF" in page
    # someone else's upload report is not shown to others
    other = client.post("/logout", data={"csrf_token": csrf_token(client, "/archive")})
    assert other.status_code == 302
    logged_in(people.archivist_m2)
    assert client.get(resp.headers["Location"]).status_code == 403


def test_the_default_configuration_trusts_the_instance_demo_ca_and_no_other(app, tree, people, run_jobs, tmp_path,
                                                                             monkeypatch, pki):
    """As after `flask serve`: TRUST_ROOTS unset, the demo CA in instance/demo-pki; sheets signed with
    its keys verify, a test-PKI signature is untrusted; the demo seal signs inventories."""
    import pades
    from archive.services import record_for
    from pades import demo_pki
    from sheets import services
    from tests.archive.conftest import YEAR, class_marks
    from web.demo import DEMO_PASSWORD
    demo_pki.make(tmp_path / "demo-pki", {"teacher": people.teacher.full_name, "director": people.director.full_name},
                  DEMO_PASSWORD, seal="Электронный архив (демо-печать)")
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    # signing needs configured roots (`serve` sets TRUST_ROOTS to its demo CA); verification falls back to it
    monkeypatch.setitem(app.config, "TRUST_ROOTS", str(tmp_path / "demo-pki" / "ca.pem"))
    key = lambda who: pades.PKCS12Signer((tmp_path / "demo-pki" / f"{who}.p12").read_bytes(), DEMO_PASSWORD)
    (sheet,) = services.import_classes(tree["a"], YEAR, {"2А": class_marks("2А")}, actor=people.director)
    assign_teacher([sheet], people.teacher, people.director)
    services.render_pdf(sheet, actor=people.director)
    services.sign(sheet, "teacher", key("teacher"), actor=people.teacher)
    services.sign(sheet, "director", key("director"), actor=people.director)
    db.commit()
    run_jobs()
    monkeypatch.setitem(app.config, "TRUST_ROOTS", None)
    assert record_for("summary_sheet", sheet.id).status is RecordStatus.archived
    v = verify_bytes(sheet.pdf)
    assert v.ok, v.lines_ru()
    assert v.trust_roots == ["Демо-УЦ: не для реальных документов"]
    revocation = [c for s in v.signatures for c in s.checks if c.label == "Статус отзыва"]
    assert all(c.ok is None and "нет адресов OCSP/CRL" in c.text for c in revocation)
    (other,) = services.import_classes(tree["a"], YEAR, {"2Б": class_marks("2Б")}, actor=people.director)
    assign_teacher([other], people.teacher, people.director)
    services.render_pdf(other, actor=people.director)
    signed_elsewhere = pades.sign(other.pdf, "ClassTeacher", signer(pki, "teacher"), certify=True)
    v = verify_bytes(signed_elsewhere, match_archive=False)
    assert not v.ok and "недоверенным УЦ" in v.signatures[0].summary
    from archive.documents import seal_signer
    from pades import owner_name
    assert owner_name(seal_signer().certificate) == "Электронный архив (демо-печать)"


def test_a_responder_that_has_gone_away_is_a_warning_not_a_failure(app, db, tmp_path):
    """As for sheets kept by benchmarks/year_end.py --keep: their TSA and OCSP/CRL servers are gone
    when they are verified. Revocation cannot be checked — said so — and the signatures still hold."""

    from pades import PKCS12Signer, sign
    from pades.layout import CLASS_TEACHER_FIELD, DIRECTOR_FIELD
    from sheets.render import render
    from tests.sheets import pki as test_pki
    from tests.sheets.sample import make_sheet
    gone = test_pki.start(tmp_path / "pki")
    try:
        rendered = render(make_sheet(pupils=4, subjects=3))
        pdf = rendered.pdf
        key = lambda label: PKCS12Signer(gone.pkcs12(label), test_pki.PASSPHRASE)
        pdf = sign(pdf, CLASS_TEACHER_FIELD, key("teacher"), certify=True, timestamper_url=gone.tsa_url)
        pdf = sign(pdf, DIRECTOR_FIELD, key("director"), timestamper_url=gone.tsa_url)
        root = gone.root
    finally:
        gone.close()
    v = verify_bytes(pdf, trust_roots=[root], match_archive=False)
    assert v.ok, v.lines_ru()
    revocation = [c for s in v.signatures for c in s.checks if c.label == "Статус отзыва"]
    assert all(c.ok is None and "служба OCSP/CRL недоступна" in c.text for c in revocation)


@pytest.mark.parametrize("with_tsa", [False, True], ids=["no TSA", "archive timestamp"])
def test_an_unsigned_scan_passes_only_as_the_copy_the_archive_holds(app, tree, people, run_jobs, trusting, request,
                                                                   with_tsa):
    """An order signed on paper and scanned has no electronic signature: the archive's hash (and its
    timestamp, with a TSA) is the proof. The same bytes outside the archive, a changed copy, or an
    unsigned sheet-class document do not pass."""
    from reportlab.pdfgen import canvas

    from archive.models import RecordKind
    from archive.services import register_document
    if with_tsa:
        request.getfixturevalue("tsa")
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, "Prikaz 3116 (scan)")
    c.save()
    scan = buf.getvalue()
    assert not verify_bytes(scan).ok                              # not archived yet: no signatures, no match
    record = register_document(RecordKind.attachment, scan, source_type="test_scan", source_id=None,
                               organisation=tree["region"], title="Приложение № 1 (скан)")
    db.commit()
    run_jobs()
    assert record.status is RecordStatus.archived, record.last_error
    stored = get_storage().get(record.key)
    v = verify_bytes(stored)
    assert v.ok, v.lines_ru()
    assert v.summary.startswith("электронных подписей нет") and f"записи № {record.id}" in v.summary
    assert [s.kind for s in v.signatures] == (["archive_timestamp"] if with_tsa else [])
    if with_tsa:
        assert "штампов времени архива: 1, все действительны" in v.summary
        assert not any("B-LTA" in c.label for c in v.checks)       # nothing signed to validate long-term
    bad = verify_bytes(_tamper(stored))                            # not the archived copy (nor covered by its stamp)
    assert not bad.ok and "нет электронных подписей" in bad.summary
    # an unsigned document of a class that must be signed is a failure even when archived
    sheet_like = register_document(RecordKind.readiness_statement, scan + b"\n% other\n", source_type="test_scan",
                                   source_id=None, organisation=tree["region"], title="Заявление без подписи")
    db.commit()
    run_jobs()
    v = verify_bytes(get_storage().get(sheet_like.key))
    assert not v.ok and "нет электронных подписей" in v.summary


def test_verification_does_not_fetch_an_uploaded_files_addresses(app, client, logged_in, people, tmp_path,
                                                                  monkeypatch):
    """A PDF whose certificate points its CRL, OCSP and AIA caIssuers at an internal host (blind SSRF): the
    archive's page and API make no request to it (a local listener counts connections) when fetching is off
    (ARCHIVE_VERIFY_FETCH, which the public page reads too), when the chain does not reach the trust roots,
    and when it does but the host is not on FETCH_ALLOWED_HOSTS; only an allowed host of a trusted chain is
    asked."""
    import datetime as dt
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509 as cx
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    import pades
    from orgs import accounts
    from tests.sheets.sample import make_sheet
    hits = []

    class Internal(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass
    internal = ThreadingHTTPServer(("127.0.0.1", 0), Internal)
    threading.Thread(target=internal.serve_forever, daemon=True).start()
    try:
        now = dt.datetime.now(dt.timezone.utc)

        def issue(subject, issuer, key, issuer_key, *, ca: bool):
            b = (cx.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                 .serial_number(cx.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                 .not_valid_after(now + dt.timedelta(days=9))
                 .add_extension(cx.KeyUsage(not ca, not ca, False, False, False, ca, ca, False, False), critical=True))
            if ca:
                b = b.add_extension(cx.BasicConstraints(ca=True, path_length=0), critical=True)
            else:   # the addresses the server must not be made to call
                base = f"http://127.0.0.1:{internal.server_port}"
                b = b.add_extension(cx.CRLDistributionPoints([cx.DistributionPoint(
                    [cx.UniformResourceIdentifier(f"{base}/internal.crl")], None, None, None)]), critical=False)
                b = b.add_extension(cx.AuthorityInformationAccess([
                    cx.AccessDescription(cx.AuthorityInformationAccessOID.CA_ISSUERS,
                                         cx.UniformResourceIdentifier(f"{base}/issuer.crt"))]), critical=False)
            return b.sign(issuer_key, hashes.SHA256())
        ca_key, key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
        ca_name = cx.Name([cx.NameAttribute(NameOID.COMMON_NAME, "УЦ пробы")])
        ca = issue(ca_name, ca_name, ca_key, ca_key, ca=True)
        cert = issue(cx.Name([cx.NameAttribute(NameOID.COMMON_NAME, "Любопытный")]), ca_name, key, ca_key, ca=False)
        p12 = pkcs12.serialize_key_and_certificates(b"k", key, cert, [ca], serialization.NoEncryption())
        from sheets.render import render
        rendered = render(make_sheet())
        pdf = pades.sign(rendered.pdf, "ClassTeacher",
                         pades.PKCS12Signer(p12, None), certify=True)

        def upload_everywhere():
            logged_in(people.archivist)
            client.post("/archive/verify", content_type="multipart/form-data",
                        data={"csrf_token": csrf_token(client, "/archive/verify"),
                              "file": (io.BytesIO(pdf), "probe.pdf")})
            _, token = accounts.issue_token(people.archivist, "probe")
            client.post("/api/v1/archive/verify", headers={"Authorization": f"Bearer {token}"},
                        content_type="multipart/form-data", data={"file": (io.BytesIO(pdf), "probe.pdf")})
        monkeypatch.setitem(app.config, "TRUST_ROOTS", None)
        monkeypatch.setitem(app.config, "ARCHIVE_VERIFY_FETCH", False)
        upload_everywhere()
        assert hits == []
        monkeypatch.setitem(app.config, "ARCHIVE_VERIFY_FETCH", True)     # fetching on, the chain untrusted
        upload_everywhere()
        assert hits == []                                                 # not even the AIA issuer
        monkeypatch.setitem(app.config, "TRUST_ROOTS", str(_self_root(tmp_path, ca)))
        monkeypatch.setitem(app.config, "FETCH_ALLOWED_HOSTS", "ca.example.ru")   # trusted, host not allowed
        upload_everywhere()
        assert hits == []
        monkeypatch.setitem(app.config, "FETCH_ALLOWED_HOSTS", "127.0.0.1")
        upload_everywhere()
        assert hits and all(h == "/internal.crl" for h in hits), hits     # the CRL only, never the AIA
    finally:
        internal.shutdown()
        internal.server_close()


def _self_root(tmp_path, cert):
    from cryptography.hazmat.primitives import serialization
    path = tmp_path / "self-root.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_the_cli_at_a_console_prints_the_verdict_and_no_traceback(tree, people, sign_sheet, run_jobs, trusting,
                                                                     tsa, tmp_path):
    """`flask archive verify FILE` as a person runs it, in its own process with nothing configured but the
    trusted roots: the verdict on stdout and, on stderr, no JSON and no library traceback (pyHanko's path
    building is debug-level chatter) — for a good and a bad file."""
    import os
    import subprocess
    import sys

    from core import ROOT
    sheet, record = _archived(tree, sign_sheet, run_jobs, "8Б")
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(get_storage().get(record.key))
    bad.write_bytes(_tamper(good.read_bytes()))
    env = {k: v for k, v in os.environ.items() if k not in ("LOG_FORMAT", "DATABASE_URL", "REDIS_URL")}
    env.update(INSTANCE_PATH=str(tmp_path / "instance"), TRUST_ROOTS=str(trusting))
    for path, code, verdict in ((good, 0, "ИТОГ: ПРОВЕРКА ПРОЙДЕНА"), (bad, 1, "ПРОВЕРКА НЕ ПРОЙДЕНА")):
        run = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "archive", "verify", str(path)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == code and verdict in run.stdout, (run.stdout, run.stderr)
        assert "Traceback" not in run.stderr and not [ln for ln in run.stderr.splitlines()
                                                      if ln.lstrip().startswith("{")], run.stderr


def test_console_logging_keeps_real_errors_and_drops_library_chatter(app, monkeypatch):
    """The console handler as `serve` and the CLI set it up: a library's warning with a traceback is debug
    chatter and not shown; an error of ours is shown with its traceback, as a human line."""
    import io
    import logging

    from web import observability
    console = io.StringIO()
    monkeypatch.setattr("sys.stderr", console)
    monkeypatch.setitem(app.config, "LOG_FORMAT", "text")
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in [*observability.CHATTY, ""]}
    observability.configure_logging(app)
    try:
        logging.getLogger("pyhanko_certvalidator").warning("path building failed", exc_info=ValueError("x"))
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("web.test").exception("a real error")
    finally:
        for h in [h for h in root.handlers if getattr(h, "_jt_handler", False)]:
            root.removeHandler(h)
        for name, level in levels.items():
            logging.getLogger(name or None).setLevel(level)
    text = console.getvalue()
    assert not [ln for ln in text.splitlines() if ln.startswith("{")], text
    assert "path building failed" not in text                       # library chatter: not at the console
    assert "ОШИБКА   a real error" in text and "Traceback" in text     # a real error keeps its traceback
