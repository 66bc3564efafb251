"""Loading campaigns, schools and stages with the caller's rights checked (404/403): one copy for the
pages and the JSON API."""
from flask import abort, g

from core.db import session
from orgs.access import can, require, scopes
from orgs.models.organisations import Organisation, OrgKind, region_id_of
from transitions import services as svc
from transitions.models import Campaign, StageDef


def get_campaign(campaign_id: int) -> Campaign:
    """The campaign, if the user may see anything of its region (of its municipality, for a municipality's)."""
    c = session.get(Campaign, campaign_id) or abort(404)
    user = g.get("user")
    if user is None:
        abort(401)
    view = scopes(user, "transition.view")
    if not any(region_id_of(o) == c.region_id for o in view) or not svc.may_see(c, view):
        abort(403)
    return c


def get_school(c: Campaign, school_id: int, action: str = "transition.view") -> Organisation:
    school = session.get(Organisation, school_id) or abort(404)
    if school.kind is not OrgKind.school or not school.is_within(c.owner):
        abort(404)
    require(action, school)
    return school


def get_stage(c: Campaign, stage_id: int) -> StageDef:
    stage = session.get(StageDef, stage_id)
    if stage is None or stage.campaign_id != c.id:
        abort(404)
    return stage


def visible_municipalities(c: Campaign, action: str = "transition.view") -> list[Organisation]:
    return [m for m in svc.region_municipalities(c) if can(g.user, action, m)]


def can_manage(c: Campaign) -> bool:
    return can(g.user, "transition.manage", c.owner)


def can_decide_stage(school: Organisation) -> bool:
    """Accepting evidence is the level above the school: its municipality (or the region)."""
    return school.parent is not None and can(g.user, "transition.accept", school.parent)
