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
    PUT  /campaigns/{id}/replies/{municipality_id}                   {"lines": [{school_id, decision, reason}],
                                                                      "submit"}
    GET  /campaigns/{id}/final-list                                  the final list, diff against the recommendation
    GET  /campaigns/{id}/progress                                    schools per stage per municipality
"""
from flask import Blueprint, abort, g, jsonify, request

from core.api import invalid, iso, json_body, json_errors
from core.db import session
from core.files import MAX_EVIDENCE_FILE
from orgs.access import require
from orgs.models.organisations import Organisation, OrgKind
from orgs.schemas import org_ref
from transitions import services as svc
from transitions.loaders import can_decide_stage, get_campaign, get_school, get_stage, visible_municipalities
from transitions.models import Campaign, StageStatus

bp = json_errors(Blueprint("transitions_api", __name__, url_prefix="/api/v1/transitions"))




def campaign_json(c: Campaign, *, stages: bool = False) -> dict:
    out = {"id": c.id, "region_id": c.region_id, "owner_id": c.owner_id, "ordinance_id": c.ordinance_id,
           "title": c.title,
           "target_date": iso(c.target_date), "reply_deadline": iso(c.reply_deadline),
           "list_published_at": iso(c.list_published_at), "platform": c.platform}
    if stages:
        out["stages"] = [{"id": s.id, "position": s.position, "code": s.code, "kind": s.kind.value, "title": s.title,
                          "basis": s.basis, "hint": s.hint, "requires_order": s.requires_order,
                          "requires_file": s.requires_file, "due_date": iso(s.due_date),
                          "due_by_municipality": {str(d.municipality_id): iso(d.due_date)
                                                  for d in s.due_by_municipality}} for s in c.stages]
    return out


def evidence_json(ev) -> dict:
    return {"id": ev.id, "order_number": ev.order_number, "order_date": iso(ev.order_date), "url": ev.url,
            "section": ev.section, "platform": ev.platform, "platform_other": ev.platform_other,
            "date_from": iso(ev.date_from), "date_to": iso(ev.date_to), "note": ev.note,
            "file": None if not ev.has_file else {"name": ev.filename, "sha256": ev.sha256, "size": ev.size,
                                                  "backend": ev.store, "key": ev.storage_key},
            "created_at": iso(ev.created_at), "created_by_id": ev.created_by_id}


def state_json(stage, st) -> dict:
    return {"stage_id": stage.id, "code": stage.code, "kind": stage.kind.value, "title": stage.title,
            "status": st.status.value if st else StageStatus.pending.value,
            "comment": st.comment if st else None, "decided_at": iso(st.decided_at) if st else None,
            "decided_by_id": st.decided_by_id if st else None,
            "evidence": [evidence_json(e) for e in st.evidences] if st else [],
            "history": [{"at": iso(e.at), "action": e.action, "from": e.from_status, "to": e.to_status,
                         "actor_id": e.actor_id, "comment": e.comment, "evidence_id": e.evidence_id,
                         "statement_id": e.statement_id} for e in st.events] if st else []}


# ---- campaigns, stages, evidence -----------------------------------------------------------------------

@bp.route("/campaigns")
def campaigns():
    from orgs.access import scopes
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
        file = (upload.filename, upload.read(MAX_EVIDENCE_FILE + 1)) if upload and upload.filename else None
    else:
        data, file = json_body(), None
    try:
        svc.submit_evidence(c, school, stage, data, file=file, actor=g.user)
    except svc.TransitionError as exc:
        return invalid(exc.errors)
    return jsonify(state_json(stage, svc.states_of(c, school)[stage.id])), 201


@bp.route("/campaigns/<int:campaign_id>/schools/<int:school_id>/stages/<int:stage_id>/decision", methods=["POST"])
def decide(campaign_id: int, school_id: int, stage_id: int):
    c = get_campaign(campaign_id)
    school = get_school(c, school_id)
    if not can_decide_stage(school):
        abort(403)
    stage = get_stage(c, stage_id)
    body = json_body()
    if body.get("decision") not in ("accept", "return"):
        abort(400)
    state = svc.states_of(c, school).get(stage.id) or abort(404)
    try:
        svc.decide(state, accept=body["decision"] == "accept", comment=body.get("comment"), actor=g.user)
    except svc.TransitionError as exc:
        return invalid(exc.errors)
    return jsonify(state_json(stage, state))


@bp.route("/campaigns/<int:campaign_id>/schools/<int:school_id>/statements")
def statements(campaign_id: int, school_id: int):
    c = get_campaign(campaign_id)
    school = get_school(c, school_id)
    return jsonify(items=[{"id": s.id, "kind": s.kind.value, "reason": s.reason, "supersedes_id": s.supersedes_id,
                           "paperless_from": iso(s.paperless_from), "signed_at": iso(s.signed_at),
                           "signed_by_id": s.signed_by_id, "signature": s.signature_kind, "signer": s.signer_name,
                           "cert_serial": s.cert_serial, "sha256": s.sha256, "size": s.size,
                           "archive": {"backend": s.store, "key": s.storage_key,
                                       "retain_until": iso(s.retain_until)}}
                          for s in svc.statements(c, school)],
                   ready=svc.is_ready(c, school))


# ---- recommended list, replies, final list, progress ----------------------------------------------------

def reply_json(c: Campaign, state: svc.ReplyState) -> dict:
    r = state.reply
    return {"municipality": org_ref(state.municipality), "state": state.code, "label": state.label,
            "overdue": state.overdue, "late_days": svc.late_days(c, r) if r is not None and r.submitted_at else None,
            "submitted_at": iso(r.submitted_at) if r else None, "submitted_on": iso(r.submitted_on) if r else None,
            "contact_name": r.contact_name if r else None, "contact_phone": r.contact_phone if r else None,
            "comment": r.comment if r else None,
            "lines": [{"school_id": ln.school_id, "school": org_ref(ln.school), "decision": ln.decision.value,
                       "reason": ln.reason} for ln in r.lines] if r else []}


def _municipality(c: Campaign, municipality_id: int) -> Organisation:
    m = session.get(Organisation, municipality_id) or abort(404)
    if m.kind is not OrgKind.municipality or m.id not in {x.id for x in svc.region_municipalities(c)}:
        abort(404)
    require("transition.view", m)
    return m


@bp.route("/campaigns/<int:campaign_id>/replies")
def replies(campaign_id: int):
    c = get_campaign(campaign_id)
    munis = visible_municipalities(c)
    if not munis:
        abort(403)
    return jsonify(reply_deadline=iso(c.reply_deadline), today=iso(svc.today()),
                   items=[reply_json(c, s) for s in svc.reply_states(c, munis)])


@bp.route("/campaigns/<int:campaign_id>/replies/<int:municipality_id>", methods=["GET", "PUT"])
def reply(campaign_id: int, municipality_id: int):
    c = get_campaign(campaign_id)
    m = _municipality(c, municipality_id)
    if request.method == "PUT":
        require("transition.reply", m)
        body = json_body()
        lines = body.get("lines")
        if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
            abort(400)
        try:
            svc.save_reply(c, m, lines, submit=bool(body.get("submit")), contact_name=body.get("contact_name"),
                           contact_phone=body.get("contact_phone"), comment=body.get("comment"), actor=g.user)
        except svc.TransitionError as exc:
            return invalid(exc.errors)
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
    def timeliness(m) -> dict:
        t = p.timeliness.get(m.id)
        return {"on_time": t.on_time, "late": t.late, "overdue": t.overdue, "rate": t.rate} if t else \
            {"on_time": 0, "late": 0, "overdue": 0, "rate": None}
    return jsonify(stages=[{"id": s.id, "code": s.code, "title": s.title, "due_date": iso(s.due_date)}
                           for s in p.stages],
                   municipalities=[{"municipality": org_ref(m), "schools": sum(p.current[m.id].values()),
                                    "accepted": {s.code: p.accepted[m.id][s.id] for s in p.stages},
                                    "overdue": {s.code: p.overdue[m.id][s.id] if m.id in p.overdue else 0
                                                for s in p.stages},
                                    "timeliness": timeliness(m),
                                    "current": {**{s.code: p.current[m.id][s.id] for s in p.stages},
                                                "done": p.current[m.id][0]}} for m in p.municipalities],
                   late_schools=[{"school": org_ref(sp.school), "stages": [st.code for st in sp.late]}
                                 for sp in p.schools if sp.late])
