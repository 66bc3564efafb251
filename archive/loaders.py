"""Loading archive records with the caller's rights checked (404/403): one copy for the pages and the API."""
from flask import abort, g

from archive import services
from archive.models import ArchiveRecord
from core.db import session


def get_record(record_id: int, action: str = "archive.view") -> ArchiveRecord:
    record = session.get(ArchiveRecord, record_id) or abort(404)
    if not services.may(g.user, action, record):
        abort(403)
    return record
