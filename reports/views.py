"""Pages of the monitoring reports: forms, each organisation's report per period, acceptance, roll-up."""
import json
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from core.clock import today
from core.db import session
from core.files import MAX_EVIDENCE_FILE
from core.forms import form_date
from core.tabular import xlsx_response
from orgs.access import can, require, scopes
from orgs.models.organisations import Organisation, OrgKind, region_id_of
from reports import services as rep
from reports.loaders import get_form, report_scopes, rollup_municipalities
from reports.models import ReportForm, ReportStatus, ReportSubmission
from transitions import services as svc
from transitions.models import Campaign

bp = Blueprint("reports", __name__, url_prefix="/transitions/reports")


@bp.route("")
def index():
    view = report_scopes()
    if not view:
        abort(403)
    forms = [f for f in rep.forms_for_regions({region_id_of(o) for o in view}) if rep.may_see(g.user, f)]
    return render_template("reports/index.html", forms=forms, can_create=bool(_owners()),
                           kinds=rep.SUBMITTER_KINDS)


def _owners() -> list[Organisation]:
    """Where the user may run a form: their region, or their municipality (for its schools)."""
    return sorted([o for o in scopes(g.user, "report.manage") if o.kind in (OrgKind.region, OrgKind.municipality)],
                  key=lambda o: o.path)


@bp.route("/new", methods=["GET", "POST"])
def new():
    regions = _owners()
    if not regions:
        abort(403)
    template = request.values.get("template", "monthly")
    spec = rep.DEFAULT_FORMS.get(template, rep.DEFAULT_FORMS["monthly"])
    errors: list[str] = []
    if request.method == "POST":
        region = next((r for r in regions if r.id == request.form.get("region_id", type=int)), None) or abort(403)
        first = form_date("first_period", "Первый отчётный период", errors, required=True)
        try:
            fields = json.loads(request.form.get("fields") or "[]")
        except ValueError as exc:
            errors.append(f"Поле «Поля формы (JSON)»: не JSON — {exc}.")
            fields = None
        if not errors:
            try:
                form = rep.create_form(owner=region, title=request.form.get("title", ""),
                                       periodicity=request.form.get("periodicity", ""),
                                       deadline_text=request.form.get("deadline_text", ""),
                                       submitter_kind=request.form.get("submitter_kind", ""), fields=fields,
                                       first_period=first, actor=g.user,
                                       campaign=session.get(Campaign, request.form.get("campaign_id", type=int) or 0))
            except rep.ReportError as exc:
                errors = exc.errors
            else:
                flash("Форма отчёта утверждена.", "success")
                return redirect(url_for("reports.form", form_id=form.id))
    values = request.form if request.method == "POST" else {
        "title": spec["title"], "periodicity": spec["periodicity"].value, "deadline_text": spec["deadline_text"],
        "submitter_kind": spec["submitter_kind"], "fields": json.dumps(spec["fields"], ensure_ascii=False, indent=1),
        "first_period": today().replace(day=1).isoformat()}
    campaigns = svc.campaigns_visible([r for r in regions if r.kind is OrgKind.region])
    return render_template("reports/new.html", regions=regions, values=values, errors=errors,
                           templates=rep.DEFAULT_FORMS, template=template, campaigns=campaigns,
                           types=rep.FIELD_TYPES, kinds=rep.SUBMITTER_KINDS), 400 if errors else 200


def _period_arg(form: ReportForm, key: str | None) -> rep.Period:
    try:
        return rep.requested_period(form, key)
    except rep.ReportError:
        abort(404)


@bp.route("/<int:form_id>")
def form(form_id: int):
    form = get_form(form_id)
    period = _period_arg(form, request.args.get("period"))
    orgs = rep.expected_orgs(form, report_scopes())
    subs = rep.submissions_by_org(form, period)
    rows = [(o, subs.get(o.id), rep.submission_state(subs.get(o.id), period)) for o in orgs]
    return render_template("reports/form.html", form=form, period=period, rows=rows,
                           periods=rep.periods(form), types=rep.FIELD_TYPES, kinds=rep.SUBMITTER_KINDS,
                           can_submit=lambda o: can(g.user, "report.submit", o))


def _fill_page(form, org, period, sub, errors=None, status=200):
    return render_template("reports/fill.html", form=form, org=org, period=period, sub=sub,
                           state=rep.submission_state(sub, period), errors=errors or [],
                           can_submit=can(g.user, "report.submit", org) and form.active,
                           can_accept=org.parent is not None and can(g.user, "report.accept", org.parent),
                           values=(request.form if request.method == "POST" else (sub.values if sub else {}))), status


@bp.route("/<int:form_id>/<int:org_id>/<period_key>", methods=["GET", "POST"])
def fill(form_id: int, org_id: int, period_key: str):
    form = get_form(form_id)
    org = session.get(Organisation, org_id) or abort(404)
    require("report.view", org)
    period = _period_arg(form, period_key)
    sub = rep.submission_for(form, org, period)
    if request.method == "POST":
        require("report.submit", org)
        files = {}
        for f in form.fields:
            up = request.files.get(f["key"]) if f["type"] == "file" else None
            if up and up.filename:
                files[f["key"]] = (up.filename, up.read(MAX_EVIDENCE_FILE + 1))
        try:
            sub = rep.save_submission(form, org, period, request.form.to_dict(), files=files,
                                      submit=request.form.get("submit") == "1", actor=g.user)
        except rep.ReportError as exc:
            return _fill_page(form, org, period, sub, exc.errors, 400)
        flash("Отчёт представлен." if sub.submitted_at and request.form.get("submit") == "1"
              else "Черновик отчёта сохранён.", "success")
        return redirect(url_for("reports.fill", form_id=form.id, org_id=org.id, period_key=period.key))
    return _fill_page(form, org, period, sub)


@bp.route("/submissions/<int:submission_id>/decision", methods=["POST"])
def decide(submission_id: int):
    sub = session.get(ReportSubmission, submission_id) or abort(404)
    form = get_form(sub.form_id)
    org = sub.organisation
    if org.parent is None or not can(g.user, "report.accept", org.parent):
        abort(403)
    accept = request.form.get("decision") == "accept"
    period = rep.period_of(form, sub.period_start)
    try:
        rep.decide_submission(sub, accept=accept, comment=request.form.get("comment"), actor=g.user)
    except rep.ReportError as exc:
        return _fill_page(form, org, period, sub, exc.errors, 400)
    flash("Отчёт принят." if accept else "Отчёт возвращён на доработку.", "success")
    return redirect(url_for("reports.fill", form_id=form.id, org_id=org.id, period_key=period.key))


@bp.route("/submissions/<int:submission_id>/files/<key>")
def file(submission_id: int, key: str):
    sub = session.get(ReportSubmission, submission_id) or abort(404)
    require("report.view", sub.organisation)
    try:
        name, data = rep.file_value(sub, key)
    except rep.ReportError:
        abort(404)
    return Response(data, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@bp.route("/<int:form_id>/rollup")
def rollup(form_id: int):
    form = get_form(form_id)
    munis = rollup_municipalities(form)
    if munis is not None and not munis:
        abort(403)
    with_submitted = request.args.get("all") == "1"
    statuses = (ReportStatus.accepted, ReportStatus.submitted) if with_submitted else (ReportStatus.accepted,)
    rows = rep.rollup(form, statuses=statuses, municipalities=munis, totals=munis is None)
    headers, table = rep.rollup_table(form, rows)
    if request.args.get("format") == "xlsx":
        return xlsx_response(f"свод-{form.id}.xlsx", headers, table, title="Свод")
    numeric = rep.numeric_fields(form)
    key = request.args.get("field") or next((f["key"] for f in numeric if f["type"] == "percentage"),
                                            numeric[0]["key"] if numeric else None)
    chart = None
    if key:
        field = next((f for f in numeric if f["key"] == key), None) or abort(404)
        labels, series = rep.chart_series(form, rows, key)
        pct = field["type"] in ("percentage", "yes_no")
        chart = rep.svg_line_chart(labels, series, title=field["label"] + (" (среднее)" if pct else " (сумма)"),
                                   y_max=100 if pct else None, unit="%" if pct else "")
    return render_template("reports/rollup.html", form=form, headers=headers, table=table, chart=chart,
                           numeric=numeric, field_key=key, with_submitted=with_submitted, fmt=rep.fmt_number)
