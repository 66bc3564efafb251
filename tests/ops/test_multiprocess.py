"""Stateless processes: two gunicorn web nodes and two RQ workers, each with its own instance directory,
share only PostgreSQL, Redis and S3. A render batch started on web 1 is run by the workers, followed and
downloaded on web 2."""
import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic import command
from alembic.config import Config

from tests.conftest import s3_url
from tests.helpers import PASSWORD
from web import create_app, embedded

ROOT = Path(__file__).resolve().parents[2]
YEAR = "2025/2026"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One user's cookies, used against any web node (the session cookie is signed with the shared SECRET_KEY)."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, url, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(url, data=body, timeout=30) as resp:
                return SimpleNamespace(status=resp.status, headers=resp.headers, body=resp.read())
        except urllib.error.HTTPError as err:
            return SimpleNamespace(status=err.code, headers=err.headers, body=err.read())

    def csrf(self, url):
        html = self.request(url).body.decode()
        m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
            r'<meta name="csrf-token" content="([^"]+)"', html)
        return m.group(1)


def _wait_http(url, procs, deadline=60):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for p in procs:
            assert p.poll() is None, f"process {p.args} exited with {p.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.fixture
def cluster(servers, tmp_path):
    url = embedded.create_database(servers["pg_url"], f"jt_multi_{uuid.uuid4().hex[:8]}")
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes.update(url=url, quiet=True)
    command.upgrade(cfg, "head")
    redis_url = servers["redis_url"].rsplit("/", 1)[0] + "/7"      # its own Redis db: other tests flush db 0
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "ARCHIVE_URL": s3_url(servers, "jt-multi"),
           "SECRET_KEY": "multi-node-shared-secret", "LOG_FORMAT": "json", "PYTHONPATH": str(ROOT),
           "PUBLIC_URL": "http://127.0.0.1"}
    ports = embedded.free_ports(2)
    procs, logs = [], []

    def log_file(name):
        logs.append(open(tmp_path / name, "wb"))
        return logs[-1]
    try:
        for i, port in enumerate(ports, start=1):
            inst = tmp_path / f"web{i}"
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                env={**env, "INSTANCE_PATH": str(inst), "JT_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2",
                     "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"metrics{i}")},
                stdout=subprocess.DEVNULL, stderr=log_file(f"web{i}.log"), start_new_session=True))
        for i, queues in enumerate((["signing", "archive", "reports"], ["reports", "archive", "notifications"]), 1):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "web.worker", *queues], cwd=ROOT,
                env={**env, "INSTANCE_PATH": str(tmp_path / f"worker{i}")},
                stdout=subprocess.DEVNULL, stderr=log_file(f"worker{i}.log"), start_new_session=True))
        app = create_app({"TESTING": True, "DATABASE_URL": url, "REDIS_URL": redis_url,
                          "ARCHIVE_URL": s3_url(servers, "jt-multi"), "SECRET_KEY": "multi-node-shared-secret"})
        webs = [f"http://127.0.0.1:{p}" for p in ports]
        for web in webs:
            _wait_http(web + "/healthz", procs)
        yield SimpleNamespace(app=app, webs=webs, procs=procs, tmp=tmp_path)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for f in logs:
            f.close()
        if "app" in locals():
            from core.jobs import redis_connection
            redis_connection(app).flushdb()
            redis_connection(app).close()
            app.extensions["db_engine"].dispose()


def _seed(app):
    from core import db
    from orgs import accounts as auth_services
    from orgs import services as org_services
    from orgs.models.organisations import OrgKind
    from orgs.models.users import Role
    from sheets import services
    from tests.sheets.test_sheet_flow import class_marks
    with app.app_context():
        region = org_services.create_org(kind=OrgKind.region, code="MP-R", name="Область")
        mun = org_services.create_org(kind=OrgKind.municipality, parent=region, code="MP-M", name="Район")
        school = org_services.create_org(kind=OrgKind.school, parent=mun, code="MP-S", name="Школа")
        director = auth_services.create_user("mp-director", "Директор", PASSWORD)
        auth_services.grant(director, Role.director, school)
        sheets = services.import_classes(school, YEAR, {n: class_marks(n, seed=i) for i, n in enumerate(("1А", "1Б",
                                                                                                         "2А"))},
                                         actor=director)
        db.commit()
        ids = [s.id for s in sheets]
        org_id = school.id
        db.session.remove()
    return org_id, ids


def test_a_batch_runs_across_two_web_nodes_and_two_workers(cluster):
    org_id, sheet_ids = _seed(cluster.app)
    web1, web2 = cluster.webs
    user = Browser()
    resp = user.request(web1 + "/login", {"login": "mp-director", "password": PASSWORD,
                                          "csrf_token": user.csrf(web1 + "/login")})
    assert resp.status == 302, resp.body[:500]
    resp = user.request(web1 + "/sheets/batches", {"csrf_token": user.csrf(web1 + "/sheets"), "kind": "render",
                                                   "organisation_id": org_id, "school_year": YEAR})
    assert resp.status == 302, resp.body[:500]
    batch_id = int(resp.headers["Location"].rsplit("/", 1)[1])

    end = time.monotonic() + 120
    while True:
        progress = json.loads(user.request(f"{web2}/sheets/batches/{batch_id}.json").body)   # followed on web 2
        if progress["status"] in ("done", "failed") or time.monotonic() > end:
            break
        time.sleep(0.5)
    assert progress["status"] == "done", (progress, (cluster.tmp / "worker1.log").read_text()[-3000:],
                                          (cluster.tmp / "worker2.log").read_text()[-3000:])
    for sid in sheet_ids:
        pdf = user.request(f"{web2}/sheets/{sid}/pdf")                                        # downloaded on web 2
        assert pdf.status == 200 and pdf.body.startswith(b"%PDF"), pdf.status
        again = user.request(f"{web1}/sheets/{sid}/pdf")
        assert again.body == pdf.body

    # Each node kept nothing the other needed: no instance directory holds a PDF or an upload.
    for name in ("web1", "web2", "worker1", "worker2"):
        inst = cluster.tmp / name
        files = [p for p in inst.rglob("*") if p.is_file()] if inst.exists() else []
        assert not [p for p in files if p.suffix.lower() in (".pdf", ".xlsx", ".zip", ".p12")], files
    # Both web nodes answer readiness against the shared stores.
    for web in cluster.webs:
        assert json.loads(user.request(web + "/readyz").body)["status"] == "ok"
