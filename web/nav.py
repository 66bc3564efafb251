"""Navigation per role: an item is shown to users holding its action somewhere."""
from dataclasses import dataclass

from flask import Flask, g, url_for

from orgs.access import has_any


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    action: str | None   # None: every logged-in user


# Packages append their own items (in display order) when they register their blueprints.
NAV: list[NavItem] = [
    NavItem("Главная", "home.index", None),
    NavItem("Документы", "ordinances.index", "ordinance.view"),
    NavItem("Ведомости", "sheets.index", "sheet.view"),
    NavItem("Итоги года", "year_end.index", "sheet.overview"),
    NavItem("Мои задачи", "assignments.my_tasks", "assignment.view"),
    NavItem("Исполнение", "assignments.dashboard", "assignment.view"),
    NavItem("Переход", "transitions.index", "transition.view"),
    NavItem("Отчёты", "reports.index", "report.view"),
    NavItem("Архив", "archive.index", "archive.view"),
    NavItem("Организации", "orgs.orgs", "org.view"),
    NavItem("Пользователи", "admin.users", "user.manage"),
    NavItem("Журнал аудита", "admin.audit_log", "audit.view"),
]


def nav_items() -> list[dict]:
    user = g.get("user")
    return [{"label": i.label, "url": url_for(i.endpoint)} for i in NAV
            if user is not None and (i.action is None or has_any(user, i.action))]


def init_app(app: Flask) -> None:
    app.jinja_env.globals["nav_items"] = nav_items
