"""Pages for an ordinance's files (the signed order and its attachments): upload, replace, remove, download.

The list is shown on the ordinance page (templates/workflow/_ordinance_files.html, included by
workflow/ordinance.html) through the `ordinance_files_panel(o)` template helper. Who may see the ordinance
may download its files; who may edit it (ordinance.edit on the issuer) may upload and, on a draft, remove.
"""
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for

from ordinances import files
from ordinances.loaders import get_visible
from orgs.access import can, covers, require

bp = Blueprint("ordinance_files", __name__, url_prefix="/ordinances")

STATUS_LABELS = {"draft": "черновик, хранится до введения в действие", "pending": "передаётся в архив",
                 "archived": "в архиве", "disposed": "уничтожен по акту"}


@bp.app_context_processor
def _helpers():
    def ordinance_files_panel(o):
        user = g.get("user")
        p = files.panel(o)
        return {"panel": p, "can_edit": user is not None and can(user, "ordinance.edit", o.issuer),
                "max_size": files.size_label(files.max_bytes()), "labels": STATUS_LABELS, "status_of": files.status_of,
                "archive_link": lambda f: (f.archive_record is not None and user is not None
                                           and covers(user, "archive.view", f.archive_record.org_path))}
    return {"ordinance_files_panel": ordinance_files_panel}


def _upload_fields() -> dict:
    """role/number/title from the form: `slot` is "order", "attachment:<N>" or "new" (+ number, title)."""
    slot = request.form.get("slot", "")
    if slot == "order":
        return {"role": "order"}
    if slot.startswith("attachment:"):
        return {"role": "attachment", "number": slot.partition(":")[2]}
    if slot == "new":
        return {"role": "attachment", "number": request.form.get("number"), "title": request.form.get("title")}
    return {"role": ""}


@bp.route("/<int:ordinance_id>/files", methods=["POST"])
def upload(ordinance_id: int):
    o = get_visible(ordinance_id)
    require("ordinance.edit", o.issuer)
    upload = request.files.get("file")
    limit = files.max_bytes()
    try:
        if upload is None or not upload.filename:
            raise files.OrdinanceFileError("Выберите файл PDF для загрузки.")
        data = upload.read(limit + 1)
        f, replaced = files.upload(o, data=data, filename=upload.filename, actor=g.user, **_upload_fields())
    except files.OrdinanceFileError as exc:
        return render_template("ordinances/file_error.html", o=o, error=str(exc)), 400
    verb = "заменён" if replaced else "загружен"
    flash(f"Файл «{f.filename}» {verb}" + (" и передан в архив." if f.archive_record_id else "."), "success")
    return redirect(url_for("ordinances.show", ordinance_id=o.id, _anchor="files"))


@bp.route("/<int:ordinance_id>/files/<int:file_id>/remove", methods=["POST"])
def remove(ordinance_id: int, file_id: int):
    o = get_visible(ordinance_id)
    require("ordinance.edit", o.issuer)
    f = files.get_file(o, file_id) or abort(404)
    name = f.filename
    try:
        files.remove(o, f, actor=g.user)
    except files.OrdinanceFileError as exc:
        return render_template("ordinances/file_error.html", o=o, error=str(exc)), 400
    flash(f"Файл «{name}» удалён.", "success")
    return redirect(url_for("ordinances.show", ordinance_id=o.id, _anchor="files"))


@bp.route("/<int:ordinance_id>/files/<int:file_id>")
def download(ordinance_id: int, file_id: int):
    o = get_visible(ordinance_id)
    f = files.get_file(o, file_id) or abort(404)
    from core.storage import StorageError
    try:
        data = files.read(o, f, user=g.user)
    except files.OrdinanceFileError as exc:
        return render_template("ordinances/file_error.html", o=o, error=str(exc)), \
            410 if exc.code == "disposed" else 409
    except StorageError as exc:
        return render_template("ordinances/file_error.html", o=o,
                               error=f"Архивное хранилище недоступно ({type(exc).__name__}). Повторите позже."), 503
    return pdf_response(data, f.filename)


def pdf_response(data: bytes, filename: str) -> Response:
    import hashlib
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
                             "X-Content-SHA256": hashlib.sha256(data).hexdigest(),
                             "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
