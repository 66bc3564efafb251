"""JSON API of the assignments under /api/v1 (bearer tokens, CSRF-exempt; the same access checks as the pages).

    GET  /api/v1/assignments                       list (filters: ordinance_id, plan_item_id, assigner_id; paging)
    POST /api/v1/assignments                       give a plan item to organisations
    GET  /api/v1/assignments/{id}                  one, with its organisations
    GET  /api/v1/occurrences                       list (filters: assignment_id, org_id, status, due_from, due_to)
    GET  /api/v1/occurrences/{id}                  one, with its history and files
    POST /api/v1/occurrences/{id}/submit           JSON {text, link} or multipart (text, link, files)
    POST /api/v1/occurrences/{id}/accept
    POST /api/v1/occurrences/{id}/return           {comment}
    POST /api/v1/occurrences/{id}/extend           {due_date, reason}
"""
import datetime as dt

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import or_, select

from assignments import dashboards as dash
from assignments import services as svc
from assignments.loaders import get_assignment, get_occurrence
from assignments.models import Assignment, AssignmentTarget, Occurrence, OccurrenceKind
from core.api import json_errors, paged
from core.db import session
from ordinances.models.ordinances import PlanItem
from orgs.access import can, require, scope_condition
from orgs.models.organisations import Organisation

bp = json_errors(Blueprint("assignment_api", __name__, url_prefix="/api/v1"))




def _invalid(exc: Exception):
    return jsonify(error="invalid", message=str(exc)), 422


def assignment_json(a: Assignment, *, targets: bool = False) -> dict:
    out: dict = {
           "id": a.id, "plan_item_id": a.plan_item_id, "ordinance_id": a.ordinance_id, "assigner_id": a.assigner_id,
           "parent_id": a.parent_id, "title": a.title, "rule": a.rule_choice, "rule_text": a.rule_text,
           "rrule": a.rrule, "dates": [d.isoformat() for d in a.dates or []],
           "horizon": [a.horizon_start.isoformat(), a.horizon_end.isoformat()],
           "appointment_due": a.appointment_due.isoformat() if a.appointment_due else None,
           "created_at": a.created_at.isoformat()}
    if targets:
        out["targets"] = [{"id": t.id, "org_id": t.org_id, "active": t.active,
                           "responsible": {"name": t.responsible_name, "position": t.responsible_position}}
                          for t in a.targets if can(g.user, "assignment.view", t.org)]
    return out


def occurrence_json(o: Occurrence, *, full: bool = False) -> dict:
    today = svc.today()
    out: dict = {"id": o.id, "assignment_id": o.assignment_id, "org_id": o.org_id, "kind": o.kind.value,
           "planned_date": o.planned_date.isoformat(), "due_date": o.due_date.isoformat(),
           "status": o.effective_status(today).value, "stored_status": o.status.value, "late": o.late,
           "submitted_at": o.submitted_at.isoformat() if o.submitted_at else None,
           "completed_at": o.completed_at.isoformat() if o.completed_at else None,
           "parent_id": o.parent_id, "closed_reason": o.closed_reason}
    if full:
        out["history"] = [{"kind": e.kind, "at": e.at.isoformat(), "actor_id": e.actor_id, "text": e.text,
                           "link": e.link, "old_due": e.old_due.isoformat() if e.old_due else None,
                           "new_due": e.new_due.isoformat() if e.new_due else None,
                           "files": [{"id": f.id, "filename": f.filename, "size": f.size, "sha256": f.sha256}
                                     for f in e.files]} for e in o.events]
    return out


def _iso(name: str) -> dt.date | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        abort(400)


@bp.route("/assignments")
def assignments():
    scope = scope_condition(g.user, "assignment.view")
    in_scope = select(Organisation.id).where(scope)
    stmt = select(Assignment).where(or_(
        Assignment.assigner_id.in_(in_scope),
        Assignment.id.in_(select(AssignmentTarget.assignment_id).where(AssignmentTarget.org_id.in_(in_scope)))))
    for arg, col in (("ordinance_id", Assignment.ordinance_id), ("plan_item_id", Assignment.plan_item_id),
                     ("assigner_id", Assignment.assigner_id)):
        if (value := request.args.get(arg)) is not None:
            if not value.isdigit():
                abort(400)
            stmt = stmt.where(col == int(value))
    return paged(stmt.order_by(Assignment.id), assignment_json)


@bp.route("/assignments/<int:assignment_id>")
def assignment(assignment_id: int):
    return jsonify(assignment_json(get_assignment(assignment_id), targets=True))


@bp.route("/assignments", methods=["POST"])
def create():
    """{"plan_item_id", "assigner_id", "org_ids": [], "kinds": [], "municipality_ids": [], "rule", "dates": [],
    "horizon": [from, to], "appointment_due"}"""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    from ordinances.loaders import get_visible
    item = session.get(PlanItem, body.get("plan_item_id") or 0) or abort(404)
    get_visible(svc.ordinance_of(item).id)           # as the page: an order the caller may read
    assigner = session.get(Organisation, body.get("assigner_id") or 0) or abort(404)
    require("assignment.manage", assigner)
    try:
        def day(v):
            try:
                return dt.date.fromisoformat(v) if v else None
            except (TypeError, ValueError):
                raise svc.AssignmentError(f"Неверная дата «{v}»: нужен формат ГГГГ-ММ-ДД.") from None
        horizon = body.get("horizon")
        if horizon is not None and (not isinstance(horizon, list) or len(horizon) != 2):
            raise svc.AssignmentError("horizon: нужен список из двух дат [начало, конец].")
        orgs = svc.resolve_targets(assigner, org_ids=body.get("org_ids") or [], kinds=body.get("kinds") or [],
                                   municipality_ids=body.get("municipality_ids") or [])
        a = svc.create_assignment(item, assigner, orgs, actor=g.user, rule=body.get("rule") or "plan",
                                  dates=[day(d) for d in body.get("dates") or []],
                                  horizon=(day(horizon[0]), day(horizon[1])) if horizon else None,
                                  appointment_due=day(body.get("appointment_due")), note=body.get("note"))
    except svc.AssignmentError as exc:
        return _invalid(exc)
    except (TypeError, ValueError):
        abort(400)
    return jsonify(assignment_json(a, targets=True)), 201


@bp.route("/occurrences")
def occurrences():
    status = request.args.get("status") or None
    if status and status not in dash.STATUS_FILTERS and status not in ("pending", "returned"):
        abort(400)
    aid = request.args.get("assignment_id")
    org_id = request.args.get("org_id")
    if (aid and not aid.isdigit()) or (org_id and not org_id.isdigit()):
        abort(400)
    stmt = dash.occurrence_query(scope=scope_condition(g.user, "assignment.view"), start=_iso("due_from"),
                                 end=_iso("due_to"), today=svc.today(), status=status,
                                 assignment_ids=[int(aid)] if aid else None,
                                 org_ids=[int(org_id)] if org_id else None)
    return paged(stmt, occurrence_json)


@bp.route("/occurrences/<int:occ_id>")
def occurrence(occ_id: int):
    return jsonify(occurrence_json(get_occurrence(occ_id), full=True))


def _body() -> dict:
    if request.mimetype == "multipart/form-data" or request.form:
        return request.form.to_dict()
    body = request.get_json(silent=True)
    if body is None:
        return {}
    if not isinstance(body, dict):
        abort(400)
    return body


@bp.route("/occurrences/<int:occ_id>/submit", methods=["POST"])
def submit(occ_id: int):
    occ = get_occurrence(occ_id, for_update=True)
    if not svc.may_submit(g.user, occ):
        abort(403)
    body = _body()
    files = [svc.Upload(f.filename, f.read(svc.EVIDENCE_MAX_BYTES + 1), f.mimetype or "application/octet-stream")
             for f in request.files.getlist("files") if f and f.filename]
    responsible = None
    if occ.kind is OccurrenceKind.appointment:
        r = body.get("responsible")
        responsible = r if isinstance(r, dict) else {"name": body.get("responsible_name") or "",
                                                     "position": body.get("responsible_position")}
    try:
        svc.submit(occ, actor=g.user, text=body.get("text"), link=body.get("link"), files=files,
                   responsible=responsible, close_reason=body.get("close_reason"))
    except svc.AssignmentError as exc:
        return _invalid(exc)
    return jsonify(occurrence_json(occ, full=True))


@bp.route("/occurrences/<int:occ_id>/accept", methods=["POST"])
def accept(occ_id: int):
    occ = get_occurrence(occ_id, for_update=True)
    if not svc.may_review(g.user, occ):
        abort(403)
    try:
        svc.accept(occ, actor=g.user)
    except svc.AssignmentError as exc:
        return _invalid(exc)
    return jsonify(occurrence_json(occ))


@bp.route("/occurrences/<int:occ_id>/return", methods=["POST"])
def return_(occ_id: int):
    occ = get_occurrence(occ_id, for_update=True)
    if not svc.may_review(g.user, occ):
        abort(403)
    try:
        svc.return_(occ, actor=g.user, comment=str(_body().get("comment") or ""))
    except svc.AssignmentError as exc:
        return _invalid(exc)
    return jsonify(occurrence_json(occ))


@bp.route("/occurrences/<int:occ_id>/extend", methods=["POST"])
def extend(occ_id: int):
    occ = get_occurrence(occ_id, for_update=True)
    if not svc.may_extend(g.user, occ):
        abort(403)
    body = _body()
    try:
        new_due = dt.date.fromisoformat(str(body.get("due_date") or ""))
    except ValueError:
        return _invalid(svc.AssignmentError("due_date: нужна дата в формате ГГГГ-ММ-ДД."))
    try:
        svc.extend(occ, actor=g.user, new_due=new_due, reason=str(body.get("reason") or ""))
    except svc.AssignmentError as exc:
        return _invalid(exc)
    return jsonify(occurrence_json(occ))
