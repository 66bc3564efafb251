"""Pages of the archive: search, the record, download and certified export (with a purpose, logged),
verification, the archive's status (pending, fixity), legal holds, disposal acts, retention rules."""
import hashlib
from collections.abc import Sequence

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select

from archive import services
from archive.loaders import get_record
from archive.models import (
    DEFAULT_RETENTION_YEARS,
    KIND_LABELS,
    PERMANENT_YEARS,
    AccessLog,
    ArchiveRecord,
    DisposalAct,
    DisposalItem,
    FixityRun,
    Hold,
    RecordKind,
    RecordStatus,
    RetentionRule,
    ValidationReport,
)
from archive.search import Query, search
from archive.services import ArchiveError
from core import db
from core.db import present, session
from orgs.access import has_any, require, scopes
from orgs.models.organisations import Organisation, OrgKind, subtree

bp = Blueprint("archive", __name__, url_prefix="/archive")
MAX_KEY_FILE = 64 * 1024


@bp.context_processor
def _helpers():
    return {"archive_can": lambda action: has_any(g.user, action)}


@bp.app_template_filter("iso_ru")
def iso_ru(value: str | None) -> str:
    """An ISO timestamp kept in JSON (signers' times), shown in Moscow time."""
    from datetime import datetime

    from core.filters import ru_datetime
    if not value:
        return "—"
    try:
        return ru_datetime(datetime.fromisoformat(value)) + " (МСК)"
    except ValueError:
        return value


def _need(action: str) -> None:
    if not has_any(g.user, action):
        abort(403)


def _orgs(kind: OrgKind) -> list[Organisation]:
    roots = scopes(g.user, "archive.view")
    if not roots:
        return []
    from sqlalchemy import or_
    rows = session.scalars(select(Organisation).where(or_(*[subtree(o) for o in roots]), Organisation.kind == kind))
    return sorted(rows, key=lambda o: o.name)


# ---- search -------------------------------------------------------------------------------------------------------

@bp.route("")
def index():
    _need("archive.view")
    q = Query.from_args(request.args)
    page = search(g.user, q)
    years = session.scalars(select(ArchiveRecord.school_year).distinct().where(
        services.scope_condition(g.user), ArchiveRecord.school_year.is_not(None))
        .order_by(ArchiveRecord.school_year.desc()).limit(50)).all()
    return render_template("archive/search.html", page=page, q=q, years=years, kinds=list(RecordKind),
                           statuses=list(RecordStatus), regions=_orgs(OrgKind.region),
                           municipalities=_orgs(OrgKind.municipality), schools=_orgs(OrgKind.school),
                           can_download=has_any(g.user, "archive.download"))


# ---- the record ---------------------------------------------------------------------------------------------------

@bp.route("/records/<int:record_id>")
def record(record_id: int):
    r = get_record(record_id)
    reports = session.scalars(select(ValidationReport).where(ValidationReport.record_id == r.id)
                              .order_by(ValidationReport.id.desc()).limit(50)).all()
    access = session.scalars(select(AccessLog).where(AccessLog.record_id == r.id)
                             .order_by(AccessLog.id.desc()).limit(200)).all()
    editions: Sequence[ArchiveRecord] = []
    if r.document_id or (r.school_id and r.school_year and r.class_name):
        editions = session.scalars(select(ArchiveRecord).where(
            ArchiveRecord.kind == r.kind, ArchiveRecord.school_id == r.school_id,
            ArchiveRecord.school_year == r.school_year, ArchiveRecord.class_name == r.class_name,
            ArchiveRecord.id != r.id).order_by(ArchiveRecord.id)).all()
    from orgs.models.users import User
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(
        {h.placed_by_id for h in r.holds} | {h.lifted_by_id for h in r.holds if h.lifted_by_id})))}
    acts = session.scalars(select(DisposalAct).where(DisposalAct.items.any(DisposalItem.record_id == r.id))).all()
    return render_template("archive/record.html", r=r, reports=reports, access=access, editions=editions,
                           users=users, acts=acts,
                           can_download=services.may(g.user, "archive.download", r),
                           can_hold=services.may(g.user, "archive.hold", r))


@bp.route("/records/<int:record_id>/download", methods=["POST"])
def download(record_id: int):
    """The archived PDF exactly as stored; the purpose goes to the access log."""
    from core.storage import StorageError, get_storage
    r = get_record(record_id, "archive.download")
    if r.status is not RecordStatus.archived:
        flash("Документ не в архиве: скачать нечего.", "error")
        return redirect(url_for("archive.record", record_id=r.id)), 303
    purpose = request.form.get("purpose", "")
    if not purpose.strip():
        flash("Укажите цель обращения к документу: без неё документ не выдаётся.", "error")
        return redirect(url_for("archive.record", record_id=r.id)), 303
    try:
        data = get_storage().get(present(r.key, "key"))
    except StorageError as e:
        return render_template("archive/error.html", message=f"Хранилище недоступно: {e}. Повторите позже."), 503
    if hashlib.sha256(data).hexdigest() != r.sha256:
        return render_template("archive/error.html", message=(
            "Объект в хранилище не совпадает с контрольной суммой архивной записи: документ не выдаётся. "
            "Сообщите архивисту — нужна проверка целостности.")), 409
    services.log_access(r, "download", purpose, user=g.user, sha256=r.sha256, key=r.key)
    name = f"archive-{r.id}-{r.sha256[:12]}.pdf"
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Content-SHA256": r.sha256, "Cache-Control": "no-store"})


@bp.route("/export", methods=["POST"])
def export():
    from archive.documents import SealMissing
    from archive.export import build
    _need("archive.download")
    ids = [int(x) for x in request.form.getlist("record_id") if x.isdigit()]
    records = session.scalars(select(ArchiveRecord).where(ArchiveRecord.id.in_(ids))).all() if ids else []
    for r in records:
        if not services.may(g.user, "archive.download", r):
            abort(403)
    try:
        result = build(list(records), request.form.get("purpose", ""), user=g.user)
    except (ArchiveError, SealMissing) as exc:
        return render_template("archive/error.html", message=str(exc),
                               back=request.referrer or url_for("archive.index")), 400
    return Response(result.data, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{result.name}.zip"',
                             "Cache-Control": "no-store"})


# ---- verification -------------------------------------------------------------------------------------------------

@bp.route("/verify", methods=["GET", "POST"])
def verify():
    from archive.verify import MAX_FILE, fetching_allowed, hide_record, save_report, verify_bytes
    _need("archive.view")
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return render_template("archive/verify.html", error="Выберите файл для проверки."), 400
        data = upload.read(MAX_FILE + 1)
        # the name as a label only, without the client's path or control characters
        name = "".join(ch for ch in upload.filename.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable())[:300]
        name = name if name.strip(". ") else "файл"
        if len(data) > MAX_FILE:
            return render_template("archive/verify.html", error=f"Файл {name} больше 60 МБ."), 400
        result = verify_bytes(data, filename=name, allow_fetching=fetching_allowed())
        if result.record_id is not None and not services.may(
                g.user, "archive.view", session.get(ArchiveRecord, result.record_id)):
            hide_record(result)            # matched a record outside the user's scope: say so, name nothing
        report = save_report(result, source="upload", user=g.user)
        return redirect(url_for("archive.report", report_id=report.id))
    return render_template("archive/verify.html", error=None)


@bp.route("/records/<int:record_id>/verify", methods=["POST"])
def verify_stored(record_id: int):
    from archive.verify import verify_stored as run
    from core.storage import StorageError
    r = get_record(record_id)
    if r.status is not RecordStatus.archived:
        flash("Документ не в архиве: проверять нечего.", "error")
        return redirect(url_for("archive.record", record_id=r.id)), 303
    try:
        report = run(r, source="stored", user=g.user)
    except StorageError as e:
        return render_template("archive/error.html", message=f"Хранилище недоступно: {e}."), 503
    return redirect(url_for("archive.report", report_id=report.id))


def _report(report_id: int) -> ValidationReport:
    rep = session.get(ValidationReport, report_id) or abort(404)
    if rep.record_id is not None:
        get_record(rep.record_id)
    elif rep.user_id != g.user.id:
        abort(403)
    return rep


@bp.route("/reports/<int:report_id>")
def report(report_id: int):
    rep = _report(report_id)
    record = session.get(ArchiveRecord, rep.record_id) if rep.record_id else None
    return render_template("archive/report.html", rep=rep, v=rep.report, record=record)


@bp.route("/reports/<int:report_id>.json")
def report_json(report_id: int):
    rep = _report(report_id)
    resp = jsonify(rep.report)
    resp.headers["Content-Disposition"] = f'attachment; filename="verification-{rep.id}.json"'
    return resp


# ---- status: pending, fixity --------------------------------------------------------------------------------------

@bp.route("/status")
def status():
    _need("archive.view")
    scope = services.scope_condition(g.user)
    pending = session.scalars(select(ArchiveRecord).where(scope, ArchiveRecord.status == RecordStatus.pending)
                              .order_by(ArchiveRecord.id).limit(200)).all()
    pending_count = session.scalar(select(func.count(ArchiveRecord.id)).where(
        scope, ArchiveRecord.status == RecordStatus.pending))
    problems = session.scalars(select(ArchiveRecord).where(scope, ArchiveRecord.fixity_ok.is_(False))
                               .order_by(ArchiveRecord.id).limit(200)).all()
    counts = dict(session.execute(select(ArchiveRecord.status, func.count(ArchiveRecord.id)).where(scope)
                                  .group_by(ArchiveRecord.status)).all())
    runs = session.scalars(select(FixityRun).order_by(FixityRun.id.desc()).limit(10)).all()
    from archive.tasks import due_for_renewal
    renewal_due = [r for r in due_for_renewal(limit=200) if services.may(g.user, "archive.view", r)]
    return render_template("archive/status.html", pending=pending, pending_count=pending_count, problems=problems,
                           counts=counts, runs=runs, renewal_due=renewal_due)


@bp.route("/records/<int:record_id>/retry", methods=["POST"])
def retry(record_id: int):
    r = get_record(record_id)
    if services.requeue(r):
        flash(f"Передача документа № {r.id} в архив поставлена в очередь.", "success")
    else:
        flash(f"Документ № {r.id} уже в очереди или в архиве.", "info")
    return redirect(url_for("archive.status"))


# ---- holds --------------------------------------------------------------------------------------------------------

@bp.route("/records/<int:record_id>/holds", methods=["POST"])
def place_hold(record_id: int):
    r = get_record(record_id, "archive.hold")
    try:
        services.place_hold(r, request.form.get("reason", ""), actor=g.user)
    except ArchiveError as exc:
        flash(str(exc), "error")
        return redirect(url_for("archive.record", record_id=r.id)), 303
    flash("Установлен запрет на уничтожение.", "success")
    return redirect(url_for("archive.record", record_id=r.id))


@bp.route("/holds/<int:hold_id>/lift", methods=["POST"])
def lift_hold(hold_id: int):
    hold = session.get(Hold, hold_id) or abort(404)
    r = get_record(hold.record_id, "archive.hold")
    try:
        services.lift_hold(hold, request.form.get("reason", ""), actor=g.user)
    except ArchiveError as exc:
        flash(str(exc), "error")
        return redirect(url_for("archive.record", record_id=r.id)), 303
    flash("Запрет на уничтожение снят.", "success")
    return redirect(url_for("archive.record", record_id=r.id))


# ---- disposal -----------------------------------------------------------------------------------------------------

def _act(act_id: int) -> DisposalAct:
    act = session.get(DisposalAct, act_id) or abort(404)
    require("archive.dispose", act.organisation)
    return act


@bp.route("/disposal", methods=["GET", "POST"])
def disposal():
    from archive import disposal as svc
    _need("archive.dispose")
    error = None
    if request.method == "POST":
        ids = [int(x) for x in request.form.getlist("record_id") if x.isdigit()]
        records = session.scalars(select(ArchiveRecord).where(ArchiveRecord.id.in_(ids))).all() if ids else []
        for r in records:
            if not services.may(g.user, "archive.dispose", r):
                abort(403)
        try:
            act = svc.draft(list(records), request.form.get("basis", ""), actor=g.user,
                            organisation=scopes(g.user, "archive.dispose")[0])
        except ArchiveError as exc:
            error = str(exc)
        else:
            flash(f"Составлен проект акта № {act.number}. Проверьте и подпишите.", "success")
            return redirect(url_for("archive.act", act_id=act.id))
    eligible = session.scalars(svc.eligible_statement(g.user).order_by(ArchiveRecord.retention_until,
                                                                       ArchiveRecord.id).limit(500)).all()
    roots = scopes(g.user, "archive.dispose")
    acts = session.scalars(select(DisposalAct).where(DisposalAct.organisation_id.in_(
        select(Organisation.id).where(_any_subtree(roots)))).order_by(DisposalAct.id.desc()).limit(100)).all()
    return render_template("archive/disposal.html", eligible=eligible, acts=acts, error=error), 400 if error else 200


def _any_subtree(roots):
    from sqlalchemy import or_
    return or_(*[subtree(o) for o in roots])


@bp.route("/disposal/<int:act_id>")
def act(act_id: int):
    return render_template("archive/act.html", act=_act(act_id))


@bp.route("/disposal/<int:act_id>/pdf")
def act_pdf(act_id: int):
    a = _act(act_id)
    return Response(a.pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="akt-{a.number}.pdf"'})


@bp.route("/disposal/<int:act_id>/sign", methods=["POST"])
def sign_act(act_id: int):
    import pades
    from archive import disposal as svc
    a = _act(act_id)
    upload = request.files.get("key")
    try:
        if upload is None or not upload.filename:
            raise ArchiveError("Выберите файл ключа (.p12 / .pfx).")
        data = upload.read(MAX_KEY_FILE + 1)
        if len(data) > MAX_KEY_FILE:
            raise ArchiveError(f"Файл {upload.filename} слишком велик для файла ключа.")
        svc.sign(a, pades.PKCS12Signer(data, request.form.get("passphrase") or ""), actor=g.user)
    except (ArchiveError, pades.SigningError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("archive.act", act_id=a.id)), 303
    flash(f"Акт № {a.number} подписан и передаётся в архив; документы будут уничтожены после этого.", "success")
    return redirect(url_for("archive.act", act_id=a.id))


# ---- retention rules (administrator) ------------------------------------------------------------------------------

@bp.route("/retention", methods=["GET", "POST"])
def retention():
    """The retention table: the archivist (or an administrator) of a region changes it, with a reason."""
    _need("archive.retention")
    region = scopes(g.user, "archive.retention")
    if not any(o.kind is OrgKind.region for o in region):
        abort(403)
    errors = []
    if request.method == "POST":
        reason = request.form.get("reason", "")
        for kind in RecordKind:
            years = PERMANENT_YEARS if request.form.get(f"permanent-{kind.value}") else \
                request.form.get(f"years-{kind.value}", type=int)
            if years is None:
                errors.append(f"«{kind.label}»: укажите срок в годах или «постоянно».")
                continue
            try:
                services.set_retention(kind, years, request.form.get(f"basis-{kind.value}", ""), actor=g.user,
                                       reason=reason)
            except ArchiveError as exc:
                errors.append(str(exc))
        if errors:
            db.rollback()                       # all or nothing: no class changed when one is refused
        if not errors:
            flash("Сроки хранения сохранены; они применяются к документам, поступающим в архив.", "success")
            return redirect(url_for("archive.retention"))
    rules = {r.kind: r for r in session.scalars(select(RetentionRule))}
    return render_template("archive/retention.html", kinds=list(RecordKind), rules=rules, errors=errors,
                           labels=KIND_LABELS, defaults=DEFAULT_RETENTION_YEARS, permanent=PERMANENT_YEARS,
                           form=request.form), 400 if errors else 200
