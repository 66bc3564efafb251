"""PAdES signing and validation against the live test PKI (TSA, OCSP, CRL over HTTP).

Every signature made here is validated; tampered and wrongly-trusted copies must fail.
"""
import logging
import re
import shutil
import socket
import subprocess
from io import BytesIO

import pytest
from asn1crypto import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.validation import read_certification_data

from pades import (
    NotOurDocumentError,
    PKCS12Signer,
    SigningError,
    begin_external,
    finish_external,
    sign,
    validate,
)
from pades.layout import CLASS_TEACHER_FIELD, DIRECTOR_FIELD
from sheets.render import render
from tests.helpers import at_once
from tests.sheets.helpers import assert_all_valid, reports
from tests.sheets.pki import PASSPHRASE
from tests.sheets.sample import make_sheet


@pytest.fixture
def by_teacher(blank, teacher, pki):
    """Teacher's certification signature, B-B, made inside the test's frozen clock (so not
    a module fixture: those are set up before the function-scoped freeze). Validated here,
    so every signature a test gets has been checked."""
    pdf = sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True)
    assert_all_valid(pdf, pki, count=1)
    return pdf


@pytest.fixture
def by_both(by_teacher, director, pki):
    pdf = sign(by_teacher, DIRECTOR_FIELD, director)
    assert_all_valid(pdf, pki, count=2)
    return pdf


def test_prepared_fields_are_empty_visible_and_the_director_locks(blank, rendered):
    r = PdfFileReader(BytesIO(blank))
    found = {name: (value, ref.get_object()) for name, value, ref in fields.enumerate_sig_fields(r)}
    assert set(found) == {CLASS_TEACHER_FIELD, DIRECTOR_FIELD}
    for name, (value, obj) in found.items():
        assert value is None
        box = next(b for b in rendered.layout.fields if b.name == name)
        assert [round(float(v)) for v in obj["/Rect"]] == [round(v) for v in box.box]
        assert obj["/P"].get_object() == r.find_page_for_modification(box.page)[0].get_object()
    lock = found[DIRECTOR_FIELD][1]["/Lock"]
    assert lock["/Action"] == "/All" and lock["/P"] == 1
    assert "/Lock" not in found[CLASS_TEACHER_FIELD][1]
    assert r.xrefs.total_revisions == 1                  # one clean revision, no increments yet


def test_teacher_then_director_both_valid(by_teacher, by_both, pki):
    [t] = assert_all_valid(by_teacher, pki, count=1)
    assert (t.coverage, t.modification_level) == ("ENTIRE_FILE", "NONE")
    assert t.signer_cn == "Иванова Мария Петровна" and t.timestamp_ok is None

    teacher, director = assert_all_valid(by_both, pki, count=2)
    assert (teacher.field_name, director.field_name) == (CLASS_TEACHER_FIELD, DIRECTOR_FIELD)
    # the director's signature is a form fill-in, which the teacher's certification allows
    assert (teacher.coverage, teacher.modification_level, teacher.docmdp_ok) == \
           ("ENTIRE_REVISION", "FORM_FILLING", True)
    assert (director.coverage, director.modification_level) == ("ENTIRE_FILE", "NONE")
    assert director.signer_cn == "Сафин Ринат Ильдарович"
    assert director.serial == format(pki.cert("director").serial_number, "X")
    cert_data = read_certification_data(PdfFileReader(BytesIO(by_both)))
    assert cert_data.permission == fields.MDPPerm.FILL_FORMS


def test_poppler_reads_both_signatures_as_valid(by_both, tmp_path):
    """A second, independent implementation (poppler/NSS) agrees on the signatures."""
    if shutil.which("pdfsig") is None:
        pytest.skip("pdfsig (poppler-utils) is not installed")
    (tmp_path / "sheet.pdf").write_bytes(by_both)
    out = subprocess.run(["pdfsig", str(tmp_path / "sheet.pdf")], capture_output=True, check=True).stdout.decode()
    assert out.count("Signature Validation: Signature is Valid.") == 2, out
    assert "Иванова Мария Петровна" in out and "Сафин Ринат Ильдарович" in out


def test_visible_stamps_carry_the_russian_text(by_both):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=by_both, capture_output=True,
                          check=True).stdout.decode()
    last = text.split("\f")[-2]
    assert last.count("Документ подписан электронной подписью") == 2
    assert "Владелец: Иванова Мария Петровна" in last and "Владелец: Сафин Ринат Ильдарович" in last
    assert "Действителен с 01.09.2025 по 01.09.2027" in last


def _tamper(pdf: bytes, where: int) -> bytes:
    changed = bytearray(pdf)
    changed[where] = ord("4") if changed[where] != ord("4") else ord("3")
    return bytes(changed)


def test_a_changed_byte_in_the_signed_range_breaks_the_signature(by_both, pki):
    # the document id in the XMP packet (plain text in the first, signed revision) ...
    at = by_both.index(b'dc:identifier="SV-2026-0000001"') + len(b'dc:identifier="SV-2026-000000')
    # ... and a byte of page 1's compressed content stream, where its marks are drawn
    page = PdfFileReader(BytesIO(by_both)).root["/Pages"]["/Kids"][0]
    contents = page.raw_get("/Contents")
    header = by_both.index(f"\n{contents.idnum} {contents.generation} obj".encode())
    stream_at = by_both.index(b"stream\n", header) + 200
    for tampered in (_tamper(by_both, at), _tamper(by_both, stream_at)):
        r = PdfFileReader(BytesIO(tampered))                # still a parseable PDF
        assert len(r.embedded_signatures) == 2
        teacher, director = reports(tampered, pki)
        assert not teacher.intact and not director.intact
        assert not teacher.bottom_line and not director.bottom_line
        assert "изменён после подписания" in teacher.summary_ru


def test_a_change_after_the_directors_lock_is_flagged(by_both, pki):
    w = IncrementalPdfFileWriter(BytesIO(by_both))
    page = w.find_page_for_modification(0)[0].get_object()
    from pyhanko.pdf_utils import generic
    annot = w.add_object(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Annot"), generic.pdf_name("/Subtype"): generic.pdf_name("/Text"),
        generic.pdf_name("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (10, 10, 30, 30)]),
        generic.pdf_name("/Contents"): generic.TextStringObject("Исправлено: 5")}))
    page["/Annots"] = generic.ArrayObject(list(page.get("/Annots", [])) + [annot])
    w.update_container(page)
    out = BytesIO()
    w.write(out)
    teacher, director = reports(out.getvalue(), pki)
    assert teacher.intact and director.intact              # the signed bytes are still there ...
    assert not teacher.bottom_line and not director.bottom_line   # ... but the change is not allowed
    assert teacher.docmdp_ok is False


def test_a_removed_page_is_detected(by_both, pki):
    """A later revision that drops the first page from the page tree: the signed bytes are intact,
    but the document no longer is what was signed."""
    from pyhanko.pdf_utils import generic
    w = IncrementalPdfFileWriter(BytesIO(by_both))
    pages = w.root["/Pages"]
    kids = list(pages["/Kids"])
    assert len(kids) > 1
    pages["/Kids"] = generic.ArrayObject(kids[1:])
    pages["/Count"] = generic.NumberObject(len(kids) - 1)
    w.update_container(pages)
    out = BytesIO()
    w.write(out)
    assert len(PdfFileReader(BytesIO(out.getvalue())).root["/Pages"]["/Kids"]) == len(kids) - 1
    for r in reports(out.getvalue(), pki):
        assert not r.bottom_line, r.summary_ru


def test_text_extracted_with_pdfplumber_is_russian_and_complete(by_both, sheet):
    """What a person or an indexer reads out of the signed file: the school, every pupil, their marks."""
    import pdfplumber
    with pdfplumber.open(BytesIO(by_both)) as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    assert sheet.school in text.replace("\n", " ")
    assert "Сводная ведомость" in text or "СВОДНАЯ ВЕДОМОСТЬ" in text
    for pupil in sheet.pupils:
        surname = pupil.name.split()[0]
        assert surname in text, surname
    first = sorted(sheet.pupils, key=lambda p: p.name.replace("ё", "е").replace("Ё", "Е"))[0]
    year_marks = [first.mark(s, "Год") for s in sheet.subjects if first.mark(s, "Год")]
    line = next(ln for ln in text.splitlines() if first.name.split()[0] in ln)
    assert all(m in line for m in set(year_marks) if m.isdigit()), (line, year_marks)


def test_validation_against_another_pki_is_not_trusted(by_both, pki):
    found = validate(by_both, [pki.cert("foreign-root")], allow_fetching=False)
    assert len(found) == 2
    for r in found:
        assert r.intact and r.valid and not r.trusted and not r.bottom_line
        assert "недоверенным УЦ" in r.summary_ru


def test_wrong_passphrase_is_a_russian_error_that_never_shows_the_passphrase(pki, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "неверный-пароль-123"
    with pytest.raises(SigningError, match="неверный пароль") as err:
        PKCS12Signer(pki.pkcs12("teacher"), secret)
    assert secret not in str(err.value) and err.value.__cause__ is None and err.value.__suppress_context__
    assert secret not in caplog.text
    signer = PKCS12Signer(pki.pkcs12("teacher"), PASSPHRASE)
    assert PASSPHRASE not in repr(signer) and PASSPHRASE not in str(vars(signer))


def test_revoked_certificate_is_refused_with_a_live_revocation_check(blank, pki):
    revoked = PKCS12Signer(pki.pkcs12("revoked"), PASSPHRASE)
    with pytest.raises(SigningError, match="отозван"):
        sign(blank, CLASS_TEACHER_FIELD, revoked, certify=True, validation_context=pki.validation_context())


def test_expired_certificate_is_refused_even_without_a_validation_context(blank, pki):
    expired = PKCS12Signer(pki.pkcs12("expired"), PASSPHRASE)
    with pytest.raises(SigningError, match="истёк"):
        sign(blank, CLASS_TEACHER_FIELD, expired, certify=True)
    with pytest.raises(SigningError, match="истёк"):
        sign(blank, CLASS_TEACHER_FIELD, expired, certify=True, validation_context=pki.validation_context())


def test_a_signature_whose_certificate_is_revoked_later_fails_validation_via_ocsp(blank, pki, clock):
    clock.move_to("2026-02-01T07:00:00+00:00")              # before the revocation (2026-03-01)
    signed = sign(blank, CLASS_TEACHER_FIELD, PKCS12Signer(pki.pkcs12("revoked"), PASSPHRASE), certify=True,
                  validation_context=pki.validation_context())
    assert_all_valid(signed, pki, count=1)
    clock.move_to("2026-06-01T07:00:00+00:00")              # no timestamp: validated as of now
    [r] = reports(signed, pki)
    assert r.intact and r.valid and not r.trusted and "отозван" in r.summary_ru


def test_tsa_down_is_an_error_not_an_unstamped_signature(blank, teacher):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()                                               # nothing listens there now
    with pytest.raises(SigningError, match="Служба штампов времени недоступна"):
        sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True, timestamper_url=f"http://127.0.0.1:{port}/tsa")


def test_b_t_has_a_valid_timestamp_from_the_live_tsa(blank, teacher, director, pki, clock):
    signed = sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True, timestamper_url=pki.tsa_url)
    clock.tick(60)
    signed = sign(signed, DIRECTOR_FIELD, director, timestamper_url=pki.tsa_url)
    teacher_r, director_r = assert_all_valid(signed, pki, count=2)
    assert teacher_r.timestamp_ok and director_r.timestamp_ok
    assert teacher_r.signing_time.isoformat() == "2026-06-01T07:00:00+00:00"
    assert director_r.signing_time.isoformat() == "2026-06-01T07:01:00+00:00"
    assert "со штампом времени" in director_r.summary_ru
    sig = PdfFileReader(BytesIO(signed)).embedded_signatures[0]
    tst_signer = sig.signer_info["unsigned_attrs"][0]["values"][0]["content"]["certificates"][0].chosen
    assert tst_signer.subject.native["common_name"] == "Тестовая служба штампов времени"


def test_b_lt_embeds_ocsp_and_crl_in_the_dss_and_validates_offline(blank, teacher, director, pki):
    signed = sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True, timestamper_url=pki.tsa_url,
                  validation_context=pki.validation_context(), embed_validation_info=True)
    signed = sign(signed, DIRECTOR_FIELD, director, timestamper_url=pki.tsa_url,
                  validation_context=pki.validation_context(), embed_validation_info=True)
    dss = PdfFileReader(BytesIO(signed)).root["/DSS"]
    assert len(dss["/OCSPs"]) >= 2 and len(dss["/CRLs"]) >= 1 and len(dss["/Certs"]) >= 3
    teacher_r, director_r = assert_all_valid(signed, pki, count=2)
    assert teacher_r.modification_level == "FORM_FILLING" and director_r.modification_level == "LTA_UPDATES"
    # no network and revocation required: the DSS alone must be enough
    assert_all_valid(signed, pki, count=2, allow_fetching=False, revocation_mode="hard-fail")
    # without the DSS data the same offline hard-fail check cannot confirm the certificates
    [bare] = reports(sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True), pki, allow_fetching=False,
                     revocation_mode="hard-fail")
    assert not bare.trusted


def test_signing_order_is_enforced(blank, by_teacher, by_both, director, teacher):
    with pytest.raises(SigningError, match="сначала нужны подписи: «Классный руководитель»"):
        sign(blank, DIRECTOR_FIELD, director)
    with pytest.raises(SigningError, match="уже подписано"):
        sign(by_teacher, CLASS_TEACHER_FIELD, teacher)
    with pytest.raises(SigningError, match="только первая подпись"):
        sign(by_teacher, DIRECTOR_FIELD, director, certify=True)
    with pytest.raises(SigningError, match="нет поля подписи"):
        sign(blank, "Завуч", teacher)
    with pytest.raises(SigningError, match="не является PDF"):
        sign(b"%PDF-1.7 broken", CLASS_TEACHER_FIELD, teacher)


def test_a_pdf_that_is_not_ours_is_reported_as_such(pki):
    from reportlab.pdfgen.canvas import Canvas
    buf = BytesIO()
    Canvas(buf).save()
    for pdf in (buf.getvalue(), b"GIF89a not a pdf"):
        with pytest.raises(NotOurDocumentError, match="не является сводной ведомостью"):
            validate(pdf, [pki.root])


# ---- external signer (GOST path): digest out, CMS in -------------------------------------------------------

def _openssl_cms(signed_bytes: bytes, pki, label: str, tmp_path) -> bytes:
    """Another implementation makes the CMS, as CryptoPro would: detached, CAdES attributes."""
    (tmp_path / "data").write_bytes(signed_bytes)
    (tmp_path / "cert.pem").write_bytes(_pem(pki.cert(label)))
    (tmp_path / "chain.pem").write_bytes(_pem(pki.interm) + _pem(pki.root))
    return subprocess.run(
        ["openssl", "cms", "-sign", "-binary", "-cades", "-nosmimecap", "-md", "sha256", "-outform", "DER",
         "-in", str(tmp_path / "data"), "-signer", str(tmp_path / "cert.pem"), "-inkey", str(pki.key_path(label)),
         "-certfile", str(tmp_path / "chain.pem")], check=True, capture_output=True).stdout


def _pem(cert: x509.Certificate) -> bytes:
    from asn1crypto import pem
    return pem.armor("CERTIFICATE", cert.dump())


@pytest.fixture
def openssl():
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")


def test_external_cms_is_embedded_without_resigning(by_teacher, pki, tmp_path, openssl):
    import hashlib
    digest, state = begin_external(by_teacher, DIRECTOR_FIELD, pki.cert("director"), other_certs=[pki.interm])
    assert digest == hashlib.sha256(state.signed_bytes()).digest()
    cms_der = _openssl_cms(state.signed_bytes(), pki, "director", tmp_path)
    signed = finish_external(state, cms_der)
    assert cms_der.hex().upper().encode() in signed            # byte for byte, as received
    teacher_r, director_r = assert_all_valid(signed, pki, count=2)
    assert director_r.signer_cn == "Сафин Ринат Ильдарович" and director_r.modification_level == "NONE"


def test_external_cms_for_another_document_or_certificate_is_refused(by_teacher, blank, pki, tmp_path, openssl):
    _, state = begin_external(by_teacher, DIRECTOR_FIELD, pki.cert("director"))
    wrong_doc = _openssl_cms(state.signed_bytes() + b" ", pki, "director", tmp_path)
    with pytest.raises(SigningError, match="другому документу"):
        finish_external(state, wrong_doc)
    wrong_cert = _openssl_cms(state.signed_bytes(), pki, "teacher", tmp_path)
    with pytest.raises(SigningError, match="не тем сертификатом"):
        finish_external(state, wrong_cert)
    with pytest.raises(SigningError, match="не данные подписи CMS"):
        finish_external(state, b"\x30\x03\x02\x01\x01")


def test_external_signing_refuses_an_expired_certificate(by_teacher, pki):
    with pytest.raises(SigningError, match="истёк"):
        begin_external(by_teacher, DIRECTOR_FIELD, pki.cert("expired"))


def test_a_fresh_render_signs_the_same_way(pki, teacher, director):
    """Render (the fields come with it) → two signatures end to end on a half-year sheet (other layout)."""
    from sheets.sheet_data import HALF_YEARS
    pdf = render(make_sheet(periods=HALF_YEARS, document_id="SV-2026-0000002")).pdf
    pdf = sign(sign(pdf, CLASS_TEACHER_FIELD, teacher, certify=True), DIRECTOR_FIELD, director)
    assert_all_valid(pdf, pki, count=2)


def _contents_hex(pdf: bytes) -> list[int]:
    return [len(m[1]) for m in re.finditer(rb"/Contents\s*<([0-9A-Fa-f]*)>", pdf)]


def test_the_room_for_a_signature_is_learned_from_the_last_one_and_made_again_when_outgrown(
        blank, teacher, director, pki, caplog):
    """The worst-case room the first time; then the last CMS's size plus a margin (pyHanko parses that hex a
    character at a time on every later read). A CMS that outgrows the learned room is made in the worst case."""
    from pades import RESERVED_T, room
    room.forget()
    first = sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True, timestamper_url=pki.tsa_url)
    second = sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True, timestamper_url=pki.tsa_url)
    used = room.newest_cms_length(first)
    assert _contents_hex(first) == [RESERVED_T]
    assert _contents_hex(second) == [2 * (used + room.MARGIN)] and 2 * used < _contents_hex(second)[0] < RESERVED_T
    both = sign(second, DIRECTOR_FIELD, director, timestamper_url=pki.tsa_url)
    assert_all_valid(first, pki, count=1)
    assert_all_valid(both, pki, count=2)

    # A room learned from a smaller CMS (a B-B one, without the token) is outgrown by a B-T signature.
    bb = sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True)
    key = room.signature_key(teacher.certificate, pki.tsa_url, False)
    room.forget()
    room.note(key, bb)
    with caplog.at_level(logging.WARNING, logger="pades"):
        again = sign(blank, CLASS_TEACHER_FIELD, teacher, certify=True, timestamper_url=pki.tsa_url)
    assert "outgrew its learned room" in caplog.text
    assert _contents_hex(again) == [RESERVED_T]
    [report] = assert_all_valid(again, pki, count=1)
    assert report.timestamp_ok
    at = again.index(b'dc:identifier="SV-2026-0000001"') + len(b'dc:identifier="SV-2026-000000')
    [tampered] = reports(_tamper(again, at), pki)
    assert not tampered.intact


def test_signature_dictionaries_read_quickly_are_the_ones_pyhanko_reads(by_both, pki):
    """pades.quick_read puts each signature dictionary, its /Contents read with bytes.fromhex, in the reader's
    cache: the same keys and values as pyHanko's own parse, and the same verdicts."""
    from pades import quick_read
    quick = quick_read.reader(by_both)
    plain = PdfFileReader(BytesIO(by_both))
    refs = [f.get_object().raw_get("/V").reference for f in quick.root["/AcroForm"]["/Fields"]]
    assert len(refs) == 2 and all(quick.cache_get_indirect_object(r.generation, r.idnum) is not None for r in refs)
    for q, p in zip(quick.embedded_signatures, plain.embedded_signatures, strict=True):
        assert q.sig_object.keys() == p.sig_object.keys()
        assert all(q.sig_object.raw_get(k) == p.sig_object.raw_get(k) for k in p.sig_object.keys())
        assert q.pkcs7_content == p.pkcs7_content and q.signer_cert.dump() == p.signer_cert.dump()
    assert_all_valid(by_both, pki, count=2)                 # pades.validate reads through quick_read


def test_a_contents_that_is_not_the_signed_gap_is_left_to_pyhanko(by_both, pki):
    """A /Contents elsewhere than the gap of its own /ByteRange (here the range moved by one byte) is not taken;
    pyHanko reads that dictionary itself and the signature fails as it did before."""
    from pades import quick_read
    at = by_both.rindex(b"/ByteRange [0 ") + len(b"/ByteRange [0 ")
    end = by_both.index(b" ", at)
    moved = by_both[:at] + str(int(by_both[at:end]) + 1).encode() + by_both[end:]
    assert len(moved) == len(by_both)
    reader = quick_read.reader(moved)
    director_ref = [f.get_object().raw_get("/V").reference for f in reader.root["/AcroForm"]["/Fields"]][1]
    assert reader.cache_get_indirect_object(director_ref.generation, director_ref.idnum) is None
    teacher, director = reports(moved, pki)
    assert teacher.intact and not director.bottom_line


def test_signing_threads_that_need_the_same_stamp_font_subset_make_it_once(monkeypatch):
    """A batch's signing threads start together with the same signer: one makes the stamp's font subset, the
    others wait for it instead of each making it again (≈ 15 ms of CPU a thread)."""
    from fontTools import subset

    from pades import stamp_font_file, warm_up
    warm_up()                                           # the font all subsets are cut from
    made = []
    real = subset.Subsetter.subset
    monkeypatch.setattr(subset.Subsetter, "subset", lambda self, font: (made.append(1), real(self, font))[1])
    glyphs = frozenset({3, 17, 29, 71, 113})           # a set no other test asks for: not made yet
    results = []
    at_once(4, lambda: results.append(stamp_font_file(glyphs)))
    assert len(made) == 1
    assert len(results) == 4 and len(set(results)) == 1 and results[0].startswith(b"x")   # zlib: the font file


def test_signed_attributes_are_the_ones_pyhanko_makes_for_pades(by_both, pki):
    """The signer's certificate is identified once per key (pades/signed_attributes.py), not per signature: the
    attributes stay pyHanko's PAdES ones, each signature names its own signer, and none has a signing-time."""
    r = PdfFileReader(BytesIO(by_both))
    for sig, label in zip(r.embedded_signatures, ("teacher", "director"), strict=True):
        attrs = {a["type"].native: a["values"] for a in sig.signer_info["signed_attrs"]}
        assert sorted(attrs) == ["content_type", "message_digest", "signing_certificate_v2"]
        [cert_id] = attrs["signing_certificate_v2"]
        assert cert_id.dump() == as_signing_certificate_v2(pki.cert(label)).dump()


def test_a_signers_certificate_is_found_by_its_name_whatever_the_names_encoding(by_both, pki):
    """`identity.signer_certificate` compares the issuer's DER first (fast) and falls back to X.500 equality: the
    same issuer written as BMPString instead of UTF8String still finds the certificate; another serial finds
    none."""
    from asn1crypto import cms

    from pades import identity
    sig = PdfFileReader(BytesIO(by_both)).embedded_signatures[0]
    signed_data = sig.signed_data
    assert identity.signer_certificate(signed_data).dump() == pki.cert("teacher").dump()

    issuer = pki.cert("teacher").issuer
    bmp = x509.Name(name="", value=x509.RDNSequence([x509.RelativeDistinguishedName([
        x509.NameTypeAndValue({"type": atv["type"], "value": x509.DirectoryString(name="bmp_string",
                                                                                  value=atv["value"].native)
                               if atv["value"].name == "utf8_string" else atv["value"]})
        for atv in rdn]) for rdn in issuer.chosen]))
    bmp = x509.Name.load(bmp.dump())
    assert bmp.dump() != issuer.dump() and identity.same_name(bmp, issuer)
    serial = pki.cert("teacher").serial_number

    def naming(name, number):
        copy = cms.SignedData.load(signed_data.untag().dump())
        copy["signer_infos"][0]["sid"] = cms.SignerIdentifier(
            name="issuer_and_serial_number", value={"issuer": name, "serial_number": number})
        return cms.SignedData.load(copy.dump(force=True))
    assert identity.signer_certificate(naming(bmp, serial)).dump() == pki.cert("teacher").dump()
    assert identity.signer_certificate(naming(issuer, serial + 1)) is None
