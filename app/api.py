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


ERROR_MESSAGES = {400: "Неверный запрос.", 401: "Нужна аутентификация.", 403: "Недостаточно прав.",
                  404: "Не найдено.", 422: "Данные не прошли проверку."}


def _json_error(exc):
    return jsonify(error=exc.name.lower().replace(" ", "_"),
                   message=ERROR_MESSAGES.get(exc.code, exc.name)), exc.code


def json_errors(blueprint: Blueprint) -> Blueprint:
    """An API blueprint answers its errors (abort 400/401/403/404/422) in JSON, in Russian."""
    for code in ERROR_MESSAGES:
        blueprint.register_error_handler(code, _json_error)
    return blueprint


json_errors(bp)


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



# ---- ordinances --------------------------------------------------------------------------------------------

@bp.route("/ordinances")
def ordinances():
    from workflow.models import Ordinance, OrdinanceStatus
    from workflow.ordinance_services import to_dict
    from workflow.ordinance_views import visible_condition
    stmt = select(Ordinance).join(Organisation, Ordinance.issuer_id == Organisation.id) \
        .where(visible_condition(g.user)).order_by(Ordinance.date.desc().nulls_last(), Ordinance.id.desc())
    if issuer := request.args.get("issuer_id", type=int):
        stmt = stmt.where(Ordinance.issuer_id == issuer)
    if status := request.args.get("status"):
        if status not in OrdinanceStatus.__members__:
            abort(400)
        stmt = stmt.where(Ordinance.status == OrdinanceStatus(status))
    if year := request.args.get("year", type=int):
        stmt = stmt.where(func.extract("year", Ordinance.date) == year)
    if q := request.args.get("q"):
        stmt = stmt.where(Ordinance.search.op("@@")(func.websearch_to_tsquery("russian", q)))
    return paged(stmt, to_dict)


@bp.route("/ordinances/<int:ordinance_id>")
def ordinance(ordinance_id: int):
    from workflow.ordinance_services import to_dict
    from workflow.ordinance_views import get_visible
    return jsonify(to_dict(get_visible(ordinance_id)))


@bp.route("/ordinances/parse", methods=["POST"])
def ordinance_parse():
    """Preview: recognise an uploaded .txt/.docx (multipart `file`) or a JSON {"text": ...}; saves nothing."""
    import io

    from workflow.ordinance_parse import parse_docx, parse_text
    from workflow.ordinance_views import _decode, issuers_for
    if not issuers_for(g.user):
        abort(403)
    upload = request.files.get("file")
    try:
        if upload is not None:
            raw = upload.read()
            name = upload.filename or "файл"
            parsed = parse_docx(io.BytesIO(raw)) if name.lower().endswith(".docx") else parse_text(_decode(raw, name))
        else:
            body = request.get_json(silent=True) or {}
            if not isinstance(body.get("text"), str):
                abort(400)
            parsed = parse_text(body["text"])
    except ValueError as exc:
        return jsonify(error="invalid", message=str(exc)), 422
    return jsonify(parsed)


@bp.route("/ordinances", methods=["POST"])
def ordinance_create():
    """Save a (corrected) parse result as a draft: {"issuer_id": ..., "document": {...parser shape...}}."""
    from workflow import ordinance_services as svc
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("document"), dict):
        abort(400)
    issuer = session.get(Organisation, body.get("issuer_id") or 0) or abort(404)
    require("ordinance.edit", issuer)
    try:
        o = svc.create_from_parsed(body["document"], issuer=issuer, actor=g.user)
    except svc.OrdinanceError as exc:
        return jsonify(error="invalid", message=str(exc)), 422
    except (TypeError, AttributeError, KeyError):
        return jsonify(error="invalid", message="Неверная структура документа: нужна форма, которую "
                                                 "возвращает /ordinances/parse."), 422
    return jsonify(svc.to_dict(o)), 201


@bp.route("/ordinances/<int:ordinance_id>/status", methods=["POST"])
def ordinance_status(ordinance_id: int):
    from workflow import ordinance_services as svc
    from workflow.models import OrdinanceStatus
    from workflow.ordinance_views import get_visible
    o = get_visible(ordinance_id)
    require("ordinance.edit", o.issuer)
    status = (request.get_json(silent=True) or {}).get("status")
    if status not in OrdinanceStatus.__members__:
        abort(400)
    try:
        svc.set_status(o, OrdinanceStatus(status), actor=g.user)
    except svc.OrdinanceError as exc:
        return jsonify(error="invalid", message=str(exc)), 422
    return jsonify(svc.to_dict(o))


@bp.route("/ordinances/<int:ordinance_id>/plan.ics")
def ordinance_ics(ordinance_id: int):
    from flask import Response

    from workflow.ical import plan_calendar
    from workflow.ordinance_views import get_visible
    o = get_visible(ordinance_id)
    if o.plan is None:
        abort(404)
    return Response(plan_calendar(o, host=request.host), mimetype="text/calendar")
