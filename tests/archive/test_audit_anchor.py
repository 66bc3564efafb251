"""The audit chain's anchor in the WORM bucket: a truncated tail and a consistent rewrite are found; the
application's database role cannot change the log even by dropping its trigger."""
import hashlib
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from archive import audit_anchor
from core import audit
from core.db import session


@pytest.fixture(autouse=True)
def own_anchors(app, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_ANCHOR_PREFIX", f"test-anchors/{uuid.uuid4().hex}/")


def _entries(n):
    return [audit.record("test.action", object_type="Thing", object_id=i, after={"n": i}) for i in range(n)]


def _as_superuser(sql, **params):
    session.execute(text("SET LOCAL session_replication_role = replica"))   # triggers off: what a DBA can do
    session.execute(text(sql), params)
    session.execute(text("SET LOCAL session_replication_role = DEFAULT"))
    session.expire_all()


def _rechain():
    """Recompute every hash after an edit, as someone covering their tracks would."""
    prev = audit.GENESIS
    rows = session.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.id)).all()
    for e in rows:
        session.expunge(e)                                # computed here, written by the UPDATEs below
    for e in rows:
        e.prev_hash = prev
        new = hashlib.sha256(e.payload()).hexdigest()
        _as_superuser("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :i", p=prev, h=new, i=e.id)
        prev = new


def test_an_anchor_is_timestamped_and_written_once(app, db, tsa):
    _entries(3)
    key = audit_anchor.make_anchor()
    assert key and audit_anchor.make_anchor() is None                       # the same head: nothing new
    (doc,) = audit_anchor.anchors()
    assert doc["anchor"]["entries"] == audit_anchor.head()["entries"] and doc["timestamp_token"]
    assert audit_anchor.verify().ok
    from core.storage import ObjectLocked, get_storage
    with pytest.raises(ObjectLocked):
        get_storage().delete(key)                                          # WORM: out of the DBA's reach


def test_a_truncated_tail_is_found(app, db, tsa):
    entries = _entries(4)
    audit_anchor.make_anchor()
    _as_superuser("DELETE FROM audit_log WHERE id >= :i", i=entries[2].id)
    assert audit.verify_chain().ok                                          # the shorter chain still holds
    report = audit_anchor.verify()
    assert not report.ok and "обрезан" in report.problems[0]
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "обрезан" in result.output


def test_a_consistent_rewrite_after_an_anchor_is_found(app, db, tsa):
    entries = _entries(4)
    audit_anchor.make_anchor()
    _as_superuser("UPDATE audit_log SET summary = '{\"after\": {\"n\": 99}}' WHERE id = :i", i=entries[1].id)
    _rechain()
    assert audit.verify_chain().ok                                          # consistent: the chain alone is fooled
    report = audit_anchor.verify()
    assert not report.ok and "переписан" in report.problems[0], report.problems


def test_the_app_role_cannot_change_the_log_even_by_dropping_the_trigger(db):
    entry = _entries(1)[0]
    session.execute(text("SET LOCAL ROLE journals_app"))
    audit.record("test.as_app")                                              # it may append
    for sql in (f"UPDATE audit_log SET action = 'x' WHERE id = {entry.id}",
                f"DELETE FROM audit_log WHERE id = {entry.id}",
                "TRUNCATE audit_log",
                "DROP TRIGGER audit_log_append_only ON audit_log",
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"):
        with pytest.raises(DBAPIError, match="permission denied|must be owner"):
            with session.begin_nested():
                session.execute(text(sql))
    with session.begin_nested():
        session.execute(text("UPDATE users SET full_name = full_name WHERE false"))   # the rest stays usable
