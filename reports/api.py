"""JSON API of the monitoring reports under /api/v1/transitions/reports (bearer tokens; the pages' checks).

    GET  /forms                                              report forms
    GET  /forms/{id}                                         one, with its field schema
    GET  /forms/{id}/submissions?period=2014-09              expected organisations and their state
    GET  /forms/{id}/submissions/{org_id}/{period}           one report
    PUT  /forms/{id}/submissions/{org_id}/{period}           {"values": {...}, "submit": true}
    POST /submissions/{id}/decision                          {"decision": "accept"|"return", "comment"}
    GET  /forms/{id}/rollup                                  SUM/AVG per municipality and period
"""
from flask import Blueprint, abort, g, jsonify, request

from core.api import invalid, iso, json_body, json_errors
from core.db import session
from orgs.access import can, require
from orgs.models.organisations import Organisation, region_id_of
from orgs.schemas import org_ref
from reports import services as rep
from reports.loaders import get_form, report_scopes, rollup_municipalities
from reports.models import ReportStatus, ReportSubmission

bp = json_errors(Blueprint("reports_api", __name__, url_prefix="/api/v1/transitions/reports"))


def form_json(f, *, fields: bool = False) -> dict:
    out = {"id": f.id, "region_id": f.region_id, "owner_id": f.owner_id, "campaign_id": f.campaign_id, "title": f.title,
           "periodicity": f.periodicity.value, "deadline_text": f.deadline_text, "rrule": f.rrule,
           "submitter_kind": f.submitter_kind, "active": f.active, "first_period": iso(f.first_period)}
    if fields:
        out["fields"] = f.fields
    return out


def submission_json(form, org, period, sub) -> dict:
    st = rep.submission_state(sub, period)
    return {"id": sub.id if sub else None, "organisation": org_ref(org), "period": period.key,
            "period_start": iso(period.start), "period_end": iso(period.end), "due_date": iso(period.due),
            "status": sub.status.value if sub else None, "state": st.code, "label": st.label, "overdue": st.overdue,
            "values": sub.values if sub else {}, "submitted_at": iso(sub.submitted_at) if sub else None,
            "decided_at": iso(sub.decided_at) if sub else None, "comment": sub.comment if sub else None}


@bp.route("/forms")
def report_forms():
    view = report_scopes()
    if not view:
        abort(403)
    return jsonify(items=[form_json(f) for f in rep.forms_for_regions({region_id_of(o) for o in view})
                          if rep.may_see(g.user, f)])


@bp.route("/forms/<int:form_id>")
def report_form(form_id: int):
    return jsonify(form_json(get_form(form_id), fields=True))


def _period(form, key):
    try:
        return rep.requested_period(form, key)
    except rep.ReportError:
        abort(400)


@bp.route("/forms/<int:form_id>/submissions")
def report_submissions(form_id: int):
    form = get_form(form_id)
    period = _period(form, request.args.get("period"))
    subs = rep.submissions_by_org(form, period)
    return jsonify(period=period.key, due_date=iso(period.due),
                   items=[submission_json(form, o, period, subs.get(o.id))
                          for o in rep.expected_orgs(form, report_scopes())])


@bp.route("/forms/<int:form_id>/submissions/<int:org_id>/<period_key>", methods=["GET", "PUT"])
def report_submission(form_id: int, org_id: int, period_key: str):
    form = get_form(form_id)
    org = session.get(Organisation, org_id) or abort(404)
    require("report.view", org)
    period = _period(form, period_key)
    if request.method == "PUT":
        require("report.submit", org)
        body = json_body()
        if not isinstance(body.get("values", {}), dict):
            abort(400)
        try:
            rep.save_submission(form, org, period, body.get("values", {}), submit=bool(body.get("submit")),
                                actor=g.user)
        except rep.ReportError as exc:
            return invalid(exc.errors)
    return jsonify(submission_json(form, org, period, rep.submission_for(form, org, period)))


@bp.route("/submissions/<int:submission_id>/decision", methods=["POST"])
def report_decision(submission_id: int):
    sub = session.get(ReportSubmission, submission_id) or abort(404)
    form = get_form(sub.form_id)
    org = sub.organisation
    if org.parent is None or not can(g.user, "report.accept", org.parent):
        abort(403)
    body = json_body()
    if body.get("decision") not in ("accept", "return"):
        abort(400)
    try:
        rep.decide_submission(sub, accept=body["decision"] == "accept", comment=body.get("comment"), actor=g.user)
    except rep.ReportError as exc:
        return invalid(exc.errors)
    return jsonify(submission_json(form, org, rep.period_of(form, sub.period_start), sub))


@bp.route("/forms/<int:form_id>/rollup")
def report_rollup(form_id: int):
    form = get_form(form_id)
    munis = rollup_municipalities(form)
    if munis is not None and not munis:
        abort(403)
    statuses = (ReportStatus.accepted, ReportStatus.submitted) if request.args.get("all") == "1" \
        else (ReportStatus.accepted,)
    rows = rep.rollup(form, statuses=statuses, municipalities=munis, totals=munis is None)
    return jsonify(fields=[{"key": f["key"], "label": f["label"], "type": f["type"]} for f in rep.numeric_fields(form)],
                   items=[{"municipality_id": r.municipality_id, "municipality": r.municipality,
                           "period": r.period.key, "count": r.count, "sum": r.sums, "avg": r.avgs} for r in rows])
