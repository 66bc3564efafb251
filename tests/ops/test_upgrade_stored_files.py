"""The stored-file migration (5b1f0c2d9a77) on a database with rows of the old shapes: every evidence file,
readiness statement and report attachment keeps its key, hash and size, says it is in the archive's store
(where its bytes are), and the current code reads it back from there."""
import hashlib
import uuid

import psycopg
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session

from assignments.models import OccurrenceEvidence
from core import files as file_store
from core.db import make_engine
from core.storage import get_storage
from tests.ops.test_upgrade import _cfg
from transitions.models import Evidence, ReadinessStatement
from web import embedded

BEFORE = "e99f66889b2c"


# values the tables' check constraints want, where a value of the right type is not enough
FIXED = {"report_forms": {"submitter_kind": "school"}, "assignments": {"rule_choice": "plan"}}
_serial = iter(range(1, 10**6))


def _insert(conn, table: str, values: dict) -> int:
    """A row with `values`; every other NOT NULL column without a default gets a value of its type, and a
    required foreign key a parent row made the same way. Returns the new row's id."""
    cols = conn.execute(
        "SELECT column_name, data_type, udt_name FROM information_schema.columns WHERE table_name = %s "
        "AND is_nullable = 'NO' AND column_default IS NULL", (table,)).fetchall()
    parents = dict(conn.execute(
        "SELECT kcu.column_name, ccu.table_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
        "JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name "
        "WHERE tc.table_name = %s AND tc.constraint_type = 'FOREIGN KEY'", (table,)).fetchall())
    row = {**FIXED.get(table, {}), **values}
    for name, data_type, udt in cols:
        if name in row:
            continue
        if name in parents:
            row[name] = _insert(conn, parents[name], {})
        elif data_type == "USER-DEFINED":
            row[name] = conn.execute("SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                                     "WHERE t.typname = %s ORDER BY e.enumsortorder LIMIT 1", (udt,)).fetchone()[0]
        else:
            n = next(_serial)
            row[name] = {"integer": n, "bigint": n, "boolean": False, "date": "2026-01-01", "jsonb": "{}",
                         "timestamp with time zone": "2026-01-01T00:00:00Z", "ARRAY": "{}"}.get(data_type, f"v{n}")
    names = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    return conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks}) RETURNING id",  # nosec B608 # test tables
                        list(row.values())).fetchone()[0]


def test_old_rows_get_the_one_shape_and_are_read_back(servers, app):
    url = embedded.create_database(servers["pg_url"], f"jt_upgrade_files_{uuid.uuid4().hex[:8]}")
    cfg = _cfg(url)
    command.upgrade(cfg, BEFORE)
    archive = get_storage(app)                    # where the old code put every file
    blobs = {name: f"{name} {uuid.uuid4()}".encode() for name in ("task", "stage", "statement", "report")}
    keys = {name: f"upgrade-test/{uuid.uuid4().hex}/{name}" for name in blobs}
    for name, data in blobs.items():
        archive.put(keys[name], data, retain_until=None, content_type="application/octet-stream")
    sha = {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        _insert(conn, "occurrence_evidence", {"filename": "приказ.pdf", "content_type": "application/pdf",
                                              "size": len(blobs["task"]), "sha256": sha["task"], "backend": "s3",
                                              "object_key": keys["task"]})
        _insert(conn, "transition_evidence", {"file_name": "протокол.pdf", "file_backend": "s3",
                                              "file_key": keys["stage"], "file_sha256": sha["stage"],
                                              "file_size": len(blobs["stage"]), "file_content_type": "application/pdf"})
        _insert(conn, "transition_evidence", {"url": "https://school.example/parents"})   # a link only
        _insert(conn, "transition_readiness_statements", {"kind": "confirm", "archive_backend": "s3",
                                                          "archive_key": keys["statement"], "sha256": sha["statement"],
                                                          "size": len(blobs["statement"]), "signature_kind": "pades"})
        old_value = {"name": "отчёт.xlsx", "backend": "s3", "key": keys["report"], "sha256": sha["report"],
                     "size": len(blobs["report"])}
        _insert(conn, "report_submissions", {"values": psycopg.types.json.Jsonb(
            {"share": 75, "protocol": old_value})})

    command.upgrade(cfg, "head")

    with psycopg.connect(plain) as conn:
        task = conn.execute("SELECT store, storage_key, sha256, size, filename FROM occurrence_evidence").fetchone()
        assert task == ("archive", keys["task"], sha["task"], len(blobs["task"]), "приказ.pdf")
        stage = conn.execute("SELECT store, storage_key, sha256, size, filename, content_type FROM transition_evidence "
                             "ORDER BY id").fetchall()
        assert stage[0] == ("archive", keys["stage"], sha["stage"], len(blobs["stage"]), "протокол.pdf",
                            "application/pdf")
        assert stage[1] == (None,) * 6                               # a link stays a link
        st = conn.execute("SELECT store, storage_key, sha256, size, content_type, filename "
                          "FROM transition_readiness_statements").fetchone()
        assert st == ("archive", keys["statement"], sha["statement"], len(blobs["statement"]), "application/pdf",
                      "readiness-1.pdf")
        values = conn.execute("SELECT values FROM report_submissions").fetchone()[0]
        assert values["share"] == 75
        assert values["protocol"] == {"filename": "отчёт.xlsx", "store": "archive", "storage_key": keys["report"],
                                      "sha256": sha["report"], "size": len(blobs["report"]),
                                      "content_type": "application/octet-stream"}

    # and the current code reads each one back from the store its row names
    engine = make_engine(url)
    try:
        with app.app_context(), Session(engine) as s:
            assert file_store.read_verified(s.scalars(select(OccurrenceEvidence)).one()) == blobs["task"]
            assert file_store.read_verified(s.get(Evidence, 1)) == blobs["stage"]
            assert file_store.read_verified(s.get(ReadinessStatement, 1)) == blobs["statement"]
            stored = file_store.Stored(**values["protocol"])
            assert file_store.read_verified(stored) == blobs["report"]
    finally:
        engine.dispose()

    command.downgrade(cfg, BEFORE)                                    # and back, without losing the keys
    with psycopg.connect(plain) as conn:
        assert conn.execute("SELECT object_key, sha256 FROM occurrence_evidence").fetchone() == (keys["task"],
                                                                                                 sha["task"])
        assert conn.execute("SELECT values->'protocol'->>'key' FROM report_submissions").fetchone()[0] \
            == keys["report"]
