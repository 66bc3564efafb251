"""Authentication: session login for pages, bearer tokens for /api/v1.

Every endpoint requires a logged-in user unless it is listed in PUBLIC_ENDPOINTS;
what the user may do there is decided by orgs.access.
"""
from flask import Flask, g, jsonify, redirect, request, url_for
from flask import session as http_session
from werkzeug.exceptions import SecurityError

from core.db import session

PUBLIC_ENDPOINTS = {"static", "auth.login", "api.openapi", "health.healthz", "health.readyz", "public_verify.verify",
                    "assignments.feed"}


def current_user():
    return g.get("user")


def _load_user():
    from orgs.accounts import user_for_token
    from orgs.models.users import User
    g.user = None
    if request.path.startswith("/api/"):
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            g.user = user_for_token(header[7:].strip())
        return
    uid = http_session.get("uid")
    if uid is not None:
        user = session.get(User, uid)
        # A password change or deactivation ends existing sessions.
        if user and user.active and http_session.get("pw") == (user.password_hash or "")[-16:]:
            g.user = user
        else:
            http_session.clear()


def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS or g.user is not None:
        return None
    if isinstance(request.routing_exception, SecurityError):
        return None   # a Host outside TRUSTED_HOSTS: Flask answers 400; no redirect is built from it
    if request.path.startswith("/api/"):
        return jsonify(error="unauthorized", message="Нужен токен API: заголовок Authorization: Bearer …"), 401
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def init_app(app: Flask) -> None:
    from orgs.auth_views import bp
    app.register_blueprint(bp)
    app.before_request(_load_user)
    app.before_request(_require_login)

    @app.context_processor
    def _inject_user():
        return {"current_user": g.get("user")}
