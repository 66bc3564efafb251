"""Assignments (поручения): fan-out to organisations, cascade from a municipality to its schools, occurrence
generation and idempotent regeneration, and the workflow of one occurrence (submit, accept, return, extend,
overdue). Services change rows and flush; they never commit. Access is decided by `orgs.access`; the
`may_*` helpers here only say which of its actions applies to which organisation.

"Today" always comes from Python (`today()`, frozen by freezegun in tests), never from SQL `now()`.
"""
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr
from sqlalchemy import func, select, text

from assignments import notifications
from assignments.models import (
    OPEN_STATUSES,
    Assignment,
    AssignmentTarget,
    Occurrence,
    OccurrenceEvent,
    OccurrenceEvidence,
    OccurrenceKind,
    OccurrenceStatus,
)
from core import audit
from core import files as file_store
from core.clock import MOSCOW, today  # noqa: F401  (svc.today() in views, tasks)
from core.db import execute_count, session, utcnow
from ordinances.models.ordinances import (
    DeadlineKind,
    Ordinance,
    OrdinanceStatus,
    Plan,
    PlanItem,
    PlanSection,
)
from orgs.access import can
from orgs.models.organisations import Organisation, OrgKind, path_ids, subtree

log = logging.getLogger(__name__)
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024
MAX_FILES = 10

# The assigner's choice of due dates. "plan" copies the item's own rule; the others are confirmations
# (a «Постоянно» item has no due dates of its own).
RULES = {
    "plan": ("Как в плане", None),
    "weekly": ("Еженедельно (подтверждение по пятницам)", "FREQ=WEEKLY;BYDAY=FR"),
    "monthly": ("Ежемесячно (подтверждение в последний день месяца)", "FREQ=MONTHLY;BYMONTHDAY=-1"),
    "quarterly": ("Ежеквартально (подтверждение в конце квартала)", "FREQ=YEARLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1"),
    "none": ("Без подтверждений", None),
    "dates": ("Свои даты", None),
}


class AssignmentError(ValueError):
    """A Russian message for the user; nothing has been written when it is raised by a view's service call
    (the view answers 400 and the transaction rolls back)."""


def school_year(day: dt.date) -> tuple[dt.date, dt.date]:
    """1 September – 31 August of the school year that contains `day`."""
    first = day.year if day.month >= 9 else day.year - 1
    return dt.date(first, 9, 1), dt.date(first + 1, 8, 31)


def ru(d: dt.date | None) -> str:
    return d.strftime("%d.%m.%Y") if d else "—"


# ---- who may do what (decided by app.auth.access) ---------------------------------------------------------

def may_view(user, occ: Occurrence) -> bool:
    return can(user, "assignment.view", occ.org)


def may_submit(user, occ: Occurrence) -> bool:
    return can(user, "assignment.submit", occ.org)


def may_review(user, occ: Occurrence) -> bool:
    """Accepting and returning belong to the level above the organisation (never to the organisation itself)."""
    return occ.org.parent is not None and can(user, "assignment.accept", occ.org.parent)


def may_accept(user, occ: Occurrence) -> bool:
    return may_review(user, occ) and (occ.submitted_by_id is None or occ.submitted_by_id != getattr(user, "id", None))


def may_extend(user, occ: Occurrence) -> bool:
    return may_review(user, occ) or can(user, "assignment.manage", occ.assignment.assigner)


def may_manage(user, a: Assignment) -> bool:
    return can(user, "assignment.manage", a.assigner)


def may_cascade(user, target: AssignmentTarget) -> bool:
    return target.active and target.org.kind is OrgKind.municipality and can(user, "assignment.manage", target.org)


# ---- the rule -------------------------------------------------------------------------------------------

def ordinance_of(item: PlanItem) -> Ordinance:
    return session.scalars(select(Ordinance).join(Plan, Plan.ordinance_id == Ordinance.id)
                           .join(PlanSection, PlanSection.plan_id == Plan.id)
                           .where(PlanSection.id == item.section_id)).one()


@dataclass
class Rule:
    choice: str
    text: str
    rrule: str | None = None
    dtstart: dt.date | None = None
    until: dt.date | None = None
    dates: tuple[dt.date, ...] = ()


def make_rule(item: PlanItem, choice: str, dates=()) -> Rule:
    """The due-date rule of an assignment of `item`: the plan's own, a confirmation rule, explicit dates, or none."""
    if choice not in RULES:
        raise AssignmentError(f"Неизвестная периодичность «{choice}».")
    wording = item.deadline_text or "—"
    if choice == "plan":
        if item.deadline_kind is DeadlineKind.once:
            return Rule("plan", wording, dates=tuple(item.dates))
        if item.deadline_kind is DeadlineKind.recurring:
            if item.dtstart is None:
                raise AssignmentError(f"Срок «{wording}» повторяется, но дата начала не определена (нет даты "
                                      "документа): укажите свои даты.")
            return Rule("plan", wording, rrule=item.rrule, dtstart=item.dtstart, until=item.until)
        if item.deadline_kind is DeadlineKind.continuous:
            raise AssignmentError(f"У мероприятия со сроком «{wording}» нет дат: выберите периодичность "
                                  "подтверждений (ежемесячно, ежеквартально) или «без подтверждений».")
        raise AssignmentError(f"Срок «{wording}» не распознан: укажите свои даты.")
    if choice == "none":
        return Rule("none", f"{wording}; без подтверждений")
    if choice == "dates":
        dates = tuple(sorted(set(dates)))
        if not dates:
            raise AssignmentError("Укажите хотя бы одну дату (поле «Свои даты», ДД.ММ.ГГГГ через запятую).")
        return Rule("dates", ", ".join(ru(d) for d in dates), dates=dates)
    label, rule = RULES[choice]
    return Rule(choice, f"{wording}; {label.lower()}", rrule=rule, dtstart=item.dtstart, until=item.until)


def parse_dates(raw: str) -> list[dt.date]:
    """«30.09.2026, 31.12.2026» (or ISO dates) → dates; a bad one is named in the error."""
    out = []
    for part in [p.strip() for p in (raw or "").replace(";", ",").split(",") if p.strip()]:
        try:
            out.append(dt.datetime.strptime(part, "%d.%m.%Y").date() if "." in part else dt.date.fromisoformat(part))
        except ValueError:
            raise AssignmentError(f"Неверная дата «{part}»: нужен формат ДД.ММ.ГГГГ.") from None
    return out


def due_dates(a: Assignment) -> list[dt.date]:
    """The assignment's due dates: its explicit dates (a one-off deadline is kept even outside the horizon)
    plus its rule expanded over [horizon_start, horizon_end] (and the rule's own start/until)."""
    out = set(a.dates or ())
    if a.rrule:
        start = max(a.horizon_start, a.dtstart or a.horizon_start)
        end = min(a.horizon_end, a.until or a.horizon_end)
        if start <= end:
            anchor = dt.datetime.combine(a.dtstart or a.horizon_start, dt.time())
            rule = rrulestr(a.rrule, dtstart=anchor)
            out.update(x.date() for x in rule.between(dt.datetime.combine(start, dt.time()),
                                                      dt.datetime.combine(end, dt.time()), inc=True))
    return sorted(out)


# ---- fan-out ------------------------------------------------------------------------------------------------

def resolve_targets(assigner: Organisation, *, org_ids=(), kinds=(), municipality_ids=()) -> list[Organisation]:
    """The organisations chosen one by one, by kind («все школы»), or as all schools of some municipalities —
    all strictly inside the assigner's subtree. Unknown ids and organisations outside it are named."""
    chosen: dict[int, Organisation] = {}
    ids = {int(i) for i in org_ids}
    if ids:
        found = {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}
        for i in sorted(ids):
            org = found.get(i)
            if org is None:
                raise AssignmentError(f"Организация № {i} не найдена.")
            chosen[org.id] = org
    below = Organisation.path.startswith(assigner.path, autoescape=True) & (Organisation.id != assigner.id)
    if kinds:
        bad = [k for k in kinds if k not in OrgKind.__members__]
        if bad:
            raise AssignmentError(f"Неизвестный вид организаций: {', '.join(bad)}.")
        for org in session.scalars(select(Organisation).where(below, Organisation.kind.in_(list(kinds)))):
            chosen[org.id] = org
    if municipality_ids:
        muni_ids = [int(i) for i in municipality_ids]
        munis = session.scalars(select(Organisation).where(Organisation.id.in_(muni_ids))).all()
        for m in munis:
            if m.kind is not OrgKind.municipality:
                raise AssignmentError(f"«{m.display_name}» — не муниципалитет.")
            for org in session.scalars(select(Organisation).where(          # also under its district offices
                    subtree(m), Organisation.kind == OrgKind.school)):
                chosen[org.id] = org
    for org in chosen.values():
        if org.id == assigner.id or not org.path.startswith(assigner.path):
            raise AssignmentError(f"«{org.display_name}» не входит в «{assigner.display_name}»: поручить ей "
                                  "нельзя.")
    return sorted(chosen.values(), key=lambda o: o.path)


def _placement(org_ids: list[int]) -> dict[int, tuple[int | None, int]]:
    """org id → (municipality id, region id), from the materialised paths (two queries for any number)."""
    paths = dict(session.execute(select(Organisation.id, Organisation.path).where(Organisation.id.in_(org_ids))).all())
    chains = {i: path_ids(path) for i, path in paths.items()}
    ancestor_ids = {a for chain in chains.values() for a in chain}
    kinds = dict(session.execute(select(Organisation.id,
                                        Organisation.kind).where(Organisation.id.in_(ancestor_ids))).all())
    return {i: (next((a for a in chain if kinds.get(a) is OrgKind.municipality), None), chain[0])
            for i, chain in chains.items()}


def create_assignment(item: PlanItem, assigner: Organisation, orgs: list[Organisation], *, actor=None,
                      rule: str = "plan", dates=(), horizon: tuple[dt.date, dt.date] | None = None,
                      appointment_due: dt.date | None = None, note: str | None = None,
                      parent: Assignment | None = None, notify: bool = True) -> Assignment:
    """Give `item` to `orgs` on behalf of `assigner` and generate the occurrences."""
    ordinance = ordinance_of(item)
    if ordinance.status is not OrdinanceStatus.in_force:
        raise AssignmentError(f"Документ «{ordinance.label}» не действует ({ordinance.status.label}): поручать "
                              "можно только по действующему документу.")
    if assigner.kind not in (OrgKind.region, OrgKind.municipality):
        raise AssignmentError("Поручать могут только регион и муниципалитет.")
    if not orgs:
        raise AssignmentError("Выберите хотя бы одну организацию: по одной, по виду или все школы "
                              "выбранных муниципалитетов.")
    for org in orgs:
        if org.id == assigner.id or not org.path.startswith(assigner.path):
            raise AssignmentError(f"«{org.display_name}» не входит в «{assigner.display_name}».")
    r = make_rule(item, rule, dates)
    start, end = horizon or default_horizon()
    if start > end:
        raise AssignmentError(f"Начало периода ({ru(start)}) позже его конца ({ru(end)}).")
    if end > start + relativedelta(years=5):
        raise AssignmentError("Период формирования сроков — не больше пяти лет.")
    a = Assignment(plan_item=item, ordinance=ordinance, assigner=assigner, parent=parent, rule_choice=r.choice,
                   rule_text=r.text, rrule=r.rrule, dtstart=r.dtstart, until=r.until, dates=list(r.dates),
                   horizon_start=start, horizon_end=end, appointment_due=appointment_due, note=note or None,
                   created_by_id=getattr(actor, "id", None))
    a.targets = [AssignmentTarget(org=o) for o in orgs]
    session.add(a)
    session.flush()
    result = generate(a)
    audit.record("assignment.create", a, actor=actor,
                 after={"plan_item_id": item.id, "assigner_id": assigner.id, "targets": len(orgs),
                        "rule": r.text, "horizon": [start.isoformat(), end.isoformat()],
                        "parent_id": parent.id if parent else None},
                 occurrences=result.inserted)
    if notify:
        notifications.notify_orgs([o.id for o in orgs], "assignment.new",
                                  f"Новое поручение от «{assigner.display_name}»: {a.title[:200]}",
                                  url=f"/assignments/{a.id}", action="assignment.submit")
    log.info("assignment %s: %s targets, %s occurrences", a.id, len(orgs), result.inserted)
    return a


def default_horizon(day: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """From today to the end of the current school year."""
    day = day or today()
    return day, school_year(day)[1]


# ---- generation -----------------------------------------------------------------------------------------

@dataclass
class GenerateResult:
    inserted: int
    deleted: int
    linked: int = 0


_INSERT = text("""
INSERT INTO occurrences (assignment_id, target_id, org_id, municipality_id, region_id, kind, planned_date,
                         due_date, status, parent_id, created_at, updated_at)
SELECT :aid, t.target_id, t.org_id, t.municipality_id, t.region_id, CAST(:kind AS occurrence_kind), d.d, d.d,
       'pending', p.id, :now, :now
FROM unnest(CAST(:target_ids AS integer[]), CAST(:org_ids AS integer[]), CAST(:mun_ids AS integer[]),
            CAST(:region_ids AS integer[])) AS t(target_id, org_id, municipality_id, region_id)
CROSS JOIN unnest(CAST(:dates AS date[])) AS d(d)
LEFT JOIN occurrences p ON p.assignment_id = :parent_aid AND p.org_id = :parent_org
                       AND p.kind = 'deadline' AND p.planned_date = d.d
ORDER BY t.org_id, d.d
ON CONFLICT ON CONSTRAINT uq_occurrences_one_per_date DO NOTHING
""")

# Untouched occurrences that the rule or the set no longer has. Anything ever submitted stays.
_DELETE_STALE = text("""
DELETE FROM occurrences o
WHERE o.assignment_id = :aid AND o.status IN ('pending', 'overdue') AND o.submitted_at IS NULL
  AND NOT (o.target_id = ANY(CAST(:target_ids AS integer[])) AND (
        (o.kind = 'deadline' AND o.planned_date = ANY(CAST(:dates AS date[])))
     OR (o.kind = 'appointment' AND o.planned_date = CAST(:appointment AS date))))
""")

# A cascade's occurrences point at the municipality's occurrence of the same date (made before or after).
_LINK_PARENTS = text("""
UPDATE occurrences c SET parent_id = p.id
FROM occurrences p
WHERE c.assignment_id = :aid AND c.kind = 'deadline' AND c.parent_id IS NULL
  AND p.assignment_id = :parent_aid AND p.org_id = :parent_org AND p.kind = 'deadline'
  AND p.planned_date = c.planned_date
""")


def generate(a: Assignment) -> GenerateResult:
    """Make the occurrences the rule and the active set call for; drop untouched ones they no longer call for.

    Idempotent: the unique key (assignment, organisation, kind, planned date) and ON CONFLICT DO NOTHING
    mean a second run inserts nothing; submitted work is never deleted. One INSERT … SELECT per kind, so a
    region-wide assignment (hundreds of schools × hundreds of dates) is a single statement.
    """
    session.flush()
    targets = [t for t in a.targets if t.active]
    place = _placement([t.org_id for t in targets])
    dates = due_dates(a)
    params = {
        "aid": a.id, "now": utcnow(),
        "target_ids": [t.id for t in targets], "org_ids": [t.org_id for t in targets],
        "mun_ids": [place[t.org_id][0] for t in targets], "region_ids": [place[t.org_id][1] for t in targets],
        "parent_aid": a.parent_id, "parent_org": a.assigner_id if a.parent_id else None,
    }
    deleted = execute_count(_DELETE_STALE, {"aid": a.id, "target_ids": params["target_ids"], "dates": dates,
                                            "appointment": a.appointment_due})
    inserted = 0
    if targets and dates:
        inserted += execute_count(_INSERT, {**params, "kind": "deadline", "dates": dates})
    if targets and a.appointment_due:
        inserted += execute_count(_INSERT, {**params, "kind": "appointment", "dates": [a.appointment_due],
                                            "parent_aid": None})
    linked = 0
    if a.parent_id:
        linked = execute_count(_LINK_PARENTS, {"aid": a.id, "parent_aid": a.parent_id,
                                               "parent_org": a.assigner_id})
    _expire_occurrences()
    return GenerateResult(inserted, deleted, linked)


def _expire_occurrences() -> None:
    """Bulk SQL changed occurrence rows behind the session's back: reload them on next use."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Occurrence):
            session.expire(obj)


def set_targets(a: Assignment, orgs: list[Organisation], *, actor=None) -> GenerateResult:
    """Change the set of organisations: new ones get their occurrences, removed ones lose the untouched ones
    (their submitted work and the target row stay, inactive)."""
    if not orgs:
        raise AssignmentError("Нельзя оставить поручение без организаций.")
    for org in orgs:
        if org.id == a.assigner_id or not org.path.startswith(a.assigner.path):
            raise AssignmentError(f"«{org.display_name}» не входит в «{a.assigner.display_name}».")
    wanted = {o.id: o for o in orgs}
    existing = {t.org_id: t for t in a.targets}
    added, removed = [], []
    for org_id, org in wanted.items():
        t = existing.get(org_id)
        if t is None:
            a.targets.append(AssignmentTarget(org=org))
            added.append(org_id)
        elif not t.active:
            t.active, t.removed_at = True, None
            added.append(org_id)
    for org_id, t in existing.items():
        if t.active and org_id not in wanted:
            t.active, t.removed_at = False, utcnow()
            removed.append(org_id)
    session.flush()
    result = generate(a)
    audit.record("assignment.targets", a, actor=actor, after={"added": added, "removed": removed},
                 inserted=result.inserted, deleted=result.deleted)
    if added:
        notifications.notify_orgs(added, "assignment.new", f"Новое поручение от «{a.assigner.display_name}»: "
                                  f"{a.title[:200]}", url=f"/assignments/{a.id}", action="assignment.submit")
    return result


def change_rule(a: Assignment, *, rule: str, dates=(), horizon: tuple[dt.date, dt.date] | None = None,
                appointment_due: dt.date | None = None, actor=None) -> GenerateResult:
    """A new rule, horizon or appointment date; regenerates this assignment and the cascades made from it."""
    if a.parent_id is not None:
        raise AssignmentError("Сроки передаваемого поручения задаёт вышестоящий орган.")
    r = make_rule(a.plan_item, rule, dates)
    start, end = horizon or (a.horizon_start, a.horizon_end)
    if start > end:
        raise AssignmentError(f"Начало периода ({ru(start)}) позже его конца ({ru(end)}).")
    if end > start + relativedelta(years=5):
        raise AssignmentError("Период формирования сроков — не больше пяти лет.")
    before = {"rule": a.rule_text, "horizon": [a.horizon_start.isoformat(), a.horizon_end.isoformat()],
              "appointment_due": a.appointment_due.isoformat() if a.appointment_due else None}
    _copy_rule(a, r, start, end)
    a.appointment_due = appointment_due
    result = generate(a)
    for child in a.children:
        _copy_rule(child, r, start, end)
        child_result = generate(child)
        result.inserted += child_result.inserted
        result.deleted += child_result.deleted
    audit.record("assignment.rule", a, actor=actor, before=before,
                 after={"rule": a.rule_text, "horizon": [start.isoformat(), end.isoformat()],
                        "appointment_due": appointment_due.isoformat() if appointment_due else None},
                 inserted=result.inserted, deleted=result.deleted)
    return result


def _copy_rule(a: Assignment, r: Rule, start: dt.date, end: dt.date) -> None:
    a.rule_choice, a.rule_text, a.rrule, a.dtstart, a.until = r.choice, r.text, r.rrule, r.dtstart, r.until
    a.dates, a.horizon_start, a.horizon_end = list(r.dates), start, end
    session.flush()


def cascade(target: AssignmentTarget, schools: list[Organisation], *, actor=None,
            appointment_due: dt.date | None = None) -> Assignment:
    """A municipality passes its part on to its schools (same item, same dates). Its own occurrence of a date
    is complete once every school's occurrence of that date is accepted — or when it closes it with a reason."""
    a = target.assignment
    muni = target.org
    if muni.kind is not OrgKind.municipality or not target.active:
        raise AssignmentError("Передать поручение школам может только муниципалитет, которому оно дано.")
    if session.scalar(select(Assignment.id).where(Assignment.parent_id == a.id, Assignment.assigner_id == muni.id)):
        raise AssignmentError(f"«{muni.display_name}» уже передал это поручение школам: измените состав там.")
    if not schools:
        raise AssignmentError("Выберите школы, которым передаётся поручение.")
    for org in schools:
        if org.id == muni.id or not org.path.startswith(muni.path):
            raise AssignmentError(f"«{org.display_name}» не входит в «{muni.display_name}».")
    with session.no_autoflush:
        child = Assignment(plan_item_id=a.plan_item_id, ordinance_id=a.ordinance_id, assigner_id=muni.id,
                           parent_id=a.id, rule_choice=a.rule_choice, rule_text=a.rule_text, rrule=a.rrule,
                           dtstart=a.dtstart, until=a.until, dates=list(a.dates or []),
                           horizon_start=a.horizon_start, horizon_end=a.horizon_end,
                           appointment_due=appointment_due, note=a.note, created_by_id=getattr(actor, "id", None),
                           targets=[AssignmentTarget(org_id=o.id) for o in schools])
        session.add(child)
    session.flush()
    session.refresh(child)
    result = generate(child)
    audit.record("assignment.cascade", child, actor=actor,
                 after={"parent_id": a.id, "municipality_id": muni.id, "targets": len(schools)},
                 occurrences=result.inserted)
    notifications.notify_orgs([o.id for o in schools], "assignment.new",
                              f"Новое поручение от «{muni.display_name}»: {child.title[:200]}",
                              url=f"/assignments/{child.id}", action="assignment.submit")
    return child


def check_responsible_user(org, user_id) -> None:
    """A responsible person named by id must be an active user with a role in that organisation (or below)."""
    if user_id is None:
        return
    from orgs.models.organisations import subtree
    from orgs.models.users import RoleGrant, User
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise AssignmentError("responsible.user_id: нужен номер пользователя.")
    found = session.scalar(select(User.id).where(
        User.id == user_id, User.active.is_(True),
        User.id.in_(select(RoleGrant.user_id).join(Organisation).where(subtree(org)))))
    if found is None:
        raise AssignmentError(f"Пользователь № {user_id} не сотрудник организации «{org.display_name}»: "
                              "ответственным его назначить нельзя.")


def set_responsible(target: AssignmentTarget, *, name: str, position: str | None = None,
                    user_id: int | None = None, actor=None) -> None:
    name = (name or "").strip()
    if not name:
        raise AssignmentError("Укажите ФИО ответственного.")
    check_responsible_user(target.org, user_id)
    before = {"name": target.responsible_name, "position": target.responsible_position}
    target.responsible_name, target.responsible_position = name[:300], (position or "").strip()[:300] or None
    target.responsible_user_id = user_id
    session.flush()
    audit.record("assignment.responsible", target, actor=actor, before=before,
                 after={"name": target.responsible_name, "position": target.responsible_position})


# ---- the workflow of one occurrence ---------------------------------------------------------------------

@dataclass
class Upload:
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"


def lock(occ_id: int) -> Occurrence | None:
    """The occurrence, locked for this transaction: two reviewers cannot both accept it."""
    return session.scalar(select(Occurrence).where(Occurrence.id == occ_id).with_for_update(of=Occurrence)
                          .execution_options(populate_existing=True))


def open_children(occ: Occurrence) -> tuple[int, int]:
    """(not yet accepted, all) occurrences of the schools a municipality passed this date on to."""
    row = session.execute(select(func.count().filter(Occurrence.status != OccurrenceStatus.accepted), func.count())
                          .where(Occurrence.parent_id == occ.id)).one()
    return int(row[0]), int(row[1])


def submit(occ: Occurrence, *, actor, text: str | None = None, link: str | None = None, files=(),
           responsible: dict | None = None, close_reason: str | None = None) -> OccurrenceEvent:
    """The organisation's answer: a text, a link and/or files (kept in the archive store)."""
    if occ.status not in OPEN_STATUSES:
        raise AssignmentError(f"Отчёт уже {'принят' if occ.status is OccurrenceStatus.accepted else 'на проверке'}: "
                              "отправить его ещё раз нельзя.")
    text_ = (text or "").strip() or None
    link_ = (link or "").strip() or None
    files = [f for f in files if f.filename or f.data]
    if link_ and (not link_.startswith(("http://",
                                        "https://")) or len(link_) > 1000 or any(c.isspace() for c in link_)):
        raise AssignmentError("Ссылка должна начинаться с http:// или https:// и быть не длиннее 1000 символов.")
    if len(files) > MAX_FILES:
        raise AssignmentError(f"Не больше {MAX_FILES} файлов за раз.")
    for f in files:
        if not f.data:
            raise AssignmentError(f"Файл «{f.filename}» пустой.")
        if len(f.data) > EVIDENCE_MAX_BYTES:
            raise AssignmentError(f"Файл «{f.filename}» больше {EVIDENCE_MAX_BYTES // (1024 * 1024)} МБ.")
    if occ.kind is OccurrenceKind.appointment:
        if not responsible or not (responsible.get("name") or "").strip():
            raise AssignmentError("Укажите ответственного: ФИО (и должность) из приказа по организации.")
        check_responsible_user(occ.target.org, responsible.get("user_id"))
        if not files and not link_:
            raise AssignmentError("Приложите приказ о назначении ответственного (файл или ссылку).")
    elif not (text_ or link_ or files):
        raise AssignmentError("Опишите исполнение, приложите файл или дайте ссылку.")
    waiting, total = open_children(occ)
    reason = (close_reason or "").strip() or None
    if waiting and not reason:
        raise AssignmentError(f"Школы ещё не выполнили поручение (принято {total - waiting} из {total}): "
                              "чтобы закрыть срок, укажите причину.")
    stored = [_store(f) for f in files]          # before any row: a storage failure leaves nothing half-written
    before = occ.status
    now = utcnow()
    event = OccurrenceEvent(occurrence=occ, kind="submit", actor_id=actor.id, text=text_, link=link_, at=now)
    session.add(event)
    session.flush()
    for f in stored:
        ev = OccurrenceEvidence(occurrence_id=occ.id, event_id=event.id, uploaded_by_id=actor.id)
        ev.set_stored(f)
        session.add(ev)
    occ.status, occ.submitted_at, occ.submitted_by_id = OccurrenceStatus.submitted, now, actor.id
    occ.closed_reason = reason if waiting else None
    if occ.kind is OccurrenceKind.appointment and responsible is not None:   # required above for appointments
        t = occ.target
        t.responsible_name = responsible["name"].strip()[:300]
        t.responsible_position = (responsible.get("position") or "").strip()[:300] or None
        t.responsible_user_id = responsible.get("user_id")
    session.flush()
    audit.record("occurrence.submit", occ, actor=actor, before={"status": before.value},
                 after={"status": occ.status.value}, files=[s.sha256 for s in stored], link=bool(link_),
                 closed_with_reason=bool(occ.closed_reason))
    _notify_reviewers(occ, f"Отчёт на проверку: {occ.org.display_name} — {occ.assignment.title[:150]} "
                           f"(срок {ru(occ.due_date)})")
    return event


def accept(occ: Occurrence, *, actor) -> None:
    if occ.status is not OccurrenceStatus.submitted:
        raise AssignmentError("Принять можно только отчёт, который на проверке.")
    if occ.submitted_by_id is not None and occ.submitted_by_id == actor.id:
        raise AssignmentError("Свой собственный отчёт принять нельзя: его принимает вышестоящий орган.")
    now = utcnow()
    occ.status, occ.accepted_by_id = OccurrenceStatus.accepted, actor.id
    occ.completed_at = occ.submitted_at
    occ.late = occ.completed_at is not None and occ.completed_at.astimezone(MOSCOW).date() > occ.due_date
    session.add(OccurrenceEvent(occurrence=occ, kind="accept", actor_id=actor.id, at=now))
    session.flush()
    audit.record("occurrence.accept", occ, actor=actor, before={"status": "submitted"},
                 after={"status": "accepted", "late": occ.late})
    _notify_org(occ, "occurrence.accepted", f"Принято: {occ.assignment.title[:150]} (срок {ru(occ.due_date)})")
    if occ.parent_id is not None:
        _complete_parent(occ.parent_id)


def return_(occ: Occurrence, *, actor, comment: str) -> None:
    comment = (comment or "").strip()
    if occ.status is not OccurrenceStatus.submitted:
        raise AssignmentError("Вернуть можно только отчёт, который на проверке.")
    if not comment:
        raise AssignmentError("Напишите, что нужно доработать: без комментария отчёт не возвращается.")
    occ.status = OccurrenceStatus.returned
    session.add(OccurrenceEvent(occurrence=occ, kind="return", actor_id=actor.id, text=comment, at=utcnow()))
    session.flush()
    audit.record("occurrence.return", occ, actor=actor, before={"status": "submitted"}, after={"status": "returned"})
    _notify_org(occ, "occurrence.returned", f"Возвращено на доработку: {occ.assignment.title[:150]} — {comment[:300]}")


def extend(occ: Occurrence, *, actor, new_due: dt.date, reason: str) -> None:
    """A later due date, with its reason and who granted it; an overdue occurrence becomes open again."""
    reason = (reason or "").strip()
    if occ.status not in OPEN_STATUSES:
        raise AssignmentError("Продлить можно только срок, который ещё не исполнен.")
    if not reason:
        raise AssignmentError("Укажите причину продления срока.")
    if new_due is None or new_due <= occ.due_date:
        raise AssignmentError(f"Новый срок должен быть позже текущего ({ru(occ.due_date)}).")
    old = occ.due_date
    before = occ.status
    occ.due_date = new_due
    if occ.status is OccurrenceStatus.overdue and new_due >= today():
        occ.status = OccurrenceStatus.returned if occ.submitted_at else OccurrenceStatus.pending
    session.add(OccurrenceEvent(occurrence=occ, kind="extend", actor_id=actor.id, text=reason, old_due=old,
                                new_due=new_due, at=utcnow()))
    session.flush()
    audit.record("occurrence.extend", occ, actor=actor, before={"due_date": old.isoformat(), "status": before.value},
                 after={"due_date": new_due.isoformat(), "status": occ.status.value}, reason=reason)
    _notify_org(occ, "occurrence.extended", f"Срок продлён до {ru(new_due)}: {occ.assignment.title[:150]}")


def _complete_parent(parent_id: int) -> None:
    """The municipality's occurrence goes to the region for acceptance once all its schools' are accepted."""
    parent = lock(parent_id)
    if parent is None or parent.status not in OPEN_STATUSES:
        return
    waiting, total = open_children(parent)
    if waiting or not total:
        return
    before = parent.status
    now = utcnow()
    parent.status, parent.submitted_at, parent.submitted_by_id = OccurrenceStatus.submitted, now, None
    session.add(OccurrenceEvent(occurrence=parent, kind="auto_submit", at=now,
                                text=f"Все школы выполнили поручение: принято {total} из {total}."))
    session.flush()
    audit.record("occurrence.auto_submit", parent, before={"status": before.value}, after={"status": "submitted"},
                 children=total)
    _notify_reviewers(parent, f"Все школы {parent.org.display_name} выполнили: {parent.assignment.title[:150]} "
                              f"(срок {ru(parent.due_date)}) — на проверку")


def mark_overdue(day: dt.date | None = None) -> int:
    """The daily sweep: open occurrences whose due date has passed become overdue. One audit entry per
    assignment lists the occurrences it changed; one history event per occurrence."""
    day = day or today()
    now = utcnow()
    rows = session.execute(text("""
        UPDATE occurrences SET status = 'overdue', updated_at = :now
        WHERE status IN ('pending', 'returned') AND due_date < :day
        RETURNING id, assignment_id"""), {"now": now, "day": day}).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    session.execute(text("""
        INSERT INTO occurrence_events (occurrence_id, kind, at, text)
        SELECT unnest(CAST(:ids AS bigint[])), 'overdue', :now, :text"""),
                    {"ids": ids, "now": now, "text": f"Срок прошёл без ответа (проверка {ru(day)})."})
    by_assignment: dict[int, list[int]] = {}
    for r in rows:
        by_assignment.setdefault(r.assignment_id, []).append(r.id)
    for aid, occ_ids in sorted(by_assignment.items()):
        audit.record("occurrence.overdue", object_type="Assignment", object_id=aid, day=day.isoformat(),
                     count=len(occ_ids), occurrence_ids=occ_ids)
    _expire_occurrences()
    log.info("overdue on %s: %d occurrences", day, len(ids))
    return len(ids)


# ---- evidence files -------------------------------------------------------------------------------------

def evidence_key(sha256: str) -> str:
    return f"evidence/{sha256[:2]}/{sha256}"


def _store(f: Upload) -> file_store.Stored:
    """Write the bytes once under a key made from their SHA-256 (a retry or the same file from another school
    reuses the object), in the ordinary files store."""
    sha = hashlib.sha256(f.data).hexdigest()
    name = file_store.safe_filename(f.filename)
    try:
        return file_store.put_once("files", evidence_key(sha), f.data, filename=name,
                              content_type=(f.content_type or "application/octet-stream")[:200])
    except file_store.FileStoreError as exc:
        raise AssignmentError(str(exc)) from None


def read_evidence(ev: OccurrenceEvidence) -> bytes:
    return file_store.read_verified(ev)


# ---- notifications ------------------------------------------------------------------------------------------

def _notify_org(occ: Occurrence, kind: str, message: str) -> None:
    users = notifications.users_with("assignment.submit", [occ.org_id])
    for uid in (occ.submitted_by_id, occ.target.responsible_user_id):
        if uid and uid not in users:
            users.append(uid)
    notifications.notify(users, kind, message, url=f"/assignments/occurrences/{occ.id}", occurrence_id=occ.id)


def _notify_reviewers(occ: Occurrence, message: str) -> None:
    orgs = {occ.assignment.assigner_id}
    if occ.org.parent_id:
        orgs.add(occ.org.parent_id)
    users = notifications.users_with("assignment.accept", sorted(orgs))
    notifications.notify(users, "occurrence.submitted", message, url=f"/assignments/occurrences/{occ.id}",
                         occurrence_id=occ.id)
