"""Operations on transition campaigns. They flush; they never commit.

Campaign → stage definitions (defaults from the seed documents, editable per campaign) →
recommended list (Перечень) → municipal replies on the form (Приложение 2) → final list →
per-school stage states with evidence, accepted or returned by the municipality → the director's
signed readiness statement (PAdES, kept in the archive) → paperless from a date.

"Today" comes from Python's clock in Moscow time (`today()`), never from SQL `now()`, so tests
can freeze it.
"""
from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath
from urllib.parse import urlsplit

from sqlalchemy import func, select

from core import audit, records
from core import files as file_store
from core.clock import MOSCOW, add_years, today  # noqa: F401  (svc.today() in views)
from core.db import session, utcnow
from core.files import EVIDENCE_SUFFIXES, MAX_EVIDENCE_FILE
from ordinances.models.ordinances import Ordinance
from orgs.models.organisations import Organisation, OrgKind, subtree
from transitions.models import (
    Campaign,
    Evidence,
    MunicipalReply,
    ReadinessStatement,
    RecommendedSchool,
    ReplyDecision,
    ReplyLine,
    SchoolStage,
    StageDef,
    StageEvent,
    StageKind,
    StageStatus,
    StatementKind,
)

log = logging.getLogger(__name__)

STATEMENT_RETENTION_YEARS = 5          # readiness statements: 5 years (like class journals)

PLATFORMS = {"dnevnik_ru": "Дневник.ру", "chronograph": "1С:ХроноГраф Школа", "eor_rt": "ЭОР РТ",
             "other": "Другая платформа"}
PARENTS_SECTION = "Муниципальная услуга"

# The default stages, from the seed documents: 000 (Tambov letter, 2014), 001 (order № 3116),
# 003 (Chelyabinsk letter № 01/4817), 004 (Krasnodar order № 271).
DEFAULT_STAGES: list[dict] = [
    dict(code="responsible", kind=StageKind.document, requires_order=True,
         title="Назначен ответственный за ведение электронных журналов (приказ по школе)",
         basis="Приказ № 3116 от 08.11.2010, план п. 2.1; приказ № 271 от 26.04.2011, п. 3.2",
         hint="Номер и дата приказа по школе о назначении ответственного; скан приказа — по желанию."),
    dict(code="platform", kind=StageKind.platform,
         title="Выбрана и активирована платформа электронного журнала",
         basis="Приказ № 3116, п. 1.1, план п. 2.2–2.3; письмо № 01/4817 от 07.10.2010",
         hint="Дневник.ру, 1С:ХроноГраф Школа, ЭОР РТ или другая платформа; адрес школы на платформе."),
    dict(code="regulation", kind=StageKind.document, requires_order=True, requires_file=True,
         title="Принято Положение о ведении электронных журналов и дневников",
         basis="Приказ № 271 от 26.04.2011, п. 1 и 3.1",
         hint="Приказ об утверждении Положения (номер, дата) и файл Положения."),
    dict(code="charter", kind=StageKind.document,
         title="Внесены изменения в устав и локальные акты школы",
         basis="Письмо № 01/4817 от 07.10.2010",
         hint="Документ о внесении изменений (номер и дата) и/или его файл."),
    dict(code="parents_link", kind=StageKind.parents_link,
         title="Ссылка для родителей размещена в разделе «Муниципальная услуга» сайта школы",
         basis="Приказ № 271 от 26.04.2011, п. 3.4",
         hint="Адрес страницы раздела «Муниципальная услуга» на сайте школы (http:// или https://)."),
    dict(code="trial", kind=StageKind.trial,
         title="Журналы ведутся в электронном виде (апробационный период)",
         basis="Приказ № 271, п. 2.2 и 3.3; апробация 2013 г. (письмо о переходе с 01.09.2014)",
         hint="С какого числа (и по какое) журналы ведутся в электронном виде параллельно с бумажными."),
    dict(code="readiness", kind=StageKind.readiness,
         title="Готовность подтверждена директором (заявление с электронной подписью)",
         basis="Письмо о переходе на безбумажное ведение с 01.09.2014",
         hint="Заявление формируется системой по принятым этапам и подписывается директором."),
    dict(code="paperless", kind=StageKind.paperless,
         title="Журналы ведутся только в электронном виде (безбумажно) с даты",
         basis="Письмо о переходе на безбумажное ведение с 01.09.2014",
         hint="Дата, с которой бумажные журналы не ведутся."),
]
FIXED_KINDS = (StageKind.readiness, StageKind.paperless)


class TransitionError(ValueError):
    """Bad input or a step not allowed now; the message (and `errors`) are Russian, safe to show."""

    def __init__(self, message: str | list[str]):
        self.errors = [message] if isinstance(message, str) else list(message)
        super().__init__("\n".join(str(e) for e in self.errors))


def school_label(school: Organisation) -> str:
    return f"«{school.display_name}» (код {school.code})"


# ---- campaigns and stages ---------------------------------------------------------------------------------

def create_campaign(*, region: Organisation, title: str, target_date: date, reply_deadline: date | None = None,
                    ordinance: Ordinance | None = None, actor=None) -> Campaign:
    title = (title or "").strip()
    errors = []
    if region.kind is not OrgKind.region:
        errors.append("Кампанию перехода проводит регион.")
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
    c = Campaign(region=region, title=title, target_date=target_date, reply_deadline=reply_deadline,
                 ordinance=ordinance, created_by_id=getattr(actor, "id", None))
    c.stages = [StageDef(position=i, **s) for i, s in enumerate(DEFAULT_STAGES)]
    session.add(c)
    session.flush()
    audit.record("transition.campaign.create", c, actor=actor,
                 after={"title": title, "target_date": target_date, "reply_deadline": reply_deadline,
                        "ordinance_id": ordinance.id if ordinance else None})
    return c


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
    session.flush()
    audit.record("transition.campaign.update", c, actor=actor, before=before,
                 after={"title": title, "target_date": target_date, "reply_deadline": reply_deadline,
                        "ordinance_id": c.ordinance_id})


def campaigns_visible(scopes: list[Organisation]) -> list[Campaign]:
    """Campaigns of the regions the user's scopes lie in (a school sees its region's campaign)."""
    region_ids = {int(o.path.strip("/").split("/")[0]) for o in scopes}
    if not region_ids:
        return []
    return list(session.scalars(select(Campaign).where(Campaign.region_id.in_(region_ids))
                                .order_by(Campaign.target_date.desc(), Campaign.id.desc())))


def _stage_in_use(stage: StageDef) -> bool:
    return bool(session.scalar(select(func.count()).select_from(SchoolStage)
                               .where(SchoolStage.stage_id == stage.id, SchoolStage.status != StageStatus.pending)))


def update_stage(stage: StageDef, *, title: str, basis: str | None = None, hint: str | None = None,
                 requires_order: bool = False, requires_file: bool = False, actor=None) -> None:
    title = (title or "").strip()
    if not title:
        raise TransitionError(f"Этап {stage.position + 1}: название не может быть пустым.")
    before = {"title": stage.title, "basis": stage.basis, "requires_order": stage.requires_order,
              "requires_file": stage.requires_file}
    stage.title, stage.basis, stage.hint = title, (basis or "").strip() or None, (hint or "").strip() or None
    if stage.kind is StageKind.document:
        stage.requires_order, stage.requires_file = bool(requires_order), bool(requires_file)
    session.flush()
    audit.record("transition.stage.update", stage, actor=actor, before=before,
                 after={"title": stage.title, "basis": stage.basis, "requires_order": stage.requires_order,
                        "requires_file": stage.requires_file})


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


# ---- recommended list (Перечень) ------------------------------------------------------------------------

def recommended(c: Campaign) -> list[RecommendedSchool]:
    rows = session.scalars(select(RecommendedSchool).join(Organisation, RecommendedSchool.school_id == Organisation.id)
                           .where(RecommendedSchool.campaign_id == c.id).order_by(Organisation.path)).all()
    return list(rows)


def region_schools(c: Campaign) -> list[Organisation]:
    return list(session.scalars(select(Organisation).where(subtree(c.region), Organisation.kind == OrgKind.school)
                                .order_by(Organisation.path)))


def region_municipalities(c: Campaign) -> list[Organisation]:
    return list(session.scalars(select(Organisation).where(Organisation.parent_id == c.region_id,
                                                           Organisation.kind == OrgKind.municipality)
                                .order_by(Organisation.name)))


def set_recommended(c: Campaign, schools: list[Organisation], *, actor=None, source: str | None = None) -> None:
    """Replace the recommended list. Only before it is published: after that the municipalities answer it."""
    if c.list_published:
        raise TransitionError("Перечень уже направлен муниципалитетам и не изменяется.")
    errors = [f"{school_label(s)}: это не школа региона кампании." for s in schools
              if s.kind is not OrgKind.school or not s.is_within(c.region)]
    if errors:
        raise TransitionError(errors)
    wanted = {s.id for s in schools}
    existing = {r.school_id: r for r in session.scalars(select(RecommendedSchool)
                                                          .where(RecommendedSchool.campaign_id == c.id))}
    for sid, row in existing.items():
        if sid not in wanted:
            session.delete(row)
    for sid in wanted - set(existing):
        session.add(RecommendedSchool(campaign_id=c.id, school_id=sid))
    session.flush()
    audit.record("transition.list.set", c, actor=actor, after={"schools": len(wanted), "source": source})


CODE_HEADERS = {"code", "код", "код_оо", "код_школы", "код_организации", "school_code"}


def schools_from_file(c: Campaign, data: bytes, filename: str) -> list[Organisation]:
    """Read a CSV/XLSX with one school code per row (column «Код»). Every bad row is named; nothing half-read."""
    from core.tabular import ImportFailed, RowError
    from orgs.importer import read_rows
    try:
        rows = read_rows(data, filename)
    except ImportFailed as exc:
        raise TransitionError([str(e) for e in exc.errors]) from None
    name = PurePath((filename or "").replace("\\", "/")).name or "файл"
    if not rows:
        raise TransitionError(f"{name}: в файле нет строк с кодами школ.")
    header = list(rows[0][1])
    column = next((h for h in header if h.strip().lower().replace(" ", "_") in CODE_HEADERS), None)
    if column is None:
        raise TransitionError(f"{name}, строка 1: нет столбца «Код» с кодами школ (найдены: "
                              f"{', '.join(h for h in header if h) or 'пустой заголовок'}).")
    codes = [(rowno, values.get(column, "")) for rowno, values in rows]
    found = {o.code: o for o in session.scalars(select(Organisation).where(
        Organisation.code.in_([code for _, code in codes if code])))}
    errors, schools, seen = [], [], {}
    for rowno, code in codes:
        if not code:
            errors.append(RowError(name, rowno, "code", None, "код школы не указан", column))
            continue
        org = found.get(code)
        if org is None:
            errors.append(RowError(name, rowno, "code", code, "нет организации с таким кодом", column))
        elif org.kind is not OrgKind.school:
            errors.append(RowError(name, rowno, "code", code, f"это не школа ({org.kind.label.lower()})", column))
        elif not org.is_within(c.region):
            errors.append(RowError(name, rowno, "code", code, "школа не из региона кампании", column))
        elif code in seen:
            errors.append(RowError(name, rowno, "code", code, f"код повторяется (уже в строке {seen[code]})", column))
        else:
            seen[code] = rowno
            schools.append(org)
    if errors:
        raise TransitionError([str(e) for e in errors])
    return schools


def publish_list(c: Campaign, *, actor=None) -> None:
    if c.list_published:
        raise TransitionError("Перечень уже направлен муниципалитетам.")
    if c.reply_deadline is None:
        raise TransitionError("Укажите срок ответа муниципалитетов, прежде чем направить перечень.")
    c.list_published_at, c.list_published_by_id = utcnow(), getattr(actor, "id", None)
    session.flush()
    audit.record("transition.list.publish", c, actor=actor,
                 after={"schools": len(recommended(c)), "reply_deadline": c.reply_deadline})


# ---- municipal replies (Приложение 2) ---------------------------------------------------------------------

def reply_of(c: Campaign, municipality: Organisation) -> MunicipalReply | None:
    return session.scalar(select(MunicipalReply).where(MunicipalReply.campaign_id == c.id,
                                                       MunicipalReply.municipality_id == municipality.id))


def municipality_schools(municipality: Organisation) -> list[Organisation]:
    return list(session.scalars(select(Organisation).where(Organisation.parent_id == municipality.id,
                                                           Organisation.kind == OrgKind.school)
                                .order_by(Organisation.name)))


def save_reply(c: Campaign, municipality: Organisation, lines: list[dict], *, submit: bool,
               contact_name: str | None = None, contact_phone: str | None = None, comment: str | None = None,
               actor=None) -> MunicipalReply:
    """Save (and with `submit`, send) the municipality's answer. `lines`: {school_id, decision, reason}.

    Every recommended school of the municipality needs «включена» or «исключена» (with a reason);
    schools of the municipality not on the list may be «добавлена». Late submissions are accepted and
    shown as late."""
    if not c.list_published:
        raise TransitionError("Перечень ещё не направлен муниципалитетам.")
    if municipality.kind is not OrgKind.municipality or municipality.parent_id != c.region_id:
        raise TransitionError("Отвечает муниципалитет региона кампании.")
    own = {s.id: s for s in municipality_schools(municipality)}
    recommended_ids = {r.school_id for r in recommended(c) if r.school_id in own}
    errors, clean, seen = [], [], set()
    for n, line in enumerate(lines, 1):
        sid = line.get("school_id")
        school = own.get(sid) if isinstance(sid, int) else None
        if school is None:
            other = session.get(Organisation, sid) if isinstance(sid, int) else None
            errors.append(f"Строка {n}: {school_label(other) if other else f'школа {sid!r}'} — "
                          f"не школа муниципалитета «{municipality.display_name}».")
            continue
        if sid in seen:
            errors.append(f"Строка {n}: школа {school_label(school)} указана дважды.")
            continue
        seen.add(sid)
        raw = (line.get("decision") or "").strip()
        if not raw:
            if sid in recommended_ids:
                errors.append(f"Школа {school_label(school)}: укажите решение — включена или исключена.")
            continue            # an unchecked «add» box
        try:
            decision = ReplyDecision(raw)
        except ValueError:
            errors.append(f"Школа {school_label(school)}: неизвестное решение «{raw}».")
            continue
        reason = (line.get("reason") or "").strip() or None
        if sid in recommended_ids and decision is ReplyDecision.added:
            errors.append(f"Школа {school_label(school)} уже есть в перечне: выберите «включена».")
        elif sid not in recommended_ids and decision is not ReplyDecision.added:
            errors.append(f"Школа {school_label(school)} не входит в рекомендованный перечень: её можно только "
                          f"добавить.")
        elif decision is ReplyDecision.excluded and not reason:
            errors.append(f"Школа {school_label(school)}: для исключения из перечня укажите причину.")
        else:
            clean.append((sid, decision, reason))
    for sid in sorted(recommended_ids - seen, key=lambda i: own[i].name):
        errors.append(f"Школа {school_label(own[sid])}: укажите решение — включена или исключена.")
    if errors:
        raise TransitionError(errors)
    reply = reply_of(c, municipality)
    before = None
    if reply is None:
        reply = MunicipalReply(campaign_id=c.id, municipality=municipality)
        session.add(reply)
    else:
        before = _reply_summary(reply)
    reply.contact_name = (contact_name or "").strip() or None
    reply.contact_phone = (contact_phone or "").strip() or None
    reply.comment = (comment or "").strip() or None
    by_school = {ln.school_id: ln for ln in reply.lines}
    for sid, ln in by_school.items():
        if sid not in {s for s, _, _ in clean}:
            reply.lines.remove(ln)
    for sid, decision, reason in clean:
        ln = by_school.get(sid)
        if ln is None:
            reply.lines.append(ReplyLine(school_id=sid, decision=decision, reason=reason))
        else:
            ln.decision, ln.reason = decision, reason
    reply.updated_at = utcnow()
    if submit:
        now = utcnow()
        reply.submitted_at, reply.submitted_on, reply.submitted_by_id = now, today(), getattr(actor, "id", None)
        reply.first_submitted_at = reply.first_submitted_at or now
    session.flush()
    after = _reply_summary(reply)
    if submit:
        after["late_days"] = late_days(c, reply)
    audit.record("transition.reply.submit" if submit else "transition.reply.save", reply, actor=actor,
                 before=before, after=after, campaign_id=c.id, municipality_id=municipality.id)
    return reply


def _reply_summary(reply: MunicipalReply) -> dict:
    counts = Counter(ln.decision.value for ln in reply.lines)
    return {"included": counts["included"], "excluded": counts["excluded"], "added": counts["added"],
            "submitted_on": reply.submitted_on}


def late_days(c: Campaign, reply: MunicipalReply | None) -> int:
    """Days after the deadline a reply came (0: on time); for a missing reply, days overdue as of today."""
    if c.reply_deadline is None:
        return 0
    when = reply.submitted_on if reply is not None and reply.submitted_on else today()
    return max(0, (when - c.reply_deadline).days)


@dataclass
class ReplyState:
    municipality: Organisation
    reply: MunicipalReply | None
    code: str                  # on_time / late / overdue / waiting
    label: str
    overdue: bool
    counts: dict = field(default_factory=dict)


def reply_state(c: Campaign, municipality: Organisation, reply: MunicipalReply | None) -> ReplyState:
    submitted = reply is not None and reply.submitted_at is not None
    counts = Counter(ln.decision.value for ln in reply.lines) if reply is not None else Counter()
    deadline = c.reply_deadline
    if submitted:
        days = late_days(c, reply)
        if days:
            return ReplyState(municipality, reply, "late", f"представлен {reply.submitted_on:%d.%m.%Y} с опозданием "
                              f"на {days} дн.", True, counts)
        return ReplyState(municipality, reply, "on_time", f"представлен {reply.submitted_on:%d.%m.%Y} в срок",
                          False, counts)
    draft = " (есть черновик)" if reply is not None else ""
    if deadline is not None and today() > deadline:
        return ReplyState(municipality, reply, "overdue", f"не представлен, просрочен на {late_days(c, None)} дн. "
                          f"(срок {deadline:%d.%m.%Y}){draft}", True, counts)
    due = f" до {deadline:%d.%m.%Y}" if deadline else ""
    return ReplyState(municipality, reply, "waiting", f"ожидается{due}{draft}", False, counts)


def reply_states(c: Campaign, municipalities: list[Organisation] | None = None) -> list[ReplyState]:
    munis = municipalities if municipalities is not None else region_municipalities(c)
    replies = {r.municipality_id: r for r in session.scalars(select(MunicipalReply)
                                                               .where(MunicipalReply.campaign_id == c.id))}
    return [reply_state(c, m, replies.get(m.id)) for m in munis]


@dataclass
class FinalRow:
    school: Organisation
    municipality: Organisation
    recommended: bool
    decision: ReplyDecision | None     # None: the municipality has not answered
    reason: str | None
    in_final: bool
    change: str                        # unchanged / excluded / added / no_reply

    @property
    def change_label(self) -> str:
        return {"unchanged": "по рекомендации", "excluded": "исключена муниципалитетом",
                "added": "добавлена муниципалитетом", "no_reply": "по рекомендации (ответ не получен)"}[self.change]


def final_list(c: Campaign, municipalities: list[Organisation] | None = None) -> list[FinalRow]:
    """The recommended list as adjusted by the submitted replies, with what changed per school.

    A municipality that has not answered keeps the recommended schools (marked «ответ не получен»)."""
    munis = {m.id: m for m in (municipalities if municipalities is not None else region_municipalities(c))}
    rec = {r.school_id: r.school for r in recommended(c)}
    replies = {r.municipality_id: r for r in session.scalars(
        select(MunicipalReply).where(MunicipalReply.campaign_id == c.id, MunicipalReply.submitted_at.is_not(None)))}
    rows: list[FinalRow] = []
    for sid, school in rec.items():
        m = munis.get(school.parent_id)
        if m is None:
            continue
        reply = replies.get(m.id)
        line = next((ln for ln in reply.lines if ln.school_id == sid), None) if reply else None
        if reply is None:
            rows.append(FinalRow(school, m, True, None, None, True, "no_reply"))
        elif line is not None and line.decision is ReplyDecision.excluded:
            rows.append(FinalRow(school, m, True, line.decision, line.reason, False, "excluded"))
        else:
            rows.append(FinalRow(school, m, True, ReplyDecision.included, None, True, "unchanged"))
    for reply in replies.values():
        m = munis.get(reply.municipality_id)
        if m is None:
            continue
        for ln in reply.lines:
            if ln.decision is ReplyDecision.added and ln.school_id not in rec:
                rows.append(FinalRow(ln.school, m, False, ln.decision, ln.reason, True, "added"))
    rows.sort(key=lambda r: (r.municipality.name, r.school.name))
    return rows


def final_school_ids(c: Campaign) -> set[int]:
    return {r.school.id for r in final_list(c) if r.in_final}


def in_final_list(c: Campaign, school: Organisation) -> bool:
    return school.id in final_school_ids(c)


# ---- stages of a school -------------------------------------------------------------------------------------

def states_of(c: Campaign, school: Organisation) -> dict[int, SchoolStage]:
    return {s.stage_id: s for s in session.scalars(select(SchoolStage).where(SchoolStage.campaign_id == c.id,
                                                                             SchoolStage.school_id == school.id))}


def state_for(c: Campaign, school: Organisation, stage: StageDef) -> SchoolStage:
    state = session.scalar(select(SchoolStage).where(SchoolStage.school_id == school.id,
                                                     SchoolStage.stage_id == stage.id))
    if state is None:
        state = SchoolStage(campaign_id=c.id, stage=stage, school=school, status=StageStatus.pending)
        session.add(state)
        session.flush()
    return state


def _event(state: SchoolStage, action: str, before: StageStatus, *, actor, comment=None, evidence=None,
           statement=None) -> StageEvent:
    ev = StageEvent(state=state, action=action, from_status=before.value, to_status=state.status.value,
                    actor_id=getattr(actor, "id", None), comment=comment,
                    evidence_id=evidence.id if evidence else None, statement_id=statement.id if statement else None)
    session.add(ev)
    state.updated_at = utcnow()
    return ev


def _parse_date(value, label: str, errors: list[str]) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    errors.append(f"Поле «{label}»: неверная дата «{text}» (нужно ДД.ММ.ГГГГ).")
    return None


def check_url(url: str, label: str = "Адрес") -> str | None:
    """A Russian message if `url` is not an absolute http(s) address with a host, else None."""
    if any(ch.isspace() for ch in url):
        return f"Поле «{label}»: в адресе не должно быть пробелов."
    try:
        parts = urlsplit(url)
        port = parts.port     # raises on a bad port
    except ValueError:
        return f"Поле «{label}»: «{url}» — неверный адрес."
    del port
    if parts.scheme.lower() not in ("http", "https"):
        return f"Поле «{label}»: адрес должен начинаться с http:// или https:// («{url}»)."
    host = parts.hostname or ""
    if not host or "." not in host.strip(".") or not re.fullmatch(r"[\w.-]+", host):
        return f"Поле «{label}»: в адресе «{url}» нет имени сайта."
    return None


def _norm_section(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[«»\"'“”„]", "", text)).strip().lower()


def _check_evidence(stage: StageDef, data: dict, has_file: bool) -> tuple[dict, list[str]]:
    """Validate a submission for `stage`; returns the clean Evidence fields and the errors."""
    errors: list[str] = []
    s = lambda k: (str(data.get(k) or "")).strip() or None   # noqa: E731
    out = {"order_number": s("order_number"), "url": s("url"), "section": s("section"),
           "platform": s("platform"), "platform_other": s("platform_other"), "note": s("note")}
    out["order_date"] = _parse_date(data.get("order_date"), "Дата приказа", errors)
    out["date_from"] = _parse_date(data.get("date_from"), "Дата начала" if stage.kind is StageKind.trial
                                   else "Дата перехода", errors)
    out["date_to"] = _parse_date(data.get("date_to"), "Дата окончания", errors)
    if out["order_number"] and len(out["order_number"]) > 100:
        errors.append("Поле «Номер приказа»: не длиннее 100 символов.")
    if (out["order_number"] is None) != (out["order_date"] is None) and not errors:
        errors.append("Укажите и номер, и дату приказа.")
    if out["order_date"] and out["order_date"] > today():
        errors.append(f"Поле «Дата приказа»: дата {out['order_date']:%d.%m.%Y} ещё не наступила.")
    if out["url"]:
        if len(out["url"]) > 1000:
            errors.append("Поле «Адрес»: не длиннее 1000 символов.")
        elif msg := check_url(out["url"]):
            errors.append(msg)
    kind = stage.kind
    if kind is StageKind.document:
        if stage.requires_order and not (out["order_number"] and out["order_date"]):
            errors.append("Укажите номер и дату приказа (документа).")
        if stage.requires_file and not has_file:
            errors.append("Приложите файл документа.")
        if not (out["order_number"] or has_file or out["url"]):
            errors.append("Укажите реквизиты документа (номер и дату), приложите файл или дайте ссылку.")
    elif kind is StageKind.platform:
        if out["platform"] not in PLATFORMS:
            errors.append("Поле «Платформа»: выберите Дневник.ру, 1С:ХроноГраф Школа, ЭОР РТ или другую.")
        elif out["platform"] == "other" and not out["platform_other"]:
            errors.append("Поле «Другая платформа»: укажите название платформы.")
        if out["platform"] != "other":
            out["platform_other"] = None
    elif kind is StageKind.parents_link:
        if not out["url"]:
            errors.append("Поле «Адрес»: укажите адрес страницы раздела «Муниципальная услуга» на сайте школы.")
        if not out["section"]:
            errors.append("Поле «Раздел сайта»: укажите раздел, где размещена ссылка (должен быть «Муниципальная "
                          "услуга»).")
        elif _norm_section(out["section"]) != _norm_section(PARENTS_SECTION):
            errors.append(f"Поле «Раздел сайта»: ссылка для родителей размещается в разделе «{PARENTS_SECTION}» "
                          f"(приказ № 271, п. 3.4), указано «{out['section']}».")
        else:
            out["section"] = PARENTS_SECTION
    elif kind is StageKind.trial:
        if out["date_from"] is None and not any("Дата начала" in e for e in errors):
            errors.append("Поле «Дата начала»: укажите, с какого числа журналы ведутся в электронном виде.")
        elif out["date_from"] and out["date_from"] > today():
            errors.append(f"Поле «Дата начала»: дата {out['date_from']:%d.%m.%Y} ещё не наступила.")
        if out["date_from"] and out["date_to"] and out["date_to"] < out["date_from"]:
            errors.append("Поле «Дата окончания»: раньше даты начала.")
    elif kind is StageKind.paperless:
        if out["date_from"] is None and not any("Дата перехода" in e for e in errors):
            errors.append("Поле «Дата перехода»: укажите дату, с которой журналы ведутся только в электронном виде.")
    return out, errors


def submit_evidence(c: Campaign, school: Organisation, stage: StageDef, data: dict, *,
                    file: tuple[str, bytes] | None = None, actor=None) -> Evidence:
    """The school's evidence for a stage; the stage goes to the municipality for acceptance."""
    if stage.campaign_id != c.id:
        raise TransitionError("Этап не относится к этой кампании.")
    if stage.kind is StageKind.readiness:
        raise TransitionError("Готовность подтверждается заявлением директора с электронной подписью.")
    if not in_final_list(c, school):
        raise TransitionError(f"Школа {school_label(school)} не входит в итоговый перечень кампании.")
    state = state_for(c, school, stage)
    if state.status is StageStatus.accepted:
        raise TransitionError(f"Этап «{stage.title}» уже принят.")
    if stage.kind is StageKind.paperless and not is_ready(c, school):
        raise TransitionError("Сначала директор подтверждает готовность подписанным заявлением.")
    if file is not None and not file[1]:
        file = None
    fields_, errors = _check_evidence(stage, data, file is not None)
    stored = None
    if file is not None:
        name, raw = file
        name = file_store.safe_filename(name)
        suffix = PurePath(name).suffix.lower()
        if len(raw) > MAX_EVIDENCE_FILE:
            errors.append(f"Файл «{name}» больше {MAX_EVIDENCE_FILE // (1024 * 1024)} МБ.")
        elif suffix not in EVIDENCE_SUFFIXES:
            errors.append(f"Файл «{name}»: тип «{suffix or 'без расширения'}» не принимается (нужен PDF, скан "
                          f"JPG/PNG, DOCX, ODT, XLSX, TXT или ZIP).")
        elif not errors:
            stored = _store_evidence_file(c, school, name, raw, EVIDENCE_SUFFIXES[suffix])
    if errors:
        raise TransitionError(errors)
    ev = Evidence(state_id=state.id, created_by_id=getattr(actor, "id", None), **fields_)
    if stored:
        ev.set_stored(stored)
    state.evidences.append(ev)
    before = state.status
    state.status, state.comment = StageStatus.submitted, None
    state.decided_at, state.decided_by_id = None, None
    session.flush()
    _event(state, "submitted", before, actor=actor, evidence=ev)
    session.flush()
    audit.record("transition.stage.submit", state, actor=actor, before={"status": before.value},
                 after={"status": state.status.value, "evidence_id": ev.id, "stage": stage.code,
                        "file_sha256": ev.sha256},
                 campaign_id=c.id, school_id=school.id)
    return ev


def _store_evidence_file(c: Campaign, school: Organisation, name: str, raw: bytes,
                         content_type: str) -> file_store.Stored:
    """Write the file once into the ordinary files store (content-addressed, so a retry reuses it)."""
    key = file_store.content_key(f"transition-evidence/{c.id}/{school.id}", raw, PurePath(name).suffix.lower())
    try:
        return file_store.put_once("files", key, raw, filename=name, content_type=content_type,
                                   metadata={"kind": "transition-evidence", "campaign": str(c.id),
                                             "school": str(school.id)})
    except file_store.FileStoreError as exc:
        raise TransitionError(str(exc)) from None


def evidence_file(ev: Evidence) -> bytes:
    try:
        return file_store.read_verified(ev)
    except file_store.FileCorrupt as exc:
        raise TransitionError(str(exc)) from None


def decide(state: SchoolStage, *, accept: bool, comment: str | None = None, actor=None) -> None:
    """The municipality accepts the evidence, or returns it with a comment."""
    comment = (comment or "").strip() or None
    if state.stage.kind is StageKind.readiness:
        raise TransitionError("Готовность подтверждает директор подписанным заявлением; принимать её не нужно.")
    if state.status is not StageStatus.submitted:
        raise TransitionError(f"Этап «{state.stage.title}» не ждёт проверки (состояние: {state.status.label}).")
    if not accept and not comment:
        raise TransitionError("Укажите, что исправить: возврат без комментария не допускается.")
    before = state.status
    state.status = StageStatus.accepted if accept else StageStatus.returned
    state.decided_at, state.decided_by_id, state.comment = utcnow(), getattr(actor, "id", None), comment
    session.flush()
    _event(state, "accepted" if accept else "returned", before, actor=actor, comment=comment,
           evidence=state.evidence)
    session.flush()
    audit.record("transition.stage.accept" if accept else "transition.stage.return", state, actor=actor,
                 before={"status": before.value}, after={"status": state.status.value, "comment": comment},
                 campaign_id=state.campaign_id, school_id=state.school_id, stage=state.stage.code)


# ---- readiness statement -----------------------------------------------------------------------------------

def statements(c: Campaign, school: Organisation) -> list[ReadinessStatement]:
    return list(session.scalars(select(ReadinessStatement).where(ReadinessStatement.campaign_id == c.id,
                                                                 ReadinessStatement.school_id == school.id)
                                .order_by(ReadinessStatement.id)))


def latest_statement(c: Campaign, school: Organisation) -> ReadinessStatement | None:
    found = statements(c, school)
    return found[-1] if found else None


def is_ready(c: Campaign, school: Organisation) -> bool:
    last = latest_statement(c, school)
    return last is not None and last.kind is StatementKind.confirm


def readiness_blockers(c: Campaign, school: Organisation) -> list[StageDef]:
    """Stages before the confirmation that are not accepted yet."""
    states = states_of(c, school)
    out = []
    for stage in c.stages:
        if stage.kind in FIXED_KINDS:
            continue
        st = states.get(stage.id)
        if st is None or st.status is not StageStatus.accepted:
            out.append(stage)
    return out


def statement_data(c: Campaign, school: Organisation, *, kind: StatementKind, director, number: int | None,
                   reason: str | None = None, paperless_from: date | None = None):
    from transitions.statement_pdf import StageLine, StatementData
    states = states_of(c, school)
    lines = []
    for i, stage in enumerate(c.stages, 1):
        if stage.kind in FIXED_KINDS:
            continue
        st = states.get(stage.id)
        ev = st.evidence if st else None
        decided = ""
        if st is not None and st.status is StageStatus.accepted and st.decided_at:
            who = _user_name(st.decided_by_id)
            decided = f"принят {st.decided_at.astimezone(MOSCOW):%d.%m.%Y}" + (f", {who}" if who else "")
        lines.append(StageLine(number=i, title=stage.title, status=(st.status.label if st else "Не начат"),
                               evidence=evidence_summary(ev) if ev else "—", decision=decided))
    municipality = school.parent
    return StatementData(
        kind=kind.value, number=number, school_name=school.name, school_code=school.code,
        municipality_name=municipality.name if municipality else "", region_name=c.region.name,
        campaign_title=c.title, basis=f"{c.ordinance.label} «{c.ordinance.title}»" if c.ordinance else None,
        target_date=c.target_date, paperless_from=paperless_from or c.target_date,
        director_name=getattr(director, "full_name", ""), director_position=getattr(director, "position", None)
        or "Директор", reason=reason, on=today(), stages=lines)


def _user_name(user_id: int | None) -> str | None:
    from orgs.models.users import User
    if user_id is None:
        return None
    u = session.get(User, user_id)
    return u.full_name if u else None


def evidence_summary(ev: Evidence) -> str:
    parts = []
    if ev.platform:
        parts.append(PLATFORMS.get(ev.platform, ev.platform) if ev.platform != "other"
                     else f"{ev.platform_other} (другая платформа)")
    if ev.order_number:
        parts.append(f"приказ № {ev.order_number}" + (f" от {ev.order_date:%d.%m.%Y}" if ev.order_date else ""))
    if ev.section:
        parts.append(f"раздел «{ev.section}»")
    if ev.url:
        parts.append(ev.url)
    if ev.date_from:
        parts.append(f"с {ev.date_from:%d.%m.%Y}" + (f" по {ev.date_to:%d.%m.%Y}" if ev.date_to else ""))
    if ev.has_file:
        parts.append(f"файл «{ev.filename}» (SHA-256 {(ev.sha256 or '')[:12]}…)")
    if ev.note:
        parts.append(ev.note)
    return "; ".join(parts) or "—"


def preview_statement(c: Campaign, school: Organisation, *, kind: StatementKind, director,
                      reason: str | None = None) -> bytes:
    """The statement as it will be signed (without a number and a signature), for reading first."""
    from transitions.statement_pdf import render_statement
    pdf, _ = render_statement(statement_data(c, school, kind=kind, director=director, number=None, reason=reason))
    return pdf


def sign_statement(c: Campaign, school: Organisation, *, kind: StatementKind, signer, actor,
                   reason: str | None = None, paperless_from: date | None = None,
                   timestamper_url: str | None = None, validation_context=None) -> ReadinessStatement:
    """The director signs a readiness statement (or its withdrawal) with PAdES; the signed PDF goes
    to the archive (5 years) and only then does the school's readiness change.

    `signer` is a `pades.Signer` made for this signing session (e.g. from the PKCS#12 the
    director uploaded with its passphrase, which is not kept). With a `validation_context` (built from
    TRUST_ROOTS) an untrusted, revoked or expired certificate is refused before anything is signed; a
    TSA (`timestamper_url`, TSA_URL) makes it PAdES B-T, and a TSA that fails is an error. A
    confirmation is withdrawn only by a new signed statement of kind «withdraw»."""
    import pades
    from pades.layout import DIRECTOR_FIELD, SheetLayout
    from transitions.statement_pdf import render_statement
    reason = (reason or "").strip() or None
    if not in_final_list(c, school):
        raise TransitionError(f"Школа {school_label(school)} не входит в итоговый перечень кампании.")
    last = latest_statement(c, school)
    readiness = next((s for s in c.stages if s.kind is StageKind.readiness), None)
    paperless = next((s for s in c.stages if s.kind is StageKind.paperless), None)
    if kind is StatementKind.confirm:
        if last is not None and last.kind is StatementKind.confirm:
            raise TransitionError("Готовность уже подтверждена. Чтобы изменить решение, подпишите отзыв.")
        blockers = readiness_blockers(c, school)
        if blockers:
            raise TransitionError(["Подтвердить готовность можно, когда приняты все этапы. Не приняты:"]
                                  + [f"«{s.title}»" for s in blockers])
    else:
        if last is None or last.kind is not StatementKind.confirm:
            raise TransitionError("Отзывать нечего: готовность не подтверждена.")
        if not reason:
            raise TransitionError("Поле «Причина отзыва»: укажите причину.")
        if paperless is not None:
            pst = states_of(c, school).get(paperless.id)
            if pst is not None and pst.status is StageStatus.accepted:
                raise TransitionError("Школа уже перешла на безбумажное ведение (этап принят): отзыв невозможен.")
    if kind is StatementKind.confirm and paperless_from is not None and paperless_from < today():
        raise TransitionError(f"Поле «Безбумажно с»: дата {paperless_from:%d.%m.%Y} уже прошла.")
    # The row needs its id (the statement's number, printed in the PDF) before signing; a savepoint
    # takes it away again if the signature or the archive write fails.
    nested = session.begin_nested()
    try:
        st = ReadinessStatement(campaign_id=c.id, school_id=school.id, kind=kind, reason=reason,
                                supersedes_id=last.id if last else None, signed_by_id=actor.id,
                                signature_kind="pades",
                                paperless_from=(paperless_from or c.target_date) if kind is StatementKind.confirm
                                else None)
        session.add(st)
        session.flush()
        data = statement_data(c, school, kind=kind, director=actor, number=st.id, reason=reason,
                              paperless_from=st.paperless_from)
        pdf, box = render_statement(data)
        prepared = pades.prepare_fields(pdf, SheetLayout(pages=box.page + 1, fields=(box,)))
        try:
            signed = pades.sign(prepared, DIRECTOR_FIELD, signer, timestamper_url=timestamper_url,
                                validation_context=validation_context)
        except pades.SigningError as exc:
            raise TransitionError(str(exc)) from None
        cert = signer.certificate
        st.signer_name = str(cert.subject.native.get("common_name") or cert.subject.human_friendly)[:300]
        st.cert_serial = format(cert.serial_number, "X")
        _archive_statement(st, signed)
        _register_in_archive(st, school, signed)
    except BaseException:
        nested.rollback()
        raise
    nested.commit()
    state = state_for(c, school, readiness) if readiness is not None else None
    if state is not None:
        before = state.status
        if kind is StatementKind.confirm:
            state.status, state.decided_at, state.decided_by_id, state.comment = \
                StageStatus.accepted, utcnow(), actor.id, None
        else:
            state.status, state.decided_at, state.decided_by_id, state.comment = \
                StageStatus.pending, None, None, reason
        session.flush()
        _event(state, "confirmed" if kind is StatementKind.confirm else "withdrawn", before, actor=actor,
               comment=reason, statement=st)
    session.flush()
    audit.record(f"transition.readiness.{kind.value}", st, actor=actor,
                 after={"sha256": st.sha256, "archive_key": st.storage_key, "retain_until": st.retain_until,
                        "signature": "pades", "cert_serial": st.cert_serial, "signer": st.signer_name,
                        "supersedes_id": st.supersedes_id, "paperless_from": st.paperless_from},
                 campaign_id=c.id, school_id=school.id, reason=reason)
    return st


def _archive_statement(st: ReadinessStatement, pdf: bytes) -> None:
    """Write the signed PDF once into the archive's store, read its hash back, and only then record it."""
    from core.storage import object_key
    retain = add_years(today(), STATEMENT_RETENTION_YEARS)
    try:
        stored = file_store.put_once("archive", object_key(f"readiness-{st.id}", hashlib.sha256(pdf).hexdigest()),
                                     pdf, filename=f"readiness-{st.id}.pdf", content_type="application/pdf",
                                     retain_until=retain,
                                     metadata={"kind": "readiness-statement", "statement": str(st.id)})
    except file_store.FileStoreError:
        raise TransitionError("Заявление не сохранено в архиве (контрольная сумма не совпала или хранилище "
                              "недоступно); повторите подписание.") from None
    st.set_stored(stored)
    st.retain_until = retain


def _register_in_archive(st: ReadinessStatement, school: Organisation, pdf: bytes) -> None:
    """Also a record of the legal archive: searchable by archivists, with the archive timestamp
    (B-LTA) and the fixity checks every record gets. Ingested by a job after the commit."""
    kind = "подтверждение" if st.kind is StatementKind.confirm else "отзыв"
    records.keep(st, kind="readiness_statement", pdf=pdf, source_type="readiness_statement", source_id=st.id,
                 organisation=school, title=f"Заявление о готовности ({kind}) № {st.id}, {school.name}")


def statement_pdf(st: ReadinessStatement) -> bytes:
    """The archived copy, its hash checked against the one recorded at signing."""
    try:
        return file_store.read_verified(st)
    except file_store.FileCorrupt:
        raise TransitionError("Архивная копия заявления повреждена: контрольная сумма не совпадает.") from None


# ---- progress and timeline -----------------------------------------------------------------------------

@dataclass
class SchoolProgress:
    school: Organisation
    municipality: Organisation
    statuses: dict[int, StageStatus]          # stage id → status
    current: StageDef | None                  # first stage not accepted; None: all done
    done: int                                 # stages accepted in a row from the first


@dataclass
class Progress:
    stages: list[StageDef]
    schools: list[SchoolProgress]
    # municipality id → stage id → schools with that stage accepted
    accepted: dict[int, Counter]
    # municipality id → stage id (or 0 for "all done") → schools currently at that stage
    current: dict[int, Counter]
    municipalities: list[Organisation]


def progress(c: Campaign, municipalities: list[Organisation] | None = None) -> Progress:
    munis = municipalities if municipalities is not None else region_municipalities(c)
    rows = [r for r in final_list(c, munis) if r.in_final]
    ids = [r.school.id for r in rows]
    status = defaultdict(dict)
    if ids:
        for sid, stage_id, st in session.execute(select(SchoolStage.school_id, SchoolStage.stage_id,
                                                        SchoolStage.status)
                                                 .where(SchoolStage.campaign_id == c.id,
                                                        SchoolStage.school_id.in_(ids))):
            status[sid][stage_id] = st
    stages = list(c.stages)
    schools, accepted, current = [], defaultdict(Counter), defaultdict(Counter)
    for r in rows:
        sts = status.get(r.school.id, {})
        cur, done = None, 0
        for stage in stages:
            if sts.get(stage.id) is StageStatus.accepted:
                if cur is None:
                    done += 1
                accepted[r.municipality.id][stage.id] += 1
            elif cur is None:
                cur = stage
        current[r.municipality.id][cur.id if cur else 0] += 1
        schools.append(SchoolProgress(r.school, r.municipality, sts, cur, done))
    return Progress(stages, schools, accepted, current, munis)


def timeline(c: Campaign, school: Organisation) -> list[dict]:
    """What happened to a school in this campaign, oldest first."""
    from orgs.models.users import User
    items = []
    rec = session.scalar(select(RecommendedSchool).where(RecommendedSchool.campaign_id == c.id,
                                                         RecommendedSchool.school_id == school.id))
    if rec is not None and c.list_published_at:
        items.append({"at": c.list_published_at, "title": "Включена в рекомендованный перечень региона",
                      "text": "", "actor": None})
    reply = reply_of(c, school.parent) if school.parent else None
    if reply is not None and reply.submitted_at:
        line = next((ln for ln in reply.lines if ln.school_id == school.id), None)
        if line is not None:
            text = {"included": "Муниципалитет подтвердил включение в перечень",
                    "excluded": "Муниципалитет исключил школу из перечня",
                    "added": "Муниципалитет добавил школу в перечень"}[line.decision.value]
            items.append({"at": reply.submitted_at, "title": text, "text": line.reason or "",
                          "actor": reply.submitted_by.full_name if reply.submitted_by else None})
    labels = {"submitted": "представлено подтверждение", "accepted": "принят", "returned": "возвращён на доработку",
              "confirmed": "готовность подтверждена подписанным заявлением",
              "withdrawn": "подтверждение готовности отозвано подписанным заявлением"}
    events = session.execute(select(StageEvent, StageDef, User).join(SchoolStage, StageEvent.state_id == SchoolStage.id)
                             .join(StageDef, SchoolStage.stage_id == StageDef.id)
                             .outerjoin(User, StageEvent.actor_id == User.id)
                             .where(SchoolStage.campaign_id == c.id, SchoolStage.school_id == school.id)
                             .order_by(StageEvent.id)).all()
    for ev, stage, user in events:
        text = ev.comment or ""
        if ev.evidence_id and ev.action == "submitted":
            e = session.get(Evidence, ev.evidence_id)
            text = evidence_summary(e) if e else text
        items.append({"at": ev.at, "title": f"{stage.title}: {labels.get(ev.action, ev.action)}", "text": text,
                      "actor": user.full_name if user else None, "action": ev.action,
                      "statement_id": ev.statement_id})
    items.sort(key=lambda i: i["at"])
    return items
