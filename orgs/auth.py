"""Authentication: server-side sessions for pages (orgs/sessions.py), bearer tokens for /api/v1.

Every endpoint requires a logged-in user unless it is listed in PUBLIC_ENDPOINTS; what the user may do
there is decided by orgs.access. A session that still owes its second factor reaches only the second-factor
page; a user whose password was set by an administrator reaches only the password page until they change it.
"""
from flask import Flask, g, jsonify, redirect, request, url_for
from werkzeug.exceptions import SecurityError

PUBLIC_ENDPOINTS = {"static", "auth.login", "auth.forgot", "auth.reset", "api.openapi", "health.healthz",
                    "health.readyz", "public_verify.verify", "assignments.feed"}
SECOND_FACTOR_ENDPOINTS = {"auth.second_factor", "auth.logout", "static"}
PASSWORD_ENDPOINTS = {"auth.change_password", "auth.logout", "static"}
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def current_user():
    return g.get("user")


def _load_user():
    from orgs import sessions
    from orgs.accounts import token_for
    g.user = g.pending_user = g.user_session = g.api_token = None
    if request.path.startswith("/api/"):
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            g.api_token = token_for(header[7:].strip())
            g.user = g.api_token.user if g.api_token else None
        return
    record = sessions.current()
    if record is None:
        return
    g.user_session = record
    if record.second_factor_at is None:
        g.pending_user = record.user
    else:
        g.user = record.user


def _require_login():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if isinstance(request.routing_exception, SecurityError):
        return None   # a Host outside TRUSTED_HOSTS: Flask answers 400; no redirect is built from it
    if g.api_token is not None and g.api_token.scope == "read" and request.method not in READ_METHODS:
        return jsonify(error="forbidden", message="Токен выпущен только для чтения: изменять данные им нельзя."), 403
    if g.pending_user is not None:
        return None if request.endpoint in SECOND_FACTOR_ENDPOINTS else redirect(url_for("auth.second_factor"))
    if g.user is not None:
        if g.user_session is not None and g.user.must_change_password and request.endpoint not in PASSWORD_ENDPOINTS:
            return redirect(url_for("auth.change_password"))
        return None
    if request.path.startswith("/api/"):
        return jsonify(error="unauthorized", message="Нужен действующий токен API: заголовок Authorization: "
                                                     "Bearer … (токен не истёк и не отозван)"), 401
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def init_app(app: Flask) -> None:
    from orgs.auth_views import bp
    app.register_blueprint(bp)
    app.before_request(_load_user)
    app.before_request(_require_login)

    @app.context_processor
    def _inject_user():
        return {"current_user": g.get("user")}
