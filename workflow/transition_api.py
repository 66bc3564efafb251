"""JSON API of the transition tracker under /api/v1/transitions (bearer tokens, CSRF-exempt; the same
access checks as the pages).

    GET  /campaigns                                                  campaigns the user can see
    GET  /campaigns/{id}                                             one, with its stages
    GET  /campaigns/{id}/schools/{school_id}/stages                  the school's checklist with evidence
    POST /campaigns/{id}/schools/{school_id}/stages/{stage_id}/evidence   JSON or multipart (+ file)
    POST /campaigns/{id}/schools/{school_id}/stages/{stage_id}/decision   {"decision": "accept"|"return", "comment"}
    GET  /campaigns/{id}/schools/{school_id}/statements              the director's signed statements
    GET  /campaigns/{id}/replies                                     every visible municipality's answer and state
    GET  /campaigns/{id}/replies/{municipality_id}                   one answer
    PUT  /campaigns/{id}/replies/{municipality_id}                   {"lines": [{school_id, decision, reason}], "submit"}
    GET  /campaigns/{id}/final-list                                  the final list and the diff against the recommendation
    GET  /campaigns/{id}/progress                                    schools per stage per municipality
    GET  /reports/forms                                              report forms
    GET  /reports/forms/{id}                                         one, with its field schema
    GET  /reports/forms/{id}/submissions?period=2014-09              expected organisations and their state
    GET  /reports/forms/{id}/submissions/{org_id}/{period}           one report
    PUT  /reports/forms/{id}/submissions/{org_id}/{period}           {"values": {...}, "submit": true}
    POST /reports/submissions/{id}/decision                          {"decision": "accept"|"return", "comment"}
    GET  /reports/forms/{id}/rollup                                  SUM/AVG per municipality and period
"""
from flask import Blueprint, abort, g, jsonify, request

from app.api import json_errors
from app.auth.access import can, require
from app.db import session
from workflow import reports as rep
from workflow import transition_services as svc
from workflow.models import Campaign, Organisation, OrgKind, ReportStatus, ReportSubmission, StageStatus
from workflow.transition_views import (can_decide_stage, get_campaign, get_form, get_school, get_stage,
                                       report_scopes, rollup_municipalities, visible_municipalities)

bp = json_errors(Blueprint("transitions_api", __name__, url_prefix="/api/v1/transitions"))




def _invalid(errors: list[str]):
    return jsonify(error="invalid", message=" ".join(errors), errors=errors), 422


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    return data


def _d(v):
    return v.isoformat() if v is not None else None


def org_ref(o: Organisation | None) -> dict | None:
    return None if o is None else {"id": o.id, "code": o.code, "name": o.name}


def campaign_json(c: Campaign, *, stages: bool = False) -> dict:
    out = {"id": c.id, "region_id": c.region_id, "ordinance_id": c.ordinance_id, "title": c.title,
           "target_date": _d(c.target_date), "reply_deadline": _d(c.reply_deadline),
           "list_published_at": _d(c.list_published_at)}
    if stages:
        out["stages"] = [{"id": s.id, "position": s.position, "code": s.code, "kind": s.kind.value, "title": s.title,
                          "basis": s.basis, "hint": s.hint, "requires_order": s.requires_order,
                          "requires_file": s.requires_file} for s in c.stages]
    return out


def evidence_json(ev) -> dict:
    return {"id": ev.id, "order_number": ev.order_number, "order_date": _d(ev.order_date), "url": ev.url,
            "section": ev.section, "platform": ev.platform, "platform_other": ev.platform_other,
            "date_from": _d(ev.date_from), "date_to": _d(ev.date_to), "note": ev.note,
            "file": None if not ev.file_key else {"name": ev.file_name, "sha256": ev.file_sha256, "size": ev.file_size,
                                                  "backend": ev.file_backend, "key": ev.file_key},
            "created_at": _d(ev.created_at), "created_by_id": ev.created_by_id}


def state_json(stage, st) -> dict:
    return {"stage_id": stage.id, "code": stage.code, "kind": stage.kind.value, "title": stage.title,
            "status": st.status.value if st else StageStatus.pending.value,
            "comment": st.comment if st else None, "decided_at": _d(st.decided_at) if st else None,
            "decided_by_id": st.decided_by_id if st else None,
            "evidence": [evidence_json(e) for e in st.evidences] if st else [],
            "history": [{"at": _d(e.at), "action": e.action, "from": e.from_status, "to": e.to_status,
                         "actor_id": e.actor_id, "comment": e.comment, "evidence_id": e.evidence_id,
                         "statement_id": e.statement_id} for e in st.events] if st else []}


# ---- campaigns, stages, evidence -----------------------------------------------------------------------

@bp.route("/campaigns")
def campaigns():
    from app.auth.access import scopes
    return jsonify(items=[campaign_json(c) for c in svc.campaigns_visible(scopes(g.user, "transition.view"))])


@bp.route("/campaigns/<int:campaign_id>")
def campaign(campaign_id: int):
    return jsonify(campaign_json(get_campaign(campaign_id), stages=True))


@bp.route("/campaigns/<int:campaign_id>/schools/<int:school_id>/stages")
def school_stages(campaign_id: int, school_id: int):
    c = get_campaign(campaign_id)
    school = get_school(c, school_id)
    states = svc.states_of(c, school)
    return jsonify(school=org_ref(school), in_final_list=svc.in_final_list(c, school),
                   ready=svc.is_ready(c, school), stages=[state_json(s, states.get(s.id)) for s in c.stages])


@bp.route("/campaigns/<int:campaign_id>/schools/<int:school_id>/stages/<int:stage_id>/evidence", methods=["POST"])
def submit_evidence(campaign_id: int, school_id: int, stage_id: int):
    c = get_campaign(campaign_id)
    school = get_school(c, school_id, "transition.submit")
    stage = get_stage(c, stage_id)
    if request.files or request.form:
        data = request.form.to_dict()
        upload = request.files.get("file")
        file = (upload.filename, upload.read(svc.MAX_EVIDENCE_FILE + 1)) if upload and upload.filename else None
    else:
        data, file = _body(), None
    try:
        svc.submit_evidence(c, school, stage, data, file=file, actor=g.user)
    except svc.TransitionError as exc:
        return _invalid(exc.errors)
    return jsonify(state_json(stage, svc.states_of(c, school)[stage.id])), 201


@bp.route("/campaigns/<int:campaign_id>/schools/<int:school_id>/stages/<int:stage_id>/decision", methods=["POST"])
def decide(campaign_id: int, school_id: int, stage_id: int):
    c = get_campaign(campaign_id)
    school = get_school(c, school_id)
    if not can_decide_stage(school):
        abort(403)
    stage = get_stage(c, stage_id)
    body = _body()
    if body.get("decision") not in ("accept", "return"):
        abort(400)
    state = svc.states_of(c, school).get(stage.id) or abort(404)
    try:
        svc.decide(state, accept=body["decision"] == "accept", comment=body.get("comment"), actor=g.user)
    except svc.TransitionError as exc:
        return _invalid(exc.errors)
    return jsonify(state_json(stage, state))


@bp.route("/campaigns/<int:campaign_id>/schools/<int:school_id>/statements")
def statements(campaign_id: int, school_id: int):
    c = get_campaign(campaign_id)
    school = get_school(c, school_id)
    return jsonify(items=[{"id": s.id, "kind": s.kind.value, "reason": s.reason, "supersedes_id": s.supersedes_id,
                           "paperless_from": _d(s.paperless_from), "signed_at": _d(s.signed_at),
                           "signed_by_id": s.signed_by_id, "signature": s.signature_kind, "signer": s.signer_name,
                           "cert_serial": s.cert_serial, "sha256": s.sha256, "size": s.size,
                           "archive": {"backend": s.archive_backend, "key": s.archive_key,
                                       "retain_until": _d(s.retain_until)}}
                          for s in svc.statements(c, school)],
                   ready=svc.is_ready(c, school))


# ---- recommended list, replies, final list, progress ----------------------------------------------------

def reply_json(c: Campaign, state: svc.ReplyState) -> dict:
    r = state.reply
    return {"municipality": org_ref(state.municipality), "state": state.code, "label": state.label,
            "overdue": state.overdue, "late_days": svc.late_days(c, r) if r is not None and r.submitted_at else None,
            "submitted_at": _d(r.submitted_at) if r else None, "submitted_on": _d(r.submitted_on) if r else None,
            "contact_name": r.contact_name if r else None, "contact_phone": r.contact_phone if r else None,
            "comment": r.comment if r else None,
            "lines": [{"school_id": ln.school_id, "school": org_ref(ln.school), "decision": ln.decision.value,
                       "reason": ln.reason} for ln in r.lines] if r else []}


def _municipality(c: Campaign, municipality_id: int) -> Organisation:
    m = session.get(Organisation, municipality_id) or abort(404)
    if m.kind is not OrgKind.municipality or m.parent_id != c.region_id:
        abort(404)
    require("transition.view", m)
    return m


@bp.route("/campaigns/<int:campaign_id>/replies")
def replies(campaign_id: int):
    c = get_campaign(campaign_id)
    munis = visible_municipalities(c)
    if not munis:
        abort(403)
    return jsonify(reply_deadline=_d(c.reply_deadline), today=_d(svc.today()),
                   items=[reply_json(c, s) for s in svc.reply_states(c, munis)])


@bp.route("/campaigns/<int:campaign_id>/replies/<int:municipality_id>", methods=["GET", "PUT"])
def reply(campaign_id: int, municipality_id: int):
    c = get_campaign(campaign_id)
    m = _municipality(c, municipality_id)
    if request.method == "PUT":
        require("transition.reply", m)
        body = _body()
        lines = body.get("lines")
        if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
            abort(400)
        try:
            svc.save_reply(c, m, lines, submit=bool(body.get("submit")), contact_name=body.get("contact_name"),
                           contact_phone=body.get("contact_phone"), comment=body.get("comment"), actor=g.user)
        except svc.TransitionError as exc:
            return _invalid(exc.errors)
    return jsonify(reply_json(c, svc.reply_state(c, m, svc.reply_of(c, m))))


@bp.route("/campaigns/<int:campaign_id>/final-list")
def final_list(campaign_id: int):
    c = get_campaign(campaign_id)
    munis = visible_municipalities(c)
    if not munis:
        abort(403)
    rows = svc.final_list(c, munis)
    return jsonify(items=[{"school": org_ref(r.school), "municipality": org_ref(r.municipality),
                           "recommended": r.recommended, "decision": r.decision.value if r.decision else None,
                           "reason": r.reason, "in_final": r.in_final, "change": r.change} for r in rows],
                   recommended=sum(r.recommended for r in rows), final=sum(r.in_final for r in rows),
                   added=sum(r.change == "added" for r in rows), excluded=sum(r.change == "excluded" for r in rows))


@bp.route("/campaigns/<int:campaign_id>/progress")
def progress(campaign_id: int):
    c = get_campaign(campaign_id)
    munis = visible_municipalities(c)
    if not munis:
        abort(403)
    p = svc.progress(c, munis)
    return jsonify(stages=[{"id": s.id, "code": s.code, "title": s.title} for s in p.stages],
                   municipalities=[{"municipality": org_ref(m), "schools": sum(p.current[m.id].values()),
                                    "accepted": {s.code: p.accepted[m.id][s.id] for s in p.stages},
                                    "current": {**{s.code: p.current[m.id][s.id] for s in p.stages},
                                                "done": p.current[m.id][0]}} for m in p.municipalities])


# ---- monitoring reports ----------------------------------------------------------------------------------

def form_json(f, *, fields: bool = False) -> dict:
    out = {"id": f.id, "region_id": f.region_id, "campaign_id": f.campaign_id, "title": f.title,
           "periodicity": f.periodicity.value, "deadline_text": f.deadline_text, "rrule": f.rrule,
           "submitter_kind": f.submitter_kind, "active": f.active, "first_period": _d(f.first_period)}
    if fields:
        out["fields"] = f.fields
    return out


def submission_json(form, org, period, sub) -> dict:
    st = rep.submission_state(sub, period)
    return {"id": sub.id if sub else None, "organisation": org_ref(org), "period": period.key,
            "period_start": _d(period.start), "period_end": _d(period.end), "due_date": _d(period.due),
            "status": sub.status.value if sub else None, "state": st.code, "label": st.label, "overdue": st.overdue,
            "values": sub.values if sub else {}, "submitted_at": _d(sub.submitted_at) if sub else None,
            "decided_at": _d(sub.decided_at) if sub else None, "comment": sub.comment if sub else None}


@bp.route("/reports/forms")
def report_forms():
    view = report_scopes()
    if not view:
        abort(403)
    from workflow.transition_views import _region_id
    return jsonify(items=[form_json(f) for f in rep.forms_for_regions({_region_id(o) for o in view})])


@bp.route("/reports/forms/<int:form_id>")
def report_form(form_id: int):
    return jsonify(form_json(get_form(form_id), fields=True))


def _period(form, key):
    try:
        return rep.requested_period(form, key)
    except rep.ReportError:
        abort(400)


@bp.route("/reports/forms/<int:form_id>/submissions")
def report_submissions(form_id: int):
    form = get_form(form_id)
    period = _period(form, request.args.get("period"))
    subs = rep.submissions_by_org(form, period)
    return jsonify(period=period.key, due_date=_d(period.due),
                   items=[submission_json(form, o, period, subs.get(o.id))
                          for o in rep.expected_orgs(form, report_scopes())])


@bp.route("/reports/forms/<int:form_id>/submissions/<int:org_id>/<period_key>", methods=["GET", "PUT"])
def report_submission(form_id: int, org_id: int, period_key: str):
    form = get_form(form_id)
    org = session.get(Organisation, org_id) or abort(404)
    require("report.view", org)
    period = _period(form, period_key)
    if request.method == "PUT":
        require("report.submit", org)
        body = _body()
        if not isinstance(body.get("values", {}), dict):
            abort(400)
        try:
            rep.save_submission(form, org, period, body.get("values", {}), submit=bool(body.get("submit")),
                                actor=g.user)
        except rep.ReportError as exc:
            return _invalid(exc.errors)
    return jsonify(submission_json(form, org, period, rep.submission_for(form, org, period)))


@bp.route("/reports/submissions/<int:submission_id>/decision", methods=["POST"])
def report_decision(submission_id: int):
    sub = session.get(ReportSubmission, submission_id) or abort(404)
    form = get_form(sub.form_id)
    org = sub.organisation
    if org.parent is None or not can(g.user, "report.accept", org.parent):
        abort(403)
    body = _body()
    if body.get("decision") not in ("accept", "return"):
        abort(400)
    try:
        rep.decide_submission(sub, accept=body["decision"] == "accept", comment=body.get("comment"), actor=g.user)
    except rep.ReportError as exc:
        return _invalid(exc.errors)
    return jsonify(submission_json(form, org, rep.period_of(form, sub.period_start), sub))


@bp.route("/reports/forms/<int:form_id>/rollup")
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
