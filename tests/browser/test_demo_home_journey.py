"""The first hour (issue 19): on the demo region at work, each demo login lands on its home page, finds an item
of work there and follows it to the page where it is done. Screenshots: docs/screens/home-*.png."""
import pytest

from tests.browser.conftest import make_live_app, new_page, serving, shot, sign_in


@pytest.fixture(scope="module")
def demo_url(servers, tmp_path_factory):
    from core import db
    from web.demo import DEMO_PASSWORD, make_demo, make_demo_pki
    from web.demo_work import populate
    keys = tmp_path_factory.mktemp("demo-pki")
    app = make_live_app(servers, "jt_browser_demo", "browser-demo", TRUST_ROOTS=str(keys / "ca.pem"))
    with app.app_context():
        make_demo(schools=9)
        make_demo_pki(keys)
        populate(keys=keys)                       # as `serve` makes it: some sheets signed with the demo keys
        db.commit()
    with serving(app) as url:
        yield url, DEMO_PASSWORD
    app.extensions["db_engine"].dispose()


@pytest.mark.parametrize("login", ["teacher", "director", "mouo", "region", "archivist", "metod"])
def test_each_demo_login_finds_work_on_its_home_page(browser, demo_url, login):
    url, password = demo_url
    context, page = new_page(browser, url)
    try:
        sign_in(page, login, password)
        page.goto("/")
        items = page.locator(".work-item a")
        assert items.count() >= 1, page.inner_text("main")
        if login in ("teacher", "director", "region"):
            shot(page, f"home-{login}")
        target = items.first.get_attribute("href")
        response = page.goto(target)
        assert response is not None and response.status == 200, (login, target)
        assert page.locator("h1").count() >= 1
    finally:
        context.close()
