"""Loading sheets and batches with the caller's rights checked (404/403): one copy for the pages and the API."""
from flask import abort, g, request

from core.db import session
from orgs.access import require
from orgs.models.organisations import Organisation
from sheets import class_teachers
from sheets.models import SheetBatch, SummarySheet

# What a class teacher may do only on the classes assigned to them (sheets.class_teachers).
CLASS_SCOPED = frozenset({"sheet.view", "marks.import", "sheet.sign_teacher"})


def get_sheet(sheet_id: int, action: str = "sheet.view") -> SummarySheet:
    sheet = session.get(SummarySheet, sheet_id) or abort(404)
    require(action, sheet.school)
    if action in CLASS_SCOPED and not class_teachers.may(g.user, action, sheet):
        abort(403)
    return sheet


def get_role_sheet(sheet_id: int) -> tuple[SummarySheet, str, dict]:
    """A JSON signing request {"role": "teacher"|"director", …}: the sheet with that role's right checked."""
    from sheets.services import STEP
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("role") not in STEP:
        abort(400)
    return get_sheet(sheet_id, "sheet.sign_teacher" if body["role"] == "teacher" else "sheet.sign_director"), \
        body["role"], body


def b64_field(body: dict, key: str) -> bytes:
    """A base64 field of a JSON body (400 if it is not base64)."""
    import base64
    import binascii
    try:
        return base64.b64decode(body.get(key) or "", validate=True)
    except (binascii.Error, ValueError):
        abort(400)


def get_batch(batch_id: int) -> SheetBatch:
    """A batch, to the user who started it or to whoever may render for its organisation."""
    batch = session.get(SheetBatch, batch_id) or abort(404)
    if batch.requested_by_id != g.user.id:
        require("sheet.render", session.get_one(Organisation, batch.organisation_id))
    return batch
