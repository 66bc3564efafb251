"""Liveness and readiness probes for load balancers and orchestrators."""
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from core.db import session

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    checks = {}
    for name, probe in (("database", _db), ("redis", _redis), ("archive", _archive), ("files", _files)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # any failure means "not ready"; the reason is for operators
            current_app.logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            checks[name] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503


def _db():
    session.execute(text("SELECT 1"))


def _redis():
    from core.jobs import redis_connection
    redis_connection().ping()


def _archive():
    from core.storage import get_storage
    get_storage().ping()


def _files():
    from core.storage import get_storage
    get_storage(name="files").ping()
