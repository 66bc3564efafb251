"""The public verification page, `/verify/<document id>`: what the QR code printed on a sheet opens.

Anyone may upload the copy in hand; nothing of the pupils is shown. Uploads are capped in size
(PUBLIC_VERIFY_MAX_BYTES, 413 above it) and rate-limited per address (PUBLIC_VERIFY_PER_MINUTE, 429).
"""
import time

from flask import Blueprint, abort, current_app, render_template, request
from redis.exceptions import RedisError

from archive import public
from core.jobs import redis_connection

bp = Blueprint("public_verify", __name__)


@bp.route("/verify/<document_id>", methods=["GET", "POST"])
def verify(document_id: str):
    doc = public.find(document_id[:64])
    if doc is None:
        return render_template("archive/public_verify.html", doc=None, document_id=document_id[:64]), 404
    verdict, error, status = None, None, 200
    if request.method == "POST":
        limit = int(current_app.config["PUBLIC_VERIFY_MAX_BYTES"])
        request.max_content_length = limit + 64 * 1024      # the form's own fields; a bigger body gets 413
        if not _allowed():
            error, status = "Слишком много проверок с вашего адреса. Повторите через минуту.", 429
        else:
            upload = request.files.get("file")
            data = upload.read(limit + 1) if upload else b""
            if not data:
                error, status = "Выберите файл PDF для проверки.", 400
            elif len(data) > limit:
                abort(413)
            else:
                verdict = public.check(doc, data)
    return render_template("archive/public_verify.html", doc=doc, document_id=doc.document_id, verdict=verdict,
                           error=error, max_mb=int(current_app.config["PUBLIC_VERIFY_MAX_BYTES"]) // (1024 * 1024)), \
        status


def _allowed() -> bool:
    """A fixed one-minute window per client address, counted in Redis (shared by every web node)."""
    per_minute = int(current_app.config["PUBLIC_VERIFY_PER_MINUTE"])
    key = f"verify-rate:{request.remote_addr}:{int(time.time() // 60)}"
    try:
        conn = redis_connection()
        count = conn.incr(key)
        if count == 1:
            conn.expire(key, 120)
    except RedisError:
        return True       # Redis down: verification still works; the size cap still holds
    return count <= per_minute
