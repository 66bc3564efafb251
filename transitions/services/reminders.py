"""Stages falling due: the daily run tells each school of a stage due in a few days, and of one whose date
passed yesterday without it being accepted. Once each: the daily run is one job per day."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.db import session
from core.signals import notice
from transitions.models import Campaign, StageDef, StageDue, StageStatus
from transitions.services.progress import progress

DAYS_AHEAD = 3


def stages_falling_due(day: dt.date, days_ahead: int = DAYS_AHEAD) -> int:
    soon, yesterday = day + dt.timedelta(days=days_ahead), day - dt.timedelta(days=1)
    dated = select(StageDef.campaign_id).where(StageDef.due_date.in_([soon, yesterday]))
    overridden = select(StageDef.campaign_id).join(StageDue, StageDue.stage_id == StageDef.id) \
        .where(StageDue.due_date.in_([soon, yesterday]))
    sent = 0
    for c in session.scalars(select(Campaign).where(Campaign.id.in_(dated.union(overridden)))):
        p = progress(c, today=day)
        for sp in p.schools:
            for stage in p.stages:
                due = stage.due_for(sp.municipality.id)
                if due not in (soon, yesterday) or sp.statuses.get(stage.id) is StageStatus.accepted:
                    continue
                text = (f"Срок этапа «{stage.title}» — {due:%d.%m.%Y}: представьте подтверждение." if due == soon
                        else f"Срок этапа «{stage.title}» истёк {due:%d.%m.%Y}, этап не принят.")
                notice.send(stage, kind="transition.stage.due", org_ids=[sp.school.id], action="transition.submit",
                            text=f"{c.title}: {text}", url=f"/transitions/{c.id}/schools/{sp.school.id}")
                sent += 1
    return sent
