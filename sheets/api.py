"""JSON API for summary sheets: list, one sheet, and marks import from journal platforms."""
from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import select

from core.api import json_errors, paged
from core.db import session
from orgs.access import require
from orgs.models.organisations import Organisation
from sheets import class_teachers, overview, services
from sheets.loaders import b64_field, get_role_sheet, get_sheet
from sheets.models import SheetStatus, SummarySheet
from sheets.overview_views import overview_org, year_param

bp = json_errors(Blueprint("sheets_api", __name__, url_prefix="/api/v1/sheets"))




@bp.route("")
def index():
    stmt = select(SummarySheet).join(Organisation, SummarySheet.school_id == Organisation.id).where(
        class_teachers.visible_condition(g.user)).order_by(SummarySheet.id)
    if year := request.args.get("school_year"):
        stmt = stmt.where(SummarySheet.school_year == year)
    if school := request.args.get("school_id", type=int):
        stmt = stmt.where(SummarySheet.school_id == school)
    if status := request.args.get("status"):
        if status not in SheetStatus.__members__:
            abort(400)
        stmt = stmt.where(SummarySheet.status == SheetStatus(status))
    return paged(stmt, services.to_json)


@bp.route("/<int:sheet_id>")
def show(sheet_id: int):
    return jsonify(services.to_json(get_sheet(sheet_id)))


@bp.route("/marks", methods=["POST"])
def import_marks():
    """{"school_id": …, "school_year": "2025/2026", "records": [{"класс": …, "ученик": …, …}, …]}:
    the same layouts and checks as a file; nothing is stored when any record is bad."""
    from core.tabular import ImportFailed
    from sheets.marks_import import import_marks_records
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list) or not body.get("school_year"):
        abort(400)
    school = session.get(Organisation, body.get("school_id") or 0) or abort(404)
    require("marks.import", school)
    try:
        sheets = services.import_classes(school, str(body["school_year"]), import_marks_records(body["records"]),
                                         actor=g.user)
    except ImportFailed as exc:
        return jsonify(error="invalid", message="Данные не загружены: есть ошибки.",
                       errors=[{"row": e.row, "field": e.field, "value": e.value, "message": str(e)}
                               for e in exc.errors]), 422
    except services.SheetFlowError as exc:
        return jsonify(error="invalid", message=str(exc)), 422
    return jsonify(items=[services.to_json(s) for s in sheets]), 201


@bp.route("/<int:sheet_id>/external/prepare", methods=["POST"])
def external_prepare(sheet_id: int):
    """External signer, step 1: {"role", "certificate": base64 DER or PEM, "chain": [base64 DER, …]
    (optional intermediates)} → the digest to sign (and the signed bytes, for signers such as
    CryptoPro that hash with GOST themselves). The certificate is checked first, as on every path."""
    import pades
    sheet, role, body = get_role_sheet(sheet_id)
    chain = body.get("chain") or []
    if not isinstance(chain, list):
        abort(400)
    try:
        return jsonify(services.begin_external(sheet, role, b64_field(body, "certificate"), actor=g.user,
                                               chain=[b64_field({"c": c}, "c") for c in chain]))
    except (services.SheetFlowError, pades.SigningError) as exc:
        return jsonify(error="invalid", message=str(exc)), 422


@bp.route("/<int:sheet_id>/external/complete", methods=["POST"])
def external_complete(sheet_id: int):
    """External signer, step 2: {"role", "cms": base64 DER of the detached CMS} → the signed sheet."""
    import pades
    sheet, role, body = get_role_sheet(sheet_id)
    try:
        services.finish_external(sheet, role, b64_field(body, "cms"), actor=g.user)
    except (services.SheetFlowError, pades.SigningError) as exc:
        return jsonify(error="invalid", message=str(exc)), 422
    return jsonify(services.to_json(sheet))


@bp.route("/<int:sheet_id>/external/detached", methods=["POST"])
def external_detached(sheet_id: int):
    """After the director's external signature: {"cms": base64 DER of a detached CAdES over the final PDF
    by the same certificate} → kept with the sheet and in the archive (the .sig Госуслуги and КриптоАРМ check)."""
    import pades
    sheet = get_sheet(sheet_id, "sheet.sign_director")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    try:
        services.attach_detached_signature(sheet, b64_field(body, "cms"), actor=g.user)
    except (services.SheetFlowError, pades.SigningError) as exc:
        return jsonify(error="invalid", message=str(exc)), 422
    return jsonify(services.to_json(sheet))


@bp.route("/class-teachers")
def class_teacher_list():
    """?school_id=…&school_year=…: each class of the year and its class teacher."""
    school = session.get(Organisation, request.args.get("school_id", type=int) or 0) or abort(404)
    require("class.assign", school)
    year = request.args.get("school_year") or abort(400)
    return jsonify(items=[class_teachers.to_json(r) for r in class_teachers.classes(school, year)])


@bp.route("/class-teachers", methods=["PUT"])
def class_teacher_assign():
    """{"school_id", "school_year", "class_name", "login"} — "login": null removes the assignment."""
    from orgs.models.users import User
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("school_year") or not body.get("class_name"):
        abort(400)
    school = session.get(Organisation, body.get("school_id") or 0) or abort(404)
    require("class.assign", school)
    teacher = None
    if body.get("login") is not None:
        teacher = session.scalar(select(User).where(User.login == str(body["login"]).strip().lower()))
        if teacher is None:
            return jsonify(error="invalid", message=f"Нет пользователя с логином «{body['login']}».",
                           field="login"), 422
    try:
        class_teachers.assign(school, str(body["school_year"]), str(body["class_name"]), teacher, actor=g.user)
    except class_teachers.AssignmentError as exc:
        return jsonify(error="invalid", message=str(exc)), 422
    year = str(body["school_year"])
    return jsonify(items=[class_teachers.to_json(r) for r in class_teachers.classes(school, year)])


def _overview_row(r: overview.Row) -> dict:
    return {"org_id": r.org_id, "label": r.label, "due_date": r.due.isoformat() if r.due else None,
            "late": r.late, "late_schools": r.late_schools, **vars(r.counts)}


@bp.route("/year-end/<int:org_id>")
def year_end(org_id: int):
    """The year-end overview of an organisation (?year=2025/2026): its rows one level down, the total, and for
    a school its classes — counts and states, no marks or pupils."""
    from core.clock import today
    from orgs.models.organisations import OrgKind
    scope, year = overview_org(org_id), year_param()
    rows, total = overview.overview(scope, year, today=today())
    out = {"org_id": scope.id, "school_year": year, "total": _overview_row(total),
           "items": [_overview_row(r) for r in rows]}
    if scope.kind is OrgKind.school:
        out["classes"] = [{"class_name": c.class_name, "status": c.status.value if c.status else None,
                           "class_teacher": c.teacher, "archived": c.archived, "version": c.version}
                          for c in overview.class_rows(scope, year)]
    return jsonify(out)
