"""Fault tests: a stack of our OWN PostgreSQL, Redis and SeaweedFS (app/embedded.py) plus real RQ
worker processes (`python -m web.worker signing archive`), so a test can kill and restart any of
them without touching the session servers the other tests use.

`stack` is shared by the fault tests (one start, ~10 s); every test makes its own school with its
own sheets and leaves the servers running when it ends.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sheets.sample import marks_csv
from web import embedded

ROOT = Path(__file__).resolve().parents[2]
SECRET = "faults-secret-key-not-for-production"
S3_KEY, S3_SECRET = "faultkey", "faultsecret123"
PASS = "faults-pass-1"
YEAR = "2025/2026"


class Stack:
    """The servers, their restart functions, the app (in this process) and the workers."""

    def __init__(self, base: Path):
        self.base = base
        self.pg_port, self.redis_port, *self.weed_ports = embedded.free_ports(12)
        self.stops: dict[str, callable] = {}
        self.workers: list[subprocess.Popen] = []
        self._logs = []
        self._seq = 0

    # ---- servers ------------------------------------------------------------------------------
    def start(self, name: str) -> None:
        if name == "pg":
            self.stops[name] = embedded.start_postgres(self.base / "pg", self.pg_port, fsync=False)
        elif name == "redis":
            # With its AOF, as in production: a Redis killed and started again has its queues back.
            # "always": not even a write acknowledged just before a kill -9 is lost.
            self.stops[name] = embedded.start_redis(self.base / "redis", self.redis_port, persistent=True,
                                                    appendfsync="always")
        elif name == "weed":
            self.stops[name] = embedded.start_seaweed(self.base / "weed", self.weed_ports, S3_KEY, S3_SECRET,
                                                      fast_stop=True, max_volumes=20, volume_mb=64)

    def stop(self, name: str) -> None:
        self.stops.pop(name)()

    def kill_redis(self) -> None:
        """kill -9 Redis (no shutdown, no last write of its AOF), reaped so the port is free again."""
        import redis
        with redis.Redis(port=self.redis_port) as r:
            pid = r.info("server")["process_id"]
        os.kill(pid, signal.SIGKILL)
        self.stop("redis")        # waits for the dead process

    # ---- workers ------------------------------------------------------------------------------
    def start_worker(self) -> subprocess.Popen:
        log = open(self.base / f"worker{len(self.workers)}.log", "wb")
        self._logs.append(log)
        w = subprocess.Popen([sys.executable, "-m", "web.worker", "signing", "archive"], cwd=ROOT,
                             env={**os.environ, **self.env}, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.workers.append(w)
        return w

    def kill_worker(self, w: subprocess.Popen) -> None:
        """kill -9 the worker and its work-horse(s) (the horse runs in a session of its own)."""
        import psutil
        procs = [psutil.Process(w.pid), *psutil.Process(w.pid).children(recursive=True)]
        for p in reversed(procs):
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        w.wait(10)

    def stop_workers(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                self.kill_worker(w)
        self.workers.clear()

    def close(self) -> None:
        self.stop_workers()
        for log in self._logs:
            log.close()
        for name in list(self.stops):
            try:
                self.stop(name)
            except Exception:   # a server a failed test left stopped
                pass

    # ---- data ---------------------------------------------------------------------------------
    def school(self, classes: int, pupils: int = 8, subjects: int = 4):
        """A new school with `classes` imported sheets, a teacher and a director; returns ids."""
        from core import db
        from core.db import session
        from orgs import accounts as auth
        from orgs.models.organisations import OrgKind
        from orgs.models.users import Role
        from orgs.services import create_org
        from sheets import services
        from sheets.marks_import import import_marks
        self._seq += 1
        n = self._seq
        with self.app.app_context():
            from orgs.models.organisations import Organisation
            mun = session.get(Organisation, self.mun_id)
            school = create_org(kind=OrgKind.school, code=f"FS{n}", parent=mun, name=f"Школа № {n}", audited=False)
            teacher = auth.create_user(f"teacher{n}", "Иванова Мария Петровна", PASS + "-x")
            director = auth.create_user(f"director{n}", "Сафин Ринат Ильдарович", PASS + "-x")
            auth.grant(teacher, Role.class_teacher, school)
            auth.grant(director, Role.director, school)
            from tests.helpers import assign_teacher
            assign_teacher(services.import_classes(school, YEAR, import_marks(marks_csv(classes, pupils, subjects),
                                                                              "marks.csv"), actor=director),
                           teacher, director)
            db.commit()
            ids = {"school": school.id, "teacher": teacher.id, "director": director.id}
            session.remove()
        return ids

    def batch(self, kind, ids, *, in_process=False) -> int:
        """Start a batch as the right person (teacher/director); in_process: run it here, now."""
        import pades
        from core import db
        from core.db import session
        from orgs.models.organisations import Organisation
        from orgs.models.users import User
        from sheets import services
        from sheets.models import BatchKind
        from sheets.tasks import process_batch
        who, p12 = {BatchKind.render: ("director", None), BatchKind.sign_teacher: ("teacher", self.teacher_p12),
                    BatchKind.sign_director: ("director", self.director_p12)}[kind]
        with self.app.test_request_context():
            b = services.start_batch(kind, session.get(Organisation, ids["school"]), YEAR,
                                     actor=session.get(User, ids[who]), pkcs12=p12,
                                     passphrase=PASS if p12 else None, in_process=in_process)
            db.commit()
            batch_id = b.id
            if in_process:
                signer = pades.PKCS12Signer(p12, PASS) if p12 else None
                process_batch(batch_id, signer=signer)
                db.commit()
            session.remove()
        return batch_id

    def query(self, fn):
        from core.db import session
        with self.app.app_context():
            try:
                return fn(session)
            finally:
                session.remove()



def wait_for(cond, timeout: float, what: str, interval: float = 0.1):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="session")
def stack():
    base = embedded.service_tempdir("jt-faults-")
    st = Stack(base)
    try:
        for name in ("pg", "redis", "weed"):
            st.start(name)
        from pades import demo_pki
        ca = demo_pki.make(base / "keys", {"teacher": "Иванова Мария Петровна",
                                           "director": "Сафин Ринат Ильдарович"}, PASS)
        st.ca_pem = ca.read_bytes()
        st.teacher_p12 = (base / "keys" / "teacher.p12").read_bytes()
        st.director_p12 = (base / "keys" / "director.p12").read_bytes()
        db_url = embedded.create_database(f"postgresql+psycopg://postgres@127.0.0.1:{st.pg_port}/postgres",
                                          "faults")
        st.env = {"DATABASE_URL": db_url, "REDIS_URL": f"redis://127.0.0.1:{st.redis_port}/0",
                  "ARCHIVE_URL": f"s3://{S3_KEY}:{S3_SECRET}@127.0.0.1:"
                                 f"{st.weed_ports[embedded.S3_PORT_INDEX]}/faults?secure=0",
                  "SECRET_KEY": SECRET, "TRUST_ROOTS": str(ca), "PUBLIC_URL": "http://faults.test",
                  # chunks (one transaction each) smaller than a school's batch, so a kill lands between commits
                  "SHEET_BATCH_CHUNK": "2"}
        from alembic import command
        from alembic.config import Config
        cfg = Config(str(ROOT / "alembic.ini"))
        cfg.attributes.update(url=db_url, quiet=True)
        command.upgrade(cfg, "heads")
        from core import db
        from web import create_app
        st.app = create_app({**st.env, "TESTING": True, "SERVER_NAME": "faults.test"})
        from core.db import session
        from orgs.models.organisations import OrgKind
        from orgs.services import create_org
        with st.app.app_context():
            from core.storage import get_storage
            get_storage().ping()
            region = create_org(kind=OrgKind.region, code="FR", name="Регион сбоев", audited=False)
            st.mun_id = create_org(kind=OrgKind.municipality, code="FM", parent=region, name="Район",
                                   audited=False).id
            db.commit()
            session.remove()
        yield st
    finally:
        st.close()
        app = getattr(st, "app", None)
        if app is not None:
            app.extensions["db_engine"].dispose()
            if "redis" in app.extensions:
                app.extensions["redis"].close()
        shutil.rmtree(base, ignore_errors=True)
