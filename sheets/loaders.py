"""Loading sheets and batches with the caller's rights checked (404/403): one copy for the pages and the API."""
from flask import abort, g

from core.db import session
from orgs.access import require
from orgs.models.organisations import Organisation
from sheets.models import SheetBatch, SummarySheet


def get_sheet(sheet_id: int, action: str = "sheet.view") -> SummarySheet:
    sheet = session.get(SummarySheet, sheet_id) or abort(404)
    require(action, sheet.school)
    return sheet


def get_batch(batch_id: int) -> SheetBatch:
    """A batch, to the user who started it or to whoever may render for its organisation."""
    batch = session.get(SheetBatch, batch_id) or abort(404)
    if batch.requested_by_id != g.user.id:
        require("sheet.render", session.get_one(Organisation, batch.organisation_id))
    return batch
