"""Issue 9's load run: 200 people with browsers on one production-like box for 2 minutes while a
region's year-end batch renders, signs (B-T) and archives (B-LTA) summary sheets. Not a test; it asserts
nothing and prints figures.

    .venv/bin/python benchmarks/load.py                                  # the recorded run: ≈ 5 min in all
    .venv/bin/python benchmarks/load.py --users 30 --seconds 20          # a quick check
    .venv/bin/python benchmarks/load.py --users 200 --seconds 120 --web-workers 4 --rq-workers 2 --rq-nice 10

Everything on this machine, in a temp dir removed at the end (also on Ctrl-C): embedded PostgreSQL
(fsync off), Redis and SeaweedFS (S3 with Object Lock, the archive and the evidence store), the test
PKI's timestamp server (certomancer, in this process), the demo CA's keys (year_end.py's helpers),
gunicorn with gunicorn.conf.py (`WEB_CONCURRENCY` workers × gthread) and RQ workers as documented in
docs/operations.md (`python -m web.worker notifications signing default` and `… archive reports`),
started with a lower CPU priority (`nice -n 10`, and the same for their session's autogroup, without
which nice does nothing against gunicorn; see year_end.start_workers) unless `--rq-nice 0`.

Data, through the app's own code: the demo region (`web.demo.make_demo`, what `flask demo-data`
runs), more accounts so that every virtual user logs in as its own person, order 001 of
tests/data/seeds in force with three rows given to every school for the current school year (weekly,
monthly, one date + «appoint the responsible person»), marks of `--classes` classes for every school
(the batch) and, archived before the window so the archivists have something to find, the year
before of `--archived-schools` schools.

The virtual users (each its own session cookie and keep-alive connection, a think time of
U(1, 3) s before every request, like locust's `between(1, 3)`; a person, not a closed loop) run in a
separate client process, log in before the window (argon2 is slow on purpose; not counted) and then:
  regional official  region dashboard, a municipality's and a school's, the assignments and one of them,
                     the calendar, the region's summary sheets (batch progress), home;
  municipal official its dashboard, its review queue → an occurrence → «Принять», a school's
                     dashboard, inbox, home;
  director           my tasks, an occurrence → the real submit form (multipart: text + a small
                     evidence file; for «appoint» the responsible person), inbox, the school's
                     dashboard, the school's sheets → one sheet → its PDF, home;
  archivist          search (pupil surname, year, school, status), a record, its download with a purpose.
During the window each school's render → class-teacher signing → director signing batch is started
(`sheets.services.start_batch`, as the batch page does), schools staggered over the first half of the
window; the archive ingests each signed sheet. After the window the run waits for every batch and
ingest to finish and checks that each sheet is signed once (two signatures in its PDF) and archived.
"""
import argparse
import http.client
import multiprocessing
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from project_path import use_checkout  # noqa: E402

use_checkout()

THINK = (1.0, 3.0)                 # seconds before each request (uniform)
TIMEOUT = 60                       # a request slower than this is an error
KEEPALIVE_REUSE = 4.0              # gunicorn keeps an idle connection 5 s (gunicorn.conf.py)
DASHBOARDS = ("dashboard.region", "dashboard.municipality", "dashboard.org")
TARGET_P95_MS = 300
SURNAMES = ["Иванова", "Иванов", "Киселёва", "Семенова", "Алёшин", "Гарипова", "Закиров", "Орлов", "Петрова",
            "Фёдоров", "Абдуллина", "Лебедева", "Шарафутдинов", "Чернов"]


# ==== the client: its own process, one thread per virtual user ==============================================

class Stop(Exception):
    """The measured window is over."""


class Browser:
    """One person's browser: a keep-alive connection, the session cookie, no redirects followed unless asked."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.conn, self.idle_since, self.cookies, self.retries = None, 0.0, {}, 0

    def _close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, headers, body, seconds from send to the full body read). A request on a kept-alive
        connection the server closed meanwhile is sent once more on a new one, as browsers do."""
        hdrs = {"Host": f"{self.host}:{self.port}", "User-Agent": "journals-load/1", "Accept": "text/html,*/*",
                **(headers or {})}
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        t0 = time.perf_counter()
        for attempt in (0, 1):
            reused = self.conn is not None and time.monotonic() - self.idle_since < KEEPALIVE_REUSE
            if not reused:
                self._close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) :
                self._close()
                if reused and attempt == 0:
                    self.retries += 1
                    continue
                raise
            except Exception:
                self._close()
                raise
            break
        elapsed = time.perf_counter() - t0
        for raw in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            low = raw.lower()
            if "max-age=0" in low or "expires=thu, 01 jan 1970" in low or not value:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        if resp.will_close:
            self._close()
        else:
            self.idle_since = time.monotonic()
        return resp.status, resp.headers, data, elapsed


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
OCC = re.compile(r'href="/assignments/occurrences/(\d+)"')
FLASH = re.compile(r'class="(?:flash error|errors)"[^>]*>(.*?)</', re.S)


def _multipart(fields: dict, files: list) -> tuple[bytes, str]:
    boundary = f"----load{random.getrandbits(64):016x}"
    out = []
    for k, v in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    for field, name, data, ctype in files:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                   f'Content-Type: {ctype}\r\n\r\n'.encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times = defaultdict(list)
        self.errors = defaultdict(int)
        self.messages = []
        self.statuses = defaultdict(lambda: defaultdict(int))
        self.timeline = []                      # (seconds since the window opened, latency)
        self.t0 = time.monotonic()

    def add(self, name, seconds, status, error=None):
        with self.lock:
            self.times[name].append(seconds)
            self.timeline.append((time.monotonic() - seconds - self.t0, seconds))
            self.statuses[name][status] += 1
            if error:
                self.errors[name] += 1
                if len(self.messages) < 30:
                    self.messages.append(f"{name}: {error}")


class VirtualUser:
    def __init__(self, spec: dict, common: dict, base: tuple[str, int], rec: Recorder, stop_at: list, seed: int):
        self.spec, self.common, self.rec, self.stop_at = spec, common, rec, stop_at
        self.rnd = random.Random(seed)
        self.browser = Browser(*base)
        self.requests, self.logged_in = 0, False

    # -- plumbing ------------------------------------------------------------------------------------------
    def think(self):
        time.sleep(self.rnd.uniform(*THINK))
        if time.monotonic() >= self.stop_at[0]:
            raise Stop

    def _send(self, name, method, path, body=None, headers=None, *, expect=(200,), pdf=False):
        """Send, record, and return (status, headers, body) or None if it failed."""
        try:
            status, hdrs, data, dt = self.browser.request(method, path, body, headers)
        except TimeoutError:
            self.rec.add(name, TIMEOUT, "timeout", f"{method} {path}: no answer in {TIMEOUT} s")
            return None
        except (OSError, http.client.HTTPException) as exc:
            self.rec.add(name, 0.0, "conn", f"{method} {path}: {type(exc).__name__}: {exc}")
            return None
        self.requests += 1
        error = None
        if status not in expect:
            text = data.decode("utf-8", "replace")
            m = FLASH.search(text)
            where = hdrs.get("Location", "")
            error = (f"{method} {path}: HTTP {status}"
                     + (f" → {where}" if where else "") + (f": {m.group(1).strip()[:200]}" if m else ""))
        elif status in (302, 303) and "/login" in hdrs.get("Location", ""):
            error = f"{method} {path}: sent to the login page (session lost)"
        elif pdf and not data.startswith(b"%PDF"):
            error = f"{method} {path}: not a PDF ({hdrs.get('Content-Type')})"
        self.rec.add(name, dt, status, error)
        return None if error else (status, hdrs, data)

    def get(self, name, path, *, pdf=False):
        self.think()
        r = self._send(name, "GET", path, pdf=pdf)
        return None if r is None or pdf else r[2].decode("utf-8", "replace")

    def post(self, name, path, fields, *, files=None, expect=(302, 303), follow=None, pdf=False):
        self.think()
        if files:
            body, ctype = _multipart(fields, files)
        else:
            body, ctype = urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded"
        r = self._send(name, "POST", path, body, {"Content-Type": ctype}, expect=expect, pdf=pdf)
        if r is not None and follow and r[0] in (302, 303):     # the browser loads the page it is sent to
            loc = urllib.parse.urlsplit(r[1].get("Location", ""))
            self._send(follow, "GET", loc.path + (f"?{loc.query}" if loc.query else ""))
        return r

    def login(self) -> float:
        t0 = time.perf_counter()
        status, _, data, _ = self.browser.request("GET", "/login")
        token = CSRF.search(data.decode())
        if status != 200 or token is None:
            raise RuntimeError(f"login page: HTTP {status}")
        token = token.group(1)
        body = urllib.parse.urlencode({"login": self.spec["login"], "password": self.spec["password"],
                                       "csrf_token": token}).encode()
        status, hdrs, _, _ = self.browser.request("POST", "/login", body,
                                                  {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302 or "/login" in hdrs.get("Location", ""):
            raise RuntimeError(f"login {self.spec['login']}: HTTP {status}")
        self.logged_in = True
        return time.perf_counter() - t0

    def mine(self, ids: list[int]) -> list[int]:
        """The share of a common list this person works on (colleagues split the queue, no two take one)."""
        k, n = self.spec["share"]
        return [i for i in ids if i % n == k]

    # -- what people do --------------------------------------------------------------------------------------
    def run(self):
        actions = ACTIONS[self.spec["role"]]
        names, weights = zip(*[(a, w) for a, w in actions])
        try:
            time.sleep(self.rnd.uniform(0, THINK[1]))           # people do not all click at the same moment
            while True:
                getattr(self, names[self.rnd.choices(range(len(names)), weights)[0]])()
        except Stop:
            pass

    def home(self):
        self.get("home", "/")

    def inbox(self):
        self.get("inbox", "/assignments/inbox")

    def region_dashboard(self):
        self.get("dashboard.region", f"/assignments/dashboard/region/{self.spec['org']}")

    def municipality_dashboard(self):
        mid = self.spec["org"] if self.spec["role"] == "municipal" else self.rnd.choice(self.common["municipalities"])
        self.get("dashboard.municipality", f"/assignments/dashboard/municipality/{mid}")

    def org_dashboard(self):
        if self.spec["role"] == "director":
            sid = self.spec["org"]
        elif self.spec["role"] == "municipal":
            sid = self.rnd.choice(self.common["schools_of"][str(self.spec["org"])])
        else:
            sid = self.rnd.choice(self.common["schools"])
        self.get("dashboard.org", f"/assignments/dashboard/org/{sid}")

    def assignments(self):
        html = self.get("assignments", "/assignments")
        ids = re.findall(r'href="/assignments/(\d+)"', html or "")
        if ids:
            self.get("assignment", f"/assignments/{self.rnd.choice(ids)}")

    def calendar(self):
        self.get("calendar", "/assignments/calendar")

    def my_tasks(self):
        self.get("my_tasks", "/assignments/my")

    def region_sheets(self):
        self.get("sheets", f"/sheets?year={urllib.parse.quote(self.common['year'])}")

    def submit(self):
        """A director answers one open task through the form on the occurrence page."""
        html = self.get("my_tasks", "/assignments/my")
        if not html:
            return
        ids = self.mine([int(x) for x in OCC.findall(html.split('id="review"')[0])])
        if not ids:
            return
        occ = self.rnd.choice(ids[:30])
        page = self.get("occurrence", f"/assignments/occurrences/{occ}")
        if not page or 'id="submit-form"' not in page:
            return
        fields = {"csrf_token": CSRF.search(page).group(1),
                  "text": "Электронные журналы ведутся, замечаний нет. Отчёт прилагается."}
        if 'name="responsible_name"' in page:
            fields.update(responsible_name="Сафина Гульнара Ринатовна", responsible_position="заместитель директора")
        evidence = (b"%PDF-1.4\n% evidence " + os.urandom(16).hex().encode() + b"\n"
                    + b"0" * self.rnd.randint(2_000, 30_000) + b"\n%%EOF\n")
        self.post("submit", f"/assignments/occurrences/{occ}/submit", fields,
                  files=[("files", f"otchet-{occ}.pdf", evidence, "application/pdf")], follow="occurrence")

    def review(self):
        """A municipal official takes a school's report from the review queue and accepts it."""
        html = self.get("my_tasks", "/assignments/my")
        if not html or 'id="review"' not in html:
            return
        ids = self.mine([int(x) for x in OCC.findall(html.split('id="review"', 1)[1])])
        if not ids:
            return
        occ = self.rnd.choice(ids[:10])
        page = self.get("occurrence", f"/assignments/occurrences/{occ}")
        if not page or 'id="accept-form"' not in page:
            return
        self.post("accept", f"/assignments/occurrences/{occ}/accept",
                  {"csrf_token": CSRF.search(page).group(1)}, follow="occurrence")

    def sheet_download(self):
        html = self.get("sheets", f"/sheets?year={urllib.parse.quote(self.common['year'])}")
        ids = re.findall(r'href="/sheets/(\d+)"', html or "")
        if not ids:
            return
        sid = self.rnd.choice(ids)
        page = self.get("sheet", f"/sheets/{sid}")
        if page and f'href="/sheets/{sid}/pdf"' in page:
            self.get("sheet.pdf", f"/sheets/{sid}/pdf", pdf=True)

    def _search_args(self) -> dict:
        choice = self.rnd.random()
        if choice < 0.5:
            return {"pupil": self.rnd.choice(SURNAMES)}
        if choice < 0.7:
            return {"year": self.rnd.choice(self.common["archive_years"])}
        if choice < 0.9:
            return {"school": self.rnd.choice(self.common["schools"])}
        return {}

    def archive_search(self, extra=None) -> list[str]:
        args = {**self._search_args(), **(extra or {})}
        html = self.get("archive.search", "/archive" + ("?" + urllib.parse.urlencode(args) if args else ""))
        return re.findall(r'href="/archive/records/(\d+)"', html or "")

    def archive_record(self):
        ids = self.archive_search()
        if ids:
            self.get("archive.record", f"/archive/records/{self.rnd.choice(ids)}")

    def archive_download(self):
        ids = self.archive_search({"status": "archived"})
        if not ids:
            return
        rid = self.rnd.choice(ids)
        page = self.get("archive.record", f"/archive/records/{rid}")
        if not page or 'id="download-form"' not in page:
            return
        self.post("archive.download", f"/archive/records/{rid}/download",
                  {"csrf_token": CSRF.search(page).group(1), "purpose": "Запрос выпускника о выдаче копии ведомости"},
                  expect=(200,), pdf=True)


ACTIONS = {   # (method, weight): one action is 1–4 requests, each after a think time
    "regional": [("region_dashboard", 30), ("municipality_dashboard", 20), ("org_dashboard", 5), ("assignments", 15),
                 ("calendar", 5), ("region_sheets", 10), ("home", 5), ("inbox", 5)],
    "municipal": [("municipality_dashboard", 30), ("review", 35), ("org_dashboard", 10), ("inbox", 10),
                  ("my_tasks", 5), ("home", 5)],
    "director": [("my_tasks", 15), ("submit", 25), ("inbox", 10), ("org_dashboard", 15), ("sheet_download", 20),
                 ("home", 5)],
    "archivist": [("archive_search", 35), ("archive_record", 25), ("archive_download", 30), ("home", 5)],
}


def client_main(conn, host: str, port: int, users: list, common: dict, seconds: float, seed: int) -> None:
    """The client process: log everyone in, say "ready", wait for "go", run the window, send the figures."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # the parent stops us
    rec = Recorder()
    stop_at = [float("inf")]
    vus = [VirtualUser(spec, common, (host, port), rec, stop_at, seed * 100003 + i) for i, spec in enumerate(users)]
    logins, failed = [], []
    lock = threading.Lock()
    todo = list(vus)

    def log_in():
        while True:
            with lock:
                if not todo:
                    return
                vu = todo.pop()
            try:
                took = vu.login()
                with lock:
                    logins.append(took)
            except Exception as exc:          # reported, and that user sits the window out
                with lock:
                    failed.append(f"{vu.spec['login']}: {exc}")
            time.sleep(random.uniform(0, 0.2))
    t0 = time.monotonic()
    threads = [threading.Thread(target=log_in) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn.send(("ready", {"logins": logins, "failed": failed, "seconds": time.monotonic() - t0}))
    if conn.recv() != "go":
        return
    cpu0 = time.process_time()
    started = time.monotonic()
    rec.t0 = started
    stop_at[0] = started + seconds
    ok = [vu for vu in vus if vu.logged_in]
    threads = [threading.Thread(target=vu.run, daemon=True) for vu in ok]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn.send(("done", {"times": dict(rec.times), "errors": dict(rec.errors), "messages": rec.messages,
                        "statuses": {k: dict(v) for k, v in rec.statuses.items()}, "timeline": rec.timeline,
                        "wall": time.monotonic() - started, "cpu": time.process_time() - cpu0,
                        "retries": sum(vu.browser.retries for vu in ok), "users": len(ok), "threads": len(threads)}))


# ==== the orchestrator ==============================================================================================

def build_data(app, args, school_year: str, archived_year: str) -> dict:
    """Demo region, accounts for every virtual user, assignments for the schools, marks to sign."""
    import datetime as dt

    from sqlalchemy import select

    from assignments import services as svc
    from core import db
    from core.db import session
    from ordinances import services as ordsvc
    from ordinances.models.ordinances import OrdinanceStatus
    from ordinances.parsing.parser import parse_file
    from orgs import accounts as auth
    from orgs.models.organisations import Organisation, OrgKind
    from orgs.models.users import Role, RoleGrant, User
    from sheets import services as sheets
    from sheets.marks_import import import_marks
    from tests.sheets.sample import marks_csv
    from web.demo import DEMO_PASSWORD, make_demo

    with app.app_context():
        make_demo(schools=args.schools)
        db.commit()
        region = session.scalar(select(Organisation).where(Organisation.kind == OrgKind.region))
        munis = list(session.scalars(select(Organisation).where(Organisation.kind == OrgKind.municipality)
                                     .order_by(Organisation.code)))
        schools = list(session.scalars(select(Organisation).where(Organisation.kind == OrgKind.school)
                                       .order_by(Organisation.id)))
        pw_hash = session.scalar(select(User.password_hash).where(User.login == "region"))

        def holders(role):
            rows = session.execute(select(User, RoleGrant.organisation_id).join(RoleGrant, RoleGrant.user_id == User.id)
                                   .where(RoleGrant.role == role).order_by(User.id)).all()
            return [(u, org_id) for u, org_id in rows]

        def extra(login, role, org):
            u = auth.create_user(login, f"Сотрудник {login}", None, position="нагрузочный тест")
            u.password_hash = pw_hash
            auth.grant(u, role, org)
            return u

        n_dir = round(args.users * 0.5)
        n_reg = round(args.users * 0.15)
        n_arch = round(args.users * 0.15)
        n_mun = args.users - n_dir - n_reg - n_arch
        users = []
        # directors: the demo director of each school first, then deputies (director role) round-robin
        dirs = {org_id: [u] for u, org_id in holders(Role.director)}
        for i in range(n_dir):
            s = schools[i % len(schools)]
            have = dirs.setdefault(s.id, [])
            if len(have) <= i // len(schools):
                have.append(extra(f"zam-{s.code.lower()}-{len(have) + 1}", Role.director, s))
            users.append({"role": "director", "login": have[i // len(schools)].login, "org": s.id})
        mouo = {org_id: [u] for u, org_id in holders(Role.municipal_official)}
        for i in range(n_mun):
            m = munis[i % len(munis)]
            have = mouo.setdefault(m.id, [])
            if len(have) <= i // len(munis):
                have.append(extra(f"mouo-{m.code.lower()}-{len(have) + 1}", Role.municipal_official, m))
            users.append({"role": "municipal", "login": have[i // len(munis)].login, "org": m.id})
        for i in range(n_reg):
            login = "region" if i == 0 else extra(f"region-{i + 1}", Role.regional_official, region).login
            users.append({"role": "regional", "login": login, "org": region.id})
        for i in range(n_arch):
            login = "archivist" if i == 0 else extra(f"archivist-{i + 1}", Role.archivist, region).login
            users.append({"role": "archivist", "login": login, "org": region.id})
        for role in ("director", "municipal"):           # colleagues of one organisation split its queue
            by_org = defaultdict(list)
            for u in users:
                if u["role"] == role:
                    by_org[u["org"]].append(u)
            for group in by_org.values():
                for k, u in enumerate(group):
                    u["share"] = (k, len(group))
        for u in users:
            u.setdefault("share", (0, 1))
            u["password"] = DEMO_PASSWORD
        official = session.scalar(select(User).where(User.login == "region"))

        # order 001 in force; three rows given to every school for the current school year
        parsed = parse_file(next((ROOT / "tests" / "data" / "seeds").glob("001_*.txt")))
        order = ordsvc.create_from_parsed(parsed, issuer=region, actor=official)
        ordsvc.set_status(order, OrdinanceStatus.in_force, actor=official)
        items = {i.number: i for i in order.plan.table_items}
        start, end = svc.school_year(svc.today())
        for number, rule, dates in (("2.4", "weekly", ()), ("2.5", "monthly", ()),
                                    ("2.3", "dates", (svc.today() + dt.timedelta(days=20),))):
            svc.create_assignment(items[number], region, schools, actor=official, rule=rule, dates=dates,
                                  horizon=(start, end), appointment_due=svc.today() + dt.timedelta(days=10))
        db.commit()

        # the class teacher of every school, and the marks: this year's batch and last year's archive
        teacher = auth.create_user("teacher-load", "Иванова Мария Петровна", None)
        for s in schools:
            auth.grant(teacher, Role.class_teacher, s)
        csv = import_marks(marks_csv(args.classes, args.pupils, args.subjects), "marks.csv")
        from sheets.class_teachers import assign_for
        for s in schools:
            assign_for(sheets.import_classes(s, school_year, csv, actor=dirs[s.id][0]), teacher, actor=dirs[s.id][0])
        for s in schools[:args.archived_schools]:
            assign_for(sheets.import_classes(s, archived_year, csv, actor=dirs[s.id][0]), teacher,
                       actor=dirs[s.id][0])
        db.commit()
        # Signing checks the certificate against the signer (issue 15): the demo director key's holder, by
        # name, is the director who signs every school's batch (the schools' own directors browse the pages).
        signer = auth.create_user("director-key", "Сафин Ринат Ильдарович", None)
        for s in schools:
            auth.grant(signer, Role.director, s)
        db.commit()
        director_of = {s.id: signer.id for s in schools}
        data = {"users": users, "region": region.id, "municipalities": [m.id for m in munis],
                "schools": [s.id for s in schools], "teacher": teacher.id, "director_of": director_of,
                "schools_of": {str(m.id): [s.id for s in schools if s.parent_id == m.id] for m in munis}}
        session.remove()
    return data


class Pipeline(threading.Thread):
    """Each school's render → class-teacher signing → director signing, the next batch as soon as the last
    one is done; school i starts at i × stagger seconds."""

    STAGES = ("render", "sign_teacher", "sign_director")

    def __init__(self, app, schools, year, *, teacher_id, director_of, p12, passphrase, stagger):
        super().__init__(daemon=True)
        self.app, self.schools, self.year, self.stagger = app, schools, year, stagger
        self.teacher_id, self.director_of, self.p12, self.passphrase = teacher_id, director_of, p12, passphrase
        self.state = {s: (-1, None) for s in schools}     # (stage index, batch id)
        self.done, self.failed, self.started, self.errors = 0, 0, 0, []
        self.stop = threading.Event()
        self.finished = threading.Event()

    def _start(self, school_id, stage):
        from core import db
        from core.db import session
        from orgs.models.organisations import Organisation
        from orgs.models.users import User
        from sheets import services
        from sheets.models import BatchKind
        kind = BatchKind(self.STAGES[stage])
        actor = session.get(User, self.teacher_id if kind is BatchKind.sign_teacher else self.director_of[school_id])
        p12 = None if kind is BatchKind.render else self.p12[kind.value]
        try:
            batch = services.start_batch(kind, session.get(Organisation, school_id), self.year, actor=actor,
                                         pkcs12=p12, passphrase=self.passphrase if p12 else None)
            db.commit()
            self.started += 1
            return batch.id
        except Exception as exc:                 # reported at the end
            db.rollback()
            self.errors.append(f"school {school_id} {kind.value}: {exc}")
            return None
        finally:
            session.remove()

    def run(self):
        try:
            self._run()
        except Exception:
            if not self.stop.is_set():          # interrupted: the servers are going away under us
                raise
        finally:
            self.finished.set()

    def _run(self):
        from sqlalchemy import select

        from core.db import session
        from sheets.models import BatchStatus, SheetBatch
        with self.app.app_context():
            t0 = time.monotonic()
            while not self.stop.is_set():
                running = {b: s for s, (_, b) in self.state.items() if b is not None}
                statuses = dict(session.execute(select(SheetBatch.id, SheetBatch.status)
                                                .where(SheetBatch.id.in_(list(running)))).all()) if running else {}
                errors = dict(session.execute(select(SheetBatch.id, SheetBatch.errors)
                                              .where(SheetBatch.id.in_(list(running)))).all()) if running else {}
                session.remove()
                for i, school in enumerate(self.schools):
                    stage, batch = self.state[school]
                    if stage == -1 and time.monotonic() - t0 >= i * self.stagger:
                        self.state[school] = (0, self._start(school, 0))
                    elif batch is not None and statuses.get(batch) in (BatchStatus.done, BatchStatus.failed):
                        if statuses[batch] is BatchStatus.failed or errors.get(batch):
                            self.failed += 1
                            self.errors += [f"batch {batch}: {e['message']}" for e in errors.get(batch) or []]
                        else:
                            self.done += 1
                        nxt = stage + 1
                        self.state[school] = (nxt, self._start(school, nxt) if nxt < len(self.STAGES) else None)
                    elif stage >= 0 and batch is None and stage < len(self.STAGES):   # could not start: give up
                        self.state[school] = (len(self.STAGES), None)
                if all(st >= len(self.STAGES) or (st >= 0 and b is None) for st, b in self.state.values()) \
                        and all(st >= 0 for st, _ in self.state.values()):
                    break
                time.sleep(0.25)


def run_batches_now(app, schools, year, threads: list, *, teacher_id, director_of, p12, passphrase,
                    timeout=900) -> Pipeline:
    p = Pipeline(app, schools, year, teacher_id=teacher_id, director_of=director_of, p12=p12,
                 passphrase=passphrase, stagger=0)
    threads.append(p)
    p.start()
    p.finished.wait(timeout)
    return p


class DbSampler(threading.Thread):
    """Four times a second: how many database sessions are running a statement and how many wait for a lock
    (the audit log's advisory lock serialises every audited write, see app/audit.py)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.samples, self.stop = [], threading.Event()

    def run(self):
        try:
            self._run()
        except Exception:
            if not self.stop.is_set():
                raise

    def _run(self):
        import psycopg
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.wait(0.25):
                self.samples.append(conn.execute(
                    "SELECT count(*) FILTER (WHERE state = 'active'), "
                    "count(*) FILTER (WHERE wait_event_type = 'Lock'), "
                    "count(*) FILTER (WHERE wait_event = 'advisory') "
                    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone())

    def summary(self) -> str:
        if not self.samples:
            return "no samples"
        n = len(self.samples)
        active = statistics.mean(s[0] for s in self.samples)
        waiting = [s[1] for s in self.samples]
        advisory = [s[2] for s in self.samples]
        return (f"{n} samples: statements running {active:.1f} on average; waiting for a lock in "
                f"{sum(1 for w in waiting if w) / n * 100:.0f} % of samples (mean {statistics.mean(waiting):.2f}, "
                f"max {max(waiting)}), of them on the audit log's advisory lock mean {statistics.mean(advisory):.2f}")


class Cpu:
    """CPU seconds used by each part of the stack (process trees, with their reaped children)."""

    def __init__(self, base: Path, groups: dict, redis_port: int):
        self.base, self.groups, self.redis = str(base), groups, f":{redis_port}"

    def _tree(self, pid) -> float:
        import psutil
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total

    def snapshot(self) -> dict:
        import psutil
        servers = {"PostgreSQL": [], "Redis": [], "SeaweedFS": []}
        for p in psutil.process_iter(["pid", "ppid", "name", "cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if "redis" in cmd and self.redis in cmd:           # redis-server rewrites its title to host:port
                servers["Redis"].append(p.info["pid"])
            if self.base not in cmd:
                continue
            elif "weed" in (p.info["name"] or "") or "/weed " in cmd:
                servers["SeaweedFS"].append(p.info["pid"])
            elif "postgres" in (p.info["name"] or "") and " -D " in cmd:
                servers["PostgreSQL"].append(p.info["pid"])
        out = {name: sum(self._tree(pid) for pid in pids) for name, pids in {**self.groups, **servers}.items()}
        me = psutil.Process().cpu_times()
        out["this process (TSA, batch starts)"] = me.user + me.system
        t = psutil.cpu_times()
        out["_busy"] = t.user + t.nice + t.system + t.irq + t.softirq + t.steal
        out["_at"] = time.monotonic()
        return out


class CpuSlices(threading.Thread):
    """A CPU snapshot every `step` seconds of the window, for the timeline."""

    def __init__(self, cpu: Cpu, step: float):
        super().__init__(daemon=True)
        self.cpu, self.step, self.snaps, self.stop = cpu, step, [], threading.Event()

    def run(self):
        self.snaps.append(self.cpu.snapshot())
        while not self.stop.wait(self.step - (time.monotonic() - self.snaps[0]["_at"]) % self.step):
            self.snaps.append(self.cpu.snapshot())

    def slice(self, k: int) -> str:
        if k + 1 >= len(self.snaps):
            return ""
        a, b = self.snaps[k], self.snaps[k + 1]
        cap = (os.cpu_count() or 1) * (b["_at"] - a["_at"])
        ours = sum(b[n] - a[n] for n in a if not n.startswith("_"))

        def share(name):
            return (b[name] - a[name]) / cap * 100
        return (f"CPU busy {(b['_busy'] - a['_busy']) / cap * 100:.0f} %: "
                f"web {share('gunicorn (master + workers)'):.0f}, "
                f"RQ {share('RQ workers (+ work-horses)'):.0f}, PostgreSQL {share('PostgreSQL'):.0f}, "
                f"other processes {max(0.0, (b['_busy'] - a['_busy'] - ours) / cap * 100):.0f}")


def pct(values, p):
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--web-workers", type=int, default=4)
    ap.add_argument("--rq-workers", type=int, default=2, help="alternately interactive (notifications signing "
                                                                "default) and bulk (archive reports)")
    ap.add_argument("--rq-nice", type=int, default=10, help="nice level of the RQ workers (0: same as the web)")
    ap.add_argument("--schools", type=int, default=30, help="schools of the demo region")
    ap.add_argument("--classes", type=int, default=3, help="sheets per school in the batch")
    ap.add_argument("--pupils", type=int, default=25)
    ap.add_argument("--subjects", type=int, default=14)
    ap.add_argument("--archived-schools", type=int, default=3, help="schools whose previous year is archived "
                                                                     "before the window")
    ap.add_argument("--stagger", type=float, help="seconds between two schools' batch starts "
                                                  "(default: spread over the first half of the window)")
    ap.add_argument("--no-batch", action="store_true", help="the same load without the batch (a baseline)")
    ap.add_argument("--drain-timeout", type=float, default=1200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--logs", type=Path, help="copy the gunicorn and worker logs here before cleaning up")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    from year_end import PASS, SECRET, signing_keys, start_servers, start_workers, stop_workers

    from web import embedded
    base = embedded.service_tempdir("jt-load-")
    stops, workers, web, client, tpki, threads = [], [], None, None, None, []
    t_setup = time.monotonic()
    try:
        print(f"setting up in {base} …", flush=True)
        urls, stops = start_servers(base)
        from tests.sheets import pki as test_pki
        tpki = test_pki.start(base / "tpki")
        signing_env, teacher_p12, director_p12 = signing_keys(base, tpki)
        web_port = embedded.free_ports(1)[0]
        host = "127.0.0.1"
        env = {**urls, **signing_env, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(base / "instance"),
               "PUBLIC_URL": f"http://{host}:{web_port}", "JT_BIND": f"{host}:{web_port}",
               "WEB_CONCURRENCY": str(args.web_workers), "LOG_LEVEL": "warning",
               "PROMETHEUS_MULTIPROC_DIR": str(base / "metrics"),
               # the virtual users script no authenticator app: archivists log in with their password alone
               "SECOND_FACTOR_ROLES": "admin"}
        os.environ.update(env)
        from alembic import command

        from assignments.services import school_year, today
        from web import create_app
        from web.cli import alembic_config
        command.upgrade(alembic_config(urls["DATABASE_URL"]), "heads")
        app = create_app()
        y0 = school_year(today())[0].year - 1                # the year-end batch: the school year just ended
        year, archived_year = f"{y0}/{y0 + 1}", f"{y0 - 1}/{y0}"
        data = build_data(app, args, year, archived_year)
        print(f"data: demo region, {len(data['schools'])} schools in {len(data['municipalities'])} municipalities, "
              f"{len(data['users'])} accounts; batch {year}: {len(data['schools']) * args.classes} sheets "
              f"({args.classes} classes × {args.pupils} pupils × {args.subjects} subjects); "
              f"{time.monotonic() - t_setup:.0f} s", flush=True)

        kinds = [("notifications", "signing", "default"), ("archive", "reports")]
        queue_sets = [kinds[i % 2] for i in range(args.rq_workers)]
        workers = start_workers(base, env, queue_sets, nice=args.rq_nice)
        p12 = {"sign_teacher": teacher_p12, "sign_director": director_p12}
        batch_args = dict(teacher_id=data["teacher"], director_of={int(k): v for k, v in data["director_of"].items()},
                          p12=p12, passphrase=PASS)
        t0 = time.monotonic()
        warm = run_batches_now(app, data["schools"][:args.archived_schools], archived_year, threads, **batch_args)
        from year_end import wait_archive
        archived_before = wait_archive(app, args.archived_schools * args.classes, timeout=600)
        print(f"archive before the window: {archived_before} sheets of {archived_year} signed and archived "
              f"in {time.monotonic() - t0:.0f} s ({warm.done} batches, {warm.failed} failed)", flush=True)

        web_log = open(base / "gunicorn.log", "wb")
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                               env={**os.environ, **env}, stdout=web_log, stderr=web_log, stdin=subprocess.DEVNULL,
                               start_new_session=True)
        web_log.close()
        for _ in range(600):
            try:
                c = http.client.HTTPConnection(host, web_port, timeout=1)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        common = {"year": year, "archive_years": [archived_year, year], "schools": data["schools"],
                  "municipalities": data["municipalities"], "schools_of": data["schools_of"]}
        ctx = multiprocessing.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe()
        client = ctx.Process(target=client_main, args=(child_conn, host, web_port, data["users"], common,
                                                       args.seconds, args.seed))
        client.start()
        kind, logins = parent_conn.recv()
        lg = sorted(logins["logins"])
        print(f"logins (not counted): {len(lg)} in {logins['seconds']:.0f} s, 4 at a time, p50 "
              f"{pct(lg, 50) * 1000:.0f} ms, p95 {pct(lg, 95) * 1000:.0f} ms; failed {len(logins['failed'])} "
              f"{logins['failed'][:3]}", flush=True)

        cpu = Cpu(base, {"gunicorn (master + workers)": [web.pid],
                         "RQ workers (+ work-horses)": [w.pid for w in workers],
                         "load client": [client.pid]}, urllib.parse.urlsplit(urls["REDIS_URL"]).port)
        n_schools = len(data["schools"])
        stagger = args.stagger if args.stagger is not None else args.seconds * 0.5 / max(1, n_schools)
        pipeline = Pipeline(app, data["schools"], year, stagger=stagger, **batch_args)
        threads.append(pipeline)
        import datetime as dt
        sampler = DbSampler(urls["DATABASE_URL"])
        threads.append(sampler)
        sampler.start()
        slices = CpuSlices(cpu, 10.0)
        threads.append(slices)
        slices.start()
        c0 = cpu.snapshot()
        w_start = dt.datetime.now(dt.timezone.utc)
        if args.no_batch:
            pipeline.finished.set()
        else:
            pipeline.start()
        parent_conn.send("go")
        print(f"window: {args.seconds:.0f} s, {len(data['users'])} users; " + ("no batch (--no-batch)" if args.no_batch
              else f"batches for {n_schools} schools, one every {stagger:.1f} s …"), flush=True)
        kind, res = parent_conn.recv()
        w_end = dt.datetime.now(dt.timezone.utc)
        c1 = cpu.snapshot()
        sampler.stop.set()
        slices.stop.set()
        slices.join(5)
        slices.snaps.append(c1)
        load1 = os.getloadavg()
        window_stats = job_figures(app, year, w_start, w_end)

        print(f"window over; waiting for the batches and the archive to finish (at most {args.drain_timeout:.0f} s) …",
              flush=True)
        t_drain = time.monotonic()
        pipeline.finished.wait(args.drain_timeout)
        total_sheets = 0 if args.no_batch else n_schools * args.classes
        remaining = max(0.0, args.drain_timeout - (time.monotonic() - t_drain))
        archived_all = wait_archive(app, total_sheets + archived_before, timeout=remaining)
        drain_s = time.monotonic() - t_drain
        check = None if args.no_batch else count_check(app, year)
        failed_jobs = failed_rq_jobs(app)
        if archived_all < total_sheets + archived_before:
            print(f"archive: only {archived_all - archived_before} of {total_sheets} sheets archived when the wait "
                  "ended", flush=True)
        report(args, res, c0, c1, load1, window_stats, pipeline, check, drain_s, failed_jobs, base, stagger,
               queue_sets)
        print(f"database during the window: {sampler.summary()}")
        timeline(res, slices)
    except KeyboardInterrupt:
        print("interrupted: cleaning up", flush=True)
    finally:
        for t in threads:
            t.stop.set()
        for t in threads:
            if t.is_alive():
                t.join(10)
        if client is not None and client.is_alive():
            client.terminate()
            client.join(10)
        if web is not None:
            try:
                os.killpg(web.pid, signal.SIGTERM)
                web.wait(30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(web.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        stop_workers(workers)
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for f in [base / "gunicorn.log", *base.glob("worker*.log")]:
                if f.exists():
                    shutil.copy(f, args.logs / f.name)
        if tpki is not None:
            tpki.close()
        for stop in reversed(stops):
            try:
                stop()
            except Exception as exc:     # keep stopping the others
                print(f"stopping a server: {exc}", file=sys.stderr)
        shutil.rmtree(base, ignore_errors=True)


def timeline(res, slices, step: float = 10.0) -> None:
    """p50/p95 of all requests by slice of the window: a steady figure or a few bad moments?"""
    rows = defaultdict(list)
    for t, d in res["timeline"]:
        rows[int(max(t, 0) // step)].append(d)
    cells = [f"{int(k * step):>3}–{int((k + 1) * step):<3} s: n {len(v):>4}, p50 {pct(sorted(v), 50) * 1000:>4.0f}, "
             f"p95 {pct(sorted(v), 95) * 1000:>5.0f} ms; {slices.slice(k)}" for k, v in sorted(rows.items())]
    print("all requests by time in the window:")
    for c in cells:
        print(f"  {c}")


def job_figures(app, year, start, end) -> dict:
    """What the workers finished inside the window, from the audit log and the archive records."""
    from sqlalchemy import func, select

    from archive.models import ArchiveRecord, RecordStatus
    from core.audit import AuditEntry
    from core.db import session
    with app.app_context():
        counts = dict(session.execute(select(AuditEntry.action, func.count()).where(
            AuditEntry.at >= start, AuditEntry.at < end,
            AuditEntry.action.in_(["sheet.render", "sheet.sign_teacher", "sheet.sign_director"]))
            .group_by(AuditEntry.action)).all())
        counts["archived"] = session.scalar(select(func.count()).select_from(ArchiveRecord).where(
            ArchiveRecord.status == RecordStatus.archived, ArchiveRecord.archived_at >= start,
            ArchiveRecord.archived_at < end))
        session.remove()
    counts["seconds"] = (end - start).total_seconds()
    return counts


def count_check(app, year) -> dict:
    """Every sheet of the batch: signed, with exactly two signatures in its PDF, one director-signing entry in
    the audit log, and exactly one archived record."""
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader
    from sqlalchemy import func, select

    from archive.models import ArchiveRecord, RecordStatus
    from archive.services import SOURCE_SHEET
    from core.audit import AuditEntry
    from core.db import session
    from sheets.models import SheetStatus, SummarySheet
    out = {"sheets": 0, "signed": 0, "two_signatures": 0, "signed_once": 0, "archived_once": 0, "problems": []}
    with app.app_context():
        ids = list(session.scalars(select(SummarySheet.id).where(SummarySheet.school_year == year)))
        out["sheets"] = len(ids)
        signs = dict(session.execute(select(AuditEntry.object_id, func.count()).where(
            AuditEntry.action == "sheet.sign_director", AuditEntry.object_type == "SummarySheet")
            .group_by(AuditEntry.object_id)).all())
        records = defaultdict(list)
        for source_id, status in session.execute(select(ArchiveRecord.source_id, ArchiveRecord.status).where(
                ArchiveRecord.source_type == SOURCE_SHEET, ArchiveRecord.source_id.in_(ids))):
            records[source_id].append(status)
        for sid in ids:
            sheet = session.get(SummarySheet, sid)
            if sheet.status is SheetStatus.signed:
                out["signed"] += 1
            n = len(PdfFileReader(BytesIO(sheet.pdf)).embedded_signatures) if sheet.pdf else 0
            out["two_signatures"] += n == 2
            out["signed_once"] += signs.get(str(sid), 0) == 1
            recs = records.get(sid, [])
            out["archived_once"] += recs == [RecordStatus.archived]
            if sheet.status is not SheetStatus.signed or n != 2 or signs.get(str(sid), 0) != 1 \
                    or recs != [RecordStatus.archived]:
                out["problems"].append(f"sheet {sid}: {sheet.status.value}, {n} signatures, "
                                       f"{signs.get(str(sid), 0)} director signings, records {[r.value for r in recs]}")
            session.expunge_all()
        session.remove()
    return out


def failed_rq_jobs(app) -> dict:
    from rq.registry import FailedJobRegistry

    from core.jobs import QUEUES, queue
    with app.app_context():
        out = {}
        for name in QUEUES:
            reg = FailedJobRegistry(queue=queue(name))
            if reg.count:
                job = reg.get_job_ids()[:1]
                out[name] = (reg.count, job)
        return out


def report(args, res, c0, c1, load1, jobs, pipeline, check, drain_s, failed_jobs, base, stagger,
           queue_sets) -> None:
    wall = res["wall"]
    times, errors = res["times"], res["errors"]
    total = sum(len(v) for v in times.values())
    n_err = sum(errors.values())
    print()
    print(f"=== load: {res['users']} virtual users (own session each; think time U({THINK[0]:.0f}, {THINK[1]:.0f}) s "
          f"before every request — people, not a closed loop), {wall:.1f} s")
    print(f"web: gunicorn {args.web_workers} workers × gthread 4 threads; RQ: {len(queue_sets)} workers "
          f"({'; '.join(' '.join(q) for q in queue_sets)}) at nice {args.rq_nice} (process and autogroup); "
          f"client: {res['threads']} threads in its own process")
    print(f"requests: {total} → {total / wall:.1f} req/s; errors: {n_err}; keep-alive reconnects (resent): "
          f"{res['retries']}")
    print(f"{'endpoint':<24} {'n':>6} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'errors':>6}")
    order = sorted(times, key=lambda k: (k not in DASHBOARDS, k))
    for name in order:
        v = sorted(times[name])
        print(f"{name:<24} {len(v):>6} {len(v) / wall:>6.1f} {pct(v, 50) * 1000:>7.0f} {pct(v, 95) * 1000:>7.0f} "
              f"{pct(v, 99) * 1000:>7.0f} {v[-1] * 1000:>7.0f} {errors.get(name, 0):>6}")
    dash = sorted(x for k in DASHBOARDS for x in times.get(k, []))
    print(f"{'dashboards (3 levels)':<24} {len(dash):>6} {len(dash) / wall:>6.1f} {pct(dash, 50) * 1000:>7.0f} "
          f"{pct(dash, 95) * 1000:>7.0f} {pct(dash, 99) * 1000:>7.0f} {(dash[-1] if dash else 0) * 1000:>7.0f} "
          f"{sum(errors.get(k, 0) for k in DASHBOARDS):>6}")
    if res["messages"]:
        print("first errors:")
        for m in res["messages"][:8]:
            print(f"  {m}")
    p95 = pct(dash, 95) * 1000
    print(f"TARGET dashboard p95 < {TARGET_P95_MS} ms: {p95:.0f} ms → {'met' if p95 < TARGET_P95_MS else 'NOT met'}; "
          f"zero errors: {n_err} → {'met' if n_err == 0 else 'NOT met'}")

    s = jobs["seconds"]
    print()
    if check is None:
        print("=== no batch during the window (--no-batch): the RQ workers only ran the periodic jobs")
    else:
        jobs_report(jobs, s, stagger, drain_s, pipeline, check)
    if failed_jobs:
        print(f"failed RQ jobs: {failed_jobs}")
    cpu_report(c0, c1, load1, res, total, base)


def jobs_report(jobs, s, stagger, drain_s, pipeline, check) -> None:
    print(f"=== jobs during the window ({s:.0f} s; batches started one school every {stagger:.1f} s):")
    print(f"rendered {jobs.get('sheet.render', 0)} ({jobs.get('sheet.render', 0) / s:.2f}/s), "
          f"teacher-signed {jobs.get('sheet.sign_teacher', 0)} ({jobs.get('sheet.sign_teacher', 0) / s:.2f}/s), "
          f"director-signed {jobs.get('sheet.sign_director', 0)} ({jobs.get('sheet.sign_director', 0) / s:.2f}/s), "
          f"archived {jobs['archived']} ({jobs['archived'] / s:.2f}/s)")
    print(f"after the window: {drain_s:.0f} s more until all batches and ingests were done "
          f"(all batches finished: {pipeline.finished.is_set()})")
    print(f"batches: started {pipeline.started}, done {pipeline.done}, failed {pipeline.failed}"
          + (f"; errors: {pipeline.errors[:3]}" if pipeline.errors else ""))
    print(f"count check: {check['sheets']} sheets; signed {check['signed']}, exactly two signatures "
          f"{check['two_signatures']}, signed by the director once {check['signed_once']}, archived once "
          f"{check['archived_once']} → {'OK' if not check['problems'] and check['sheets'] else 'PROBLEMS'}")
    for p in check["problems"][:5]:
        print(f"  {p}")


def cpu_report(c0, c1, load1, res, total, base) -> None:
    cores = os.cpu_count() or 1
    print()
    span = c1["_at"] - c0["_at"]
    busy = c1["_busy"] - c0["_busy"]
    print(f"=== CPU during the window: {cores} cores × {span:.0f} s = {cores * span:.0f} core-s; machine busy "
          f"{busy:.0f} core-s ({busy / (cores * span) * 100:.0f} %), load average (1 min) at the end {load1[0]:.1f}")
    ours = 0.0
    for name in c0:
        if name.startswith("_"):
            continue
        used = c1.get(name, 0.0) - c0.get(name, 0.0)
        ours += used
        print(f"  {name:<34} {used:>6.1f} core-s ({used / (cores * span) * 100:>3.0f} %)")
    print(f"  {'other processes on the machine':<34} {max(0.0, busy - ours):>6.1f} core-s "
          f"({max(0.0, busy - ours) / (cores * span) * 100:>3.0f} %)")
    print(f"  client process: {res['cpu']:.1f} CPU-s for {total} requests "
          f"({res['cpu'] / max(total, 1) * 1000:.1f} ms each)")
    log = (base / "gunicorn.log").read_text(errors="replace").splitlines()
    bad = [line for line in log if '"level": "error"' in line or '"level": "critical"' in line
           or line.startswith("Traceback")]
    if bad:
        print(f"gunicorn log: {len(bad)} error lines, first: {bad[0][:300]}")


if __name__ == "__main__":
    main()
