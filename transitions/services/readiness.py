"""Whether a school's readiness is confirmed: its latest signed statement. Read by the stages (the paperless
stage waits for it) and by the statements themselves."""
from __future__ import annotations

from sqlalchemy import select

from core.db import session
from orgs.models.organisations import Organisation
from transitions.models import Campaign, ReadinessStatement, StatementKind


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
