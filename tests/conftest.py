"""Test harness: real PostgreSQL, Redis and SeaweedFS S3, started once per session from their wheels.

The schema is built by Alembic (not create_all). Each test runs in a transaction
that is rolled back at its end; the app's commits become savepoints.
"""
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers import PASSWORD, login
from web import embedded

S3_KEY, S3_SECRET = "testkey", "testsecret123"


def _real_datetime_for_cryptography() -> None:
    """cryptography's Rust core remembers the datetime class it first converts. If that happens inside a
    freezegun freeze (a transition test making its first certificate), it remembers FakeDatetime and every
    later certificate made with the real clock fails. Convert one real datetime before any test runs."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "warm-up")])
    now = dt.datetime.now(dt.timezone.utc)
    (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(1)
     .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))


_real_datetime_for_cryptography()


@pytest.fixture(scope="session")
def servers():
    base = embedded.service_tempdir("jt-test-")
    pg_port, redis_port, *weed_ports = embedded.free_ports(12)
    with ThreadPoolExecutor(3) as ex:
        futs = [ex.submit(embedded.start_postgres, base / "pg", pg_port, fsync=False),
                ex.submit(embedded.start_redis, base / "redis", redis_port),
                ex.submit(embedded.start_seaweed, base / "weed", weed_ports, S3_KEY, S3_SECRET, fast_stop=True,
                          max_volumes=200, volume_mb=64)]
    stops = [f.result() for f in futs if not f.exception()]
    try:
        if len(stops) < len(futs):
            next(f for f in futs if f.exception()).result()   # re-raise, after the cleanup below
        yield {
            "pg_url": f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/postgres",
            "redis_url": f"redis://127.0.0.1:{redis_port}/0",
            "s3_endpoint": f"127.0.0.1:{weed_ports[embedded.S3_PORT_INDEX]}",
            "base": base,
        }
    finally:
        with ThreadPoolExecutor(3) as ex:
            list(ex.map(lambda stop: stop(), stops))
        shutil.rmtree(base, ignore_errors=True)


def s3_url(servers, bucket: str) -> str:
    return f"s3://{S3_KEY}:{S3_SECRET}@{servers['s3_endpoint']}/{bucket}?secure=0"


@pytest.fixture(scope="session")
def database_url(servers):
    from alembic import command
    from alembic.config import Config
    url = embedded.create_database(servers["pg_url"], "jt_test")
    cfg = Config(str(Path(__file__).resolve().parent.parent / "alembic.ini"))
    cfg.attributes.update(url=url, quiet=True)
    command.upgrade(cfg, "head")
    return url


@pytest.fixture(scope="session")
def app(servers, database_url):
    from web import create_app
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": servers["redis_url"],
        "ARCHIVE_URL": s3_url(servers, "jt-test-archive"),
        "FILES_URL": s3_url(servers, "jt-test-files") + "&lock=0",
        "SECRET_KEY": "test-secret-not-for-production",
        "DB_SESSION_BOUND": True,
        "SECOND_FACTOR_ROLES": "",     # tests/orgs/test_second_factor.py requires it where it is tested
        "FETCH_ALLOWED_HOSTS": "127.0.0.1",   # the test PKIs' OCSP/CRL servers
        "SERVER_NAME": "jt.test",
        "PUBLIC_URL": "http://jt.test",
    })
    yield app
    app.extensions["db_engine"].dispose()
    if "redis" in app.extensions:
        app.extensions["redis"].close()


@pytest.fixture
def db(app):
    """The app's session inside a transaction that is rolled back after the test."""
    from core.db import AppSession, session
    engine = app.extensions["db_engine"]
    conn = engine.connect()
    outer = conn.begin()
    session.remove()
    # For this thread only: a live server in another thread keeps its own sessions.
    session.registry.set(AppSession(bind=conn, join_transaction_mode="create_savepoint"))
    ctx = app.app_context()
    ctx.push()
    try:
        yield session
    finally:
        ctx.pop()
        session.remove()
        outer.rollback()
        conn.close()
        from sqlalchemy import text
        with engine.begin() as c:        # written in their own transactions (orgs/throttle.py, core/security_log.py)
            c.execute(text("DELETE FROM login_throttle; DELETE FROM security_events"))


@pytest.fixture
def redis_conn(app):
    from core.jobs import redis_connection
    conn = redis_connection(app)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def run_jobs(redis_conn):
    """Run every queued job with a burst SimpleWorker in this process; returns the jobs run."""
    from rq import SimpleWorker

    from core.jobs import QUEUES, SERIALIZER, queue

    def run():
        queues = [queue(name) for name in QUEUES]
        SimpleWorker(queues, connection=redis_conn, serializer=SERIALIZER).work(burst=True)
    return run


@pytest.fixture
def client(app, db):
    """A test client; the test's own setup is committed (to a savepoint) before each request,
    as it would be by an earlier request in real life, so a request's rollback cannot undo it.
    Each request gets a fresh app context (and `g`), as in a real server."""
    from flask.testing import FlaskClient

    from core import db as dbm

    class CommittingClient(FlaskClient):
        def open(self, *args, **kwargs):
            dbm.commit()
            with app.app_context():
                return super().open(*args, **kwargs)
    app.test_client_class = CommittingClient
    return app.test_client()


# ---- factories -------------------------------------------------------------------------------------------

@pytest.fixture
def make_org(db):
    from orgs import services as org_services
    from orgs.models.organisations import OrgKind
    counter = iter(range(1, 10**6))

    def make(kind="school", parent=None, name=None, code=None):
        kind = OrgKind(kind)
        n = next(counter)
        return org_services.create_org(kind=kind, parent=parent, code=code or f"T-{kind.value}-{n}",
                                       name=name or f"{kind.label} {n}")
    return make


@pytest.fixture
def tree(make_org):
    """A region with two municipalities of two schools each, and an institute."""
    region = make_org("region", name="Тестовая область")
    m1 = make_org("municipality", region, name="Первый район")
    m2 = make_org("municipality", region, name="Второй район")
    return {
        "region": region, "m1": m1, "m2": m2,
        "a": make_org("school", m1, name="Школа А"), "a2": make_org("school", m1, name="Школа А2"),
        "b": make_org("school", m2, name="Школа Б"), "b2": make_org("school", m2, name="Школа Б2"),
        "institute": make_org("institute", region, name="Институт развития образования"),
    }


@pytest.fixture
def make_user(db):
    from orgs import accounts as services
    from orgs.models.users import Role
    counter = iter(range(1, 10**6))

    def make(role=None, org=None, login=None, password=PASSWORD, full_name=None):
        n = next(counter)
        user = services.create_user(login or f"user{n}", full_name or f"Пользователь {n}", password)
        if role is not None:
            services.grant(user, Role(role), org)
        return user
    return make


@pytest.fixture
def logged_in(client):
    """Log `client` in as a user; returns a function that posts forms with the CSRF token."""
    def as_user(user):
        resp = login(client, user.login)
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client
    return as_user
