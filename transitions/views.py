"""Pages for the transition to paperless journals: campaigns, stages, the recommended list and the
municipal reply form, each school's checklist with evidence and the director's signed statement, the
region's progress, and the monitoring reports with their roll-up.

Every page checks access through orgs.access. A page that fails validation answers 400, so the
request's transaction is rolled back and nothing is half-written.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from core import audit
from core.charts import svg_stacked_bars
from core.db import session
from core.files import MAX_EVIDENCE_FILE
from core.forms import form_date, form_id
from ordinances.models.ordinances import Ordinance
from orgs.access import can, require, scopes
from orgs.models.organisations import Organisation, OrgKind, path_ids
from transitions import services as svc
from transitions.forms import campaign_fields, stage_fields
from transitions.loaders import (
    can_decide_stage,
    can_manage,
    get_campaign,
    get_school,
    get_stage,
    visible_municipalities,
)
from transitions.models import Campaign, Evidence, ReadinessStatement, StageKind, StatementKind

bp = Blueprint("transitions", __name__, url_prefix="/transitions")
MAX_LIST_FILE = 5 * 1024 * 1024
MAX_P12 = 256 * 1024


# ---- campaigns ---------------------------------------------------------------------------------------

@bp.route("")
def index():
    view_scopes = scopes(g.user, "transition.view")
    if not view_scopes:
        abort(403)
    campaigns = svc.campaigns_visible(view_scopes)
    return render_template("transitions/index.html", campaigns=campaigns, can_create=bool(_runners()))


def _region_ordinances(org: Organisation) -> list[Ordinance]:
    """Documents of the region that the user may read (drafts only where they edit): a campaign's basis."""
    from ordinances.loaders import draft_condition, visible_condition
    from orgs.models.organisations import region_id_of, subtree
    region = session.get_one(Organisation, region_id_of(org))
    return list(session.scalars(select(Ordinance).join(Organisation, Ordinance.issuer_id == Organisation.id)
                                .where(subtree(region), visible_condition(g.user), draft_condition(g.user))
                                .order_by(Ordinance.date.desc().nulls_last())))


def _runners() -> list[Organisation]:
    """Who may run a campaign: a region, or a municipality for its own schools."""
    return sorted([o for o in scopes(g.user, "transition.manage") if o.kind in (OrgKind.region, OrgKind.municipality)],
                  key=lambda o: o.path)


@bp.route("/new", methods=["GET", "POST"])
def new():
    regions = _runners()
    if not regions:
        abort(403)
    region = regions[0]
    errors: list[str] = []
    if request.method == "POST":
        region = next((r for r in regions if r.id == request.form.get("region_id", type=int)), None) or abort(403)
        fields = campaign_fields(errors)
        ordinance = None
        if oid := form_id("ordinance_id"):
            ordinance = session.get(Ordinance, oid)
            if ordinance is None:
                errors.append("Документ-основание не найден.")
        if not errors:
            try:
                c = svc.create_campaign(region=region, ordinance=ordinance, actor=g.user, **fields)
            except svc.TransitionError as exc:
                errors = exc.errors
            else:
                flash("Кампания создана; этапы заполнены по умолчанию — их можно изменить.", "success")
                return redirect(url_for("transitions.campaign", campaign_id=c.id))
    form = request.form if request.method == "POST" else _from_document(region)
    return render_template("transitions/campaign_form.html", regions=regions, region=region, errors=errors,
                           ordinances=_region_ordinances(region), form=form), 400 if errors else 200


def _from_document(region: Organisation) -> dict:
    """«Создать кампанию по документу»: its title and dates, read from the letter (?ordinance_id=)."""
    o = session.get(Ordinance, request.args.get("ordinance_id", type=int) or 0)
    if o is None or o not in _region_ordinances(region):
        return {}
    reply, target = svc.document_dates(o)
    return {"ordinance_id": str(o.id), "title": o.title,
            "target_date": target.isoformat() if target else "", "reply_deadline": reply.isoformat() if reply else ""}


@bp.route("/<int:campaign_id>")
def campaign(campaign_id: int):
    c = get_campaign(campaign_id)
    munis_reply = visible_municipalities(c, "transition.reply")
    my_schools = [o for o in scopes(g.user, "transition.view") if o.kind is OrgKind.school and o.is_within(c.owner)]
    return render_template("transitions/campaign.html", c=c, can_manage=can_manage(c), kinds=list(StageKind),
                           region_munis=svc.region_municipalities(c) if can_manage(c) else [],
                           munis_reply=munis_reply, my_schools=my_schools,
                           recommended_count=len(svc.recommended(c)),
                           ordinances=_region_ordinances(c.region) if can_manage(c) else [])


@bp.route("/<int:campaign_id>/edit", methods=["POST"])
def edit(campaign_id: int):
    c = get_campaign(campaign_id)
    require("transition.manage", c.owner)
    errors: list[str] = []
    fields = campaign_fields(errors)
    ordinance = session.get(Ordinance, form_id("ordinance_id") or 0)
    if not errors:
        try:
            svc.update_campaign(c, ordinance=ordinance, actor=g.user, **fields)
        except svc.TransitionError as exc:
            errors = exc.errors
    if errors:
        return _campaign_errors(c, errors)
    flash("Кампания изменена.", "success")
    return redirect(url_for("transitions.campaign", campaign_id=c.id))


def _campaign_errors(c: Campaign, errors: list[str]):
    return render_template("transitions/campaign.html", c=c, can_manage=can_manage(c), kinds=list(StageKind),
                           region_munis=svc.region_municipalities(c) if can_manage(c) else [],
                           munis_reply=visible_municipalities(c, "transition.reply"), my_schools=[],
                           recommended_count=len(svc.recommended(c)), errors=errors,
                           ordinances=_region_ordinances(c.region)), 400


@bp.route("/<int:campaign_id>/stages", methods=["POST"])
def stage_add(campaign_id: int):
    c = get_campaign(campaign_id)
    require("transition.manage", c.owner)
    try:
        svc.add_stage(c, actor=g.user, **stage_fields())
    except svc.TransitionError as exc:
        return _campaign_errors(c, exc.errors)
    flash("Этап добавлен.", "success")
    return redirect(url_for("transitions.campaign", campaign_id=c.id, _anchor="stages"))


@bp.route("/<int:campaign_id>/stages/<int:stage_id>", methods=["POST"])
def stage_update(campaign_id: int, stage_id: int):
    c = get_campaign(campaign_id)
    require("transition.manage", c.owner)
    stage = get_stage(c, stage_id)
    op = request.form.get("op", "save")
    try:
        if op == "up":
            svc.move_stage(stage, -1, actor=g.user)
        elif op == "down":
            svc.move_stage(stage, +1, actor=g.user)
        elif op == "delete":
            svc.remove_stage(stage, actor=g.user)
        else:
            errors: list[str] = []
            due = form_date("due_date", "Срок этапа", errors)
            if errors:
                return _campaign_errors(c, errors)
            svc.update_stage(stage, actor=g.user, due_date=due, **stage_fields())
    except svc.TransitionError as exc:
        return _campaign_errors(c, exc.errors)
    flash("Этапы изменены.", "success")
    return redirect(url_for("transitions.campaign", campaign_id=c.id, _anchor="stages"))


@bp.route("/<int:campaign_id>/stages/<int:stage_id>/due", methods=["POST"])
def stage_due(campaign_id: int, stage_id: int):
    """A stage's due date for one municipality (an empty date: the campaign's again)."""
    c = get_campaign(campaign_id)
    require("transition.manage", c.owner)
    stage = get_stage(c, stage_id)
    errors: list[str] = []
    due = form_date("due_date", "Срок этапа для муниципалитета", errors)
    muni = session.get(Organisation, form_id("municipality_id") or 0)
    if muni is None:
        errors.append("Выберите муниципалитет.")
    if errors or muni is None:
        return _campaign_errors(c, errors)
    try:
        svc.set_stage_due(stage, muni, due, actor=g.user)
    except svc.TransitionError as exc:
        return _campaign_errors(c, exc.errors)
    flash(f"Срок этапа «{stage.title}» для {muni.display_name}: {due:%d.%m.%Y}." if due else
          f"Для {muni.display_name} снова действует общий срок этапа «{stage.title}».", "success")
    return redirect(url_for("transitions.campaign", campaign_id=c.id, _anchor="stages"))


# ---- recommended list and replies ---------------------------------------------------------------------

@bp.route("/<int:campaign_id>/list", methods=["GET", "POST"])
def recommended_list(campaign_id: int):
    c = get_campaign(campaign_id)
    manage = can_manage(c)
    if not manage and not can(g.user, "transition.view", c.owner):
        abort(403)
    errors: list[str] = []
    if request.method == "POST":
        require("transition.manage", c.owner)
        upload = request.files.get("file")
        try:
            if upload and upload.filename:
                raw = upload.read(MAX_LIST_FILE + 1)
                if len(raw) > MAX_LIST_FILE:
                    raise svc.TransitionError(f"Файл {upload.filename} больше 5 МБ.")
                schools = svc.schools_from_file(c, raw, upload.filename)
                source = upload.filename
            elif request.form.get("base_only"):
                schools = [s for s in svc.region_schools(c) if s.base_school]
                source = "базовые школы"
            else:
                ids = [int(v) for v in request.form.getlist("school_id") if v.isdigit()]
                schools = list(session.scalars(select(Organisation).where(Organisation.id.in_(ids)))) if ids else []
                source = "выбор на странице"
            svc.set_recommended(c, schools, actor=g.user, source=source)
        except svc.TransitionError as exc:
            errors = exc.errors
        else:
            flash(f"Перечень сохранён: школ — {len(schools)}.", "success")
            return redirect(url_for("transitions.recommended_list", campaign_id=c.id))
    chosen = {r.school_id for r in svc.recommended(c)}
    schools = svc.region_schools(c)
    by_muni: dict[int, list] = {}
    for s in schools:                       # by municipality, also for schools under its district offices
        by_muni.setdefault(path_ids(s.path)[1], []).append(s)
    return render_template("transitions/list.html", c=c, manage=manage, chosen=chosen, errors=errors,
                           munis=svc.region_municipalities(c), by_muni=by_muni), 400 if errors else 200


@bp.route("/<int:campaign_id>/list/publish", methods=["POST"])
def publish(campaign_id: int):
    c = get_campaign(campaign_id)
    require("transition.manage", c.owner)
    try:
        svc.publish_list(c, actor=g.user)
    except svc.TransitionError as exc:
        flash(" ".join(exc.errors), "error")
        return redirect(url_for("transitions.recommended_list", campaign_id=c.id)), 303
    flash("Перечень направлен муниципалитетам для ответа по форме (Приложение 2).", "success")
    return redirect(url_for("transitions.replies", campaign_id=c.id))


def _reply_lines_from_form(c: Campaign, municipality: Organisation) -> list[dict]:
    lines = []
    for s in svc.municipality_schools(municipality):
        decision = request.form.get(f"decision-{s.id}", "")
        if decision or request.form.get(f"reason-{s.id}"):
            lines.append({"school_id": s.id, "decision": decision, "reason": request.form.get(f"reason-{s.id}")})
    return lines


@bp.route("/<int:campaign_id>/reply/<int:municipality_id>", methods=["GET", "POST"])
def reply(campaign_id: int, municipality_id: int):
    c = get_campaign(campaign_id)
    m = session.get(Organisation, municipality_id) or abort(404)
    if m.kind is not OrgKind.municipality or m.id not in {x.id for x in svc.region_municipalities(c)}:
        abort(404)
    require("transition.view", m)
    can_reply = can(g.user, "transition.reply", m)
    errors: list[str] = []
    if request.method == "POST":
        require("transition.reply", m)
        try:
            saved = svc.save_reply(c, m, _reply_lines_from_form(c, m), submit=request.form.get("submit") == "1",
                               contact_name=request.form.get("contact_name"),
                               contact_phone=request.form.get("contact_phone"),
                               comment=request.form.get("comment"), actor=g.user)
        except svc.TransitionError as exc:
            errors = exc.errors
        else:
            state = svc.reply_state(c, m, saved)
            flash("Ответ направлен в регион: " + state.label + "." if saved.submitted_at and
                  request.form.get("submit") == "1" else "Черновик ответа сохранён.", "success")
            return redirect(url_for("transitions.reply", campaign_id=c.id, municipality_id=m.id))
    r = svc.reply_of(c, m)
    recommended_ids = {x.school_id for x in svc.recommended(c)}
    schools = svc.municipality_schools(m)
    lines = {ln.school_id: ln for ln in r.lines} if r else {}
    if request.method == "POST":         # show what was typed
        values = {s.id: (request.form.get(f"decision-{s.id}", ""), request.form.get(f"reason-{s.id}", ""))
                  for s in schools}
    else:
        values = {s.id: (lines[s.id].decision.value, lines[s.id].reason or "") if s.id in lines else ("", "")
                  for s in schools}
    return render_template("transitions/reply.html", c=c, m=m, r=r, state=svc.reply_state(c, m, r),
                           rec=[s for s in schools if s.id in recommended_ids],
                           others=[s for s in schools if s.id not in recommended_ids], values=values,
                           errors=errors, can_reply=can_reply and c.list_published,
                           form=request.form if request.method == "POST" else None), 400 if errors else 200


@bp.route("/<int:campaign_id>/replies")
def replies(campaign_id: int):
    c = get_campaign(campaign_id)
    munis = visible_municipalities(c)
    if not munis:
        abort(403)
    states = svc.reply_states(c, munis)
    final = svc.final_list(c, munis)
    if request.args.get("format") == "xlsx":
        from core.tabular import xlsx_response
        return xlsx_response(f"итоговый-перечень-{c.id}.xlsx",
                             ["Муниципалитет", "Школа", "Код", "В рекомендованном перечне", "Решение",
                              "Причина", "В итоговом перечне", "Изменение"],
                             [[r.municipality.name, r.school.name, r.school.code, "да" if r.recommended else "нет",
                               r.decision.label if r.decision else "ответ не получен", r.reason or "",
                               "да" if r.in_final else "нет", r.change_label] for r in final],
                             title="Итоговый перечень")
    return render_template("transitions/replies.html", c=c, states=states, final=final,
                           changed=[r for r in final if r.change in ("excluded", "added")],
                           today=svc.today())


# ---- progress ---------------------------------------------------------------------------------------

@bp.route("/<int:campaign_id>/progress")
def progress(campaign_id: int):
    c = get_campaign(campaign_id)
    munis = visible_municipalities(c)
    if not munis:
        abort(403)
    p = svc.progress(c, munis)
    segments = [f"{i + 1}. {s.title}" for i, s in enumerate(p.stages)] + ["Все этапы пройдены"]
    seg_ids = [s.id for s in p.stages] + [0]
    rows = [(m.display_name, [p.current[m.id][sid] for sid in seg_ids]) for m in p.municipalities]
    chart = svg_stacked_bars(rows, segments, title="Школы итогового перечня по текущему этапу перехода")
    if request.args.get("format") == "xlsx":
        from core.tabular import xlsx_response
        headers = ["Муниципалитет", "Школ в перечне"] + [f"Принят: {s.title}" for s in p.stages] + \
            ["Просрочено этапов", "Этапы в срок, %"]
        data = [[m.name, sum(p.current[m.id].values())] + [p.accepted[m.id][s.id] for s in p.stages]
                + _timeliness_cells(p, m.id) for m in p.municipalities]
        return xlsx_response(f"ход-перехода-{c.id}.xlsx", headers, data, title="Ход перехода")
    return render_template("transitions/progress.html", c=c, p=p, chart=chart)


def _timeliness_cells(p, municipality_id: int) -> list:
    t = p.timeliness.get(municipality_id)
    return [t.overdue if t else 0, round(t.rate * 100, 1) if t and t.rate is not None else None]


# ---- a school ---------------------------------------------------------------------------------------

def _school_page(c: Campaign, school: Organisation, errors: list[str] | None = None, status: int = 200,
                 open_stage: int | None = None):
    states = svc.states_of(c, school)
    last = svc.latest_statement(c, school)
    return render_template(
        "transitions/school.html", c=c, school=school, states=states, errors=errors or [], open_stage=open_stage,
        in_final=svc.in_final_list(c, school), can_submit=can(g.user, "transition.submit", school),
        can_decide=can_decide_stage(school), can_confirm=can(g.user, "transition.confirm", school),
        statements=svc.statements(c, school), last=last, ready=last is not None and last.kind is StatementKind.confirm,
        blockers=svc.readiness_blockers(c, school), timeline=svc.timeline(c, school), platforms=svc.PLATFORMS,
        summary=svc.evidence_summary, section=svc.PARENTS_SECTION, form=request.form), status


@bp.route("/<int:campaign_id>/schools/<int:school_id>")
def school(campaign_id: int, school_id: int):
    c = get_campaign(campaign_id)
    return _school_page(c, get_school(c, school_id))


@bp.route("/<int:campaign_id>/schools/<int:school_id>/stages/<int:stage_id>/evidence", methods=["POST"])
def submit_evidence(campaign_id: int, school_id: int, stage_id: int):
    c = get_campaign(campaign_id)
    school = get_school(c, school_id, "transition.submit")
    stage = get_stage(c, stage_id)
    upload = request.files.get("file")
    file = (upload.filename, upload.read(MAX_EVIDENCE_FILE + 1)) if upload and upload.filename else None
    try:
        svc.submit_evidence(c, school, stage, request.form.to_dict(), file=file, actor=g.user)
    except svc.TransitionError as exc:
        return _school_page(c, school, [f"Этап «{stage.title}»: {e}" for e in exc.errors], 400, open_stage=stage.id)
    flash(f"Подтверждение по этапу «{stage.title}» направлено на проверку в муниципалитет.", "success")
    return redirect(url_for("transitions.school", campaign_id=c.id, school_id=school.id, _anchor=f"stage-{stage.id}"))


@bp.route("/<int:campaign_id>/schools/<int:school_id>/stages/<int:stage_id>/decision", methods=["POST"])
def decide(campaign_id: int, school_id: int, stage_id: int):
    c = get_campaign(campaign_id)
    school = get_school(c, school_id)
    if not can_decide_stage(school):
        abort(403)
    stage = get_stage(c, stage_id)
    state = svc.states_of(c, school).get(stage.id) or abort(404)
    accept = request.form.get("decision") == "accept"
    try:
        svc.decide(state, accept=accept, comment=request.form.get("comment"), actor=g.user)
    except svc.TransitionError as exc:
        return _school_page(c, school, [f"Этап «{stage.title}»: {e}" for e in exc.errors], 400, open_stage=stage.id)
    flash(f"Этап «{stage.title}»: {'принят' if accept else 'возвращён на доработку'}.", "success")
    return redirect(url_for("transitions.school", campaign_id=c.id, school_id=school.id, _anchor=f"stage-{stage.id}"))


@bp.route("/<int:campaign_id>/schools/<int:school_id>/statement-preview.pdf")
def statement_preview(campaign_id: int, school_id: int):
    c = get_campaign(campaign_id)
    school = get_school(c, school_id, "transition.confirm")
    kind = StatementKind.withdraw if request.args.get("kind") == "withdraw" else StatementKind.confirm
    pdf = svc.preview_statement(c, school, kind=kind, director=g.user, reason=request.args.get("reason"))
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="statement-preview-{school.id}.pdf"'})


@bp.route("/<int:campaign_id>/schools/<int:school_id>/statements", methods=["POST"])
def sign_statement(campaign_id: int, school_id: int):
    """The director signs the statement with a PKCS#12 key uploaded for this signing only; the
    passphrase is used to open it here and is neither stored nor logged."""
    from pades import PKCS12Signer, SigningError
    c = get_campaign(campaign_id)
    school = get_school(c, school_id, "transition.confirm")
    kind = StatementKind.withdraw if request.form.get("kind") == "withdraw" else StatementKind.confirm
    errors: list[str] = []
    paperless_from = form_date("paperless_from", "Безбумажно с", errors)
    key_file = request.files.get("pkcs12")
    raw = key_file.read(MAX_P12 + 1) if key_file and key_file.filename else b""
    if not raw:
        errors.append("Поле «Файл ключа»: выберите файл ключа электронной подписи (.p12 / .pfx).")
    elif len(raw) > MAX_P12:
        errors.append("Поле «Файл ключа»: это не файл ключа (слишком большой).")
    if errors:
        return _school_page(c, school, errors, 400)
    try:
        signer = PKCS12Signer(raw, request.form.get("passphrase") or None)
        st = svc.sign_statement(c, school, kind=kind, signer=signer, actor=g.user, reason=request.form.get("reason"),
                                paperless_from=paperless_from, timestamper_url=current_app.config.get("TSA_URL"))
    except SigningError as exc:
        return _school_page(c, school, [str(exc)], 400)
    except svc.TransitionError as exc:
        return _school_page(c, school, exc.errors, 400)
    flash(f"{kind.label} № {st.id} подписано ({st.signer_name}, сертификат № {st.cert_serial}) и сохранено в архиве.",
          "success")
    return redirect(url_for("transitions.school", campaign_id=c.id, school_id=school.id, _anchor="readiness"))


@bp.route("/statements/<int:statement_id>.pdf")
def statement_file(statement_id: int):
    st = session.get(ReadinessStatement, statement_id) or abort(404)
    require("transition.view", st.school)
    try:
        data = svc.statement_pdf(st)
    except svc.TransitionError as exc:
        return Response(str(exc), status=409, mimetype="text/plain")
    audit.record("transition.readiness.download", st, sha256=st.sha256)    # every archive download is logged
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="readiness-{st.id}.pdf"'})


@bp.route("/evidence/<int:evidence_id>/file")
def evidence_file(evidence_id: int):
    from urllib.parse import quote

    from transitions.models import SchoolStage
    ev = session.get(Evidence, evidence_id) or abort(404)
    if not ev.has_file:
        abort(404)
    state = session.get_one(SchoolStage, ev.state_id)
    require("transition.view", state.school)
    try:
        data = svc.evidence_file(ev)
    except svc.TransitionError as exc:
        return Response(str(exc), status=409, mimetype="text/plain")
    audit.record("transition.evidence.download", ev, sha256=ev.sha256)
    return Response(data, mimetype=ev.content_type or "application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(ev.filename or 'файл')}"})
