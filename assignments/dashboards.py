"""Dashboard figures, computed by PostgreSQL with one aggregate query each.

Every occurrence row carries its region, municipality, organisation, effective due date, status and `late`
(set at acceptance), so:

- the region view is one GROUP BY municipality_id over an index-only scan of
  `ix_occurrences_region_dash (region_id, due_date) INCLUDE (municipality_id, status, late, assignment_id)`;
- the municipality drill-down is one GROUP BY org_id over `ix_occurrences_municipality_dash`;
- one organisation's list reads `ix_occurrences_org_due`.

There is no materialised summary to keep in step: the counts are always those of the rows. "Overdue" does not
depend on the daily job having run: it is `status = 'overdue'` or an open status with a due date before
`today`, and `today` is passed in from Python (never SQL now()).

Definitions (shown on the pages too):
  assigned   — occurrences with a due date in the period;
  on time    — accepted, and the accepted report was submitted on or before the due date;
  late       — accepted, submitted after the due date;
  overdue    — not answered (pending, returned, overdue) and the due date is before today;
  on review  — submitted, waiting for acceptance;
  on-time rate — on time / (on time + late + overdue): the share of what fell due that was done in time.
"""
import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from assignments.models import Assignment, AssignmentTarget, Occurrence, OccurrenceKind, status_as_of
from assignments.models import OccurrenceStatus as S
from core.db import session
from ordinances.models.ordinances import PlanItem
from orgs.access import scopes
from orgs.models.organisations import Organisation, OrgKind, subtree

REGION_LEVEL = "Организации регионального подчинения"


@dataclass
class Counts:
    assigned: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    on_review: int = 0

    @property
    def in_progress(self) -> int:
        return self.assigned - self.on_time - self.late - self.overdue - self.on_review

    @property
    def rate(self) -> float | None:
        due = self.on_time + self.late + self.overdue
        return self.on_time / due if due else None

    def add(self, other: "Counts") -> None:
        for f in ("assigned", "on_time", "late", "overdue", "on_review"):
            setattr(self, f, getattr(self, f) + getattr(other, f))


@dataclass
class Row:
    org_id: int | None
    label: str
    counts: Counts = field(default_factory=Counts)
    kind: str | None = None


HEADERS = ["Организация", "Назначено", "Выполнено в срок", "Выполнено с опозданием", "Просрочено",
           "На проверке", "В работе", "Доля в срок, %"]


def xlsx_rows(rows: list[Row], total: Row | None = None):
    for r in rows + ([total] if total else []):
        c = r.counts
        yield [r.label, c.assigned, c.on_time, c.late, c.overdue, c.on_review, c.in_progress,
               round(c.rate * 100, 1) if c.rate is not None else None]


def _aggregates(today: dt.date):
    return (
        func.count().label("assigned"),
        func.count().filter(and_(Occurrence.status == S.accepted, Occurrence.late.is_(False))).label("on_time"),
        func.count().filter(and_(Occurrence.status == S.accepted, Occurrence.late.is_(True))).label("late"),
        func.count().filter(or_(Occurrence.status == S.overdue,
                                and_(Occurrence.status.in_([S.pending, S.returned]),
                                     Occurrence.due_date < today))).label("overdue"),
        func.count().filter(Occurrence.status == S.submitted).label("on_review"),
    )


def _counts(row) -> Counts:
    return Counts(row.assigned, row.on_time, row.late, row.overdue, row.on_review)


def _filtered(stmt, start: dt.date, end: dt.date, assignment_ids):
    stmt = stmt.where(Occurrence.due_date >= start, Occurrence.due_date <= end)
    if assignment_ids is not None:
        stmt = stmt.where(Occurrence.assignment_id.in_(list(assignment_ids) or [0]))
    return stmt


def assignments_of_ordinance(ordinance_id: int) -> list[int]:
    return list(session.scalars(select(Assignment.id).where(Assignment.ordinance_id == ordinance_id)))


def region_counts(region_id: int, *, start: dt.date, end: dt.date, today: dt.date,
                  assignment_ids=None) -> dict[int | None, Counts]:
    """municipality id (None: bodies directly under the region) → counts. One GROUP BY."""
    stmt = _filtered(select(Occurrence.municipality_id, *_aggregates(today))
                     .where(Occurrence.region_id == region_id), start, end, assignment_ids) \
        .group_by(Occurrence.municipality_id)
    return {r.municipality_id: _counts(r) for r in session.execute(stmt)}


def region_dashboard(region: Organisation, *, start: dt.date, end: dt.date, today: dt.date,
                     assignment_ids=None) -> tuple[list[Row], Row]:
    """One row per municipality of the region (all of them, zeros included), plus the region-level bodies."""
    counts = region_counts(region.id, start=start, end=end, today=today, assignment_ids=assignment_ids)
    munis = session.execute(select(Organisation.id, Organisation.name, Organisation.short_name)
                            .where(Organisation.parent_id == region.id, Organisation.kind == OrgKind.municipality)
                            .order_by(Organisation.name)).all()
    rows = [Row(m.id, m.short_name or m.name, counts.get(m.id, Counts()), "municipality") for m in munis]
    if None in counts:
        rows.append(Row(None, REGION_LEVEL, counts[None], "region_level"))
    total = Row(region.id, "Итого по региону")
    for r in rows:
        total.counts.add(r.counts)
    return rows, total


def municipality_dashboard(municipality: Organisation, *, start: dt.date, end: dt.date, today: dt.date,
                           assignment_ids=None) -> tuple[list[Row], Row]:
    """One row per organisation of the municipality (the municipality itself first, then its schools)."""
    stmt = _filtered(select(Occurrence.org_id, *_aggregates(today))
                     .where(Occurrence.municipality_id == municipality.id), start, end, assignment_ids) \
        .group_by(Occurrence.org_id)
    counts = {r.org_id: _counts(r) for r in session.execute(stmt)}
    orgs = session.execute(select(Organisation.id, Organisation.name, Organisation.short_name, Organisation.kind)
                           .where(Organisation.path.startswith(municipality.path, autoescape=True))
                           .order_by(Organisation.kind != OrgKind.municipality, Organisation.name)).all()
    rows = [Row(o.id, o.short_name or o.name, counts.get(o.id, Counts()), o.kind.value) for o in orgs
            if o.id in counts or o.kind in (OrgKind.school, OrgKind.municipality)]
    total = Row(municipality.id, f"Итого: {municipality.display_name}")
    for r in rows:
        total.counts.add(r.counts)
    return rows, total


def org_counts(org: Organisation, *, start: dt.date, end: dt.date, today: dt.date, assignment_ids=None) -> Counts:
    stmt = _filtered(select(*_aggregates(today)).where(Occurrence.org_id == org.id), start, end, assignment_ids)
    return _counts(session.execute(stmt).one())


def assignment_dashboard(assignment_id: int, *, today: dt.date) -> dict[int, Counts]:
    """target organisation → counts, for the assignment page (all its dates)."""
    stmt = select(Occurrence.org_id, *_aggregates(today)).where(Occurrence.assignment_id == assignment_id) \
        .group_by(Occurrence.org_id)
    return {r.org_id: _counts(r) for r in session.execute(stmt)}


def below_condition(user, action: str = "assignment.accept"):
    """Organisations strictly below the ones where the user holds `action`: the reports they review."""
    roots = scopes(user, action)
    if not roots:
        return None
    return or_(*[and_(subtree(o), Organisation.id != o.id) for o in roots])


def item_counts(ordinance_id: int, *, today: dt.date) -> dict[int, Counts]:
    """plan item (or clause duty) → counts over all its assignments and dates, for the controller's view."""
    stmt = select(Assignment.plan_item_id, *_aggregates(today)) \
        .join(Assignment, Assignment.id == Occurrence.assignment_id) \
        .where(Assignment.ordinance_id == ordinance_id).group_by(Assignment.plan_item_id)
    return {r.plan_item_id: _counts(r) for r in session.execute(stmt)}


STATUS_FILTERS = {
    "open": "Не исполнено",
    "overdue": "Просрочено",
    "submitted": "На проверке",
    "accepted": "Принято",
}


def occurrence_filter(*, org_ids=None, scope=None, start: dt.date | None = None, end: dt.date | None = None,
                      today: dt.date, status: str | None = None, assignment_ids=None):
    """Occurrences filtered for the lists, "my tasks", the API and the exports, in the lists' order."""
    stmt = select(Occurrence).join(Assignment, Assignment.id == Occurrence.assignment_id) \
        .join(PlanItem, PlanItem.id == Assignment.plan_item_id) \
        .join(Organisation, Organisation.id == Occurrence.org_id)
    if org_ids is not None:
        stmt = stmt.where(Occurrence.org_id.in_(list(org_ids) or [0]))
    if scope is not None:
        stmt = stmt.where(scope)
    if start is not None:
        stmt = stmt.where(Occurrence.due_date >= start)
    if end is not None:
        stmt = stmt.where(Occurrence.due_date <= end)
    if assignment_ids is not None:
        stmt = stmt.where(Occurrence.assignment_id.in_(list(assignment_ids) or [0]))
    if status == "open":
        stmt = stmt.where(Occurrence.status.in_([S.pending, S.returned, S.overdue]))
    elif status == "overdue":
        stmt = stmt.where(or_(Occurrence.status == S.overdue,
                              and_(Occurrence.status.in_([S.pending, S.returned]), Occurrence.due_date < today)))
    elif status in ("submitted", "accepted", "pending", "returned"):
        stmt = stmt.where(Occurrence.status == S(status))
    return stmt.order_by(Occurrence.due_date, Occurrence.id)


def with_details(stmt):
    """Occurrence objects with what the API and the exports show of each: a few IN queries, not one per row."""
    return stmt.options(selectinload(Occurrence.org), selectinload(Occurrence.target),
                        selectinload(Occurrence.assignment).selectinload(Assignment.plan_item))


def occurrence_query(**filters):
    return with_details(occurrence_filter(**filters))


@dataclass(frozen=True, slots=True)
class OccurrenceRow:
    """One line of a list page ("my tasks", a school's dashboard), read as plain values."""
    id: int
    due_date: dt.date
    planned_date: dt.date
    kind: OccurrenceKind
    status: S                      # as of today: a pending one past its date is overdue already
    submitted_at: dt.datetime | None
    org_name: str
    item_number: str | None
    item_title: str
    responsible_name: str | None


def occurrence_rows(stmt, *, today: dt.date) -> list[OccurrenceRow]:
    """The rows of `occurrence_filter(...)` (paged as the caller likes): one query and no ORM objects, which
    for a page of a hundred occurrences costs a fraction of loading them with their organisation and item."""
    stmt = stmt.with_only_columns(
        Occurrence.id, Occurrence.due_date, Occurrence.planned_date, Occurrence.kind, Occurrence.status,
        Occurrence.submitted_at, Organisation.short_name, Organisation.name, PlanItem.number,
        PlanItem.title, AssignmentTarget.responsible_name, maintain_column_froms=True) \
        .join(AssignmentTarget, AssignmentTarget.id == Occurrence.target_id)
    return [OccurrenceRow(id_, due, planned, kind, status_as_of(status, due, today), submitted_at,
                          short_name or name, number, title, responsible)
            for id_, due, planned, kind, status, submitted_at, short_name, name, number, title, responsible
            in session.execute(stmt)]


def calendar_counts(*, scope, start: dt.date, end: dt.date, today: dt.date, org_ids=None):
    """(due date, assignment id, kind, item number, item title, total, done, overdue) for a month grid: one row
    per day, assignment and kind, so a regional calendar stays a few hundred rows."""
    stmt = select(Occurrence.due_date, Occurrence.assignment_id, Occurrence.kind, PlanItem.number, PlanItem.title,
                  func.count().label("total"),
                  func.count().filter(Occurrence.status == S.accepted).label("done"),
                  func.count().filter(or_(Occurrence.status == S.overdue,
                                          and_(Occurrence.status.in_([S.pending, S.returned]),
                                               Occurrence.due_date < today))).label("overdue")) \
        .join(Assignment, Assignment.id == Occurrence.assignment_id) \
        .join(PlanItem, PlanItem.id == Assignment.plan_item_id) \
        .where(Occurrence.due_date >= start, Occurrence.due_date <= end)
    if org_ids is not None:
        stmt = stmt.where(Occurrence.org_id.in_(list(org_ids) or [0]))
    else:
        stmt = stmt.join(Organisation, Organisation.id == Occurrence.org_id).where(scope)
    stmt = stmt.group_by(Occurrence.due_date, Occurrence.assignment_id, Occurrence.kind, PlanItem.number,
                         PlanItem.title) \
        .order_by(Occurrence.due_date, PlanItem.number)
    return session.execute(stmt).all()


def region_dashboard_naive(region: Organisation, *, start: dt.date, end: dt.date, today: dt.date) -> dict:
    """The baseline the benchmark compares with: load every occurrence row and count in Python."""
    out: dict[int | None, Counts] = {}
    rows = session.scalars(select(Occurrence).where(Occurrence.region_id == region.id,
                                                    Occurrence.due_date >= start, Occurrence.due_date <= end))
    for occ in rows:
        c = out.setdefault(occ.municipality_id, Counts())
        c.assigned += 1
        if occ.status is S.accepted:
            if occ.late:
                c.late += 1
            else:
                c.on_time += 1
        elif occ.status is S.submitted:
            c.on_review += 1
        elif occ.status is S.overdue or occ.due_date < today:
            c.overdue += 1
    return out
