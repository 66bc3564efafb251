"""PDFs that are not PDFs, are encrypted, carry JavaScript, or are signed by an unknown CA: the archive
verification (archive.verify, the /archive/verify upload form, `flask archive verify`) answers
clearly that the check failed and why, never with a traceback."""
import datetime as dt
import io

import pytest

from tests.helpers import csrf_token


def _plain_pdf() -> bytes:
    from reportlab.pdfgen.canvas import Canvas
    out = io.BytesIO()
    c = Canvas(out)
    c.drawString(100, 750, "Сводная ведомость (поддельная)")
    c.save()
    return out.getvalue()


def _rewrite(data: bytes, change) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer
    w = copy_into_new_writer(PdfFileReader(io.BytesIO(data)))
    change(w)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _encrypted() -> bytes:
    return _rewrite(_plain_pdf(), lambda w: w.encrypt("owner-secret", "user-secret"))


def _with_javascript() -> bytes:
    from pyhanko.pdf_utils import generic as g

    def add(w):
        js = g.DictionaryObject({g.NameObject("/S"): g.NameObject("/JavaScript"),
                                 g.NameObject("/JS"): g.TextStringObject("app.alert('x');")})
        w.root[g.NameObject("/OpenAction")] = w.add_object(js)
    return _rewrite(_plain_pdf(), add)


def _signed_by_unknown_ca(tmp_path) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Посторонний УЦ")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), True)
            .sign(key, hashes.SHA256()))
    p12 = tmp_path / "stranger.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"x", key, cert, None, serialization.NoEncryption()))
    signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=None)
    out = io.BytesIO()
    signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(_plain_pdf())),
                     signers.PdfSignatureMetadata(field_name="Sig1"), signer=signer, output=out)
    return out.getvalue()


@pytest.fixture
def hostile(tmp_path):
    return {
        "not-a-pdf": (b"MZ\x90\x00 this is an executable", "не является PDF"),
        "pdf-header-then-junk": (b"%PDF-1.7\n" + bytes(range(256)) * 20, "повреждён"),
        "empty": (b"", "не является PDF"),
        "encrypted": (_encrypted(), None),
        "javascript": (_with_javascript(), "нет электронных подписей"),
        "unknown-ca": (_signed_by_unknown_ca(tmp_path), None),
    }


def test_verify_bytes_answers_each_clearly(app, db, hostile):
    from archive.verify import verify_bytes
    for label, (data, expected) in hostile.items():
        v = verify_bytes(data, filename=f"{label}.pdf", allow_fetching=False)
        assert not v.ok, label
        assert v.summary and any("а" <= ch <= "я" for ch in v.summary.lower()), (label, v.summary)
        if expected:
            assert expected in v.summary, (label, v.summary)
        text = "\n".join(v.lines_ru())
        assert "ИТОГ: ПРОВЕРКА НЕ ПРОЙДЕНА" in text, label
    v = verify_bytes(hostile["unknown-ca"][0], allow_fetching=False)
    assert v.signatures and not v.signatures[0].ok


def test_cli_answers_each_clearly(app, db, hostile, tmp_path):
    runner = app.test_cli_runner()
    for label, (data, _) in hostile.items():
        path = tmp_path / f"{label}.pdf"
        path.write_bytes(data)
        out = runner.invoke(args=["archive", "verify", str(path)])
        assert out.exit_code == 1, (label, out.output)
        assert "ПРОВЕРКА НЕ ПРОЙДЕНА" in out.output and "Traceback" not in out.output, label


def test_upload_form_answers_each_clearly(app, client, db, tree, make_user, logged_in, hostile):
    logged_in(make_user("archivist", tree["region"]))
    for label, (data, _) in hostile.items():
        resp = client.post("/archive/verify", content_type="multipart/form-data",
                           data={"csrf_token": csrf_token(client, "/archive/verify"),
                                 "file": (io.BytesIO(data), f"../../{label}.pdf")})
        assert resp.status_code in (302, 400), (label, resp.status_code)
        page = client.get(resp.headers["Location"]).get_data(as_text=True) if resp.status_code == 302 \
            else resp.get_data(as_text=True)
        assert "не пройдена" in page.lower() or "не является PDF" in page or "пуст" in page, label
        assert "../" not in page, label
