"""Fixtures for signing tests: a live test PKI (OCSP, CRL, TSA over HTTP on 127.0.0.1), a
frozen clock inside the certificates' validity, rendered sheets, PKCS#12 and SoftHSM2 signers.

No database and no app: signing/ is pure. The clock is frozen for every test here at the end
of school year 2025/2026; tests move it with the `clock` fixture when time is the point.
"""
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from freezegun import freeze_time

from tests.sheets import pki as test_pki
from tests.sheets.sample import make_sheet

FROZEN = "2026-06-01T07:00:00+00:00"
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture(autouse=True)
def clock():
    # ignore=_pytest: its own timings (--durations) keep the real clock
    with freeze_time(FROZEN, ignore=["_pytest"]) as frozen:
        yield frozen


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    p = test_pki.start(tmp_path_factory.mktemp("pki"))
    yield p
    p.close()


@pytest.fixture(scope="session")
def roots_pem(pki, tmp_path_factory) -> Path:
    from asn1crypto import pem
    path = tmp_path_factory.mktemp("roots") / "roots.pem"
    path.write_bytes(pem.armor("CERTIFICATE", pki.root.dump()))
    return path


@pytest.fixture
def trusting(app, roots_pem):
    """TRUST_ROOTS = the test PKI's root, for this test only (signing checks the signer against it)."""
    old = app.config.get("TRUST_ROOTS")
    app.config["TRUST_ROOTS"] = str(roots_pem)
    yield roots_pem
    app.config["TRUST_ROOTS"] = old


@pytest.fixture(scope="session")
def sheet():
    return make_sheet()


@pytest.fixture(scope="session")
def rendered(sheet):
    from sheets.render import render
    return render(sheet)


@pytest.fixture(scope="session")
def blank(rendered):
    """The rendered sheet, with both empty signature fields: what the teacher signs."""
    return rendered.pdf


def _p12_signer(pki, label):
    from pades import PKCS12Signer
    return PKCS12Signer(pki.pkcs12(label), test_pki.PASSPHRASE)


@pytest.fixture(scope="session")
def teacher(pki):
    return _p12_signer(pki, "teacher")


@pytest.fixture(scope="session")
def director(pki):
    return _p12_signer(pki, "director")


@pytest.fixture
def softhsm_token(pki, tmp_path):
    """A SoftHSM2 token in a temp dir holding the director's key and certificate.

    SOFTHSM2_CONF is set only while the test runs (the library reads it when it is
    initialised), and the previous value is put back afterwards."""
    if not Path(SOFTHSM_MODULE).exists():
        pytest.skip(f"SoftHSM2 is not installed ({SOFTHSM_MODULE} missing)")
    from cryptography.hazmat.primitives import serialization
    conf = tmp_path / "softhsm2.conf"
    (tmp_path / "tokens").mkdir()
    conf.write_text(f"directories.tokendir = {tmp_path}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    label, pin = "director-token", "2468"
    run = lambda *args: subprocess.run(args, env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    run(shutil.which("softhsm2-util") or "softhsm2-util", "--init-token", "--free", "--label", label,
        "--pin", pin, "--so-pin", "13579")
    key = serialization.load_pem_private_key(pki.key_path("director").read_bytes(), password=None)
    (tmp_path / "k.der").write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (tmp_path / "c.der").write_bytes(pki.cert("director").dump())
    tool = [shutil.which("pkcs11-tool") or "pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", label,
            "--login", "--pin", pin]
    run(*tool, "--write-object", str(tmp_path / "k.der"), "--type", "privkey", "--id", "01",
        "--label", "director", "--usage-sign")
    run(*tool, "--write-object", str(tmp_path / "c.der"), "--type", "cert", "--id", "01", "--label", "director")
    (tmp_path / "ca.der").write_bytes(pki.interm.dump())   # the issuing CA's certificate, as tokens carry it
    run(*tool, "--write-object", str(tmp_path / "ca.der"), "--type", "cert", "--id", "02", "--label", "interm")
    (tmp_path / "k.der").unlink()
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    try:
        yield {"module": SOFTHSM_MODULE, "label": label, "pin": pin, "key_label": "director"}
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old


@pytest.fixture
def school(tree, make_user, trusting):
    """A school whose teacher and director hold the test PKI's certificates (the same names)."""
    teacher = make_user("class_teacher", tree["a"], login="teacher-a", full_name=test_pki.NAMES["teacher"])
    director = make_user("director", tree["a"], login="director-a", full_name=test_pki.NAMES["director"])
    return SimpleNamespace(org=tree["a"], teacher=teacher, director=director)


# ---- the GOST test PKI (tests/sheets/gost_pki.py), for the GOST modules -------------------------------------------

@pytest.fixture(scope="session")
def gpki(tmp_path_factory):
    from tests.sheets import gost_pki
    p = gost_pki.make(tmp_path_factory.mktemp("gost-pki"))
    yield p
    p.close()


@pytest.fixture
def both_roots(app, roots_pem, gpki, tmp_path, monkeypatch):
    """TRUST_ROOTS: the RSA test PKI's root (the teacher) and the GOST root (the director)."""
    path = tmp_path / "roots.pem"
    path.write_bytes(roots_pem.read_bytes() + gpki.roots_pem().read_bytes())
    monkeypatch.setitem(app.config, "TRUST_ROOTS", str(path))
    return path


@pytest.fixture
def certified(app, school, pki, both_roots, monkeypatch):
    """A sheet certified by the teacher (RSA, B-T), waiting for the director; TRUST_ROOTS: both roots."""
    from sheets import services
    from tests.sheets.test_sheet_flow import _sheets, test_pki_signer
    monkeypatch.setitem(app.config, "TSA_URL", pki.tsa_url)   # B-T, for both signatures
    (sheet,) = _sheets(school, "6Г")
    services.render_pdf(sheet, actor=school.director)
    services.sign(sheet, "teacher", test_pki_signer(pki, "teacher"), actor=school.teacher)
    return sheet
