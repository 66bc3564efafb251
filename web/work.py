"""«Что ждёт меня сейчас»: the home page's items for each of the user's roles, each linking to where it is done.

The figures come from the domains' own queries — the batch's list of waiting sheets, "my tasks", the
dashboards, the year-end overview, the archive's status page conditions — not from a second count here."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask import url_for
from sqlalchemy import func, or_, select

from core.clock import school_year_label, today
from core.db import session
from orgs.access import PERMISSIONS, can, scopes
from orgs.models.organisations import Organisation, OrgKind, subtree


@dataclass
class Item:
    text: str
    url: str
    count: int | None = None
    urgent: bool = False


@dataclass
class Section:
    title: str
    items: list[Item] = field(default_factory=list)


def _direct(user, action: str) -> list[Organisation]:
    """Organisations the user answers for themselves (the role held right there), not the ones below."""
    return [g.organisation for g in user.grants if action in PERMISSIONS[g.role]]


def sheets_section(user, day: dt.date) -> Section | None:
    from sheets import services
    from sheets.models import BatchKind, ClassTeacher, SummarySheet
    year = school_year_label(day)
    s = Section("Сводные ведомости " + year)
    for kind, action, text in ((BatchKind.sign_teacher, "sheet.sign_teacher", "ждут вашей подписи как классного "
                                                                              "руководителя"),
                               (BatchKind.sign_director, "sheet.sign_director", "ждут вашей подписи как директора")):
        for org in _direct(user, action):
            waiting = services.waiting_ids(kind, org, year, actor=user)    # the batch's own list
            if waiting:
                s.items.append(Item(f"Ведомости {org.display_name}: {len(waiting)} {text}", url_for(
                    "sheets.index", year=year), len(waiting), urgent=True))
    if any(_direct(user, "sheet.sign_teacher")):
        mine = session.scalars(select(ClassTeacher.class_name).where(
            ClassTeacher.user_id == user.id, ClassTeacher.school_year == year,
            ~select(SummarySheet.id).where(SummarySheet.school_id == ClassTeacher.school_id,
                                           SummarySheet.school_year == year,
                                           SummarySheet.class_name == ClassTeacher.class_name).exists())).all()
        if mine:
            s.items.append(Item(f"Загрузите отметки классов: {', '.join(sorted(mine))}", url_for("sheets.import_marks"),
                                len(mine)))
    return s if s.items else None


def tasks_section(user, day: dt.date) -> Section | None:
    from assignments import dashboards as dash
    s = Section("Поручения")
    own = [o.id for o in _direct(user, "assignment.submit")]

    def count(stmt) -> int:
        return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    if own:
        overdue = count(dash.occurrence_filter(org_ids=own, today=day, status="overdue"))
        soon = count(dash.occurrence_filter(org_ids=own, today=day, status="open", start=day,
                                            end=day + dt.timedelta(days=7)))
        if overdue:
            s.items.append(Item(f"Просрочено: {overdue}", url_for("assignments.my_tasks"), overdue, urgent=True))
        if soon:
            s.items.append(Item(f"Срок в ближайшие 7 дней: {soon}", url_for("assignments.my_tasks"), soon))
    below = dash.below_condition(user)
    if below is not None:
        review = count(dash.occurrence_filter(scope=below, today=day, status="submitted"))
        if review:
            s.items.append(Item(f"Отчётов по поручениям ждут вашей проверки: {review}", url_for("assignments.my_tasks"),
                                review, urgent=True))
    return s if s.items else None


def transition_section(user, day: dt.date) -> Section | None:
    from transitions import services as tsvc
    from transitions.models import MunicipalReply, SchoolStage, StageStatus, StatementKind
    s = Section("Переход на безбумажные журналы")
    campaigns = tsvc.campaigns_visible(scopes(user, "transition.view"))
    for c in campaigns:
        for school in [o for o in _direct(user, "transition.submit") if o.kind is OrgKind.school]:
            if not tsvc.in_final_list(c, school):
                continue
            states = tsvc.states_of(c, school)
            returned = [st for st in states.values() if st.status is StageStatus.returned]
            todo = [st for st in c.stages if st.id not in states or states[st.id].status is StageStatus.pending]
            url = url_for("transitions.school", campaign_id=c.id, school_id=school.id)
            if returned:
                s.items.append(Item(f"{c.title}: возвращено на доработку этапов — {len(returned)}", url,
                                    len(returned), urgent=True))
            elif todo:
                s.items.append(Item(f"{c.title}: этапов без подтверждения — {len(todo)}", url, len(todo)))
            last = tsvc.latest_statement(c, school)
            if can(user, "transition.confirm", school) and not tsvc.readiness_blockers(c, school) and \
                    (last is None or last.kind is not StatementKind.confirm):
                s.items.append(Item(f"{c.title}: подпишите заявление о готовности школы", url, urgent=True))
        for m in _direct(user, "transition.reply"):
            if m.kind is not OrgKind.municipality or not c.list_published or not m.is_within(c.region):
                continue
            reply = session.scalar(select(MunicipalReply).where(MunicipalReply.campaign_id == c.id,
                                                                MunicipalReply.municipality_id == m.id))
            if reply is None or reply.submitted_at is None:
                late = c.reply_deadline is not None and day > c.reply_deadline
                s.items.append(Item(f"{c.title}: ответ по перечню школ — срок {c.reply_deadline:%d.%m.%Y}"
                                    + (" (просрочен)" if late else ""),
                                    url_for("transitions.reply", campaign_id=c.id, municipality_id=m.id), urgent=late))
        accept = [o for o in scopes(user, "transition.accept") if o.kind is not OrgKind.school]
        if accept:
            waiting = session.scalar(
                select(func.count(SchoolStage.id)).join(Organisation, Organisation.id == SchoolStage.school_id)
                .where(SchoolStage.campaign_id == c.id, SchoolStage.status == StageStatus.submitted,
                       or_(*[subtree(o) for o in accept]))) or 0
            if waiting:
                s.items.append(Item(f"{c.title}: подтверждений этапов ждут вашей проверки — {waiting}",
                                    url_for("transitions.progress", campaign_id=c.id), waiting, urgent=True))
    return s if s.items else None


def region_section(user, day: dt.date) -> Section | None:
    from assignments import dashboards as dash
    from assignments import services as asvc
    from sheets import overview
    regions = [o for o in scopes(user, "assignment.view") if o.kind is OrgKind.region]
    munis = [o for o in scopes(user, "sheet.overview") if o.kind is OrgKind.municipality]
    s = Section("Обзор")
    start, end = asvc.school_year(day)
    for region in regions:
        rows, total = dash.region_dashboard(region, start=start, end=end, today=day)     # the dashboard's query
        rate = total.counts.rate
        late = sorted([r for r in rows if r.counts.overdue], key=lambda r: -r.counts.overdue)[:3]
        share = f"{round(rate * 100)} %" if rate is not None else "—"
        worst = ", ".join(f"{r.label} ({r.counts.overdue})" for r in late)
        s.items.append(Item(f"Поручения {start.year}/{end.year}: в срок {share}"
                            + (f"; больше всего просрочено: {worst}" if late else ""),
                            url_for("assignments.region", org_id=region.id, year=start.year), urgent=bool(late)))
    for org in [*(r for r in regions if can(user, "sheet.overview", r)), *munis]:
        _, year_total = overview.overview(org, school_year_label(day), today=day)       # the overview's query
        c, total_late = year_total.counts, year_total.late_schools
        if c.classes:
            s.items.append(Item(f"Итоги года: в архиве {c.archived} из {c.classes} ведомостей"
                                + (f", просрочили школ: {total_late}" if total_late else ""),
                                url_for("year_end.org", org_id=org.id), urgent=bool(total_late)))
    return s if s.items else None


def archive_section(user, day: dt.date) -> Section | None:
    from archive import services as asvc
    from archive.models import AccessLog, ArchiveRecord, Hold, RecordStatus
    if not scopes(user, "archive.view"):
        return None
    scope = asvc.scope_condition(user)
    s = Section("Архив")
    pending = session.scalar(select(func.count(ArchiveRecord.id))
                             .where(scope, ArchiveRecord.status == RecordStatus.pending))
    problems = session.scalar(select(func.count(ArchiveRecord.id)).where(scope, ArchiveRecord.fixity_ok.is_(False)))
    holds = session.scalar(select(func.count(Hold.id)).join(ArchiveRecord, ArchiveRecord.id == Hold.record_id)
                           .where(scope, Hold.lifted_at.is_(None)))
    since = dt.datetime.combine(day - dt.timedelta(days=7), dt.time(0), tzinfo=dt.timezone.utc)
    downloads = session.scalar(select(func.count(AccessLog.id))
                               .join(ArchiveRecord, ArchiveRecord.id == AccessLog.record_id)
                               .where(scope, AccessLog.at >= since, AccessLog.action.in_(["download", "export"])))
    received = session.scalar(select(func.count(ArchiveRecord.id))
                              .where(scope, ArchiveRecord.archived_at >= since))
    status = url_for("archive.status")
    if problems:
        s.items.append(Item(f"Нарушена целостность: {problems}", status, problems, urgent=True))
    if pending:
        s.items.append(Item(f"Ожидают передачи в архив: {pending}", status, pending))
    if holds:
        s.items.append(Item(f"Действующих запретов на уничтожение: {holds}", url_for("archive.index"), holds))
    s.items.append(Item(f"Принято в архив за 7 дней: {received or 0}", url_for("archive.index"), received or 0))
    s.items.append(Item(f"Выдано копий за 7 дней: {downloads or 0}", url_for("archive.index"), downloads or 0))
    return s


def inbox_section(user, day: dt.date) -> Section | None:
    from assignments.notifications import unread_count
    n = unread_count(user.id)
    return Section("Уведомления", [Item(f"Непрочитанных уведомлений: {n}", url_for("assignments.inbox"), n)]) \
        if n else None


SECTIONS = (sheets_section, tasks_section, transition_section, region_section, archive_section, inbox_section)


def work_for(user) -> list[Section]:
    day = today()
    return [s for fn in SECTIONS if (s := fn(user, day)) is not None]
