"""Request ids, JSON logs without secrets, /metrics and its protection, ProxyFix only when configured."""
import io
import json
import logging

import pytest

from web import create_app
from web.observability import JsonFormatter, RequestIdFilter, redact


@pytest.fixture
def make_app(app):
    made = []

    def make(**extra):
        cfg = {k: app.config[k] for k in ("DATABASE_URL", "REDIS_URL", "ARCHIVE_URL", "SECRET_KEY")}
        made.append(create_app({"TESTING": True, "LOG_FORMAT": "plain", **cfg, **extra}))
        return made[-1]
    yield make
    for a in made:
        a.extensions["db_engine"].dispose()
        if "redis" in a.extensions:
            a.extensions["redis"].close()


def test_request_id_is_kept_or_made(client, db):
    resp = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-Id": "bad id; <script>"}).headers["X-Request-Id"]
    assert made != "bad id; <script>" and len(made) == 32


def test_json_log_lines_carry_request_id_and_no_secrets(app, client, db):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("web.observability")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        client.get("/healthz?surname=Иванов", headers={"X-Request-Id": "req-1"})
        logger.warning("connect postgresql://user:hunter2@db/x with Authorization: Bearer abc.def token=zzz")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = next(line for line in lines if line.get("endpoint") == "health.healthz")
    assert access["request_id"] == "req-1" and access["status"] == 200 and access["method"] == "GET"
    assert "duration_ms" in access and "Иванов" not in stream.getvalue()
    assert "hunter2" not in stream.getvalue() and "abc.def" not in stream.getvalue() and "zzz" not in stream.getvalue()


def test_redact():
    assert redact("s3://KEY:SECRET@host/bucket") == "s3://KEY:***@host/bucket"
    assert "p4ss" not in redact('ARCHIVE_SEAL_PASSPHRASE="p4ss"')


def test_metrics_loopback_only_without_token(app, client, db):
    client.get("/healthz")
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    # through a proxy on the same machine: local address, but forwarded for someone else
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                      headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 403
    resp = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert 'jt_http_request_duration_seconds_bucket{endpoint="health.healthz"' in text
    for name in ("jt_queue_depth{queue=\"signing\"}", "jt_queue_depth{queue=\"notifications\"}",
                 "jt_job_duration_seconds_count{queue=\"archive\"}", "jt_archive_fixity_failures",
                 "jt_archive_records", "jt_sheets"):
        assert name in text, name


def test_metrics_token(make_app, db):
    a = make_app( METRICS_TOKEN="s3cret-token")
    c = a.test_client()
    assert c.get("/metrics").status_code == 403                       # loopback is not enough now
    assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    ok = c.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert ok.status_code == 200 and b"jt_queue_depth" in ok.data


def test_queue_depth_counts_waiting_jobs(app, client, db, redis_conn):
    from core.jobs import ping, queue
    queue("reports", app).enqueue(ping, "x")
    queue("reports", app).enqueue(ping, "y")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'jt_queue_depth{queue="reports"} 2.0' in text


@pytest.mark.parametrize("proxies, expect_scheme, expect_addr", [(None, "http", "127.0.0.1"), ("1", "https",
                                                                                               "203.0.113.7")])
def test_proxy_fix_only_when_configured(make_app, db, proxies, expect_scheme, expect_addr):
    a = make_app(**({"PROXY_FIX": proxies} if proxies else {}))

    @a.route("/_whoami")
    def whoami():
        from flask import request
        return {"scheme": request.scheme, "addr": request.remote_addr, "host": request.host}
    from orgs.auth import PUBLIC_ENDPOINTS
    PUBLIC_ENDPOINTS.add("whoami")
    try:
        got = a.test_client().get("/_whoami", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7",
                                                      "X-Forwarded-Host": "journals.example.ru"}).json
    finally:
        PUBLIC_ENDPOINTS.discard("whoami")
    assert got["scheme"] == expect_scheme and got["addr"] == expect_addr
    assert (got["host"] == "journals.example.ru") == bool(proxies)
