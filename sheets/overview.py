"""The year end seen from above: per municipality, school and class, how far the summary sheets have come
(marks imported → rendered → certified by the class teacher → signed by the director → archived), against
the deadline the region or municipality set, late ones first. Counts and states only: no marks, no pupils.
(benchmarks/dashboard.py compares it with a naive count over ORM objects.)

One statement per page: the classes of the year (the class-teacher assignments and the sheets), each with
its current sheet version and its archive record, counted per school by one GROUP BY over the indexes of
summary_sheets, class_teachers and archive_records. Municipalities are summed from their schools' rows.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, select, text

from core.db import session
from orgs.models.organisations import Organisation, OrgKind, path_ids
from sheets.models import ClassTeacher, SheetStatus, SummarySheet, YearEndDeadline

STAGES = ("classes", "imported", "rendered", "certified", "signed", "archived")
HEADERS = ["Организация", "Классов", "Оценки загружены", "Сформированы", "Подписаны кл. руководителем",
           "Подписаны директором", "В архиве", "Срок", "Просрочено"]


@dataclass
class Counts:
    classes: int = 0
    imported: int = 0
    rendered: int = 0
    certified: int = 0
    signed: int = 0
    archived: int = 0

    def add(self, other: Counts) -> None:
        for name in STAGES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def done(self) -> bool:
        return self.archived >= self.classes


@dataclass
class Row:
    org_id: int
    label: str
    counts: Counts = field(default_factory=Counts)
    due: dt.date | None = None
    late: bool = False
    late_schools: int = 0


# The current version of each class's sheet, its archive state, and the classes known from the class-teacher
# assignments even before any marks come in. :prefix scopes to a subtree by materialised path.
_PER_SCHOOL = text("""
WITH classes AS (
    SELECT school_id, class_name FROM class_teachers WHERE school_year = :year
    UNION
    SELECT school_id, class_name FROM summary_sheets WHERE school_year = :year
), current AS (
    SELECT DISTINCT ON (school_id, class_name) id, school_id, class_name, status
    FROM summary_sheets WHERE school_year = :year
    ORDER BY school_id, class_name, version DESC
)
SELECT o.id, o.path,
       count(c.class_name) AS classes,
       count(cur.id) AS imported,
       count(*) FILTER (WHERE cur.status IN ('rendered', 'teacher_signed', 'signed')) AS rendered,
       count(*) FILTER (WHERE cur.status IN ('teacher_signed', 'signed')) AS certified,
       count(*) FILTER (WHERE cur.status = 'signed') AS signed,
       count(*) FILTER (WHERE ar.status = 'archived') AS archived
FROM organisations o
LEFT JOIN classes c ON c.school_id = o.id
LEFT JOIN current cur ON cur.school_id = c.school_id AND cur.class_name = c.class_name
LEFT JOIN archive_records ar ON ar.source_type = 'summary_sheet' AND ar.source_id = cur.id
WHERE o.kind = 'school' AND o.path LIKE :prefix
GROUP BY o.id, o.path
""").bindparams(bindparam("year"), bindparam("prefix"))


# archive_records is read by table name: the archive package sits above this one (it keeps the sheets).
_ARCHIVED = text("SELECT source_id FROM archive_records WHERE source_type = 'summary_sheet' AND status = 'archived' "
                 "AND source_id = ANY(:ids)")


def _deadlines(scope: Organisation, year: str) -> dict[int, dt.date]:
    """Deadlines set on the scope, above it (its region) and below it, by organisation id."""
    rows = session.execute(select(YearEndDeadline.organisation_id, YearEndDeadline.due_date)
                           .join(Organisation, Organisation.id == YearEndDeadline.organisation_id)
                           .where(YearEndDeadline.school_year == year,
                                  Organisation.id.in_(path_ids(scope.path)) | Organisation.path.startswith(scope.path)))
    return {org_id: due for org_id, due in rows}


def due_for(path: str, deadlines: dict[int, dt.date]) -> dt.date | None:
    """The nearest deadline up the tree: a municipality's own overrides the region's."""
    for org_id in reversed(path_ids(path)):
        if org_id in deadlines:
            return deadlines[org_id]
    return None


def school_rows(scope: Organisation, year: str, *, today: dt.date,
                deadlines: dict[int, dt.date] | None = None) -> list[tuple[str, Row]]:
    """(path, row) of every school under `scope` (or the school itself)."""
    deadlines = _deadlines(scope, year) if deadlines is None else deadlines
    # materialised paths are digits and slashes: nothing to escape for LIKE
    result = session.execute(_PER_SCHOOL, {"year": year, "prefix": scope.path + "%"}).all()
    names = dict(session.execute(select(Organisation.id, func.coalesce(Organisation.short_name, Organisation.name))
                                 .where(Organisation.kind == OrgKind.school,
                                        Organisation.path.startswith(scope.path))).all())
    rows = []
    for org_id, path, *counts in result:
        due, c = due_for(path, deadlines), Counts(*counts)
        late = bool(due and today > due and not c.done)
        rows.append((path, Row(org_id, names[org_id], c, due, late, int(late))))
    return rows


def overview(scope: Organisation, year: str, *, today: dt.date) -> tuple[list[Row], Row]:
    """Rows one level below `scope` — a region's municipalities, a municipality's schools (also those under
    its district offices) — late first, and the total. A school's rows are its classes (class_rows)."""
    deadlines = _deadlines(scope, year)
    level = len(path_ids(scope.path))
    total = Row(scope.id, scope.display_name, due=due_for(scope.path, deadlines))
    groups: dict[int, Row] = {}
    schools = school_rows(scope, year, today=today, deadlines=deadlines)
    grouped = {path_ids(path)[level] for path, _ in schools if scope.kind is OrgKind.region and
               len(path_ids(path)) > level + 1}
    orgs = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(grouped)))}
    for path, school in schools:
        total.counts.add(school.counts)
        total.late_schools += school.late_schools
        ids = path_ids(path)
        if scope.kind is OrgKind.school:
            continue
        if len(ids) == level + 1 or ids[level] not in orgs:
            groups[school.org_id] = school           # a municipality's schools, or a school right under the region
            continue
        parent = orgs[ids[level]]
        row = groups.setdefault(parent.id, Row(parent.id, parent.display_name, due=due_for(parent.path, deadlines)))
        row.counts.add(school.counts)
        row.late_schools += school.late_schools
        row.late = row.late_schools > 0
    total.late = total.late_schools > 0
    return sorted(groups.values(), key=lambda r: (not r.late, -r.late_schools, r.label)), total


@dataclass
class ClassRow:
    class_name: str
    status: SheetStatus | None
    teacher: str | None
    archived: bool
    version: int | None


def class_rows(school: Organisation, year: str) -> list[ClassRow]:
    """Each class of the school with the state of its current sheet (no marks, no pupils)."""
    from orgs.models.users import User
    sheets = {s.class_name: s for s in session.scalars(
        select(SummarySheet).where(SummarySheet.school_id == school.id, SummarySheet.school_year == year)
        .order_by(SummarySheet.version))}
    teachers = dict(session.execute(select(ClassTeacher.class_name, User.full_name)
                                    .join(User, User.id == ClassTeacher.user_id)
                                    .where(ClassTeacher.school_id == school.id,
                                           ClassTeacher.school_year == year)).all())
    archived = set(session.scalars(_ARCHIVED, {"ids": [s.id for s in sheets.values()]}))
    names = sorted(set(sheets) | set(teachers), key=_class_key)
    return [ClassRow(n, sheets[n].status if n in sheets else None, teachers.get(n),
                     n in sheets and sheets[n].id in archived, sheets[n].version if n in sheets else None)
            for n in names]


def _class_key(name: str):
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def xlsx_rows(rows: list[Row], total: Row):
    for r in [*rows, total]:
        c = r.counts
        yield [r.label, c.classes, c.imported, c.rendered, c.certified, c.signed, c.archived,
               r.due.strftime("%d.%m.%Y") if r.due else None, "да" if r.late else None]
