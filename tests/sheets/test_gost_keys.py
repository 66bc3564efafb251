"""A GOST key kept on the server (a PFX exported by OpenSSL's GOST engine) signs a sheet through the same
paths as an RSA key — page, batch, CLI — with the same checks, and OpenSSL verifies what the service's own
GOST code signed."""
import io

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader

import pades
from archive.verify import verify_bytes
from core import db
from core.db import session
from pades import gost_keys
from sheets import services
from sheets.models import BatchKind, BatchStatus, SheetStatus
from tests.helpers import csrf_token
from tests.sheets import gost_pki
from tests.sheets.test_gost import _director
from tests.sheets.test_sheet_flow import YEAR, _sheets, test_pki_signer

pytestmark = pytest.mark.skipif(not gost_pki.available(), reason="OpenSSL GOST engine (libengine-gost-openssl)")
PASS = "гост-пароль"


@pytest.fixture(autouse=True)
def clock():
    """The real clock: OpenSSL issues the GOST certificates from now (tests/sheets freezes it otherwise)."""
    yield None


def _gost_valid(pdf: bytes, pki, gpki) -> list[pades.SignatureReport]:
    reports = pades.validate(pdf, [pki.root, gpki.root], other_certs=[pki.interm])
    assert all(r.intact and r.valid and r.trusted for r in reports), [r.details for r in reports]
    return reports


def _openssl_verifies_the_embedded_cms(pdf: bytes, gpki) -> None:
    """The director's CMS as embedded, checked by OpenSSL over the /ByteRange it covers."""
    reader = PdfFileReader(io.BytesIO(pdf))
    sig = next(s for s in reader.embedded_signatures if s.field_name == "Director")
    offsets = [int(x) for x in sig.byte_range]
    data = b"".join(pdf[a:a + n] for a, n in zip(offsets[0::2], offsets[1::2]))
    der = cms.ContentInfo.load(bytes(sig.pkcs7_content), strict=False).dump()   # without the zero padding
    gpki.verify_detached(der, data)


@pytest.mark.parametrize("name, bits", [("director", 256), ("director512", 512)])
def test_the_director_signs_on_the_page_with_a_gost_pfx(client, logged_in, school, gpki, certified, pki, name, bits):
    _director(school, gpki)
    logged_in(school.director)

    def post(p12, passphrase):
        return client.post(f"/sheets/{certified.id}/sign", content_type="multipart/form-data",
                           data={"csrf_token": csrf_token(client, "/"), "role": "director", "passphrase": passphrase,
                                 "key": (io.BytesIO(p12), "director.pfx")})

    wrong = post(gpki.pkcs12(name, PASS), "не тот")
    assert wrong.status_code == 303 and certified.status is SheetStatus.teacher_signed
    assert "неверный пароль" in client.get(f"/sheets/{certified.id}").get_data(as_text=True)
    assert post(gpki.pkcs12(name, PASS), PASS).status_code == 302
    assert certified.status is SheetStatus.signed
    reports = _gost_valid(certified.pdf, pki, gpki)
    assert f"ГОСТ Р 34.10-2012, {bits} бит" in reports[1].summary_ru
    _openssl_verifies_the_embedded_cms(certified.pdf, gpki)
    v = verify_bytes(certified.pdf, allow_fetching=False)     # the archive's check (not archived yet)
    assert all(s.ok for s in v.signatures), "\n".join(v.lines_ru())
    tampered = bytearray(certified.pdf)
    tampered[certified.pdf.index(b"/Producer") + 3] ^= 1
    assert not any(r.intact for r in pades.validate(bytes(tampered), [pki.root, gpki.root], other_certs=[pki.interm]))


def test_a_revoked_or_other_persons_gost_key_signs_nothing(school, gpki, certified):
    director = _director(school, gpki)
    before = certified.pdf
    with pytest.raises(pades.SigningError, match="отозван"):
        services.sign(certified, "director", pades.PKCS12Signer(gpki.pkcs12("director-revoked", PASS), PASS),
                      actor=director)
    with pytest.raises(pades.SigningError, match="недоверенным"):
        services.sign(certified, "director", pades.PKCS12Signer(gpki.pkcs12("director-foreign", PASS), PASS),
                      actor=director)
    with pytest.raises(pades.SigningError, match="Сертификат выдан на «Иванова"):   # the teacher's GOST key
        services.sign(certified, "director", pades.PKCS12Signer(gpki.pkcs12("teacher-gost", PASS), PASS),
                      actor=director)
    assert certified.pdf == before and certified.status is SheetStatus.teacher_signed


def test_a_gost_key_signs_a_batch(app, school, gpki, pki, both_roots, run_jobs):
    director = _director(school, gpki)
    sheets = _sheets(school, "8А", "8Б")
    teacher = test_pki_signer(pki, "teacher")
    for s in sheets:
        services.render_pdf(s, actor=director)
        services.sign(s, "teacher", teacher, actor=school.teacher)
    db.commit()
    with app.test_request_context():
        batch = services.start_batch(BatchKind.sign_director, school.org, YEAR, actor=director,
                                     pkcs12=gpki.pkcs12("director", PASS), passphrase=PASS)
        db.commit()
    run_jobs()
    session.refresh(batch)
    assert batch.status is BatchStatus.done, batch.errors
    for s in sheets:
        session.refresh(s)
        assert s.status is SheetStatus.signed
        _gost_valid(s.pdf, pki, gpki)


def test_a_gost_key_signs_from_the_cli(app, school, gpki, pki, certified, tmp_path):
    _director(school, gpki)
    db.commit()
    key = tmp_path / "director.pfx"
    key.write_bytes(gpki.pkcs12("director", PASS))
    out = app.test_cli_runner().invoke(args=["sheets", "sign", "--org", school.org.code, "--year", YEAR,
                                             "--as", school.director.login, "--role", "director", "--key", str(key)],
                                       input=PASS + "\n")
    assert out.exit_code == 0, out.output
    assert PASS not in out.output
    session.refresh(certified)
    assert certified.status is SheetStatus.signed
    _gost_valid(certified.pdf, pki, gpki)


def test_a_damaged_container_names_the_problem(gpki):
    p12 = bytearray(gpki.pkcs12("director", PASS))
    p12[len(p12) // 2] ^= 0xFF
    with pytest.raises(pades.SigningError, match="неверный пароль или файл повреждён"):
        pades.PKCS12Signer(bytes(p12), PASS)
    with pytest.raises(gost_keys.GostKeyError, match="неверный пароль"):
        gost_keys.load_pkcs12(gpki.pkcs12("director", PASS), b"")
    key = gost_keys.load_pkcs12(gpki.pkcs12("director", PASS), PASS.encode())
    assert PASS not in repr(key) and "256" in repr(key)


def test_the_sig_goes_to_the_archive_and_its_export(app, school, gpki, certified, pki, run_jobs, make_user, tmp_path):
    """The director's GOST key on the server also makes the .sig over the final PDF; the archive keeps it beside
    the record and the certified export carries it with the revision it signs, which OpenSSL verifies."""
    import zipfile

    from archive import export
    from archive.services import record_for
    from core.storage import get_storage
    from tests.sheets import pki as test_pki
    director = _director(school, gpki)
    services.sign(certified, "director", pades.PKCS12Signer(gpki.pkcs12("director", PASS), PASS), actor=director)
    assert certified.detached_sig is not None
    gpki.verify_detached(certified.detached_sig, certified.pdf)
    db.commit()
    run_jobs()
    record = record_for("summary_sheet", certified.id)
    assert record.detached_sig_key and get_storage().get(record.detached_sig_key) == certified.detached_sig
    seal = tmp_path / "seal.p12"
    seal.write_bytes(pki.pkcs12("director"))
    app.config.update(ARCHIVE_SEAL_KEY=str(seal), ARCHIVE_SEAL_PASSPHRASE=test_pki.PASSPHRASE)
    try:
        with app.test_request_context():
            out = export.build([record], "проверка в КриптоАРМ", user=make_user("archivist", school.org))
    finally:
        app.config.update(ARCHIVE_SEAL_KEY=None, ARCHIVE_SEAL_PASSPHRASE=None)
    z = zipfile.ZipFile(io.BytesIO(out.data))
    base = f"{out.name}/records/{record.id}/{record.source_sha256}.pdf"
    signed, sig = z.read(base), z.read(base + ".sig")
    assert signed == certified.pdf and sig == certified.detached_sig
    gpki.verify_detached(sig, signed)
    with pytest.raises(Exception):
        gpki.verify_detached(sig, z.read(f"{out.name}/records/{record.id}/{record.sha256}.pdf"))  # the B-LTA copy


def test_a_sig_added_after_archiving_is_kept_too(app, client, school, gpki, certified, pki, run_jobs):
    from archive.services import record_for
    from core.storage import get_storage
    from tests.sheets.test_gost import _api_sign, _token
    director = _director(school, gpki)
    assert _api_sign(client, certified, gpki, "director", token=_token(director)).status_code == 200
    db.commit()
    run_jobs()
    record = record_for("summary_sheet", certified.id)
    assert record.detached_sig_key is None
    import base64
    h = {"Authorization": f"Bearer {_token(director)}"}
    url = f"/api/v1/sheets/{certified.id}/external/detached"
    wrong = client.post(url, headers=h, json={"cms": base64.b64encode(gpki.sign_cms("director", b"x")).decode()})
    assert wrong.status_code == 422 and "другому документу" in wrong.json["message"]
    sig = gpki.sign_cms("director", certified.pdf)
    assert client.post(url, headers=h, json={"cms": base64.b64encode(sig).decode()}).status_code == 200
    db.commit()
    session.refresh(record)
    assert get_storage().get(record.detached_sig_key) == sig


def test_revocation_by_a_gost_signed_ocsp_response(school, gpki, certified, pki):
    """Certificates naming only an OCSP responder (GOST-signed answers made by `openssl ocsp`): the check at
    signing is hard-fail, so the good one signing proves its GOST-signed answer was verified."""
    director = _director(school, gpki)
    with pytest.raises(pades.SigningError, match="отозван"):
        services.sign(certified, "director", pades.PKCS12Signer(gpki.pkcs12("director-ocsp-revoked", PASS), PASS),
                      actor=director)
    assert certified.status is SheetStatus.teacher_signed
    services.sign(certified, "director", pades.PKCS12Signer(gpki.pkcs12("director-ocsp", PASS), PASS), actor=director)
    reports = pades.validate(certified.pdf, [pki.root, gpki.root], other_certs=[pki.interm], allow_fetching=True,
                             revocation_mode="soft-fail")     # hard-fail: a fresh answer is "too recent"
    assert all(r.intact and r.valid and r.trusted and r.bottom_line for r in reports), [r.details for r in reports]


# ---- a GOST time-stamp authority (openssl ts -reply with the engine: Streebog-256, GOST key) --------------------

def _tsa_report_line(v):
    return [c for s in v.signatures for c in s.checks if c.label == "Штамп времени подписи"]


def test_signature_timestamps_from_a_gost_tsa_verify_and_a_changed_token_fails(app, school, gpki, pki, both_roots,
                                                                             monkeypatch):
    monkeypatch.setitem(app.config, "TSA_URL", gpki.tsa_url)
    director = _director(school, gpki)
    (sheet,) = _sheets(school, "9Д")
    services.render_pdf(sheet, actor=director)
    services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)       # RSA + GOST TSA
    services.sign(sheet, "director", pades.PKCS12Signer(gpki.pkcs12("director", PASS), PASS), actor=director)
    reports = _gost_valid(sheet.pdf, pki, gpki)
    assert all(r.timestamp_ok for r in reports), [r.details for r in reports]
    v = verify_bytes(sheet.pdf, allow_fetching=False)
    assert [c.ok for c in _tsa_report_line(v)] == [True, True], "\n".join(v.lines_ru())
    # one byte of the director's token (its TSTInfo serial) changed: the PDF's signed bytes are the same,
    # the token's signature no longer holds
    reader = PdfFileReader(io.BytesIO(sheet.pdf))
    sig = next(s for s in reader.embedded_signatures if s.field_name == "Director")
    token = next(a for a in sig.signer_info["unsigned_attrs"] if a["type"].native == "signature_time_stamp_token")
    tst_info = token["values"][0]["content"]["encap_content_info"]["content"]
    raw = tst_info.contents
    serial = tst_info.parsed["serial_number"].contents
    changed = raw.replace(serial, bytes([serial[0] ^ 1]) + serial[1:], 1)
    hexed = [(raw.hex(), changed.hex()), (raw.hex().upper(), changed.hex().upper())]
    original, tampered = next((a.encode(), b.encode()) for a, b in hexed if a.encode() in sheet.pdf)
    bad = sheet.pdf.replace(original, tampered)
    reports = pades.validate(bad, [pki.root, gpki.root], other_certs=[pki.interm])
    assert reports[0].timestamp_ok and reports[1].intact and reports[1].valid
    assert not reports[1].timestamp_ok, reports[1].details


def test_a_gost_tsa_for_the_archive_timestamp_and_its_renewal(app, school, gpki, pki, both_roots, run_jobs,
                                                              monkeypatch, make_user):
    from archive.ingest import renew
    from archive.models import RecordStatus
    from archive.services import record_for
    from core.storage import get_storage
    monkeypatch.setitem(app.config, "TSA_URL", gpki.tsa_url)
    director = _director(school, gpki)
    (sheet,) = _sheets(school, "9Е")
    services.render_pdf(sheet, actor=director)
    services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    services.sign(sheet, "director", pades.PKCS12Signer(gpki.pkcs12("director", PASS), PASS), actor=director)
    db.commit()
    run_jobs()
    record = record_for("summary_sheet", sheet.id)
    assert record.status is RecordStatus.archived, record.last_error
    from archive.search import Query, search
    archivist = make_user("archivist", school.org)
    assert [r.id for r in search(archivist, Query(signer="Сафин")).rows] == [record.id]   # found by the GOST signer
    for _ in range(2):                          # ingest, then a renewal over it
        stored = get_storage().get(record.key)
        v = verify_bytes(stored, allow_fetching=False)
        assert v.ok, "\n".join(v.lines_ru())
        assert ("Долгосрочная проверка (PAdES B-LTA)", True) in [(c.label, c.ok) for c in v.checks]
        assert any(s.kind == "archive_timestamp" and s.ok for s in v.signatures)
        renew(record)
        db.commit()
    final = get_storage().get(record.key)
    assert len(PdfFileReader(io.BytesIO(final)).embedded_timestamp_signatures) == 3   # ingest + two renewals
    assert verify_bytes(final, allow_fetching=False).ok


def test_a_gost_key_signs_a_document_without_a_prepared_field(gpki, pki):
    """The archive's acts and inventories are signed in a new invisible field (pades.sign(new_field=True))."""
    from reportlab.pdfgen import canvas
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.drawString(72, 720, "act")
    c.save()
    signer = pades.PKCS12Signer(gpki.pkcs12("director", PASS), PASS)
    signed = pades.sign(buf.getvalue(), "ArchiveSeal", signer, new_field=True, reason="Акт", location="Архив")
    (report,) = pades.validate(signed, [gpki.root], require_ours=False)
    assert report.intact and report.valid and report.trusted, report.details
    assert "ГОСТ Р 34.10-2012, 256 бит" in report.summary_ru


def test_signing_asks_only_allowed_hosts_for_revocation(app, school, gpki, certified, monkeypatch):
    """The certificate's CRL server is not on FETCH_ALLOWED_HOSTS: it is not asked, so revocation cannot be
    checked and signing (hard-fail) is refused."""
    director = _director(school, gpki)
    monkeypatch.setitem(app.config, "FETCH_ALLOWED_HOSTS", "crl.ca.example.ru")
    with pytest.raises(pades.SigningError, match="не ответила"):
        services.sign(certified, "director", pades.PKCS12Signer(gpki.pkcs12("director", PASS), PASS),
                      actor=director)
    assert certified.status is SheetStatus.teacher_signed
