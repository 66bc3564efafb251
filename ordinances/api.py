"""Ordinances in the JSON API (/api/v1): list, read, parse, create drafts, change status, calendar."""
import io

from flask import Blueprint, Response, abort, g, jsonify, request
from sqlalchemy import func, select

from core.api import json_errors, paged
from core.db import session
from ordinances import services as svc
from ordinances.ical import plan_calendar
from ordinances.loaders import decode_upload, draft_condition, get_visible, issuers_for, visible_condition
from ordinances.models.ordinances import Ordinance, OrdinanceStatus
from ordinances.parsing.parser import parse_docx, parse_text
from orgs.access import require
from orgs.models.organisations import Organisation

bp = json_errors(Blueprint("ordinances_api", __name__, url_prefix="/api/v1"))

@bp.route("/ordinances")
def ordinances():
    stmt = select(Ordinance).join(Organisation, Ordinance.issuer_id == Organisation.id) \
        .where(visible_condition(g.user), draft_condition(g.user)) \
        .order_by(Ordinance.date.desc().nulls_last(), Ordinance.id.desc())
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
    return paged(stmt, svc.to_dict)


@bp.route("/ordinances/<int:ordinance_id>")
def ordinance(ordinance_id: int):
    return jsonify(svc.to_dict(get_visible(ordinance_id)))


@bp.route("/ordinances/parse", methods=["POST"])
def ordinance_parse():
    """Preview: recognise an uploaded .txt/.docx (multipart `file`) or a JSON {"text": ...}; saves nothing."""

    if not issuers_for(g.user):
        abort(403)
    upload = request.files.get("file")
    try:
        if upload is not None:
            raw = upload.read()
            name = upload.filename or "файл"
            parsed = parse_docx(io.BytesIO(raw)) if name.lower().endswith(".docx") else parse_text(decode_upload(raw,
                                                                                                                 name))
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

    o = get_visible(ordinance_id)
    if o.plan is None:
        abort(404)
    return Response(plan_calendar(o, host=request.host), mimetype="text/calendar")
