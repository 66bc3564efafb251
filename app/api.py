"""JSON API under /api/v1 with bearer-token auth. Every endpoint checks access like its page does."""
import json
from pathlib import Path

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import func, select

from app.auth.access import require, scope_condition
from app.db import session
from workflow.models import Organisation, OrgKind

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI_PATH = Path(__file__).with_name("openapi.json")
MAX_PER_PAGE = 500


@bp.errorhandler(400)
@bp.errorhandler(401)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(422)
def _json_error(exc):
    messages = {400: "Неверный запрос.", 401: "Нужна аутентификация.", 403: "Недостаточно прав.",
                404: "Не найдено.", 422: "Данные не прошли проверку."}
    return jsonify(error=exc.name.lower().replace(" ", "_"), message=messages.get(exc.code, exc.name)), exc.code


@bp.route("/openapi.json")
def openapi():
    return jsonify(json.loads(OPENAPI_PATH.read_text()))


def page_args() -> tuple[int, int]:
    try:
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(MAX_PER_PAGE, max(1, int(request.args.get("per_page", 50))))
    except ValueError:
        abort(400)
    return page, per_page


def paged(stmt, serialise):
    page, per_page = page_args()
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.scalars(stmt.offset((page - 1) * per_page).limit(per_page)).all()
    return jsonify(items=[serialise(r) for r in rows], page=page, per_page=per_page, total=total)


def org_json(org: Organisation) -> dict:
    return {"id": org.id, "code": org.code, "kind": org.kind.value, "name": org.name,
            "short_name": org.short_name, "inn": org.inn, "ogrn": org.ogrn, "parent_id": org.parent_id,
            "reports": org.kind.reports}


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
    from workflow import org_services
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

