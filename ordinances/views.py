"""Pages for ordinances: list, import with preview and correction, the document, its plan, status, iCal."""
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from core.db import session
from ordinances import services as svc
from ordinances.forms import FormError, from_form, hidden_json
from ordinances.ical import plan_calendar
from ordinances.loaders import decode_upload, draft_condition, get_visible, issuers_for, visible_condition
from ordinances.models.ordinances import Ordinance, OrdinanceKind, OrdinanceStatus
from ordinances.parsing.parser import parse_docx, parse_text
from orgs.access import can, require, scopes
from orgs.models.organisations import Organisation

bp = Blueprint("ordinances", __name__, url_prefix="/ordinances")
MAX_UPLOAD = 5 * 1024 * 1024


@bp.route("")
def index():
    if not scopes(g.user, "ordinance.view"):
        abort(403)
    stmt = select(Ordinance).join(Organisation, Ordinance.issuer_id == Organisation.id) \
        .where(visible_condition(g.user), draft_condition(g.user))
    args = request.args
    if issuer := args.get("issuer", type=int):
        stmt = stmt.where(Ordinance.issuer_id == issuer)
    if year := args.get("year", type=int):
        stmt = stmt.where(func.extract("year", Ordinance.date) == year)
    if status := args.get("status"):
        if status in OrdinanceStatus.__members__:
            stmt = stmt.where(Ordinance.status == OrdinanceStatus(status))
    if q := (args.get("q") or "").strip():
        stmt = stmt.where(or_(Ordinance.search.op("@@")(func.websearch_to_tsquery("russian", q)),
                              Ordinance.number == q))
    rows = session.scalars(stmt.order_by(Ordinance.date.desc().nulls_last(), Ordinance.id.desc()).limit(500)).all()
    issuers = session.scalars(select(Organisation).where(Organisation.id.in_(
        select(Ordinance.issuer_id).join(Organisation, Ordinance.issuer_id == Organisation.id)
        .where(visible_condition(g.user))))).all()
    return render_template("ordinances/index.html", rows=rows, issuers=issuers, args=args,
                           statuses=list(OrdinanceStatus), can_create=bool(issuers_for(g.user)))


@bp.route("/new", methods=["GET", "POST"])
def new():
    issuers = issuers_for(g.user)
    if not issuers:
        abort(403)
    amends = get_visible(request.values.get("amends", type=int)) if request.values.get("amends") else None
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        text = request.form.get("text") or ""
        filename = None
        try:
            if upload and upload.filename:
                raw = upload.read(MAX_UPLOAD + 1)
                filename = upload.filename
                if len(raw) > MAX_UPLOAD:
                    raise ValueError(f"Файл {filename} больше 5 МБ.")
                if filename.lower().endswith(".docx"):
                    import io
                    parsed = parse_docx(io.BytesIO(raw))
                else:
                    parsed = parse_text(decode_upload(raw, filename))
            elif text.strip():
                parsed = parse_text(text)
            else:
                raise ValueError("Загрузите файл .txt или .docx или вставьте текст документа.")
        except ValueError as exc:
            error = str(exc) if not filename or filename in str(exc) else f"Файл {filename}: {exc}"
        except Exception:   # a broken .docx and the like: say which file, keep the details in the log
            error = f"Не удалось прочитать файл {filename or ''}: это не текст и не документ .docx."
        else:
            return render_template("ordinances/form.html", data=parsed, hidden=hidden_json(parsed),
                                   issuers=issuers, issuer_id=issuers[0].id, kinds=list(OrdinanceKind),
                                   filename=filename, amends=amends, preview=True,
                                   action=url_for("ordinances.save"))
    return render_template("ordinances/new.html", error=error, amends=amends), 400 if error else 200


def _issuer_from_form() -> Organisation:
    issuer = session.get(Organisation, request.form.get("issuer_id", type=int) or 0) or abort(400)
    require("ordinance.edit", issuer)
    return issuer


@bp.route("/save", methods=["POST"])
def save():
    issuer = _issuer_from_form()
    amends = get_visible(request.form.get("amends", type=int)) if request.form.get("amends") else None
    try:
        data = from_form(request.form)
        o = svc.create_from_parsed(data, issuer=issuer, actor=g.user, amends=amends,
                                   source_filename=request.form.get("filename") or None)
    except (FormError, svc.OrdinanceError) as exc:
        return _form_again(data if "data" in locals() else {}, issuer, str(exc), url_for("ordinances.save"))
    flash(f"{o.label} сохранён как черновик.", "success")
    return redirect(url_for("ordinances.show", ordinance_id=o.id))


def _form_again(data: dict, issuer: Organisation, error: str, action: str, status: int = 400):
    return render_template("ordinances/form.html", data=data, hidden=hidden_json(data),
                           issuers=issuers_for(g.user), issuer_id=issuer.id, kinds=list(OrdinanceKind),
                           filename=request.form.get("filename"), error=error, preview=True,
                           amends=None, action=action), status


@bp.route("/<int:ordinance_id>")
def show(ordinance_id: int):
    o = get_visible(ordinance_id)
    can_edit = can(g.user, "ordinance.edit", o.issuer)
    needs_pick = can_edit and o.plan is not None and any(
        e.kind.value == "unmatched" for it in o.plan.items for e in it.executors)
    people, orgs = svc.executor_choices(o) if needs_pick else ([], [])
    return render_template("ordinances/show.html", o=o, can_edit=can_edit, people=people, orgs=orgs,
                           amendments=svc.amendments(o), transitions=svc.TRANSITIONS[o.status])


@bp.route("/<int:ordinance_id>/edit", methods=["GET", "POST"])
def edit(ordinance_id: int):
    o = get_visible(ordinance_id)
    require("ordinance.edit", o.issuer)
    if not o.editable:
        flash("Действующий документ нельзя изменить: оформите новый документ, который вносит в него изменения.",
              "error")
        return redirect(url_for("ordinances.show", ordinance_id=o.id))
    action = url_for("ordinances.edit", ordinance_id=o.id)
    if request.method == "POST":
        issuer = _issuer_from_form()
        try:
            data = from_form(request.form)
            svc.update_draft(o, data, issuer=issuer, actor=g.user)
        except (FormError, svc.OrdinanceError) as exc:
            return _form_again(data if "data" in locals() else {}, issuer, str(exc), action)
        flash("Изменения сохранены.", "success")
        return redirect(url_for("ordinances.show", ordinance_id=o.id))
    data = svc.to_dict(o)
    return render_template("ordinances/form.html", data=data, hidden=hidden_json(data),
                           issuers=issuers_for(g.user), issuer_id=o.issuer_id, kinds=list(OrdinanceKind),
                           filename=o.source_filename, preview=False, amends=None, action=action)


@bp.route("/<int:ordinance_id>/status", methods=["POST"])
def status(ordinance_id: int):
    o = get_visible(ordinance_id)
    require("ordinance.edit", o.issuer)
    try:
        svc.set_status(o, OrdinanceStatus(request.form.get("status", "")), actor=g.user)
    except (ValueError, svc.OrdinanceError) as exc:
        flash(str(exc) if isinstance(exc, svc.OrdinanceError) else "Неизвестное состояние.", "error")
        return redirect(url_for("ordinances.show", ordinance_id=o.id)), 303
    flash(f"Состояние: {o.status.label}.", "success")
    return redirect(url_for("ordinances.show", ordinance_id=o.id))


@bp.route("/<int:ordinance_id>/plan.ics")
def plan_ics(ordinance_id: int):
    o = get_visible(ordinance_id)
    if o.plan is None:
        abort(404)
    return Response(plan_calendar(o, host=request.host), mimetype="text/calendar",
                    headers={"Content-Disposition": f'attachment; filename="plan-{o.id}.ics"'})


@bp.route("/<int:ordinance_id>/executors/<int:executor_id>", methods=["POST"])
def resolve_executor(ordinance_id: int, executor_id: int):
    from ordinances.models.ordinances import Executor
    o = get_visible(ordinance_id)
    require("ordinance.edit", o.issuer)
    executor = session.get(Executor, executor_id)
    if executor is None or o.plan is None or executor.item_id not in {i.id for i in o.plan.items}:
        abort(404)
    choice = request.form.get("choice", "")
    kind, _, ident = choice.partition(":")
    try:
        if kind not in ("user", "org") or not ident.isdigit():
            raise svc.OrdinanceError("Выберите сотрудника или организацию из списка.")
        svc.resolve_executor(executor, actor=g.user, user_id=int(ident) if kind == "user" else None,
                             organisation_id=int(ident) if kind == "org" else None)
    except svc.OrdinanceError as exc:
        flash(str(exc), "error")
        return redirect(url_for("ordinances.show", ordinance_id=o.id, _anchor="plan")), 303
    flash(f"Исполнитель «{executor.text}» сопоставлен.", "success")
    return redirect(url_for("ordinances.show", ordinance_id=o.id, _anchor="plan"))
