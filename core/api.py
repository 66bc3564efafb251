"""The JSON API's framework, shared by every domain's `api.py`: errors in Russian JSON, paging."""
from flask import Blueprint, abort, jsonify, request
from sqlalchemy import func, select

from core.db import session

MAX_PER_PAGE = 500
ERROR_MESSAGES = {400: "Неверный запрос.", 401: "Нужна аутентификация.", 403: "Недостаточно прав.",
                  404: "Не найдено.", 422: "Данные не прошли проверку."}


def _json_error(exc):
    return jsonify(error=exc.name.lower().replace(" ", "_"),
                   message=ERROR_MESSAGES.get(exc.code, exc.name)), exc.code


def json_errors(blueprint: Blueprint) -> Blueprint:
    """An API blueprint answers its errors (abort 400/401/403/404/422) in JSON, in Russian."""
    for code in ERROR_MESSAGES:
        blueprint.register_error_handler(code, _json_error)
    return blueprint


def page_args() -> tuple[int, int]:
    try:
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(MAX_PER_PAGE, max(1, int(request.args.get("per_page", 50))))
    except ValueError:
        abort(400)
    return page, per_page


def paged(stmt, serialise):
    page, per_page = page_args()
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.scalars(stmt.offset((page - 1) * per_page).limit(per_page)).all()
    return jsonify(items=[serialise(r) for r in rows], page=page, per_page=per_page, total=total)


def invalid(errors: list[str]):
    """422 with every problem found, each a Russian sentence naming its field."""
    return jsonify(error="invalid", message=" ".join(errors), errors=errors), 422


def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    return data


def iso(value):
    """A date or datetime as ISO 8601, None as null."""
    return value.isoformat() if value is not None else None
