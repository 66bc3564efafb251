"""Organisations and the caller's own account in the JSON API (/api/v1)."""
from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import select

from core.api import json_errors, paged
from core.db import session
from orgs import services as org_services
from orgs.access import require, scope_condition
from orgs.models.organisations import Organisation, OrgKind
from orgs.schemas import org_json

bp = json_errors(Blueprint("orgs_api", __name__, url_prefix="/api/v1"))


@bp.route("/me")
def me():
    u = g.user
    return jsonify(id=u.id, login=u.login, full_name=u.full_name,
                   roles=[{"role": gr.role.value, "organisation_id": gr.organisation_id} for gr in u.grants])


@bp.route("/organisations")
def organisations():
    stmt = select(Organisation).where(scope_condition(g.user, "org.view")).order_by(Organisation.path)
    if kind := request.args.get("kind"):
        if kind not in OrgKind.__members__:
            abort(400)
        stmt = stmt.where(Organisation.kind == OrgKind(kind))
    if parent := request.args.get("parent_id", type=int):
        stmt = stmt.where(Organisation.parent_id == parent)
    if q := request.args.get("q"):
        stmt = stmt.where(Organisation.name.ilike(f"%{q}%", escape="\\"))
    return paged(stmt, org_json)


@bp.route("/organisations/<int:org_id>")
def organisation(org_id: int):
    org = session.get(Organisation, org_id) or abort(404)
    require("org.view", org)
    return jsonify(org_json(org))


@bp.route("/organisations/<int:org_id>", methods=["PATCH"])
def update_organisation(org_id: int):
    org = session.get(Organisation, org_id) or abort(404)
    require("org.manage", org)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    try:
        org_services.update_org(org, data, actor=g.user)
    except org_services.OrgError as exc:
        return jsonify(error="invalid", message=str(exc)), 422
    return jsonify(org_json(org))
