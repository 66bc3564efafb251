"""Pages for summary sheets: import marks, render, sign (one or a batch with a progress bar), download, verify."""

import hashlib

from flask import Blueprint, Response, abort, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

import pades
from core.db import session
from orgs.access import can, has_any, require, scope_condition, scopes
from orgs.models.organisations import Organisation, OrgKind
from orgs.models.users import User
from sheets import class_teachers, services, verdicts
from sheets.loaders import b64_field, get_batch, get_role_sheet, get_sheet
from sheets.models import BatchKind, SheetBatch, SheetStatus, SummarySheet
from sheets.preview import MAX_PAGES, marks_table, page_count

bp = Blueprint("sheets", __name__)
MAX_MARKS_FILE = 10 * 1024 * 1024
MAX_KEY_FILE = 64 * 1024


def current_school_year() -> str:
    from datetime import date

    from core.clock import school_year_label
    return school_year_label(date.today())


def _schools(action: str) -> list[Organisation]:
    return list(session.scalars(select(Organisation).where(scope_condition(g.user, action),
                                                           Organisation.kind == OrgKind.school)
                                .order_by(Organisation.name)))


@bp.route("/sheets")
def index():
    if not (has_any(g.user, "sheet.view") or has_any(g.user, "sheet.render")):
        abort(403)
    year = request.args.get("year") or current_school_year()
    stmt = select(SummarySheet).join(Organisation, SummarySheet.school_id == Organisation.id).where(
        class_teachers.visible_condition(g.user), SummarySheet.school_year == year)
    sheets = sorted(session.scalars(stmt).all(),
                    key=lambda s: (s.school.name, class_teachers.class_sort_key(s.class_name), s.version))
    batches = session.scalars(select(SheetBatch).where(SheetBatch.requested_by_id == g.user.id)
                              .order_by(SheetBatch.id.desc()).limit(5)).all()
    return render_template("sheets/index.html", sheets=sheets, year=year, batches=batches,
                           can_import=has_any(g.user, "marks.import"),
                           can_assign=has_any(g.user, "class.assign"),
                           render_orgs=scopes(g.user, "sheet.render"),
                           teacher_schools=_schools("sheet.sign_teacher"),
                           director_schools=_schools("sheet.sign_director"), cadesplugin_js=_cadesplugin_js())


@bp.route("/sheets/import", methods=["GET", "POST"])
def import_marks():
    from core.tabular import ImportFailed
    schools = _schools("marks.import")
    if not schools:
        abort(403)
    errors, year = [], request.form.get("school_year") or current_school_year()
    if request.method == "POST":
        school = session.get(Organisation, request.form.get("school_id", type=int) or 0) or abort(400)
        require("marks.import", school)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            errors = ["Выберите файл с оценками (CSV или XLSX)."]
        else:
            from sheets.marks_import import import_marks as parse_marks
            data = upload.read(MAX_MARKS_FILE + 1)
            try:
                if len(data) > MAX_MARKS_FILE:
                    raise services.SheetFlowError(f"Файл {upload.filename} больше 10 МБ.")
                sheets = services.import_classes(school, year, parse_marks(data, upload.filename), actor=g.user)
            except ImportFailed as exc:
                errors = [str(e) for e in exc.errors]
            except services.SheetFlowError as exc:
                errors = [str(exc)]
            else:
                flash(f"Загружено классов: {len(sheets)}. Теперь ведомости можно сформировать.", "success")
                return redirect(url_for("sheets.index", year=year))
    return render_template("sheets/import.html", schools=schools, errors=errors, year=year), 400 if errors else 200


@bp.route("/sheets/<int:sheet_id>")
def show(sheet_id: int):
    sheet = get_sheet(sheet_id)
    versions = []
    s = sheet
    while s.supersedes is not None:
        s = s.supersedes
        versions.append(s)
    later = session.scalars(select(SummarySheet).where(SummarySheet.supersedes_id == sheet.id)).all()
    digest = hashlib.sha256(sheet.pdf).digest() if sheet.pdf else None    # the bytes as they are now
    return render_template("sheets/show.html", sheet=sheet, versions=versions, later=later,
                           signatures=_validation(sheet, digest), class_teacher=class_teachers.teacher_of(sheet),
                           certified_by=session.get(User, sheet.class_teacher_id)
                           if sheet.teacher_signed_at and sheet.class_teacher_id else None,
                           can_render=can(g.user, "sheet.render", sheet.school),
                           can_teacher=class_teachers.may(g.user, "sheet.sign_teacher", sheet),
                           can_director=can(g.user, "sheet.sign_director", sheet.school),
                           can_correct=class_teachers.may(g.user, "marks.import", sheet),
                           cadesplugin_js=_cadesplugin_js(),
                           has_detached_sig=session.scalar(select(SummarySheet.detached_sig.is_not(None))
                                                           .where(SummarySheet.id == sheet.id)),
                           pages=range(1, min(_page_count(sheet.pdf, digest), MAX_PAGES) + 1)
                           if sheet.pdf and digest else [],
                           marks=marks_table(sheet.marks))


def _cadesplugin_js() -> str | None:
    """CryptoPro's cadesplugin_api.js, if the installation put it in web/static/vendor/ (it is not ours
    to ship): it connects the page to the browser extension of the plug-in."""
    from pathlib import Path
    if (Path(__file__).resolve().parents[1] / "web" / "static" / "vendor" / "cadesplugin_api.js").exists():
        return url_for("static", filename="vendor/cadesplugin_api.js")
    return None


_PAGE_COUNTS: dict[bytes, int] = {}
MAX_PAGE_COUNTS = 512


def _page_count(pdf: bytes, digest: bytes) -> int:
    """Parsing the PDF for its page count cost ≈ 3 ms a view; the count is kept by the bytes' digest."""
    if digest not in _PAGE_COUNTS:
        if len(_PAGE_COUNTS) >= MAX_PAGE_COUNTS:
            _PAGE_COUNTS.clear()
        _PAGE_COUNTS[digest] = page_count(pdf)
    return _PAGE_COUNTS[digest]


def _validation(sheet: SummarySheet, digest: bytes | None) -> list | None:
    """The signatures as validated now against TRUST_ROOTS (None: nothing signed yet)."""
    from core.trust import trust_roots
    if sheet.status not in (SheetStatus.teacher_signed, SheetStatus.signed, SheetStatus.superseded) or \
            not sheet.pdf or digest is None:
        return None
    try:
        return verdicts.verdict(sheet.pdf, digest, trust_roots())
    except (pades.SigningError, OSError, ValueError) as exc:
        return [{"summary_ru": f"Проверка невозможна: {exc}"}]


@bp.route("/sheets/<int:sheet_id>/preview/<int:page>.png")
def preview(sheet_id: int, page: int):
    """A page of the sheet as an image (the same check as the PDF's download)."""
    from sheets.preview import PreviewUnavailable, page_png
    sheet = get_sheet(sheet_id)
    if sheet.pdf is None or not sheet.pdf_sha256:
        abort(404)
    try:
        png = page_png(sheet.pdf, sheet.pdf_sha256, page)
    except PreviewUnavailable as exc:
        return Response(str(exc), status=404, mimetype="text/plain")
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=86400"})


@bp.route("/sheets/<int:sheet_id>/render", methods=["POST"])
def render_one(sheet_id: int):
    sheet = get_sheet(sheet_id, "sheet.render")
    try:
        services.render_pdf(sheet, actor=g.user)
    except services.SheetFlowError as exc:
        flash(str(exc), "error")
        return redirect(url_for("sheets.show", sheet_id=sheet.id)), 303
    flash("Ведомость сформирована.", "success")
    return redirect(url_for("sheets.show", sheet_id=sheet.id))


def _key_upload() -> tuple[bytes, str]:
    upload = request.files.get("key")
    if upload is None or not upload.filename:
        raise services.SheetFlowError("Выберите файл ключа (.p12 / .pfx).")
    data = upload.read(MAX_KEY_FILE + 1)
    if len(data) > MAX_KEY_FILE:
        raise services.SheetFlowError(f"Файл {upload.filename} слишком велик для файла ключа.")
    return data, request.form.get("passphrase") or ""


@bp.route("/sheets/<int:sheet_id>/sign", methods=["POST"])
def sign_one(sheet_id: int):
    role = request.form.get("role")
    if role not in services.STEP:
        abort(400)
    sheet = get_sheet(sheet_id, "sheet.sign_teacher" if role == "teacher" else "sheet.sign_director")
    try:
        p12, passphrase = _key_upload()
        services.sign(sheet, role, pades.PKCS12Signer(p12, passphrase), actor=g.user)
    except (services.SheetFlowError, pades.SigningError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("sheets.show", sheet_id=sheet.id)), 303
    flash("Ведомость подписана.", "success")
    return redirect(url_for("sheets.show", sheet_id=sheet.id))


@bp.route("/sheets/<int:sheet_id>/pdf")
def pdf(sheet_id: int):
    from core import audit
    sheet = get_sheet(sheet_id)
    if sheet.pdf is None:
        abort(404)
    audit.record("sheet.download", sheet, sha256=sheet.pdf_sha256)
    name = f"vedomost-{sheet.document_id}-v{sheet.version}.pdf"
    return Response(sheet.pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/sheets/<int:sheet_id>/correct", methods=["POST"])
def correct(sheet_id: int):
    from core.tabular import ImportFailed
    sheet = get_sheet(sheet_id, "marks.import")
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise services.SheetFlowError("Выберите файл с исправленными оценками класса.")
        from sheets.marks_import import import_marks as parse_marks
        classes = parse_marks(upload.read(MAX_MARKS_FILE), upload.filename)
        cm = classes.get(sheet.class_name)
        if cm is None:
            raise services.SheetFlowError(f"В файле нет класса {sheet.class_label}.")
        new = services.correct(sheet, cm, reason=request.form.get("reason", ""), actor=g.user)
    except ImportFailed as exc:
        flash("; ".join(str(e) for e in exc.errors[:5]), "error")
        return redirect(url_for("sheets.show", sheet_id=sheet.id)), 303
    except services.SheetFlowError as exc:
        flash(str(exc), "error")
        return redirect(url_for("sheets.show", sheet_id=sheet.id)), 303
    flash(f"Создана версия {new.version}; прежняя сохранена.", "success")
    return redirect(url_for("sheets.show", sheet_id=new.id))


@bp.route("/sheets/batches", methods=["POST"])
def start_batch():
    try:
        kind = BatchKind(request.form.get("kind", ""))
    except ValueError:
        abort(400)
    org = session.get(Organisation, request.form.get("organisation_id", type=int) or 0) or abort(400)
    require({BatchKind.render: "sheet.render", BatchKind.sign_teacher: "sheet.sign_teacher",
             BatchKind.sign_director: "sheet.sign_director"}[kind], org)
    year = request.form.get("school_year") or current_school_year()
    try:
        p12, passphrase = _key_upload() if kind is not BatchKind.render else (None, None)
        batch = services.start_batch(kind, org, year, actor=g.user, pkcs12=p12, passphrase=passphrase)
    except (services.SheetFlowError, pades.SigningError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("sheets.index", year=year)), 303
    return redirect(url_for("sheets.batch", batch_id=batch.id))


@bp.route("/sheets/batches/<int:batch_id>")
def batch(batch_id: int):
    return render_template("sheets/batch.html", batch=get_batch(batch_id))


@bp.route("/sheets/batches/<int:batch_id>.json")
def batch_json(batch_id: int):
    return jsonify(get_batch(batch_id).progress)


@bp.route("/sheets/class-teachers", methods=["GET", "POST"])
def class_teacher_page():
    """The director's (or deputy's) page: the class teacher of each class for a school year,
    one by one or from a staff file."""
    from core.tabular import ImportFailed
    schools = _schools("class.assign")
    if not schools:
        abort(403)
    source = request.form if request.method == "POST" else request.args
    school = session.get(Organisation, source.get("school_id", type=int) or schools[0].id) or abort(404)
    require("class.assign", school)
    year = source.get("school_year") or current_school_year()
    errors: list[str] = []
    if request.method == "POST":
        upload = request.files.get("file")
        try:
            if upload is not None and upload.filename:
                summary = class_teachers.import_file(upload.read(MAX_MARKS_FILE), upload.filename, year, actor=g.user)
                flash(f"Назначено: {summary.assigned}, без изменений: {summary.unchanged}.", "success")
            else:
                teacher_id = request.form.get("user_id", type=int)
                teacher = session.get(User, teacher_id) if teacher_id else None
                class_teachers.assign(school, year, request.form.get("class_name", ""), teacher, actor=g.user)
                flash("Классный руководитель назначен." if teacher else "Назначение снято.", "success")
        except ImportFailed as exc:
            errors = [str(e) for e in exc.errors]
        except class_teachers.AssignmentError as exc:
            errors = [str(exc)]
        else:
            return redirect(url_for("sheets.class_teacher_page", school_id=school.id, school_year=year))
    return render_template("sheets/class_teachers.html", schools=schools, school=school, year=year, errors=errors,
                           rows=class_teachers.classes(school, year),
                           teachers=class_teachers.teachers(school)), 400 if errors else 200


# ---- КЭП in the browser (КриптоПро ЭЦП Browser plug-in, web/static/kep.js) -------------------------------------

@bp.route("/sheets/<int:sheet_id>/kep/prepare", methods=["POST"])
def kep_prepare(sheet_id: int):
    """The plug-in's certificate in, the bytes to hash and the digest algorithm out (same checks as the API)."""
    sheet, role, body = get_role_sheet(sheet_id)
    try:
        return jsonify(services.begin_external(sheet, role, b64_field(body, "certificate"), actor=g.user))
    except (services.SheetFlowError, pades.SigningError) as exc:
        return jsonify(error="invalid", message=str(exc)), 422


@bp.route("/sheets/<int:sheet_id>/kep/complete", methods=["POST"])
def kep_complete(sheet_id: int):
    sheet, role, body = get_role_sheet(sheet_id)
    try:
        services.finish_external(sheet, role, b64_field(body, "cms"), actor=g.user)
    except (services.SheetFlowError, pades.SigningError) as exc:
        return jsonify(error="invalid", message=str(exc)), 422
    if not body.get("batch"):      # the plug-in batch reports its own progress
        flash("Ведомость подписана КЭП.", "success")
    answer = services.to_json(sheet)
    if role == "director":         # the plug-in signs the final PDF too: the .sig for Госуслуги / КриптоАРМ
        import base64
        answer["final_pdf"] = base64.b64encode(sheet.pdf or b"").decode()
        answer["detached"] = url_for("sheets.kep_detached", sheet_id=sheet.id)
    return jsonify(answer)


@bp.route("/sheets/<int:sheet_id>/kep/detached", methods=["POST"])
def kep_detached(sheet_id: int):
    sheet = get_sheet(sheet_id, "sheet.sign_director")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    try:
        services.attach_detached_signature(sheet, b64_field(body, "cms"), actor=g.user)
    except (services.SheetFlowError, pades.SigningError) as exc:
        return jsonify(error="invalid", message=str(exc)), 422
    return jsonify(ok=True)


@bp.route("/sheets/<int:sheet_id>/sig")
def detached_sig(sheet_id: int):
    from core import audit
    sheet = get_sheet(sheet_id)
    if sheet.detached_sig is None:
        abort(404)
    audit.record("sheet.download_sig", sheet)
    name = f"vedomost-{sheet.document_id}-v{sheet.version}.pdf.sig"
    return Response(sheet.detached_sig, mimetype="application/pkcs7-signature",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/sheets/kep/waiting")
def kep_waiting():
    """The plug-in batch (web/static/kep.js): the sheets of a school waiting for this user's signature,
    each with its prepare/complete addresses; the page signs them one by one in one plug-in session."""
    try:
        kind = {"teacher": BatchKind.sign_teacher, "director": BatchKind.sign_director}[request.args.get("role", "")]
    except KeyError:
        abort(400)
    org = session.get(Organisation, request.args.get("organisation_id", type=int) or 0) or abort(404)
    require("sheet.sign_teacher" if kind is BatchKind.sign_teacher else "sheet.sign_director", org)
    ids = services.waiting_ids(kind, org, request.args.get("school_year") or current_school_year(), actor=g.user)
    sheets = [session.get_one(SummarySheet, i) for i in ids]
    return jsonify(sheets=[{"id": s.id, "label": s.label,
                            "prepare": url_for("sheets.kep_prepare", sheet_id=s.id),
                            "complete": url_for("sheets.kep_complete", sheet_id=s.id)} for s in sheets])
