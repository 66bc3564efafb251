"""Assignments at regional scale: generate the occurrences, then time the dashboards.

    .venv/bin/python benchmarks/dashboard.py [--rounds N] [--as-planned] [--keep]

Builds, in its own embedded PostgreSQL (a temp dir, fsync off like the tests), a region of
60 municipalities × 10 schools, registers order 001 (tests/data/seeds) with 30 more plan rows
(a monitoring section: monthly reports by the 30th, quarterly, «Апрель, сентябрь», one-off
dates) and puts it in force, then gives every row to the organisations it is meant for through
the service (`assignment_services.create_assignment`) over four school years (2010/11–2013/14),
each with an «appoint your responsible person» occurrence. Row 2.4 «Ежедневно» (journals kept
every day) is given with weekly confirmation, as an assigner would; `--as-planned` gives it
every day instead (≈ 0.9 M more rows).

Past due dates then get a realistic spread of outcomes (accepted on time / late, on review,
returned, silent) by one UPDATE — benchmark data, not the workflow.

Printed: generation time; region dashboard p50/p95 (the current school year, one GROUP BY);
the same for all four years; a municipality drill-down p95; a director's "my tasks" p95; the
rendered region page (HTTP through the app) p95; and the naive baseline — load the rows and
count in Python — for the same dashboard in the same run, as a ratio. Then the year-end overview
(benchmarks/year_end_overview.py: 25 classes a school, region/municipality/school p95 and its naive baseline).
Figures, not assertions.
"""
import argparse
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import datetime as dt  # noqa: E402

import year_end_overview  # noqa: E402  (benchmarks/, beside this script)

TODAY = dt.date(2013, 2, 15)           # «today» of the benchmark: in the third school year
HORIZON = (dt.date(2010, 9, 1), dt.date(2014, 8, 31))
MUNICIPALITIES, SCHOOLS_EACH = 60, 10

EXTRA_ROWS = (
    [("Ежемесячно до 30 числа отчетного месяца", f"Ежемесячный отчёт о ведении электронных журналов, форма {i + 1}")
     for i in range(8)]
    + [("Ежеквартально", f"Квартальный мониторинг заполнения журналов, раздел {i + 1}") for i in range(10)]
    + [("Апрель, сентябрь", f"Проверка полноты выставления отметок, этап {i + 1}") for i in range(6)]
    + [(f"до {d}", f"Разовое мероприятие {i + 1}: обновление локальных актов")
       for i, d in enumerate(["25.12.2010", "01.06.2011", "15.10.2011", "20.03.2012", "01.09.2012", "15.05.2013"])]
)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def timed(fn, rounds: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--as-planned", action="store_true", help="row 2.4 «Ежедневно» every day, not weekly")
    ap.add_argument("--keep", action="store_true", help="keep the database directory")
    ap.add_argument("--municipalities", type=int, default=MUNICIPALITIES, help="a smaller region for a quick check")
    ap.add_argument("--skip-year-end", action="store_true", help="without the year-end overview section")
    args = ap.parse_args()

    from alembic import command

    from web import embedded
    from web.cli import alembic_config

    base = embedded.service_tempdir("bench-dashboard-")
    port = embedded.free_ports(1)[0]
    print(f"PostgreSQL in {base} on port {port} …", flush=True)
    stop = embedded.start_postgres(base / "pg", port, fsync=False)
    try:
        url = embedded.create_database(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", "bench")
        command.upgrade(alembic_config(url), "heads")
        run(url, args)
    finally:
        stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def run(url: str, args) -> None:
    from freezegun import freeze_time
    from sqlalchemy import func, select, text

    from assignments import dashboards as dash
    from assignments import services as svc
    from assignments.models import Occurrence
    from core import db as dbm
    from core.db import session
    from ordinances import services as ordsvc
    from ordinances.models.ordinances import OrdinanceStatus
    from ordinances.parsing.parser import parse_file
    from orgs import accounts as auth
    from orgs.models.organisations import OrgKind
    from orgs.models.users import Role
    from orgs.passwords import hash_password
    from orgs.services import create_org
    from web import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "REDIS_URL": "redis://127.0.0.1:1/0",
                      "SERVER_NAME": "bench.local"})
    with app.app_context():
        t0 = time.perf_counter()
        region = create_org(kind=OrgKind.region, code="R", name="Тамбовская область (бенчмарк)", audited=False)
        institute = create_org(kind=OrgKind.institute, code="R-IPK", parent=region, audited=False,
                               name="ТОГОАУ ДПО «Институт повышения квалификации работников образования»")
        centre = create_org(kind=OrgKind.computer_centre, code="R-CC", parent=region, audited=False,
                            name="ТОГУ «Компьютерный центр»")
        munis, schools = [], []
        for m in range(args.municipalities):
            muni = create_org(kind=OrgKind.municipality, code=f"M{m + 1:02d}", parent=region, audited=False,
                              name=f"Управление образования района № {m + 1}", short_name=f"Район № {m + 1}")
            munis.append(muni)
            for s in range(SCHOOLS_EACH):
                schools.append(create_org(kind=OrgKind.school, code=f"M{m + 1:02d}-S{s + 1:02d}", parent=muni,
                                          audited=False, name=f"МБОУ СОШ № {s + 1} района № {m + 1}",
                                          short_name=f"СОШ № {s + 1} (р-н {m + 1})"))
        pw = hash_password("bench-pass-2026")
        official = auth.create_user("region", "Специалист региона", None)
        official.password_hash = pw
        auth.grant(official, Role.regional_official, region)
        director = auth.create_user("director", "Директор СОШ № 1", None)
        director.password_hash = pw
        auth.grant(director, Role.director, schools[0])
        for i, s in enumerate(schools[1:], start=2):          # every school has a director (inbox fan-out)
            u = auth.create_user(f"dir{i}", f"Директор {i}", None)
            auth.grant(u, Role.director, s)
        dbm.commit()
        year_end_ids = (region.id, [m.id for m in munis], [s.id for s in schools], director.id)
        print(f"region: {len(munis)} municipalities, {len(schools)} schools, users  "
              f"{time.perf_counter() - t0:.1f} s", flush=True)

        parsed = parse_file(next((ROOT / "tests" / "data" / "seeds").glob("001_*.txt")))
        parsed["plan"]["sections"].append({"number": "3", "title": "Мониторинг (бенчмарк)", "items": [
            {"number": f"3.{i + 1}", "title": title, "executors": ["Руководители ОУ"], "deadline": wording}
            for i, (wording, title) in enumerate(EXTRA_ROWS)]})
        with freeze_time("2010-11-08 09:00:00"):
            order = ordsvc.create_from_parsed(parsed, issuer=region, actor=official)
            ordsvc.set_status(order, OrdinanceStatus.in_force, actor=official)
        items = {i.number: i for i in order.plan.table_items}
        dbm.commit()

        everyone = munis + schools
        plan = [   # (row, targets, rule)
            ("1.1", [centre], "quarterly"), ("1.2", [institute], "quarterly"), ("1.3", [institute], "plan"),
            ("1.4", [institute], "quarterly"),
            ("2.1", everyone, "plan"), ("2.2", everyone, "plan"), ("2.3", everyone, "plan"),
            ("2.4", everyone, "plan" if args.as_planned else "weekly"),
            ("2.5", everyone, "quarterly"), ("2.6", munis, "plan"), ("2.7", munis, "monthly"),
        ] + [(f"3.{i + 1}", schools, "plan") for i in range(len(EXTRA_ROWS))]

        with freeze_time("2010-11-09 08:00:00", tick=True):
            session.expire_all()
            t0 = time.perf_counter()
            for number, targets, rule in plan:
                svc.create_assignment(items[number], region, targets, actor=official, rule=rule, horizon=HORIZON,
                                      appointment_due=dt.date(2010, 11, 30) if len(targets) > 1 else None)
            dbm.commit()
            generation = time.perf_counter() - t0
        total = session.scalar(select(func.count()).select_from(Occurrence))
        print(f"generated {total:,} occurrences for {len(plan)} assignments in {generation:.1f} s "
              f"({total / generation:,.0f} rows/s)", flush=True)
        t0 = time.perf_counter()
        again = sum(svc.generate(a).inserted for a in session.scalars(select(svc.Assignment)))
        dbm.commit()
        print(f"regeneration of all assignments (idempotent): {again} new rows, "
              f"{time.perf_counter() - t0:.1f} s", flush=True)

        outcomes(session, official.id, director.id)
        dbm.commit()
        with app.extensions["db_engine"].connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE occurrences"))

        year = svc.school_year(TODAY)
        def region_now():
            return dash.region_dashboard(region, start=year[0], end=year[1], today=TODAY)

        def region_all():
            return dash.region_dashboard(region, start=HORIZON[0], end=HORIZON[1], today=TODAY)

        rotate = iter(range(10 ** 9))

        def drill():
            m = munis[next(rotate) % len(munis)]
            return dash.municipality_dashboard(m, start=year[0], end=year[1], today=TODAY)

        own = [schools[0].id]

        def my_tasks():      # what the page reads (assignments.views.my_tasks): a count and a page of rows
            stmt = dash.occurrence_filter(org_ids=own, today=TODAY, status="open")
            session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
            return dash.occurrence_rows(stmt.limit(100), today=TODAY)

        rows_now, total_now = region_now()
        rows_in_year = total_now.counts.assigned
        print(f"region dashboard covers {rows_in_year:,} occurrences of {year[0].year}/{year[1].year} "
              f"({total_now.counts.overdue:,} overdue, on-time rate "
              f"{(total_now.counts.rate or 0) * 100:.1f} %)", flush=True)
        plan_text = session.execute(text(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(region_sql(region.id, year, TODAY)))).scalars().all()
        session.rollback()

        r = args.rounds
        fast_now = timed(region_now, r)
        fast_all = timed(region_all, max(10, r // 3))
        drill_t = timed(drill, r)
        my_t = timed(my_tasks, r)
        session.close()

        # The naive baseline: every row of the period loaded as an object, counted in Python.
        naive_t = []
        for _ in range(5):
            session.close()
            t0 = time.perf_counter()
            naive = dash.region_dashboard_naive(region, start=year[0], end=year[1], today=TODAY)
            naive_t.append((time.perf_counter() - t0) * 1000)
        session.close()
        agree = {k: v for k, v in naive.items()} == {x.org_id if x.kind == "municipality" else None: x.counts
                                                     for x in rows_now if x.counts.assigned}

        http_t, http_my = http_timings(app, [
            ("region", f"/assignments/dashboard/region/{region.id}?year={year[0].year}", "Итого по региону"),
            ("director", "/assignments/my", "Не исполнено")], r)

        year_end_lines = [] if args.skip_year_end else year_end_overview.figures(app, session, *year_end_ids,
                                                                                 r, timed, pct)

        # The daily sweep: first a catch-up over every past date, then one ordinary day.
        t0 = time.perf_counter()
        caught_up = svc.mark_overdue(TODAY)
        dbm.commit()
        sweep_all = time.perf_counter() - t0
        t0 = time.perf_counter()
        one_day = svc.mark_overdue(TODAY + dt.timedelta(days=1))
        dbm.commit()
        sweep_day = time.perf_counter() - t0

    ratio50 = statistics.median(naive_t) / statistics.median(fast_now)
    ratio95 = statistics.median(naive_t) / pct(fast_now, 95)
    print()
    print(f"{'occurrences':44s} {total:>12,}")
    print(f"{'generation (41 assignments, whole region)':44s} {generation:>10.1f} s   target < 60 s")
    print(f"{'region dashboard, current year  p50':44s} {statistics.median(fast_now):>10.1f} ms")
    print(f"{'region dashboard, current year  p95':44s} {pct(fast_now, 95):>10.1f} ms   target < 150 ms")
    print(f"{'region dashboard, all 4 years   p95':44s} {pct(fast_all, 95):>10.1f} ms")
    print(f"{'municipality drill-down         p95':44s} {pct(drill_t, 95):>10.1f} ms")
    print(f"{'director my tasks               p95':44s} {pct(my_t, 95):>10.1f} ms")
    print(f"{'region page over HTTP (rendered) p95':44s} {pct(http_t, 95):>10.1f} ms")
    print(f"{'director my tasks page over HTTP   p95':44s} {pct(http_my, 95):>10.1f} ms")
    print(f"{'overdue sweep, catch-up':44s} {sweep_all:>10.1f} s    ({caught_up:,} marked)")
    print(f"{'overdue sweep, one day':44s} {sweep_day * 1000:>10.1f} ms   ({one_day:,} marked)")
    print(f"{'naive baseline (load + count in Python) p50':44s} {statistics.median(naive_t):>10.1f} ms")
    print(f"{'speed-up vs naive, p50 / p50':44s} {ratio50:>10.1f} ×   target ≥ 20 ×")
    print(f"{'speed-up vs naive, p50 / p95':44s} {ratio95:>10.1f} ×")
    print(f"{'naive and aggregate counts agree':44s} {str(agree):>10s}")
    for line in year_end_lines:
        print(line)
    print()
    print("plan of the region query:")
    for line in plan_text:
        print("   ", line)


def region_sql(region_id: int, year, today):
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    from assignments import dashboards as dash
    from assignments.models import Occurrence
    stmt = dash._filtered(select(Occurrence.municipality_id, *dash._aggregates(today))
                          .where(Occurrence.region_id == region_id), year[0], year[1], None) \
        .group_by(Occurrence.municipality_id)
    return stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})


def outcomes(session, official_id: int, director_id: int) -> None:
    """Past due dates get outcomes: 62 % accepted on time, 10 % accepted late, 8 % on review, 5 % returned,
    the rest silent (overdue by `TODAY`). Deterministic by id."""
    from sqlalchemy import text
    t0 = time.perf_counter()
    session.execute(text("""
        UPDATE occurrences o SET
          status = CASE WHEN b < 72 THEN 'accepted'::occurrence_status WHEN b < 80 THEN 'submitted'::occurrence_status
                        WHEN b < 85 THEN 'returned'::occurrence_status ELSE 'pending'::occurrence_status END,
          submitted_at = CASE WHEN b < 85 THEN (o.due_date + (CASE WHEN b < 62 THEN -3 ELSE 4 END)) + time '10:00'
                                              AT TIME ZONE 'Europe/Moscow' END,
          submitted_by_id = CASE WHEN b < 85 THEN :director END,
          completed_at = CASE WHEN b < 72 THEN (o.due_date + (CASE WHEN b < 62 THEN -3 ELSE 4 END)) + time '10:00'
                                               AT TIME ZONE 'Europe/Moscow' END,
          accepted_by_id = CASE WHEN b < 72 THEN :official END,
          late = CASE WHEN b < 72 THEN b >= 62 END
        FROM (SELECT id, (id * 2654435761 % 4294967296) % 100 AS b FROM occurrences WHERE due_date < :today) s
        WHERE o.id = s.id"""), {"today": TODAY, "official": official_id, "director": director_id})
    print(f"outcomes of past dates set in {time.perf_counter() - t0:.1f} s", flush=True)


def http_timings(app, pages: list[tuple[str, str, str]], rounds: int) -> list[list[float]]:
    """Pages as users get them (request, session, access check, queries, template): (login, path, marker)."""
    import re

    from flask.testing import FlaskClient
    from freezegun import freeze_time

    class FreshContextClient(FlaskClient):
        """Each request in its own app context (fresh `g`), as in a real server: the benchmark itself runs
        inside one app context, which a test request would otherwise share."""
        def open(self, *args, **kwargs):
            with app.app_context():
                return super().open(*args, **kwargs)
    app.test_client_class = FreshContextClient
    client = app.test_client()

    def token(path: str) -> str:
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)
    out = []
    with freeze_time(TODAY.isoformat() + " 09:00:00", tick=True):   # "today" of the data; cookies dated alike
        for login, path, marker in pages:
            resp = client.post("/login", data={"login": login, "password": "bench-pass-2026",
                                               "csrf_token": token("/login")})
            assert resp.status_code == 302, (login, resp.status_code, resp.get_data(as_text=True)[:300])

            def page():
                r = client.get(path)
                assert r.status_code == 200 and marker in r.get_data(as_text=True), r.status_code
            out.append(timed(page, rounds))
            client.post("/logout", data={"csrf_token": token(path)})
    return out


if __name__ == "__main__":
    random.seed(1)
    main()
