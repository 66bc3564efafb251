"""Jinja filters for Russian dates and numbers."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask

MOSCOW = ZoneInfo("Europe/Moscow")
MONTHS_GEN = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
              "октября", "ноября", "декабря"]


def ru_date(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(MOSCOW).date()
    return value.strftime("%d.%m.%Y")


def ru_datetime(value) -> str:
    if value is None:
        return "—"
    return value.astimezone(MOSCOW).strftime("%d.%m.%Y %H:%M")


def ru_date_long(value: date) -> str:
    return f"{value.day} {MONTHS_GEN[value.month - 1]} {value.year} г."


def init_app(app: Flask) -> None:
    app.add_template_filter(ru_date)
    app.add_template_filter(ru_datetime)
    app.add_template_filter(ru_date_long)
