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
    app.config["TRUST_ROOTS"] = str(demo_pki.make(keys, people, DEMO_PASSWORD))
    app.extensions["keys"] = keys
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture(scope="module")
def worker(sh_app, tmp_path_factory):
    env = {**os.environ, "DATABASE_URL": sh_app.config["DATABASE_URL"], "REDIS_URL": sh_app.config["REDIS_URL"],
           "ARCHIVE_URL": sh_app.config["ARCHIVE_URL"], "SECRET_KEY": SECRET,
           "TRUST_ROOTS": sh_app.config["TRUST_ROOTS"],
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


def test_teacher_and_director_sign_the_sheets(browser, sh_app, sh_url, worker):
    from sheets.views import current_school_year
    from web.demo import DEMO_PASSWORD
    year = current_school_year()
    keys = sh_app.extensions["keys"]
    context, page = new_page(browser, sh_url)
    try:
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
    finally:
        context.close()
