"""The first hour (issue 19): on a fresh `flask serve` (a real process: embedded servers, its worker, the demo
region at work), each demo login lands on its home page, finds an item of work there and follows it to the page
where it is done; the administrator and the archivist first set up their second factor, as they would.
Screenshots: docs/screens/home-*.png."""
import re

import pyotp
import pytest

from tests.browser.conftest import new_page, shot
from tests.serve_process import running_serve


@pytest.fixture(scope="module")
def demo_url():
    from web.demo import DEMO_PASSWORD
    with running_serve("--demo-schools", "9") as served:
        yield served.url, DEMO_PASSWORD


def pass_second_factor(page) -> None:
    """Set up the authenticator as a new administrator or archivist does: the key shown, a code typed."""
    if "/second-factor" not in page.url:
        return
    secret = re.search(r"[A-Z2-7]{16,}", page.inner_text("#totp-secret")).group(0)
    page.fill("#code", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "Коды восстановления" in page.inner_text("main") or "/second-factor" not in page.url, page.inner_text("main")


@pytest.mark.parametrize("login", ["teacher", "director", "mouo", "region", "archivist", "admin", "metod"])
def test_each_demo_login_finds_work_on_its_home_page(browser, demo_url, login):
    url, password = demo_url
    context, page = new_page(browser, url)
    try:
        page.goto("/login")
        page.fill("#login", login)
        page.fill("#password", password)
        with page.expect_navigation():
            page.click("button[type=submit]")
        pass_second_factor(page)
        page.goto("/")
        items = page.locator(".work-item a")
        assert items.count() >= 1, page.inner_text("main")
        if login in ("teacher", "director", "region", "archivist"):
            shot(page, f"home-{login}")
        target = items.first.get_attribute("href")
        response = page.goto(target)
        assert response is not None and response.status == 200, (login, target)
        assert page.locator("h1").count() >= 1
    finally:
        context.close()
