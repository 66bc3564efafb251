"""Secure response headers and the Russian error pages.

Content-Security-Policy: scripts only from this origin or inline blocks carrying the per-request nonce
(`<script nonce="{{ csp_nonce() }}">`); styles allow inline `style=""` attributes used by the templates.
HSTS is sent only when the request came over TLS or the session cookie is marked secure.
"""
import logging
import secrets

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from core.security_log import log_event

log = logging.getLogger(__name__)

ERROR_TEXT = {
    400: ("Неверный запрос", "Запрос не удалось обработать. Проверьте введённые данные и попробуйте ещё раз."),
    401: ("Нужен вход", "Войдите в систему, чтобы открыть эту страницу."),
    403: ("Доступ запрещён", "У вас нет прав на это действие или эту организацию."),
    404: ("Страница не найдена", "Такой страницы нет, или она вам недоступна."),
    405: ("Метод не поддерживается", "Эта страница не принимает такой запрос."),
    413: ("Файл слишком большой", "Размер запроса превышает допустимый предел ({limit}). Уменьшите файл и повторите."),
    500: ("Внутренняя ошибка", "Произошла ошибка на сервере. Попробуйте позже; если ошибка повторится, "
                               "сообщите администратору время, когда она случилась."),
}


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _limit_text(app: Flask) -> str:
    limit = app.config.get("MAX_CONTENT_LENGTH")
    if not limit:
        return "без ограничения"
    return f"{limit / (1024 * 1024):.0f} МБ" if limit >= 1024 * 1024 else f"{limit} байт"


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _secure_headers(resp):
        h = resp.headers
        h.setdefault("Content-Security-Policy",
                     f"default-src 'self'; script-src 'self' 'nonce-{csp_nonce()}'; "
                     "style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
                     "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure or app.config.get("SESSION_COOKIE_SECURE"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return resp

    def _error(code: int, message: str | None = None):
        title, text = ERROR_TEXT.get(code, ERROR_TEXT[500])
        text = message or text.format(limit=_limit_text(app))
        if request.path.startswith("/api/"):
            return jsonify(error=title, message=text), code
        try:
            return render_template("errors/error.html", code=code, title=title, text=text), code
        except Exception:   # the page itself failed (e.g. the database is gone): plain text still says what happened
            log.exception("error page %s could not be rendered", code)
            return f"{title}. {text}", code, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(CSRFError)
    def _csrf(e):
        log_event("csrf", status=400)
        return _error(400, "Форма устарела или отправлена не с этой страницы. Обновите страницу и отправьте её снова.")

    @app.after_request
    def _refusals(resp):
        # every refusal, however it was made (abort(403), a view's own 403/429 answer), once
        if resp.status_code in (403, 429) and not g.get("security_logged"):
            g.security_logged = True
            log_event("forbidden" if resp.status_code == 403 else "rate_limited", status=resp.status_code)
        return resp

    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, lambda e, code=code: _error(code, _description(e, code)))

    @app.errorhandler(500)
    def _server_error(e):
        return _error(500)


def _description(e: HTTPException, code: int) -> str | None:
    """A view's own Russian abort(…, "text") is shown; werkzeug's English defaults are not."""
    default = type(e).description
    desc = getattr(e, "description", None)
    if desc and desc != default and code != 413:
        return desc
    return None
