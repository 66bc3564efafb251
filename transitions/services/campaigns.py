"""Campaigns and their stage definitions. They flush; they never commit."""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from core import audit
from core.db import session
from ordinances.models.ordinances import Ordinance
from ordinances.parsing.deadlines import find_deadline_phrases, parse_deadline
from orgs.models.organisations import Organisation, OrgKind, region_id_of
from transitions.models import (
    Campaign,
    SchoolStage,
    StageDef,
    StageDue,
    StageKind,
    StageStatus,
)
from transitions.services.common import DEFAULT_STAGES, FIXED_KINDS, PLATFORMS, TransitionError


def create_campaign(*, region: Organisation, title: str, target_date: date, reply_deadline: date | None = None,
                    ordinance: Ordinance | None = None, actor=None) -> Campaign:
    """`region`: who runs it — the region, or a municipality for its own schools."""
    title = (title or "").strip()
    errors = []
    owner = region
    if owner.kind not in (OrgKind.region, OrgKind.municipality):
        errors.append("Кампанию перехода проводит регион или муниципалитет.")
    region = owner if owner.kind is not OrgKind.municipality else \
        session.get_one(Organisation, region_id_of(owner))
    if not title:
        errors.append("Укажите название кампании, например «Безбумажное ведение с 01.09.2014».")
    if not isinstance(target_date, date):
        errors.append("Укажите дату перехода на безбумажное ведение.")
    elif reply_deadline is not None and reply_deadline > target_date:
        errors.append(f"Срок ответа муниципалитетов ({reply_deadline:%d.%m.%Y}) позже даты перехода "
                      f"({target_date:%d.%m.%Y}).")
    if ordinance is not None and not ordinance.issuer.is_within(region):
        errors.append("Документ-основание издан не в этом регионе.")
    if errors:
        raise TransitionError(errors)
    c = Campaign(region=region, owner=owner, title=title, target_date=target_date, reply_deadline=reply_deadline,
                 ordinance=ordinance, created_by_id=getattr(actor, "id", None))
    c.stages = [StageDef(position=i, **s) for i, s in enumerate(DEFAULT_STAGES)]
    _apply_platform(c)
    session.add(c)
    session.flush()
    audit.record("transition.campaign.create", c, actor=actor,
                 after={"title": title, "owner_id": owner.id, "target_date": target_date,
                        "reply_deadline": reply_deadline, "ordinance_id": ordinance.id if ordinance else None})
    return c


# How orders name the journal platforms (transitions.services.common.PLATFORMS' keys).
_PLATFORM_NAMES = (("dnevnik_ru", re.compile(r"дневник\.(?:ru|ру)|dnevnik\.ru", re.I)),
                   ("chronograph", re.compile(r"хронограф", re.I)),
                   ("eor_rt", re.compile(r"электронное образование в республике татарстан|\bэор\b", re.I)))


def platform_named(o: Ordinance) -> tuple[str, str] | None:
    """(platform key, where) of the journal platform the document prescribes, e.g. ("dnevnik_ru", "п. 1.1")."""
    texts = [(f"п. {c.number}" if c.number else "текст", c.text) for c in o.clauses]
    texts += [("текст", p) for p in o.body]
    for where, text in texts:
        for key, pattern in _PLATFORM_NAMES:
            if pattern.search(text):
                return key, where
    return None


def _apply_platform(c: Campaign) -> None:
    """The platform the basis document names goes into the campaign and its platform stage's hint."""
    named = platform_named(c.ordinance) if c.ordinance is not None else None
    c.platform = named[0] if named else None
    stage = next((s for s in c.stages if s.kind is StageKind.platform), None)
    if named and stage is not None and c.ordinance is not None:
        stage.hint = (f"По документу-основанию ({c.ordinance.label}, {named[1]}) — {PLATFORMS[named[0]]}; "
                      "адрес школы на платформе.")


def document_dates(o: Ordinance) -> tuple[date | None, date | None]:
    """(reply deadline, target date) as the document states them, so nobody retypes them.

    «с 1 сентября 2014 года», «с нового учебного года» (work from then on) and «к 1 января 2014 года» give the
    target; a plain due date («в срок до 03.06.14») is the municipalities' reply. The first of each counts."""
    reply = target = None
    for text in [*o.body, *(c.text for c in o.clauses)]:
        for phrase in find_deadline_phrases(text):
            d = parse_deadline(phrase, ref_date=o.date)
            wording = phrase.strip().lower()
            if d.kind == "continuous" and d.dtstart and wording.startswith("с "):
                target = target or d.dtstart
            elif d.kind == "once" and d.dates:
                if wording.startswith("к "):
                    target = target or d.dates[0]
                else:
                    reply = reply or d.dates[0]
    return reply, target


def update_campaign(c: Campaign, *, title: str, target_date: date, reply_deadline: date | None,
                    ordinance: Ordinance | None, actor=None) -> None:
    title = (title or "").strip()
    if not title:
        raise TransitionError("Укажите название кампании.")
    if reply_deadline is not None and reply_deadline > target_date:
        raise TransitionError(f"Срок ответа муниципалитетов ({reply_deadline:%d.%m.%Y}) позже даты перехода "
                              f"({target_date:%d.%m.%Y}).")
    if ordinance is not None and not ordinance.issuer.is_within(c.region):
        raise TransitionError("Документ-основание издан не в этом регионе.")
    before = {"title": c.title, "target_date": c.target_date, "reply_deadline": c.reply_deadline,
              "ordinance_id": c.ordinance_id}
    c.title, c.target_date, c.reply_deadline, c.ordinance = title, target_date, reply_deadline, ordinance
    if ordinance is not None and ordinance.id != before["ordinance_id"]:
        _apply_platform(c)
    session.flush()
    audit.record("transition.campaign.update", c, actor=actor, before=before,
                 after={"title": title, "target_date": target_date, "reply_deadline": reply_deadline,
                        "ordinance_id": c.ordinance_id})


def campaigns_visible(scopes: list[Organisation]) -> list[Campaign]:
    """Campaigns of the regions the user's scopes lie in (a school sees its region's campaign); a municipality's
    campaign only within that municipality and above it."""
    region_ids = {region_id_of(o) for o in scopes}
    if not region_ids:
        return []
    found = session.scalars(select(Campaign).where(Campaign.region_id.in_(region_ids))
                            .order_by(Campaign.target_date.desc(), Campaign.id.desc()))
    return [c for c in found if may_see(c, scopes)]


def may_see(c: Campaign, scopes: list[Organisation]) -> bool:
    return c.owner_id == c.region_id or any(o.is_within(c.owner) or c.owner.is_within(o) for o in scopes)


def _stage_in_use(stage: StageDef) -> bool:
    return bool(session.scalar(select(func.count()).select_from(SchoolStage)
                               .where(SchoolStage.stage_id == stage.id, SchoolStage.status != StageStatus.pending)))


def update_stage(stage: StageDef, *, title: str, basis: str | None = None, hint: str | None = None,
                 requires_order: bool = False, requires_file: bool = False, due_date: date | None = None,
                 actor=None) -> None:
    title = (title or "").strip()
    if not title:
        raise TransitionError(f"Этап {stage.position + 1}: название не может быть пустым.")
    _check_due(stage, due_date)
    before = {"title": stage.title, "basis": stage.basis, "requires_order": stage.requires_order,
              "requires_file": stage.requires_file, "due_date": stage.due_date}
    stage.title, stage.basis, stage.hint = title, (basis or "").strip() or None, (hint or "").strip() or None
    stage.due_date = due_date
    if stage.kind is StageKind.document:
        stage.requires_order, stage.requires_file = bool(requires_order), bool(requires_file)
    session.flush()
    audit.record("transition.stage.update", stage, actor=actor, before=before,
                 after={"title": stage.title, "basis": stage.basis, "requires_order": stage.requires_order,
                        "requires_file": stage.requires_file, "due_date": stage.due_date})


def _check_due(stage: StageDef, due_date: date | None) -> None:
    target = stage.campaign.target_date
    if due_date is not None and target is not None and due_date > target:
        raise TransitionError(f"Срок этапа «{stage.title}» ({due_date:%d.%m.%Y}) позже даты перехода "
                              f"({target:%d.%m.%Y}).")


def set_stage_due(stage: StageDef, municipality: Organisation, due_date: date | None, *, actor=None) -> None:
    """A municipality's own due date for a stage (None: the campaign's applies again)."""
    if municipality.kind is not OrgKind.municipality or not municipality.is_within(stage.campaign.region):
        raise TransitionError("Срок по муниципалитету задаётся для муниципалитета этого региона.")
    _check_due(stage, due_date)
    row = next((d for d in stage.due_by_municipality if d.municipality_id == municipality.id), None)
    before = row.due_date if row else None
    if due_date is None:
        if row is not None:
            stage.due_by_municipality.remove(row)
    elif row is None:
        stage.due_by_municipality.append(StageDue(municipality_id=municipality.id, due_date=due_date))
    else:
        row.due_date = due_date
    session.flush()
    audit.record("transition.stage.due", stage, actor=actor, before={"due_date": before},
                 after={"municipality_id": municipality.id, "due_date": due_date})


def add_stage(c: Campaign, *, title: str, basis: str | None = None, hint: str | None = None,
              requires_order: bool = False, requires_file: bool = False, actor=None) -> StageDef:
    """A custom document stage, placed before the director's confirmation."""
    title = (title or "").strip()
    if not title:
        raise TransitionError("Укажите название нового этапа.")
    fixed = min((s.position for s in c.stages if s.kind in FIXED_KINDS), default=len(c.stages))
    for s in c.stages:
        if s.position >= fixed:
            s.position += 1
    used = {s.code for s in c.stages}
    n = 1
    while f"custom-{n}" in used:
        n += 1
    stage = StageDef(position=fixed, code=f"custom-{n}", kind=StageKind.document, title=title,
                     basis=(basis or "").strip() or None, hint=(hint or "").strip() or None,
                     requires_order=bool(requires_order), requires_file=bool(requires_file))
    c.stages.append(stage)
    session.flush()
    _renumber(c)
    audit.record("transition.stage.add", stage, actor=actor, after={"campaign_id": c.id, "title": title})
    return stage


def remove_stage(stage: StageDef, *, actor=None) -> None:
    if stage.kind in FIXED_KINDS:
        raise TransitionError(f"Этап «{stage.title}» обязателен и не удаляется.")
    if _stage_in_use(stage):
        raise TransitionError(f"По этапу «{stage.title}» школы уже представили подтверждения: удалить его нельзя.")
    c = stage.campaign
    audit.record("transition.stage.remove", stage, actor=actor, before={"campaign_id": c.id, "title": stage.title})
    c.stages.remove(stage)
    session.flush()
    _renumber(c)


def move_stage(stage: StageDef, delta: int, *, actor=None) -> None:
    """Move a stage up (-1) or down (+1) among the ordinary stages; the two final stages stay last."""
    c = stage.campaign
    movable = [s for s in c.stages if s.kind not in FIXED_KINDS]
    if stage not in movable:
        raise TransitionError(f"Этап «{stage.title}» всегда идёт в конце.")
    i = movable.index(stage)
    j = i + (1 if delta > 0 else -1)
    if not 0 <= j < len(movable):
        return
    other = movable[j]
    stage.position, other.position = other.position, stage.position
    session.flush()
    session.expire(c, ["stages"])        # reload in the new order
    audit.record("transition.stage.move", stage, actor=actor, after={"position": stage.position})


def _renumber(c: Campaign) -> None:
    ordered = sorted(c.stages, key=lambda s: s.position)
    for i, s in enumerate(ordered):
        s.position = i
    session.flush()
    session.expire(c, ["stages"])
