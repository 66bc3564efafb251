"""Typed readers of a submitted form: each appends a Russian message naming the field to `errors`
instead of raising, so a page can show every problem at once and answer 400."""
from datetime import date, datetime

from flask import request


def form_date(name: str, label: str, errors: list[str], *, required: bool = False) -> date | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        if required:
            errors.append(f"Поле «{label}»: укажите дату.")
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    errors.append(f"Поле «{label}»: неверная дата «{raw}».")
    return None


def form_text(name: str, default: str = "") -> str:
    return request.form.get(name, default)


def form_flag(name: str) -> bool:
    """A checkbox: present (any value) means on."""
    return bool(request.form.get(name))


def form_id(name: str) -> int | None:
    return request.form.get(name, type=int)
