"""The region's progress and a school's timeline. They flush; they never commit."""
from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from core import clock
from core.db import session
from orgs.models.organisations import Organisation, municipality_of
from transitions.models import (
    Campaign,
    Evidence,
    RecommendedSchool,
    SchoolStage,
    StageDef,
    StageEvent,
    StageStatus,
)
from transitions.services.lists import final_list, region_municipalities, reply_of
from transitions.services.statements import evidence_summary


@dataclass
class SchoolProgress:
    school: Organisation
    municipality: Organisation
    statuses: dict[int, StageStatus]          # stage id → status
    current: StageDef | None                  # first stage not accepted; None: all done
    done: int                                 # stages accepted in a row from the first
    late: list[StageDef] = field(default_factory=list)   # past their due date and not accepted


@dataclass
class Timeliness:
    """Stages with a due date, per municipality: accepted by it, accepted after it, past it and not accepted."""
    on_time: int = 0
    late: int = 0
    overdue: int = 0

    @property
    def rate(self) -> float | None:
        due = self.on_time + self.late + self.overdue
        return self.on_time / due if due else None


@dataclass
class Progress:
    stages: list[StageDef]
    schools: list[SchoolProgress]
    # municipality id → stage id → schools with that stage accepted
    accepted: dict[int, Counter]
    # municipality id → stage id (or 0 for "all done") → schools currently at that stage
    current: dict[int, Counter]
    municipalities: list[Organisation]
    # municipality id → stage id → schools past the stage's due date without it accepted
    overdue: dict[int, Counter] = field(default_factory=dict)
    timeliness: dict[int, Timeliness] = field(default_factory=dict)


def progress(c: Campaign, municipalities: list[Organisation] | None = None, *,
             today: dt.date | None = None) -> Progress:
    munis = municipalities if municipalities is not None else region_municipalities(c)
    today = today or clock.today()
    rows = [r for r in final_list(c, munis) if r.in_final]
    ids = [r.school.id for r in rows]
    status: defaultdict[int, dict] = defaultdict(dict)
    decided: dict[tuple[int, int], dt.date] = {}
    if ids:
        for sid, stage_id, st, at in session.execute(select(SchoolStage.school_id, SchoolStage.stage_id,
                                                            SchoolStage.status, SchoolStage.decided_at)
                                                     .where(SchoolStage.campaign_id == c.id,
                                                            SchoolStage.school_id.in_(ids))):
            status[sid][stage_id] = st
            if at is not None:
                decided[(sid, stage_id)] = at.astimezone(clock.MOSCOW).date()
    stages = list(c.stages)
    schools: list = []
    accepted: defaultdict[int, Counter] = defaultdict(Counter)
    current: defaultdict[int, Counter] = defaultdict(Counter)
    overdue: defaultdict[int, Counter] = defaultdict(Counter)
    timeliness: defaultdict[int, Timeliness] = defaultdict(Timeliness)
    for r in rows:
        sts = status.get(r.school.id, {})
        cur, done, late = None, 0, []
        muni = r.municipality.id
        for stage in stages:
            due = stage.due_for(muni)
            if sts.get(stage.id) is StageStatus.accepted:
                if cur is None:
                    done += 1
                accepted[muni][stage.id] += 1
                if due is not None:
                    on_time = decided.get((r.school.id, stage.id), today) <= due
                    timeliness[muni].on_time += on_time
                    timeliness[muni].late += not on_time
            else:
                if cur is None:
                    cur = stage
                if due is not None and today > due:
                    late.append(stage)
                    overdue[muni][stage.id] += 1
                    timeliness[muni].overdue += 1
        current[muni][cur.id if cur else 0] += 1
        schools.append(SchoolProgress(r.school, r.municipality, sts, cur, done, late))
    schools.sort(key=lambda sp: not sp.late)        # late schools first, the list's order otherwise
    return Progress(stages, schools, accepted, current, munis, overdue, timeliness)


def timeline(c: Campaign, school: Organisation) -> list[dict]:
    """What happened to a school in this campaign, oldest first."""
    from orgs.models.users import User
    items: list[dict[str, Any]] = []
    rec = session.scalar(select(RecommendedSchool).where(RecommendedSchool.campaign_id == c.id,
                                                         RecommendedSchool.school_id == school.id))
    if rec is not None and c.list_published_at:
        items.append({"at": c.list_published_at, "title": "Включена в рекомендованный перечень региона",
                      "text": "", "actor": None})
    muni = municipality_of(school)
    reply = reply_of(c, muni) if muni else None
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
