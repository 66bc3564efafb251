"""Pages for the organisation tree; ordinances, plans and assignments add their own routes here."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select

from core import audit
from core.db import session
from orgs.access import can, has_any, require, scope_condition, scopes
from orgs.models.organisations import Organisation, OrgKind
from orgs.models.users import RoleGrant
from orgs.services import tree_order

bp = Blueprint("orgs", __name__)


class ImportForm(FlaskForm):
    file = FileField("Файл CSV или XLSX", validators=[FileRequired("Выберите файл.")])


@bp.route("/orgs")
def orgs():
    if not has_any(g.user, "org.view"):
        abort(403)
    rows = tree_order(session.scalars(select(Organisation).where(scope_condition(g.user, "org.view"))).all())
    q = (request.args.get("q") or "").strip().lower()
    if q:
        rows = [o for o in rows if q in o.name.lower() or q in o.code.lower()]
    depth0 = min((o.path.count("/") for o in rows), default=0)
    can_import = any(o.parent_id is None for o in scopes(g.user, "org.manage"))
    return render_template("orgs/orgs.html", rows=rows, depth0=depth0, q=q, can_import=can_import)


@bp.route("/orgs/<int:org_id>")
def org(org_id: int):
    org = session.get(Organisation, org_id) or abort(404)
    require("org.view", org)
    grants = session.scalars(select(RoleGrant).where(RoleGrant.organisation_id == org.id)).all()
    return render_template("orgs/org.html", org=org, grants=grants, may_mark_base=may_mark_base(g.user, org))


def may_mark_base(user, org: Organisation) -> bool:
    """Who names base schools: the region (transition.manage) or the school's municipality (transition.reply)."""
    return org.kind is OrgKind.school and (can(user, "transition.manage", org) or can(user, "transition.reply", org))


@bp.route("/orgs/<int:org_id>/base-school", methods=["POST"])
def base_school(org_id: int):
    org = session.get(Organisation, org_id) or abort(404)
    if not may_mark_base(g.user, org):
        abort(403)
    on = request.form.get("base_school") == "1"
    if org.base_school != on:
        audit.record("org.base_school", org, actor=g.user, before={"base_school": org.base_school},
                     after={"base_school": on})
        org.base_school = on
    flash(f"{org.display_name}: {'базовая школа' if on else 'не базовая школа'}.", "success")
    return redirect(url_for("orgs.org", org_id=org.id))


@bp.route("/orgs/import", methods=["GET", "POST"])
def org_import():
    from orgs.importer import ImportFailed, import_organisations
    roots = [o for o in scopes(g.user, "org.manage") if o.parent_id is None]
    if not roots:   # the first region of a new installation is loaded with `flask orgs import`
        abort(403)
    form = ImportForm()
    errors = []
    if form.validate_on_submit():
        upload = form.file.data
        try:
            summary = import_organisations(upload.read(), upload.filename or "файл", actor=g.user)
        except ImportFailed as exc:
            errors = exc.errors
        else:
            flash(f"Импорт выполнен: создано {summary.created}, обновлено {summary.updated}, "
                  f"без изменений {summary.unchanged}.", "success")
            return redirect(url_for("orgs.orgs"))
    status = 400 if errors else 200   # 400 also rolls the transaction back
    return render_template("orgs/import.html", form=form, errors=errors), status

