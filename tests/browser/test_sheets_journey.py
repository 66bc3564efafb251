"""Summary sheets in the browser, with a real RQ worker process: the class teacher uploads the
journal's marks, forms and signs the sheets; the director signs them all, watching the progress
bar; both signatures are shown as valid. Screenshots go to docs/screens/sheets-*.png.

Its own live server and database; its own Redis database number, so its worker takes only its jobs.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.conftest import make_live_app, new_page, serving, shot, sign_in

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "samples" / "marks_long.csv"
SECRET = "browser-tests-sheets"


@pytest.fixture(scope="module")
def sh_app(servers, tmp_path_factory):
    from core import db
    from core.db import session
    from orgs.models.users import User
    from pades import demo_pki
    from web.demo import DEMO_PASSWORD, make_demo
    keys = tmp_path_factory.mktemp("sheets-pki")
    app = make_live_app(servers, "jt_browser_sheets", SECRET, REDIS_URL=servers["redis_url"].rsplit("/", 1)[0] + "/3")
    with app.app_context():
        make_demo(schools=2)
        db.commit()
        people = {u.login: u.full_name for u in session.query(User).filter(User.login.in_(["teacher", "director"]))}
        session.remove()
    # The demo CA signs the people's keys; the test PKI's TSA stamps the signatures and the archive
    # copy (PAdES B-LTA), so its root is trusted too.
    from asn1crypto import pem

    from tests.sheets import pki as test_pki
    tsa = test_pki.start(tmp_path_factory.mktemp("sheets-tsa"))
    (keys / "tsa-root.pem").write_bytes(pem.armor("CERTIFICATE", tsa.root.dump()))
    app.config["TRUST_ROOTS"] = f"{demo_pki.make(keys, people, DEMO_PASSWORD)}:{keys / 'tsa-root.pem'}"
    app.config["TSA_URL"] = tsa.tsa_url
    app.extensions["keys"] = keys
    yield app
    app.extensions["db_engine"].dispose()
    tsa.close()


@pytest.fixture(scope="module")
def worker(sh_app, tmp_path_factory):
    env = {**os.environ, "DATABASE_URL": sh_app.config["DATABASE_URL"], "REDIS_URL": sh_app.config["REDIS_URL"],
           "ARCHIVE_URL": sh_app.config["ARCHIVE_URL"], "SECRET_KEY": SECRET,
           "TRUST_ROOTS": sh_app.config["TRUST_ROOTS"], "PUBLIC_URL": sh_app.config["PUBLIC_URL"],
           "TSA_URL": sh_app.config["TSA_URL"],
           "INSTANCE_PATH": str(tmp_path_factory.mktemp("worker-instance"))}
    log = open(tmp_path_factory.mktemp("worker-log") / "worker.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "web.worker", "signing", "archive"], cwd=ROOT, env=env,
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    yield proc
    proc.terminate()
    proc.wait(30)
    log.close()


@pytest.fixture(scope="module")
def sh_url(sh_app):
    with serving(sh_app) as url:
        yield url


def _wait_done(page):
    page.wait_for_selector("#state[data-status='done']", timeout=120_000)
    assert page.locator("#bar").get_attribute("value") == "100"
    assert page.locator("#errors li").count() == 0


def _sign_batch(page, kind: str, key: Path, password: str):
    form = page.locator(f"#batch-{kind}")
    form.locator("input[name=key]").set_input_files(str(key))
    form.locator("input[name=passphrase]").fill(password)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_teacher_and_director_sign_the_sheets(browser, sh_app, sh_url, worker, tmp_path):
    from sheets.views import current_school_year
    from web.demo import DEMO_PASSWORD
    year = current_school_year()
    keys = sh_app.extensions["keys"]
    context, page = new_page(browser, sh_url)
    try:
        # the director makes the demo teacher the class teacher of both classes in the journal's file
        sign_in(page, "director", DEMO_PASSWORD)
        page.goto(f"/sheets/class-teachers?school_year={year}")
        for name in ("7А", "10Б"):
            page.fill("#assign-one input[name=class_name]", name)
            page.locator("#assign-one button[type=submit]").click()
            page.wait_for_selector("text=Классный руководитель назначен")
        assert page.locator("#class-teachers tr").count() == 3
        shot(page, "sheets-00-class-teachers")
        page.click("text=Выйти")

        sign_in(page, "teacher", DEMO_PASSWORD)
        page.goto("/sheets/import")
        page.fill("#school_year", year)
        page.set_input_files("#file", str(SAMPLE))
        page.click("button[type=submit]")
        page.wait_for_selector("text=Загружено классов: 2")
        page.goto(f"/sheets?year={year}")
        page.locator("#batch-render button[type=submit]").click()
        _wait_done(page)
        page.goto(f"/sheets?year={year}")
        _sign_batch(page, "sign_teacher", keys / "teacher.p12", DEMO_PASSWORD)
        _wait_done(page)
        shot(page, "sheets-01-teacher-batch-done")
        page.click("text=Выйти")

        sign_in(page, "director", DEMO_PASSWORD)
        page.goto(f"/sheets?year={year}")
        _sign_batch(page, "sign_director", keys / "director.p12", "не тот пароль")
        page.wait_for_selector(".flash.error")
        assert "пароль" in page.inner_text(".flash.error").lower() and page.locator("#bar").count() == 0
        _sign_batch(page, "sign_director", keys / "director.p12", DEMO_PASSWORD)
        shot(page, "sheets-02-director-progress")
        _wait_done(page)
        page.goto(f"/sheets?year={year}")
        assert page.locator("text=Подписана директором").count() == 2
        page.click("text=7 «А»")
        signatures = page.locator("#signatures li")
        assert signatures.count() == 2
        assert all(t.startswith("Действительна") for t in signatures.all_inner_texts())
        shot(page, "sheets-03-signed-sheet")
        page.click("text=Выйти")
    finally:
        context.close()
    _anyone_verifies_the_archive_copy(browser, sh_app, sh_url, tmp_path)


def _anyone_verifies_the_archive_copy(browser, sh_app, sh_url, tmp_path):
    """What the QR code opens: an anonymous visitor uploads the archive's copy of a signed sheet."""
    import time

    from sqlalchemy import select

    from archive.models import ArchiveRecord, RecordStatus
    from core.db import session
    from core.storage import get_storage
    with sh_app.app_context():
        deadline = time.monotonic() + 120
        while True:   # the worker archives each sheet after the director's signature
            record = session.scalar(select(ArchiveRecord).where(ArchiveRecord.class_name == "7А"))
            if record is not None and record.status is RecordStatus.archived:
                break
            assert time.monotonic() < deadline, "the sheet was not archived"
            session.remove()
            time.sleep(0.5)
        copy = tmp_path / "vedomost-7A-archive-copy.pdf"
        copy.write_bytes(get_storage().get(record.key))
        document_id = record.document_id
        session.remove()
    context, page = new_page(browser, sh_url)
    try:
        page.goto(f"/verify/{document_id}")
        page.set_input_files("#file", str(copy))
        page.click("#verify-form button[type=submit]")
        page.wait_for_selector("#verdict")
        verdict = page.inner_text("#verdict")
        assert verdict.startswith("ПОДЛИННЫЙ"), verdict
        lines = page.inner_text("#verdict-lines")
        assert "Хранится в архиве" in lines and "архивная копия" in lines and "PAdES B-LTA" in lines, lines
        shot(page, "sheets-04-public-verify-archive-copy")
    finally:
        context.close()
