"""«Итоги года»: the year-end overview for officials (region → municipality → school → class), its XLSX,
the deadline an official sets for the schools below, and the same figures in the API."""
import datetime as dt

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from core import audit
from core.clock import school_year_label, today
from core.db import session
from core.tabular import xlsx_response
from orgs.access import can, require, scopes
from orgs.models.organisations import Organisation, OrgKind, path_ids
from sheets import overview
from sheets.models import YearEndDeadline

bp = Blueprint("year_end", __name__, url_prefix="/year-end")


def year_param() -> str:
    year = request.args.get("year") or school_year_label(today())
    if len(year) != 9 or year[4] != "/" or not (year[:4] + year[5:]).isdigit():
        abort(400, description="Учебный год указывается так: 2025/2026.")
    return year


def overview_org(org_id: int) -> Organisation:
    org = session.get(Organisation, org_id) or abort(404)
    require("sheet.overview", org)
    return org


@bp.route("")
def index():
    roots = sorted(scopes(g.user, "sheet.overview"), key=lambda o: o.path.count("/"))
    if not roots:
        abort(403)
    return redirect(url_for("year_end.org", org_id=roots[0].id, **request.args))


@bp.route("/<int:org_id>")
def org(org_id: int):
    scope, year = overview_org(org_id), year_param()
    rows, total = overview.overview(scope, year, today=today())
    if request.args.get("format") == "xlsx":
        lines = overview.xlsx_rows(rows, total) if scope.kind is not OrgKind.school else \
            ([c.class_name, c.status.label if c.status else "нет оценок", c.teacher or "не назначен",
              "да" if c.archived else None] for c in overview.class_rows(scope, year))
        headers = overview.HEADERS if scope.kind is not OrgKind.school else \
            ["Класс", "Состояние ведомости", "Классный руководитель", "В архиве"]
        return xlsx_response(f"itogi-{scope.id}-{year.replace('/', '-')}.xlsx", headers, lines, title="Итоги года")
    deadline = session.scalar(select(YearEndDeadline).where(YearEndDeadline.organisation_id == scope.id,
                                                            YearEndDeadline.school_year == year))
    crumbs = [o for o in session.scalars(select(Organisation).where(
        Organisation.id.in_(path_ids(scope.path)))) if can(g.user, "sheet.overview", o)]
    return render_template("sheets/year_end.html", scope=scope, year=year, rows=rows, total=total,
                           classes=overview.class_rows(scope, year) if scope.kind is OrgKind.school else [],
                           deadline=deadline, crumbs=sorted(crumbs, key=lambda o: o.path),
                           can_set=scope.kind in (OrgKind.region, OrgKind.municipality)
                           and can(g.user, "assignment.manage", scope), today=today())


@bp.route("/<int:org_id>/deadline", methods=["POST"])
def set_deadline(org_id: int):
    scope = overview_org(org_id)
    require("assignment.manage", scope)
    year = request.form.get("year") or ""
    try:
        due = dt.date.fromisoformat(request.form.get("due_date") or "")
    except ValueError:
        flash("Срок: укажите дату.", "error")
        return redirect(url_for("year_end.org", org_id=scope.id, year=year)), 303
    if scope.kind not in (OrgKind.region, OrgKind.municipality) or len(year) != 9:
        abort(400)
    row = session.scalar(select(YearEndDeadline).where(YearEndDeadline.organisation_id == scope.id,
                                                       YearEndDeadline.school_year == year))
    before = {"due_date": row.due_date} if row else None
    if row is None:
        row = YearEndDeadline(organisation_id=scope.id, school_year=year, due_date=due)
        session.add(row)
    row.due_date, row.set_by_id = due, g.user.id
    row.ordinance_id = request.form.get("ordinance_id", type=int) or None
    session.flush()
    audit.record("sheet.year_end_deadline", row, actor=g.user, before=before,
                 after={"organisation_id": scope.id, "school_year": year, "due_date": due,
                        "ordinance_id": row.ordinance_id})
    flash(f"Срок подписания и сдачи ведомостей в архив за {year}: {due:%d.%m.%Y}.", "success")
    return redirect(url_for("year_end.org", org_id=scope.id, year=year))
