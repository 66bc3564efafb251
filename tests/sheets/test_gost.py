"""ГОСТ КЭП end to end: a sheet certified by the teacher with RSA and signed by the director with a
GOST R 34.10-2012 key through the external-signer path, the CMS made by OpenSSL's GOST engine (an
implementation independent of the service's), verified by the service on every path."""
import base64
import io
import subprocess

import pytest
from sqlalchemy import select

import pades
from archive.verify import verify_bytes
from pades import gost
from sheets import services
from sheets.models import SheetStatus
from tests.sheets import gost_pki

pytestmark = pytest.mark.skipif(not gost_pki.available(), reason="OpenSSL GOST engine (libengine-gost-openssl)")

M1 = b"012345678901234567890123456789012345678901234567890123456789012"   # GOST R 34.11-2012, example 1


@pytest.fixture(autouse=True)
def clock():
    """The real clock: OpenSSL issues the GOST certificates from now (tests/sheets freezes it otherwise)."""
    yield None


def _openssl_digest(data: bytes, bits: int) -> bytes:
    out = subprocess.run(["openssl", "dgst", "-engine", "gost", f"-md_gost12_{bits}", "-binary"], input=data,
                         capture_output=True, check=True).stdout
    return out


@pytest.mark.parametrize("bits", [256, 512])
def test_streebog_agrees_with_the_standard_and_openssl(bits):
    expected = {256: "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500",
                512: "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
                     "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"}[bits]
    assert gost.streebog(M1, f"streebog{bits}").hex() == expected == _openssl_digest(M1, bits).hex()
    for data in (b"", b"\x00" * 63, b"\xff" * 64, bytes(range(256)) * 40):
        assert gost.streebog(data, f"streebog{bits}") == _openssl_digest(data, bits)


def _director(school, gpki):
    school.director.snils, school.director.inn = gost_pki.SNILS["director"], gost_pki.INN["director"]
    return school.director


def _api_sign(client, sheet, gpki, cert_name, *, bits=256, tamper=None, token, cades=True):
    h = {"Authorization": f"Bearer {token}"}
    prep = client.post(f"/api/v1/sheets/{sheet.id}/external/prepare", headers=h, json={
        "role": "director", "certificate": base64.b64encode(gpki.cert(cert_name).dump()).decode()})
    if prep.status_code != 200:
        return prep
    assert prep.json["md_algorithm"] == f"streebog{bits}"
    tbs = base64.b64decode(prep.json["signed_bytes"])
    assert base64.b64decode(prep.json["digest"]) == _openssl_digest(tbs, bits)   # what CryptoPro would hash
    cms = gpki.sign_cms(cert_name, tamper(tbs) if tamper else tbs, bits=bits, cades=cades)
    return client.post(f"/api/v1/sheets/{sheet.id}/external/complete", headers=h,
                       json={"role": "director", "cms": base64.b64encode(cms).decode()})


def _token(user):
    from orgs import accounts
    return accounts.issue_token(user, "cryptopro")[1]


@pytest.mark.parametrize("bits, cades", [(256, True), (512, True), (256, False)],
                         ids=["256-CAdES-BES", "512-CAdES-BES", "256-no-ESS"])
def test_teacher_rsa_then_director_gost_verifies_everywhere(client, school, gpki, certified, bits, cades, pki):
    """CAdES-BES (signingCertificateV2 hashed by Streebog, as CryptoPro makes it) and a bare CMS."""
    director = _director(school, gpki)
    resp = _api_sign(client, certified, gpki, "director" if bits == 256 else "director512", bits=bits,
                     token=_token(director), cades=cades)
    assert resp.status_code == 200, resp.json
    assert certified.status is SheetStatus.signed
    reports = pades.validate(certified.pdf, [pki.root, gpki.root], other_certs=[pki.interm], allow_fetching=True,
                             revocation_mode="soft-fail")
    assert [r.field_name for r in reports] == ["ClassTeacher", "Director"]
    assert all(r.intact and r.valid and r.trusted and r.bottom_line for r in reports), [r.details for r in reports]
    assert gost.LABELS[bits] in reports[1].summary_ru
    v = verify_bytes(certified.pdf, allow_fetching=False)        # the archive's page, CLI and API
    director_sig = next(s for s in v.signatures if s.field == "Director")
    assert director_sig.ok, v.lines_ru()
    # the public page
    page = client.post(f"/verify/{certified.document_id}", content_type="multipart/form-data",
                       data={"csrf_token": _csrf(client, certified), "file": (io.BytesIO(certified.pdf), "c.pdf")})
    assert "ПОДЛИННЫЙ" in page.get_data(as_text=True)
    # a changed byte fails
    tampered = bytearray(certified.pdf)
    tampered[certified.pdf.index(b"/Producer") + 3] ^= 1
    bad = pades.validate(bytes(tampered), [pki.root, gpki.root], other_certs=[pki.interm])
    assert not any(r.intact for r in bad)


def _csrf(client, sheet):
    from tests.helpers import csrf_token
    return csrf_token(client, f"/verify/{sheet.document_id}")


def test_a_cms_over_another_document_is_refused(client, school, gpki, certified):
    resp = _api_sign(client, certified, gpki, "director", tamper=lambda b: b + b"x", token=_token(_director(school,
                                                                                                             gpki)))
    assert resp.status_code == 422 and "другому документу" in resp.json["message"]
    assert certified.status is SheetStatus.teacher_signed


def test_untrusted_gost_root_revoked_and_another_person_are_refused(client, school, gpki, certified):
    director = _director(school, gpki)
    resp = _api_sign(client, certified, gpki, "director-revoked", token=_token(director))
    assert resp.status_code == 422 and "отозван" in resp.json["message"], resp.json
    resp = _api_sign(client, certified, gpki, "director-foreign", token=_token(director))
    assert resp.status_code == 422 and "недоверенным удостоверяющим центром" in resp.json["message"]
    school.director.snils = "11223344596"
    resp = _api_sign(client, certified, gpki, "director", token=_token(director))
    assert resp.status_code == 422 and "СНИЛС в сертификате (11223344595) не совпадает" in resp.json["message"]
    assert certified.status is SheetStatus.teacher_signed
    from core.db import session
    from sheets.models import SummarySheet
    assert session.scalar(select(SummarySheet.status).where(SummarySheet.id == certified.id)) is \
        SheetStatus.teacher_signed


def test_a_gost_signature_with_a_wrong_digest_is_refused(gpki, school, certified):
    """A CMS whose digest algorithm is not the one the certificate's key goes with."""
    cert = gpki.cert("director")
    digest, state = pades.begin_external(certified.pdf, "Director", cert)
    cms = gpki.sign_cms("director512", state.signed_bytes(), bits=512)   # another key, another digest
    with pytest.raises(pades.SigningError):
        pades.finish_external(state, cms)



def test_a_gost_signed_sheet_is_archived_with_b_lta(app, client, school, gpki, certified, pki, run_jobs,
                                                     monkeypatch):
    from archive.models import RecordStatus
    from archive.services import record_for
    from core import db
    from core.storage import get_storage
    resp = _api_sign(client, certified, gpki, "director", token=_token(_director(school, gpki)))
    assert resp.status_code == 200, resp.json
    db.commit()
    run_jobs()
    record = record_for("summary_sheet", certified.id)
    assert record.status is RecordStatus.archived, record.last_error
    stored = get_storage().get(record.key)
    assert stored != certified.pdf and stored.startswith(certified.pdf)     # DSS + the archive timestamp
    v = verify_bytes(stored, allow_fetching=False)
    assert v.ok, "\n".join(v.lines_ru())
    assert ("Долгосрочная проверка (PAdES B-LTA)", True) in [(c.label, c.ok) for c in v.checks], v.lines_ru()
    assert any("ГОСТ Р 34.10-2012, 256 бит" in s.summary for s in v.signatures)


def test_the_detached_sig_must_be_over_the_final_pdf_by_the_director(client, school, gpki, certified):
    director = _director(school, gpki)
    assert _api_sign(client, certified, gpki, "director", token=_token(director)).status_code == 200
    with pytest.raises(pades.SigningError, match="другому документу"):
        services.attach_detached_signature(certified, gpki.sign_cms("director", certified.pdf + b"x"), actor=director)
    with pytest.raises(pades.SigningError, match="не тем сертификатом"):
        services.attach_detached_signature(certified, gpki.sign_cms("director-foreign", certified.pdf),
                                           actor=director)
    with pytest.raises(services.SheetFlowError, match="подписавший её директор"):
        services.attach_detached_signature(certified, gpki.sign_cms("director", certified.pdf),
                                           actor=school.teacher)
    assert certified.detached_sig is None
    good = gpki.sign_cms("director", certified.pdf)
    services.attach_detached_signature(certified, good, actor=director)
    assert certified.detached_sig == good
    gpki.verify_detached(good, certified.pdf)
