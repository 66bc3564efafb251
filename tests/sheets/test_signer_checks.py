"""The certificate is checked when signing, not only when verifying: trusted CA, not revoked (the test
PKI's OCSP), a signature key, and the signing person's own. Each refusal leaves the database and the
store as they were; every signature made here is validated."""
import datetime as dt

import pytest
from cryptography import x509 as cx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID, ObjectIdentifier
from sqlalchemy import func, select

import pades
from core.audit import AuditEntry
from core.db import session
from sheets import services
from sheets.models import BatchKind, SheetBatch, SheetStatus
from tests.sheets import pki as test_pki
from tests.sheets.helpers import assert_all_valid
from tests.sheets.test_sheet_flow import _sheets, test_pki_signer

PASS = "pass-1234"


def _attrs(cn: str, *, surname=None, given=None, snils=None, inn=None) -> cx.Name:
    attrs = [cx.NameAttribute(NameOID.COUNTRY_NAME, "RU"), cx.NameAttribute(NameOID.COMMON_NAME, cn)]
    if surname:
        attrs += [cx.NameAttribute(NameOID.SURNAME, surname), cx.NameAttribute(NameOID.GIVEN_NAME, given)]
    numeric = cx.name._ASN1Type.NumericString
    if snils:
        attrs.append(cx.NameAttribute(ObjectIdentifier("1.2.643.100.3"), snils, _type=numeric))
    if inn:
        attrs.append(cx.NameAttribute(ObjectIdentifier("1.2.643.3.131.1.1"), inn, _type=numeric))
    return cx.Name(attrs)


def _cert(subject: cx.Name, key, issuer: cx.Name, issuer_key, *, ca=False, usage="sign"):
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ku = dict(digital_signature=usage == "sign", content_commitment=usage == "sign", key_encipherment=False,
              data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
              encipher_only=False, decipher_only=False)
    b = (cx.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
         .serial_number(cx.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=900))
         .add_extension(cx.KeyUsage(**ku), critical=True))
    if ca:
        b = b.add_extension(cx.BasicConstraints(ca=True, path_length=0), critical=True)
    return b.sign(issuer_key, hashes.SHA256())


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _p12(key, cert, chain=()):
    return pkcs12.serialize_key_and_certificates(b"k", key, cert, list(chain),
                                                 serialization.BestAvailableEncryption(PASS.encode()))


@pytest.fixture
def own_ca(tmp_path, app, monkeypatch):
    """A CA of our own (trusted for the test), issuing qualified-style certificates: SN, G, СНИЛС, ИНН."""
    ca_key = _key()
    ca_name = _attrs("Тестовый УЦ с СНИЛС")
    ca = _cert(ca_name, ca_key, ca_name, ca_key, ca=True)
    path = tmp_path / "ca.pem"
    path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    monkeypatch.setitem(app.config, "TRUST_ROOTS", str(path))

    def issue(**names):
        key = _key()
        cert = _cert(_attrs("Иванова Мария Петровна", surname="Иванова", given="Мария Петровна", **names), key,
                     ca_name, ca_key)
        return pades.PKCS12Signer(_p12(key, cert, [ca]), PASS)
    issue.root = ca
    return issue


def _state(sheet):
    """What a refused signature must leave untouched."""
    from archive.models import ArchiveRecord
    return (sheet.status, sheet.pdf_sha256, session.scalar(select(func.count()).select_from(AuditEntry)),
            session.scalar(select(func.count()).select_from(SheetBatch)),
            session.scalar(select(func.count()).select_from(ArchiveRecord)))


def _refused(sheet, school, signer, match):
    before = _state(sheet)
    with pytest.raises(pades.SigningError, match=match):
        services.sign(sheet, "teacher", signer, actor=school.teacher)
    with pytest.raises(pades.SigningError, match=match):   # the batch path refuses before writing its row
        services.start_batch(BatchKind.sign_teacher, school.org, "2025/2026", actor=school.teacher,
                             pkcs12=signer._p12_bytes, passphrase=signer._p12_pass)
    session.refresh(sheet)
    assert _state(sheet) == before


class _Kept(pades.PKCS12Signer):
    """A PKCS#12 signer that remembers its file, so the same key goes through the batch path too."""
    def __init__(self, data: bytes, passphrase: str):
        super().__init__(data, passphrase)
        self._p12_bytes, self._p12_pass = data, passphrase


def _kept(pki_or_bytes, label=None, passphrase=test_pki.PASSPHRASE):
    data = pki_or_bytes.pkcs12(label) if label else pki_or_bytes
    return _Kept(data, passphrase)


@pytest.fixture
def rendered(school):
    (sheet,) = _sheets(school, "4А")
    services.render_pdf(sheet, actor=school.director)
    return sheet


def test_self_signed_certificate_is_refused(rendered, school):
    key = _key()
    name = _attrs(test_pki.NAMES["teacher"])
    _refused(rendered, school, _kept(_p12(key, _cert(name, key, name, key)), passphrase=PASS),
             "самоподписанный: он не выдан удостоверяющим центром")


def test_certificate_of_an_untrusted_ca_is_refused(rendered, school, tmp_path):
    from pades import demo_pki
    demo_pki.make(tmp_path, {"t": test_pki.NAMES["teacher"]}, PASS)
    _refused(rendered, school, _kept((tmp_path / "t.p12").read_bytes(), passphrase=PASS),
             "выдан недоверенным удостоверяющим центром")


def test_revoked_certificate_is_refused_through_ocsp(rendered, school, pki):
    school.teacher.full_name = test_pki.NAMES["revoked"]   # the holder's own certificate, revoked by the CA
    _refused(rendered, school, _kept(pki, "revoked"), "отозван")


def test_certificate_without_a_signing_key_usage_is_refused(rendered, school, pki):
    _refused(rendered, school, _kept(pki, "encipher-only"), "предназначен не для подписи")


def test_certificate_of_another_person_is_refused_showing_both(rendered, school, pki):
    _refused(rendered, school, _kept(pki, "director"),
             "Сертификат выдан на «Сафин Ринат Ильдарович», а в профиле вошедшего пользователя — "
             "«Иванова Мария Петровна»")


def test_good_certificate_signs_and_validates(rendered, school, pki):
    services.sign(rendered, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    assert rendered.status is SheetStatus.teacher_signed
    assert_all_valid(rendered.pdf, pki, count=1)


def test_signing_without_trust_roots_is_refused(rendered, school, pki, app, monkeypatch):
    monkeypatch.setitem(app.config, "TRUST_ROOTS", None)
    before = _state(rendered)
    with pytest.raises(pades.SigningError, match="не настроены доверенные удостоверяющие центры"):
        services.sign(rendered, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    assert _state(rendered) == before


def test_snils_and_inn_in_the_certificate_must_match_the_profile(rendered, school, own_ca):
    from asn1crypto import x509

    signer = own_ca(snils="11223344595", inn="165012345678")
    with pytest.raises(pades.SigningError, match="СНИЛС .*в профиле .*не заполнен"):
        services.sign(rendered, "teacher", signer, actor=school.teacher)
    school.teacher.snils, school.teacher.inn = "11223344596", "165012345678"
    with pytest.raises(pades.SigningError, match=r"СНИЛС в сертификате \(11223344595\) не совпадает .*11223344596"):
        services.sign(rendered, "teacher", signer, actor=school.teacher)
    assert rendered.status is SheetStatus.rendered
    school.teacher.snils = "11223344595"
    school.teacher.surname, school.teacher.given_name, school.teacher.patronymic = "Иванова", "Мария", "Петровна"
    services.sign(rendered, "teacher", signer, actor=school.teacher)
    (r,) = pades.validate(rendered.pdf, [x509.Certificate.load(own_ca.root.public_bytes(serialization.Encoding.DER))])
    assert r.intact and r.valid and r.trusted, r.summary_ru


def test_the_administrator_sets_the_signer_profile(client, logged_in, make_user, tree, school):
    from core.audit import AuditEntry
    from tests.helpers import csrf_token
    admin = make_user("admin", tree["region"])
    logged_in(admin)
    url = f"/admin/users/{school.teacher.id}"
    fields = {"surname": "Иванова", "given_name": "Мария", "patronymic": "Петровна", "inn": ""}
    bad = client.post(f"{url}/profile",
                      data={**fields, "snils": "112-233-445 96", "csrf_token": csrf_token(client, url)})
    assert bad.status_code == 400 and "СНИЛС «112-233-445 96» неверен" in bad.get_data(as_text=True)
    assert school.teacher.snils is None
    ok = client.post(f"{url}/profile",
                     data={**fields, "snils": "112-233-445 95", "csrf_token": csrf_token(client, url)})
    assert ok.status_code == 302
    session.refresh(school.teacher)
    assert (school.teacher.surname, school.teacher.snils) == ("Иванова", "11223344595")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.profile")).one()
    assert entry.summary["fields"] == ["surname", "given_name", "patronymic", "snils"]
    assert "11223344595" not in str(entry.summary)
