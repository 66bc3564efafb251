"""Fixtures for the archive tests: the test PKI (live TSA, OCSP, CRL) reused from tests/sheets, but
with the real clock — S3 signs its requests with the time and Object Lock dates are real — and
sheets signed through the sheet flow, as the archive receives them."""
from pathlib import Path
from types import SimpleNamespace

import pytest
from asn1crypto import pem

from tests.helpers import assign_teacher
from tests.sheets import pki as test_pki
from tests.sheets.sample import make_sheet

YEAR = "2025/2026"


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    p = test_pki.start(tmp_path_factory.mktemp("archive-pki"))
    yield p
    p.close()


@pytest.fixture(scope="session")
def roots_pem(pki, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("roots") / "roots.pem"
    path.write_bytes(pem.armor("CERTIFICATE", pki.root.dump()))
    return path


def signer(pki, label: str):
    from pades import PKCS12Signer
    return PKCS12Signer(pki.pkcs12(label), test_pki.PASSPHRASE)


@pytest.fixture
def trusting(app, roots_pem):
    """TRUST_ROOTS = the test PKI's root, for this test only."""
    old = app.config.get("TRUST_ROOTS")
    app.config["TRUST_ROOTS"] = str(roots_pem)
    yield roots_pem
    app.config["TRUST_ROOTS"] = old


@pytest.fixture
def tsa(app, pki, trusting):
    """TSA_URL = the test PKI's TSA: ingest adds B-LTA."""
    old = app.config.get("TSA_URL")
    app.config["TSA_URL"] = pki.tsa_url
    yield pki.tsa_url
    app.config["TSA_URL"] = old


@pytest.fixture
def people(tree, make_user):
    return SimpleNamespace(
        # named as the test PKI's certificates they sign with
        teacher=make_user("class_teacher", tree["a"], login="arch-teacher-a", full_name=test_pki.NAMES["teacher"]),
        teacher_b=make_user("class_teacher", tree["b"], login="arch-teacher-b", full_name=test_pki.NAMES["teacher"]),
        director=make_user("director", tree["a"], login="arch-director-a", full_name=test_pki.NAMES["director"]),
        director_b=make_user("director", tree["b"], login="arch-director-b", full_name=test_pki.NAMES["director"]),
        archivist=make_user("archivist", tree["region"], login="arch-archivist"),
        archivist_m2=make_user("archivist", tree["m2"], login="arch-archivist-m2"),
    )


def class_marks(name: str, *, seed: int = 1, pupils: int = 6, subjects: int = 4, rename: dict | None = None):
    s = make_sheet(pupils=pupils, subjects=subjects, seed=seed)
    for p in s.pupils:
        if rename and p.name in rename:
            p.name = rename[p.name]
    return SimpleNamespace(class_name=name, class_label=name, periods=s.periods, subjects=s.subjects,
                           pupils=s.pupils, council_date=s.council_date, council_protocol=s.council_protocol)


@pytest.fixture
def sign_sheet(pki, people, trusting, monkeypatch):
    """Import, render and sign (teacher, then director) one class's sheet; returns the sheet.
    The director's signature triggers the archive hook (a pending record, the job after commit).

    A label other than the holder's own ("revoked") stands for a sheet signed before its certificate
    was revoked: the signing-time check (orgs.signers), which would refuse it today, is skipped for it."""
    from sheets import services

    def make(school, class_name="7А", *, teacher_label="teacher", director_label="director", **marks):
        if (teacher_label, director_label) != ("teacher", "director"):
            monkeypatch.setattr(services, "check_signer", lambda *args, **kwargs: None)
        in_a = school is people.director.grants[0].organisation
        director, teacher = (people.director, people.teacher) if in_a else (people.director_b, people.teacher_b)
        (sheet,) = services.import_classes(school, YEAR, {class_name: class_marks(class_name, **marks)},
                                           actor=director)
        assign_teacher([sheet], teacher, director)
        services.render_pdf(sheet, actor=director)
        services.sign(sheet, "teacher", signer(pki, teacher_label), actor=teacher)
        services.sign(sheet, "director", signer(pki, director_label), actor=director)
        return sheet
    return make


@pytest.fixture
def local_storage(app, tmp_path):
    """The archive on a local directory, where "25 years later" can be staged by editing the sidecars
    (an S3 server cannot be made to forget a retention date, as test_disposal.py shows)."""
    saved = app.extensions.get("archive")
    from core.storage import LocalArchiveStorage
    app.extensions["archive"] = LocalArchiveStorage(tmp_path / "archive")
    yield app.extensions["archive"]
    app.extensions.pop("archive", None)
    if saved is not None:
        app.extensions["archive"] = saved
