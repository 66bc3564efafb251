"""The year-end overview («Итоги года», sheets/overview.py) over the dashboard benchmark's region: called from
benchmarks/dashboard.py with its region, municipalities and schools already made.

25 classes per school (15,000 for 600 schools) get a class teacher and a spread of sheet states, written by
INSERT … SELECT (benchmark data, not the workflow): 10 % no marks yet, 10 % marks only, 15 % rendered,
15 % certified by the teacher, 10 % signed, 40 % signed and archived; every tenth class has a corrected
second version. The region sets a deadline that has passed, so the late schools sort first.

Timed: the region page's query (one statement), a municipality drill-down, a school's classes, and the naive
baseline — every sheet, class teacher and archive record loaded as ORM objects and counted in Python — in the
same run, with a check that both give the same counts per school.
"""
from __future__ import annotations

import datetime as dt
import statistics
import time

YEAR = "2025/2026"
CLASSES_EACH = 25
TODAY = dt.date(2026, 6, 20)

# status of class n (0..24) of school s: a fixed spread over (s * 25 + n) % 20
_STATES = """
CASE WHEN k < 2 THEN NULL WHEN k < 4 THEN 'draft' WHEN k < 7 THEN 'rendered' WHEN k < 10 THEN 'teacher_signed'
     ELSE 'signed' END
"""


def populate(session, schools, teacher_id: int) -> int:
    from sqlalchemy import text
    ids = [s.id for s in schools]
    params = {"ids": ids, "year": YEAR, "each": CLASSES_EACH, "teacher": teacher_id}
    session.execute(text("""
        INSERT INTO class_teachers (school_id, school_year, class_name, user_id, assigned_at)
        SELECT s, :year, (1 + n / 3)::text || chr(1040 + n % 3), :teacher, now()
        FROM unnest(CAST(:ids AS int[])) s, generate_series(0, :each - 1) n"""), params)
    session.execute(text(f"""
        INSERT INTO summary_sheets (document_id, school_id, school_year, class_name, class_label, version, status,
                                    pdf_sha256, created_at)
        SELECT gen_random_uuid()::text, s, :year, (1 + n / 3)::text || chr(1040 + n % 3),
               (1 + n / 3)::text || chr(1040 + n % 3), 1, CAST(st AS sheet_status),
               CASE WHEN st = 'draft' THEN NULL ELSE repeat('ab', 32) END, now()
        FROM (SELECT s, n, {_STATES} AS st
              FROM (SELECT s, n, (s * 25 + n) % 20 AS k
                    FROM unnest(CAST(:ids AS int[])) s, generate_series(0, :each - 1) n) x) y
        WHERE st IS NOT NULL"""), params)
    # every tenth sheet was corrected: its first version superseded, the second in its state
    session.execute(text("""
        WITH old AS (UPDATE summary_sheets SET status = 'superseded'
                     WHERE school_year = :year AND id % 10 = 0 AND version = 1 RETURNING *)
        INSERT INTO summary_sheets (document_id, school_id, school_year, class_name, class_label, version,
                                    supersedes_id, status, pdf_sha256, created_at)
        SELECT gen_random_uuid()::text, school_id, school_year, class_name, class_label, 2, id,
               'teacher_signed', repeat('ab', 32), now() FROM old"""), {"year": YEAR})
    archived = session.execute(text("""
        INSERT INTO archive_records (kind, status, source_type, source_id, title, organisation_id, org_path,
                                     school_id, school_year, class_name, signers, key, sha256, legal_hold, attempts,
                                     created_at, archived_at)
        SELECT 'summary_sheet', 'archived', 'summary_sheet', ss.id, 'Сводная ведомость ' || ss.class_name,
               ss.school_id, o.path, ss.school_id, ss.school_year, ss.class_name, '[]', 'bench/' || ss.id,
               repeat('cd', 32), false, 0, now(), now()
        FROM summary_sheets ss JOIN organisations o ON o.id = ss.school_id
        WHERE ss.school_year = :year AND ss.status = 'signed' AND (ss.school_id * 25 + ss.id) % 5 <> 0"""),
                               {"year": YEAR}).rowcount
    return archived


def overview_naive(session, scope, year: str) -> dict:
    """Every sheet, class teacher and record as an ORM object, counted in Python: per school id."""
    from sqlalchemy import select

    from archive.models import ArchiveRecord, RecordStatus
    from orgs.models.organisations import Organisation, OrgKind
    from sheets.models import ClassTeacher, SheetStatus, SummarySheet
    from sheets.overview import Counts
    ids = list(session.scalars(select(Organisation.id).where(Organisation.kind == OrgKind.school,
                                                             Organisation.path.startswith(scope.path))))
    current: dict = {}
    for s in session.scalars(select(SummarySheet).where(SummarySheet.school_year == year,
                                                        SummarySheet.school_id.in_(ids))):
        key = (s.school_id, s.class_name)
        if key not in current or current[key].version < s.version:
            current[key] = s
    classes = {(t.school_id, t.class_name) for t in session.scalars(
        select(ClassTeacher).where(ClassTeacher.school_year == year, ClassTeacher.school_id.in_(ids)))} | set(current)
    records = {r.source_id: r for r in session.scalars(select(ArchiveRecord).where(
        ArchiveRecord.source_type == "summary_sheet"))}
    out = {i: Counts() for i in ids}
    for school_id, class_name in classes:
        c, s = out[school_id], current.get((school_id, class_name))
        c.classes += 1
        if s is None:
            continue
        c.imported += 1
        c.rendered += s.status in (SheetStatus.rendered, SheetStatus.teacher_signed, SheetStatus.signed)
        c.certified += s.status in (SheetStatus.teacher_signed, SheetStatus.signed)
        c.signed += s.status is SheetStatus.signed
        r = records.get(s.id)
        c.archived += bool(r and r.status is RecordStatus.archived)
    return out


def figures(app, session, region_id: int, muni_ids: list[int], school_ids: list[int], teacher_id: int,
            rounds: int, timed, pct) -> list[str]:
    from sqlalchemy import select, text

    from core import db as dbm
    from orgs.models.organisations import Organisation
    from sheets import overview
    from sheets.models import YearEndDeadline
    session.close()
    region = session.get(Organisation, region_id)
    by_id = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(muni_ids + school_ids)))}
    munis, schools = [by_id[i] for i in muni_ids], [by_id[i] for i in school_ids]
    t0 = time.perf_counter()
    archived = populate(session, schools, teacher_id)
    session.add(YearEndDeadline(organisation_id=region.id, school_year=YEAR, due_date=dt.date(2026, 6, 15)))
    dbm.commit()
    with app.extensions["db_engine"].connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        for table in ("summary_sheets", "class_teachers", "archive_records"):
            c.execute(text(f"VACUUM ANALYZE {table}"))
    made = time.perf_counter() - t0
    rows, total = overview.overview(region, YEAR, today=TODAY)
    print(f"year end: {total.counts.classes:,} classes, {archived:,} archived sheets, "
          f"{total.late_schools} late schools; made in {made:.1f} s", flush=True)

    rotate = iter(range(10 ** 9))
    region_t = timed(lambda: overview.overview(region, YEAR, today=TODAY), rounds)
    muni_t = timed(lambda: overview.overview(munis[next(rotate) % len(munis)], YEAR, today=TODAY), rounds)
    school_t = timed(lambda: overview.class_rows(schools[next(rotate) % len(schools)], YEAR), rounds)
    session.close()
    naive_t = []
    for _ in range(5):
        session.close()
        t0 = time.perf_counter()
        naive = overview_naive(session, region, YEAR)
        naive_t.append((time.perf_counter() - t0) * 1000)
    session.close()
    fast = {row.org_id: row.counts for _, row in overview.school_rows(region, YEAR, today=TODAY)}
    agree = naive == fast
    return [
        f"{'year-end overview, region   p50':44s} {statistics.median(region_t):>10.1f} ms",
        f"{'year-end overview, region   p95':44s} {pct(region_t, 95):>10.1f} ms   target < 150 ms",
        f"{'year-end overview, municipality p95':44s} {pct(muni_t, 95):>10.1f} ms",
        f"{'year-end overview, school classes p95':44s} {pct(school_t, 95):>10.1f} ms",
        f"{'year-end naive baseline p50':44s} {statistics.median(naive_t):>10.1f} ms",
        f"{'year-end speed-up vs naive, p50 / p95':44s} {statistics.median(naive_t) / pct(region_t, 95):>10.1f} ×",
        f"{'year-end naive and aggregate counts agree':44s} {str(agree):>10s}",
    ]
