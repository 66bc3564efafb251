"""The sheet-marks migration (e5a7c9d1f3b4): a sheet stored with [subject, period, mark] lists gets its marks by
subject, exactly as the current code writes them, and a downgrade gives the lists back."""
import json
import uuid

import psycopg
from alembic import command

from sheets.marks_import import import_marks
from sheets.services import marks_to_json
from tests.ops.test_upgrade import _cfg
from tests.ops.test_upgrade_stored_files import _insert
from tests.sheets.sample import marks_csv
from web import embedded

BEFORE, AFTER = "d3f5b7c9e1a2", "e5a7c9d1f3b4"


def _as_lists(marks: dict) -> dict:
    """The shape before: what marks_to_json wrote until this migration."""
    return {**marks, "pupils": [{**p, "marks": [[s, per, m] for s, by_period in p["marks"].items()
                                                for per, m in by_period.items()]} for p in marks["pupils"]]}


def test_old_marks_get_the_shape_the_code_writes_and_come_back_on_downgrade(servers):
    url = embedded.create_database(servers["pg_url"], f"jt_upgrade_marks_{uuid.uuid4().hex[:8]}")
    cfg = _cfg(url)
    command.upgrade(cfg, BEFORE)
    now = marks_to_json(next(iter(import_marks(marks_csv(1, 6, 5), "marks.csv").values())))
    old = _as_lists(now)
    assert old["pupils"][0]["marks"] and old != now
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        def sheet_with(marks):
            return _insert(conn, "summary_sheets", {"marks": marks, "version": 1, "document_id": str(uuid.uuid4())})
        sheet = sheet_with(json.dumps(old, ensure_ascii=False))
        bare = sheet_with(None)
        empty = sheet_with(json.dumps({**old, "pupils": []}))

    def stored(sheet_id):
        with psycopg.connect(plain) as conn:
            return conn.execute("SELECT marks FROM summary_sheets WHERE id = %s", (sheet_id,)).fetchone()[0]

    command.upgrade(cfg, AFTER)
    assert stored(sheet) == now
    assert stored(bare) is None and stored(empty) == {**now, "pupils": []}
    command.upgrade(cfg, "head")

    command.downgrade(cfg, BEFORE)
    back = stored(sheet)
    assert [{**p, "marks": sorted(p["marks"])} for p in back["pupils"]] == \
        [{**p, "marks": sorted(p["marks"])} for p in old["pupils"]]
    assert {k: v for k, v in back.items() if k != "pupils"} == {k: v for k, v in old.items() if k != "pupils"}
