"""JSON API of an ordinance's files under /api/v1/ordinances (bearer tokens, CSRF-exempt; the same access
checks as the pages: ordinance.view to list and download, ordinance.edit on the issuer to upload and remove).

    GET    /{id}/files                       the order's file and the attachments' files, with archive state
    POST   /{id}/files                       multipart: file (PDF), role=order|attachment, number, title
                                             201 created, 200 replaced (draft only); 422/413 with a message
    GET    /{id}/files/{file_id}/content     the PDF (the archive's copy once archived; access logged)
    DELETE /{id}/files/{file_id}             draft only; 204
"""
from flask import Blueprint, abort, g, jsonify, request

from core.api import json_errors
from ordinances import files
from ordinances.file_views import pdf_response
from ordinances.loaders import get_visible
from orgs.access import can, covers, require

bp = json_errors(Blueprint("ordinance_files_api", __name__, url_prefix="/api/v1/ordinances"))




def _invalid(exc: files.OrdinanceFileError):
    status = {"too_large": 413, "disposed": 410, "frozen": 409}.get(exc.code, 422)
    return jsonify(error=exc.code, message=str(exc)), status


def _dict(f, o):
    link = f.archive_record is not None and covers(g.user, "archive.view", f.archive_record.org_path)
    d = files.to_dict(f, archive_link=link)
    d["content_url"] = f"/api/v1/ordinances/{o.id}/files/{f.id}/content"
    return d


@bp.route("/<int:ordinance_id>/files")
def index(ordinance_id: int):
    o = get_visible(ordinance_id)
    p = files.panel(o)
    return jsonify(ordinance_id=o.id, status=o.status.value,
                   can_edit=can(g.user, "ordinance.edit", o.issuer),
                   slots=[{"role": s.role, "attachment_number": s.number, "title": s.title, "in_text": s.in_text,
                           "file": _dict(s.file, o) if s.file else None} for s in p.slots])


@bp.route("/<int:ordinance_id>/files", methods=["POST"])
def upload(ordinance_id: int):
    o = get_visible(ordinance_id)
    require("ordinance.edit", o.issuer)
    upload = request.files.get("file")
    if upload is None:
        return jsonify(error="invalid", message="Нужен файл PDF в поле file (multipart/form-data)."), 422
    try:
        f, replaced = files.upload(o, data=upload.read(files.max_bytes() + 1), filename=upload.filename,
                                   actor=g.user, role=request.form.get("role", ""),
                                   number=request.form.get("number"), title=request.form.get("title"))
    except files.OrdinanceFileError as exc:
        return _invalid(exc)
    return jsonify(_dict(f, o)), 200 if replaced else 201


@bp.route("/<int:ordinance_id>/files/<int:file_id>/content")
def content(ordinance_id: int, file_id: int):
    from core.storage import StorageError
    o = get_visible(ordinance_id)
    f = files.get_file(o, file_id) or abort(404)
    try:
        data = files.read(o, f, user=g.user)
    except files.OrdinanceFileError as exc:
        return _invalid(exc) if exc.code != "broken" else (jsonify(error="broken", message=str(exc)), 409)
    except StorageError as exc:
        return jsonify(error="storage_unavailable",
                       message=f"Архивное хранилище недоступно ({type(exc).__name__}). Повторите позже."), 503
    return pdf_response(data, f.filename)


@bp.route("/<int:ordinance_id>/files/<int:file_id>", methods=["DELETE"])
def remove(ordinance_id: int, file_id: int):
    o = get_visible(ordinance_id)
    require("ordinance.edit", o.issuer)
    f = files.get_file(o, file_id) or abort(404)
    try:
        files.remove(o, f, actor=g.user)
    except files.OrdinanceFileError as exc:
        return _invalid(exc)
    return "", 204
