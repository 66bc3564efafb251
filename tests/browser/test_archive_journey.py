"""The archive in the browser: an archivist finds a pupil's summary sheet by surname (another form
of it: «Шешеринов» finds «Шешеринова»), downloads it with a purpose (logged), and verifies the
downloaded file. Screenshots go to docs/screens/archive-*.png.

Its own live server on its own database, on the session's PostgreSQL, Redis
and S3; the demo region; a demo CA of this test trusted (TRUST_ROOTS), as after `flask serve`.
"""
import hashlib
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from tests.browser.conftest import make_live_app, new_page, serving, shot, sign_in
from tests.conftest import s3_url
from tests.helpers import assign_teacher

PUPIL = "Шешеринова Дарья Олеговна"


@pytest.fixture(scope="module")
def ar_app(servers, tmp_path_factory):
    from pades import demo_pki
    from web.demo import DEMO_PASSWORD
    pki_dir = tmp_path_factory.mktemp("demo-pki")
    ca = demo_pki.make(pki_dir, {"teacher": "Учитель Демо", "director": "Директор Демо"}, DEMO_PASSWORD)
    app = make_live_app(servers, "jt_browser_archive", "browser-tests-archive", TRUST_ROOTS=str(ca),
                        ARCHIVE_URL=s3_url(servers, "jt-browser-archive/archive-journey"))
    app.extensions["demo_pki_dir"] = pki_dir
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture(scope="module")
def ar_url(ar_app):
    with serving(ar_app) as url:
        yield url


@pytest.fixture
def ar_page(browser, ar_url):
    context, pg = new_page(browser, ar_url, accept_downloads=True)
    yield pg
    context.close()


@pytest.fixture(scope="module")
def archived_sheet(ar_app):
    """The demo region, and a 9th form's sheet signed by the demo teacher and director and archived.
    Built in a thread of its own: Playwright's loop runs in this one."""
    def build():
        from sqlalchemy import select

        from archive.models import RecordStatus
        from archive.services import record_for
        from archive.tasks import ingest_sheet, validate_record
        from core import db
        from core.db import session
        from orgs.models.users import User
        from pades import PKCS12Signer
        from sheets import services
        from tests.archive.conftest import class_marks
        from web.demo import DEMO_PASSWORD, make_demo
        with ar_app.app_context():
            make_demo(schools=6)
            users = {u.login: u for u in session.scalars(select(User))}
            director, teacher = users["director"], users["teacher"]
            # the holders of this test's demo keys (made before the demo users)
            director.full_name, teacher.full_name = "Директор Демо", "Учитель Демо"
            school = director.grants[0].organisation
            marks = class_marks("9А", pupils=8, rename={"Борисов Никита Ильич": PUPIL})
            (sheet,) = services.import_classes(school, "2025/2026", {"9А": marks}, actor=director)
            assign_teacher([sheet], teacher, director)
            services.render_pdf(sheet, actor=director)
            key = lambda who: PKCS12Signer((ar_app.extensions["demo_pki_dir"] / f"{who}.p12").read_bytes(),
                                           DEMO_PASSWORD)
            services.sign(sheet, "teacher", key("teacher"), actor=teacher)
            services.sign(sheet, "director", key("director"), actor=director)
            db.commit()
            ingest_sheet(sheet.id)                  # what the worker does with the queued job
            record = record_for("summary_sheet", sheet.id)
            validate_record(record.id)
            assert record.status is RecordStatus.archived
            result = SimpleNamespace(record_id=record.id, sha256=record.sha256, key=record.key)
            session.remove()
            return result
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(build).result()


def test_archivist_finds_a_sheet_by_surname_downloads_and_verifies_it(ar_page, ar_app, archived_sheet, tmp_path):
    from web.demo import DEMO_PASSWORD
    page = ar_page
    sign_in(page, "archivist", DEMO_PASSWORD)
    page.click("nav >> text=Архив")
    page.fill("#pupil", "Шешеринов")                     # the masculine form finds «Шешеринова»
    page.click("#archive-search button[type=submit]")
    results = page.locator("#results")
    assert "Сводная ведомость 9А, 2025/2026" in results.inner_text()
    shot(page, "archive-01-search-by-surname")
    page.click(f"#results a[href='/archive/records/{archived_sheet.record_id}']")
    page.wait_for_selector("#record")
    assert archived_sheet.sha256 in page.inner_text("#sha256")
    assert "Директор: Директор Демо" in page.inner_text("#signers")
    page.fill("#purpose", "Запрос выпускницы о дубликате ведомости")
    shot(page, "archive-02-record")
    with page.expect_download() as info:
        page.click("#download-form button[type=submit]")
    download = info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == archived_sheet.sha256      # the object as stored
    page.reload()
    log = page.inner_text("#access-log")
    assert "Запрос выпускницы о дубликате ведомости" in log and "archivist" in log
    page.click("text=Проверить документ")
    page.set_input_files("#file", path)
    page.click("#verify-form button[type=submit]")
    page.wait_for_selector("#verdict")
    verdict = page.inner_text("#verdict")
    assert "Проверка пройдена" in verdict and f"№ {archived_sheet.record_id}" in verdict, verdict
    assert page.locator(".signature").count() == 2
    shot(page, "archive-03-verified")
