"""The recommended list (Перечень) and the municipal replies (Приложение 2) that make the final list.
They flush; they never commit."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePath

from sqlalchemy import select

from core import audit
from core.clock import today
from core.db import session, utcnow
from core.signals import notice
from orgs.models.organisations import Organisation, OrgKind, path_ids, subtree
from transitions.models import (
    Campaign,
    MunicipalReply,
    RecommendedSchool,
    ReplyDecision,
    ReplyLine,
)
from transitions.services.common import TransitionError, school_label


def recommended(c: Campaign) -> list[RecommendedSchool]:
    rows = session.scalars(select(RecommendedSchool).join(Organisation, RecommendedSchool.school_id == Organisation.id)
                           .where(RecommendedSchool.campaign_id == c.id).order_by(Organisation.path)).all()
    return list(rows)


def region_schools(c: Campaign) -> list[Organisation]:
    return list(session.scalars(select(Organisation).where(subtree(c.owner), Organisation.kind == OrgKind.school)
                                .order_by(Organisation.path)))


def region_municipalities(c: Campaign) -> list[Organisation]:
    """The municipalities the campaign covers: the region's, or the one that runs it."""
    if c.owner_id != c.region_id:
        return [c.owner]
    return list(session.scalars(select(Organisation).where(Organisation.parent_id == c.region_id,
                                                           Organisation.kind == OrgKind.municipality)
                                .order_by(Organisation.name)))


def set_recommended(c: Campaign, schools: list[Organisation], *, actor=None, source: str | None = None) -> None:
    """Replace the recommended list. Only before it is published: after that the municipalities answer it."""
    if c.list_published:
        raise TransitionError("Перечень уже направлен муниципалитетам и не изменяется.")
    errors = [f"{school_label(s)}: это не школа региона кампании." for s in schools
              if s.kind is not OrgKind.school or not s.is_within(c.owner)]
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
    errors: list = []
    schools: list = []
    seen: dict = {}
    for rowno, code in codes:
        if not code:
            errors.append(RowError(name, rowno, "code", None, "код школы не указан", column))
            continue
        org = found.get(code)
        if org is None:
            errors.append(RowError(name, rowno, "code", code, "нет организации с таким кодом", column))
        elif org.kind is not OrgKind.school:
            errors.append(RowError(name, rowno, "code", code, f"это не школа ({org.kind.label.lower()})", column))
        elif not org.is_within(c.owner):
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
    for m in region_municipalities(c):
        notice.send(c, kind="transition.reply", org_ids=[m.id], action="transition.reply",
                    text=f"Перечень школ кампании «{c.title}» направлен: ответьте по форме до "
                         f"{c.reply_deadline:%d.%m.%Y}.", url=f"/transitions/{c.id}/reply/{m.id}")


# ---- municipal replies (Приложение 2) ---------------------------------------------------------------------

def reply_of(c: Campaign, municipality: Organisation) -> MunicipalReply | None:
    return session.scalar(select(MunicipalReply).where(MunicipalReply.campaign_id == c.id,
                                                       MunicipalReply.municipality_id == municipality.id))


def municipality_schools(municipality: Organisation) -> list[Organisation]:
    return list(session.scalars(select(Organisation).where(subtree(municipality),      # also under district offices
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
    if municipality.kind is not OrgKind.municipality or municipality.id not in {m.id for m in region_municipalities(c)}:
        raise TransitionError("Отвечает муниципалитет региона кампании.")
    own = {s.id: s for s in municipality_schools(municipality)}
    recommended_ids = {r.school_id for r in recommended(c) if r.school_id in own}
    errors: list[str] = []
    clean: list[tuple[int, ReplyDecision, str | None]] = []
    seen: set[int] = set()
    for n, line in enumerate(lines, 1):
        sid = line.get("school_id")
        school = own.get(sid) if isinstance(sid, int) else None
        if school is None:
            other = session.get(Organisation, sid) if isinstance(sid, int) else None
            errors.append(f"Строка {n}: {school_label(other) if other else f'школа {sid!r}'} — "
                          f"не школа муниципалитета «{municipality.display_name}».")
            continue
        if school.id in seen:
            errors.append(f"Строка {n}: школа {school_label(school)} указана дважды.")
            continue
        seen.add(school.id)
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
            clean.append((school.id, decision, reason))
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
        found_ln = by_school.get(sid)
        if found_ln is None:
            reply.lines.append(ReplyLine(school_id=sid, decision=decision, reason=reason))
        else:
            found_ln.decision, found_ln.reason = decision, reason
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
    if submitted and reply is not None:
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
        m = munis.get(path_ids(school.path)[1]) if school.path.count("/") > 2 else None
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
    """`final_list`'s rule for one school, in three small queries instead of the region's whole list (a
    director's home page and every stage check ask it; the list grows with the region's replies)."""
    munis = {m.id for m in region_municipalities(c)}
    lines = session.execute(select(MunicipalReply.municipality_id, ReplyLine.decision).join(ReplyLine.reply).where(
        MunicipalReply.campaign_id == c.id, MunicipalReply.submitted_at.is_not(None),
        ReplyLine.school_id == school.id)).all()
    is_recommended = session.scalar(select(RecommendedSchool.id).where(
        RecommendedSchool.campaign_id == c.id, RecommendedSchool.school_id == school.id)) is not None
    if is_recommended:
        municipality = path_ids(school.path)[1] if school.path.count("/") > 2 else None
        return municipality in munis and not any(
            m == municipality and d is ReplyDecision.excluded for m, d in lines)
    return any(m in munis and d is ReplyDecision.added for m, d in lines)
