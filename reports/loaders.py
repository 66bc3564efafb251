"""Loading report forms with the caller's rights checked (404/403): one copy for the pages and the API."""
from flask import abort, g
from sqlalchemy import select

from core.db import session
from orgs.access import can, scopes
from orgs.models.organisations import Organisation, OrgKind, region_id_of
from reports.models import ReportForm
from reports.services import may_see


def get_form(form_id: int, action: str = "report.view") -> ReportForm:
    form = session.get(ReportForm, form_id) or abort(404)
    if not any(region_id_of(o) == form.region_id for o in scopes(g.user, action)) or not may_see(g.user, form):
        abort(403)
    return form


def report_scopes() -> list[Organisation]:
    return scopes(g.user, "report.view")


def rollup_municipalities(form: ReportForm) -> list[Organisation] | None:
    """None (everything) for those who see the whole region; else the municipalities in scope."""
    region = form.region
    if can(g.user, "report.view", region):
        return None if form.owner_id == region.id else [form.owner]
    munis = session.scalars(select(Organisation).where(Organisation.parent_id == region.id,
                                                       Organisation.kind == OrgKind.municipality)).all()
    return [m for m in munis if can(g.user, "report.view", m)]
