"""Browser journeys: Debian's Chromium driven by Playwright against the service on a live port.

The live server has its own database (committed data, no rollback) on the session's PostgreSQL,
the same Redis and S3; it runs in a thread of this process.
"""
import contextlib
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import s3_url
from web import embedded

SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
CHROMIUM = "/usr/bin/chromium"


def make_live_app(servers, database: str, secret: str, **config):
    """An app on its own, migrated database (committed data, no rollback) on the session's servers."""
    from alembic import command

    from web import create_app
    from web.cli import alembic_config
    url = embedded.create_database(servers["pg_url"], database)
    command.upgrade(alembic_config(url), "head")
    return create_app({"DATABASE_URL": url, "REDIS_URL": servers["redis_url"],
                       "ARCHIVE_URL": s3_url(servers, "jt-browser-archive"), "SECRET_KEY": secret,
                       "PUBLIC_URL": "http://127.0.0.1", "SECOND_FACTOR_ROLES": "",
                       "FETCH_ALLOWED_HOSTS": "127.0.0.1", **config})


class _ClosedWhenDropped:
    """A response that closes itself when the server drops it. werkzeug's development server skips the
    response's `close()` when the browser goes away in the middle of a static file (its `finally` reads the
    dead socket first, and that raises): the file would be left to the garbage collector, whose ResourceWarning
    then fails whichever journey is running. Gunicorn, which serves production, closes it."""

    def __init__(self, inner):
        self.inner, self.closed = inner, False

    def __iter__(self):
        return iter(self.inner)

    def close(self):
        if not self.closed:
            self.closed = True
            if hasattr(self.inner, "close"):
                self.inner.close()

    def __del__(self):
        self.close()


@contextlib.contextmanager
def serving(app):
    """Serve `app` on a free loopback port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, lambda environ, start: _ClosedWhenDropped(app(environ, start)),
                         threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def new_page(browser, base_url, **options):
    context = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 900}, locale="ru-RU",
                                  **options)
    return context, context.new_page()


@pytest.fixture(scope="session")
def live_app(servers):
    app = make_live_app(servers, "jt_browser", "browser-tests")
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture(scope="session")
def live_url(live_app):
    with serving(live_app) as url:
        yield url


@pytest.fixture(scope="session")
def demo(live_app):
    """The demo region, committed, as a user would find it after `flask serve`."""
    from core import db
    from web.demo import DEMO_PASSWORD, make_demo
    with live_app.app_context():
        make_demo(schools=6)
        db.commit()
    return DEMO_PASSWORD


@pytest.fixture(scope="module")
def browser():
    # Per module: Playwright's sync API keeps an event loop running in this thread while it is
    # open, and every later asyncio.run() in the session (pyHanko) would refuse to start.
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                    "--disable-background-networking", "--disable-component-update"])
        yield b
        b.close()


@pytest.fixture
def page(browser, live_url):
    context, pg = new_page(browser, live_url)
    yield pg
    context.close()


def shot(page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def sign_in(page, login: str, password: str) -> None:
    page.goto("/login")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
