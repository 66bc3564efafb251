"""JSON API of the archive (bearer tokens): search, a record, download with a purpose (logged),
verification of a PDF. The same scope rules as the pages (archive.services.may)."""
import hashlib

from flask import Blueprint, Response, abort, g, jsonify, request

from archive import services
from archive.loaders import get_record
from archive.models import ArchiveRecord, RecordStatus
from archive.search import Query, search
from core.api import json_errors
from core.db import present, session
from orgs.access import has_any

bp = json_errors(Blueprint("archive_api", __name__, url_prefix="/api/v1/archive"))




def to_json(r: ArchiveRecord, full: bool = False) -> dict:
    out = {"id": r.id, "document_class": r.kind.value, "title": r.title, "status": r.status.value,
           "document_id": r.document_id, "school_id": r.school_id, "municipality_id": r.municipality_id,
           "region_id": r.region_id, "school_year": r.school_year, "class_name": r.class_name,
           "signers": r.signers, "sha256": r.sha256, "source_sha256": r.source_sha256, "size": r.size,
           "retention_until": r.retention_until.isoformat() if r.retention_until else None,
           "legal_hold": r.legal_hold, "archived_at": r.archived_at.isoformat() if r.archived_at else None,
           "fixity_ok": r.fixity_ok}
    if full:
        out["versions"] = [{"number": v.number, "reason": v.reason, "key": v.key, "sha256": v.sha256, "size": v.size,
                            "timestamp_at": v.timestamp_at.isoformat() if v.timestamp_at else None,
                            "created_at": v.created_at.isoformat()} for v in r.versions]
        out["holds"] = [{"id": h.id, "reason": h.reason, "placed_at": h.placed_at.isoformat(),
                         "lifted_at": h.lifted_at.isoformat() if h.lifted_at else None} for h in r.holds]
    return out


@bp.route("/records")
def records():
    """Query parameters as on the search page: pupil, signer, year, class, kind, status, region,
    municipality, school, page (50 a page; `has_next` instead of a total)."""
    if not has_any(g.user, "archive.view"):
        abort(403)
    page = search(g.user, Query.from_args(request.args))
    return jsonify(items=[to_json(r) for r in page.rows], page=page.page, has_next=page.has_next)


@bp.route("/records/<int:record_id>")
def record(record_id: int):
    return jsonify(to_json(get_record(record_id), full=True))


@bp.route("/records/<int:record_id>/download", methods=["POST"])
def download(record_id: int):
    """{"purpose": "…"} → the archived PDF as stored; the purpose goes to the access log."""
    from core.storage import StorageError, get_storage
    r = get_record(record_id, "archive.download")
    body = request.get_json(silent=True) or {}
    purpose = str(body.get("purpose") or "").strip()
    if not purpose:
        return jsonify(error="invalid",
                       message="Укажите цель обращения (purpose): она записывается в журнал доступа."), 400
    if r.status is not RecordStatus.archived:
        return jsonify(error="not_archived", message="Документ не в архиве."), 409
    try:
        data = get_storage().get(present(r.key, "key"))
    except StorageError as e:
        return jsonify(error="unavailable", message=f"Хранилище недоступно: {e}"), 503
    if hashlib.sha256(data).hexdigest() != r.sha256:
        return jsonify(error="fixity",
                       message="Объект не совпадает с контрольной суммой: документ не выдаётся."), 409
    services.log_access(r, "download", purpose, user=g.user, sha256=r.sha256, key=r.key, via="api")
    return Response(data, mimetype="application/pdf", headers={"X-Content-SHA256": r.sha256})


@bp.route("/verify", methods=["POST"])
def verify():
    """A PDF as the request body (or a multipart `file`) → the verification report; it is stored."""
    from archive.verify import MAX_FILE, fetching_allowed, save_report, verify_bytes
    if not has_any(g.user, "archive.view"):
        abort(403)
    upload = request.files.get("file")
    data = upload.read(MAX_FILE + 1) if upload else request.get_data(cache=False)[: MAX_FILE + 1]
    if not data:
        abort(400)
    if len(data) > MAX_FILE:
        return jsonify(error="too_large", message="Файл больше 60 МБ."), 413
    v = verify_bytes(data, filename=upload.filename if upload else None, allow_fetching=fetching_allowed())
    if v.record_id is not None and not services.may(g.user, "archive.view", session.get(ArchiveRecord, v.record_id)):
        from archive.verify import hide_record
        hide_record(v)
    rep = save_report(v, source="upload", user=g.user)
    return jsonify(report_id=rep.id, **v.as_dict())
