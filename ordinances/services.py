"""Registering ordinances and their plans. Services flush; they never commit."""
import hashlib
from datetime import date

from sqlalchemy import select

from core import audit
from core.db import session, utcnow
from core.signals import ordinance_in_force
from ordinances.executors import match_executor, match_person, region_of
from ordinances.models.ordinances import (
    ApprovalEntry,
    Attachment,
    Clause,
    Controller,
    DeadlineKind,
    Executor,
    ExecutorKind,
    Ordinance,
    OrdinanceKind,
    OrdinanceStatus,
    Plan,
    PlanItem,
    PlanSection,
)
from ordinances.parsing.deadlines import parse_deadline
from orgs.models.organisations import Organisation


class OrdinanceError(ValueError):
    pass


# Allowed status moves: draft → in force → executed or repealed.
TRANSITIONS = {
    OrdinanceStatus.draft: {OrdinanceStatus.in_force},
    OrdinanceStatus.in_force: {OrdinanceStatus.executed, OrdinanceStatus.repealed},
    OrdinanceStatus.executed: set(),
    OrdinanceStatus.repealed: set(),
}


def _parse_iso(value) -> date | None:
    if not value:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise OrdinanceError(f"Неверная дата «{value}»: нужен формат ГГГГ-ММ-ДД.") from None


def create_from_parsed(data: dict, *, issuer: Organisation, actor=None, source_filename: str | None = None,
                       source: bytes | None = None, amends: Ordinance | None = None) -> Ordinance:
    """Save a (possibly corrected) parse result as a draft ordinance with its plan."""
    o = Ordinance(source_filename=source_filename, amends=amends, status=OrdinanceStatus.draft,
                  source_sha256=hashlib.sha256(source).hexdigest() if source is not None else None,
                  created_by_id=getattr(actor, "id", None))
    _apply(o, data, issuer)
    session.add(o)
    session.flush()
    audit.record("ordinance.create", o, actor=actor,
                 after={"label": o.label, "title": o.title, "amends": amends.id if amends else None})
    return o


def _apply(o: Ordinance, data: dict, issuer: Organisation) -> None:
    """Set every field of `o` from parser-shaped `data`, validating first so nothing is half-set."""
    try:
        kind = OrdinanceKind(data.get("kind") or "приказ")
    except ValueError:
        raise OrdinanceError(f"Неизвестный вид документа «{data.get('kind')}».") from None
    title = (data.get("title") or "").strip()
    if not title:
        raise OrdinanceError("Не указан заголовок документа.")
    doc_date = _parse_iso(data.get("date"))
    signatory = data.get("signatory") or {}
    o.kind, o.issuer, o.issuer_text, o.number = kind, issuer, data.get("issuer"), data.get("number") or None
    o.date, o.place, o.title, o.preamble = doc_date, data.get("place"), title, data.get("preamble")
    o.body, o.basis = list(data.get("body") or []), list(data.get("basis") or [])
    o.signatory_name, o.signatory_position = signatory.get("name"), signatory.get("position")
    o.distribution, o.warnings = list(data.get("distribution") or []), list(data.get("warnings") or [])
    _fill(o, data, doc_date, region_of(issuer))


def _fill(o: Ordinance, data: dict, doc_date: date | None, region: Organisation) -> None:
    if o.id is not None and o.plan is not None:
        o.plan = None          # a draft's edit: the old plan and clause duties go first (plans.ordinance_id is unique)
        session.flush()
    kept = [c for c in data.get("clauses") or [] if (c.get("text") or "").strip()]
    o.clauses = [Clause(position=i, number=c.get("number"), parent_number=c.get("parent"), text=c["text"])
                 for i, c in enumerate(kept)]
    # «Контроль … оставляю за собой»: the signatory controls it.
    signatory = (data.get("signatory") or {}).get("name")
    o.controllers = [_controller(i, c, signatory, region) for i, c in enumerate(data.get("controllers") or [])]
    approval = data.get("approval") or {}
    entries = []
    if (author := approval.get("author")) and author.get("name"):
        entries.append(("author", author))
    entries += [("agreed", a) for a in approval.get("agreed") or [] if a.get("name")]
    o.approvals = [ApprovalEntry(position=i, role=role, name=a["name"], job_title=a.get("position"),
                                 phone=(a.get("phone") or "").strip()[:50] or None)
                   for i, (role, a) in enumerate(entries)]
    o.attachments = [Attachment(position=i, number=str(a.get("number") or "") or None, title=a.get("title") or "")
                     for i, a in enumerate(data.get("attachments") or [])]
    plan = data.get("plan") if (data.get("plan") or {}).get("sections") else None
    sections = _sections(plan, doc_date, region) if plan else []
    duties = [_clause_duty(i, c, clause, doc_date, region)
              for i, (c, clause) in enumerate(zip(kept, o.clauses)) if c.get("executors")]
    if duties:
        sections.append(PlanSection(position=len(sections), number=None, title=CLAUSE_SECTION_TITLE,
                                    from_clauses=True, items=duties))
    title = (plan or {}).get("title") or ("План мероприятий" if plan else "Поручения по документу")
    o.plan = Plan(title=title, sections=sections) if sections else None


def _controller(position: int, c: dict, signatory: str | None, region: Organisation) -> Controller:
    """«Контроль … возложить на М.Ш. Соседову»: the person, found among the region's users when they are there."""
    name = c.get("name") or (signatory if c.get("is_signatory") else None) or c.get("text") or "—"
    user = match_person(name, region)
    return Controller(position=position, job_title=c.get("position"), scope=c.get("scope"), name=name,
                      user_id=user.id if user else None)


# The section of an order's plan that holds the duties of its clauses.
CLAUSE_SECTION_TITLE = "По пунктам документа"


def _sections(plan: dict, doc_date: date | None, region: Organisation) -> list[PlanSection]:
    sections = []
    for si, s in enumerate(plan["sections"]):
        items = [_item(ii, it, doc_date, region) for ii, it in enumerate(s.get("items") or [])
                 if (it.get("title") or "").strip()]
        sections.append(PlanSection(position=si, number=s.get("number"), title=s.get("title"), items=items))
    return sections


def _clause_duty(position: int, c: dict, clause: Clause, doc_date: date | None, region: Organisation) -> PlanItem:
    """A clause with executors: a plan item of the clauses' section, tied to its clause."""
    item = _item(position, {"number": c.get("number"), "title": c["text"], "executors": c.get("executors"),
                            "deadline": c.get("deadline")}, doc_date, region)
    item.clause = clause
    return item


def _item(position: int, it: dict, doc_date: date | None, region: Organisation) -> PlanItem:
    # The wording is the source of truth: the rule is parsed again from it (it may have been corrected).
    wording = (it.get("deadline") or {}).get("text") if isinstance(it.get("deadline"), dict) else it.get("deadline")
    d = parse_deadline(wording or "", ref_date=doc_date)
    executors = []
    for i, text in enumerate(it.get("executors") or []):
        m = match_executor(text, region)
        executors.append(Executor(position=i, text=text, kind=m.kind, user_id=m.user_id,
                                  organisation_id=m.organisation_id, group_roles=m.group_roles,
                                  group_kinds=m.group_kinds))
    return PlanItem(position=position, number=it.get("number"), title=it["title"].strip(),
                    executors_text=it.get("executors_text") or "; ".join(it.get("executors") or []),
                    result=it.get("result") or None, deadline_text=d.text, deadline_kind=DeadlineKind(d.kind),
                    rrule=d.rrule, dtstart=d.dtstart, until=d.until, dates=list(d.dates),
                    warnings=list(d.warnings), executors=executors)


def update_draft(o: Ordinance, data: dict, *, issuer: Organisation, actor=None) -> None:
    """Replace a draft's content with corrected data."""
    if not o.editable:
        raise OrdinanceError("Действующий документ нельзя изменить: оформите новый документ, "
                             "который вносит в него изменения.")
    before = {"label": o.label, "title": o.title}
    _apply(o, data, issuer)
    session.flush()
    audit.record("ordinance.update", o, actor=actor, before=before, after={"label": o.label, "title": o.title})


def set_status(o: Ordinance, status: OrdinanceStatus, *, actor) -> None:
    if status not in TRANSITIONS[o.status]:
        raise OrdinanceError(f"Нельзя перевести документ из состояния «{o.status.label}» в «{status.label}».")
    before = o.status
    o.status, o.status_changed_at, o.status_changed_by_id = status, utcnow(), actor.id
    session.flush()
    audit.record("ordinance.status", o, actor=actor, before={"status": before.value}, after={"status": status.value})
    if before is OrdinanceStatus.draft:   # in force: the order's files go to the legal archive (same transaction)
        ordinance_in_force.send(o, actor=actor)


def amendments(o: Ordinance) -> list[Ordinance]:
    return list(session.scalars(select(Ordinance).where(Ordinance.amends_id == o.id).order_by(Ordinance.date)))


def to_dict(o: Ordinance) -> dict:
    """The same shape as the parser's output (plus ids and status), for the API and the edit form."""
    table = [s for s in o.plan.sections if not s.from_clauses] if o.plan else []
    return {
        "id": o.id, "kind": o.kind.value, "issuer_id": o.issuer_id, "issuer": o.issuer_text, "number": o.number,
        "date": o.date.isoformat() if o.date else None, "place": o.place, "title": o.title,
        "preamble": o.preamble, "body": o.body, "basis": o.basis, "status": o.status.value,
        "amends_id": o.amends_id,
        "signatory": {"name": o.signatory_name, "position": o.signatory_position},
        "clauses": [clause_dict(c) for c in o.clauses],
        "controllers": [{"name": c.name, "position": c.job_title, "scope": c.scope} for c in o.controllers],
        "approval": {
            "author": next(({"name": a.name, "position": a.job_title, "phone": a.phone}
                            for a in o.approvals if a.role == "author"), None),
            "agreed": [{"name": a.name, "position": a.job_title} for a in o.approvals if a.role == "agreed"]},
        "attachments": [{"number": a.number, "title": a.title} for a in o.attachments],
        "distribution": o.distribution,
        "plan": None if o.plan is None or not table else {"title": o.plan.title, "sections": [
            {"number": s.number, "title": s.title, "items": [item_dict(it) for it in s.items]} for s in table]},
        "warnings": o.warnings + [w for it in (o.plan.items if o.plan else []) for w in it.warnings
                                  if w not in o.warnings],
    }


def clause_dict(c: Clause) -> dict:
    """A clause as the parser gives it; a duty's executors and deadline as its plan item holds them."""
    d = c.duty
    return {"number": c.number, "parent": c.parent_number, "text": c.text,
            "executors": [e.text for e in d.executors] if d else [],
            "deadline": item_dict(d)["deadline"] if d else None, "plan_item_id": d.id if d else None}


def item_dict(it: PlanItem) -> dict:
    return {"id": it.id, "number": it.number, "title": it.title, "result": it.result,
            "executors": [e.text for e in it.executors],
            "executor_matches": [{"text": e.text, "kind": e.kind.value, "user_id": e.user_id,
                                  "organisation_id": e.organisation_id, "roles": e.group_roles,
                                  "kinds": e.group_kinds} for e in it.executors],
            "deadline": {"text": it.deadline_text, "kind": it.deadline_kind.value, "rrule": it.rrule,
                         "dtstart": it.dtstart.isoformat() if it.dtstart else None,
                         "dates": [d.isoformat() for d in it.dates], "warnings": it.warnings}}


def resolve_executor(executor: Executor, *, user_id: int | None = None, organisation_id: int | None = None,
                     actor=None) -> None:
    """The user's pick for an executor the import could not match: a person or an organisation."""
    from orgs.models.users import User
    if (user_id is None) == (organisation_id is None):
        raise OrdinanceError("Выберите либо сотрудника, либо организацию.")
    before = {"kind": executor.kind.value, "user_id": executor.user_id, "organisation_id": executor.organisation_id}
    from ordinances.models.ordinances import Plan, PlanItem, PlanSection
    ordinance = session.scalars(select(Ordinance).join(Plan, Plan.ordinance_id == Ordinance.id)
                                .join(PlanSection, PlanSection.plan_id == Plan.id)
                                .join(PlanItem, PlanItem.section_id == PlanSection.id)
                                .where(PlanItem.id == executor.item_id)).one()
    people, orgs = executor_choices(ordinance)                            # the issuer's region only
    if user_id is not None:
        if session.get(User, user_id) is None or user_id not in {u.id for u in people}:
            raise OrdinanceError("Сотрудник не найден среди сотрудников региона документа.")
        executor.kind, executor.user_id, executor.organisation_id = ExecutorKind.person, user_id, None
    else:
        if session.get(Organisation, organisation_id) is None or organisation_id not in {o.id for o in orgs}:
            raise OrdinanceError("Организация не найдена среди органов и учреждений региона документа.")
        executor.kind, executor.user_id, executor.organisation_id = ExecutorKind.organisation, None, organisation_id
    executor.group_roles, executor.group_kinds = [], []
    session.flush()
    audit.record("ordinance.executor", executor, actor=actor, before=before,
                 after={"kind": executor.kind.value, "user_id": user_id, "organisation_id": organisation_id})


def executor_choices(o: Ordinance) -> tuple[list, list]:
    """People and organisations of the issuer's region, for picking unmatched executors."""
    from orgs.models.organisations import subtree
    from orgs.models.users import RoleGrant, User
    region = region_of(o.issuer)
    users = session.scalars(select(User).where(User.id.in_(
        select(RoleGrant.user_id).join(Organisation).where(subtree(region)))).order_by(User.full_name)).all()
    orgs = session.scalars(select(Organisation).where(subtree(region), Organisation.kind != "school")
                           .order_by(Organisation.path)).all()
    return list(users), list(orgs)
