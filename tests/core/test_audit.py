import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core import audit
from core.db import session


@pytest.fixture(autouse=True)
def own_anchors(app, monkeypatch):
    """Anchors written to the (shared, write-once) test bucket by other tests are not this test's."""
    import uuid
    monkeypatch.setitem(app.config, "AUDIT_ANCHOR_PREFIX", f"test-anchors/{uuid.uuid4().hex}/")


def _entries(n):
    return [audit.record("test.action", object_type="Thing", object_id=i, after={"n": i}) for i in range(n)]


def test_entries_are_chained(db):
    first, second, third = _entries(3)
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert audit.verify_chain().ok


def test_the_database_refuses_updates_and_deletes(db):
    entry = _entries(1)[0]
    with pytest.raises(DBAPIError, match="append-only"):
        with session.begin_nested():
            session.execute(text("UPDATE audit_log SET action = 'x' WHERE id = :i"), {"i": entry.id})
    with pytest.raises(DBAPIError, match="append-only"):
        with session.begin_nested():
            session.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": entry.id})


def _tamper(sql, **params):
    # What an intruder with superuser rights could do: switch the trigger off and edit.
    session.execute(text("SET LOCAL session_replication_role = replica"))
    session.execute(text(sql), params)
    session.execute(text("SET LOCAL session_replication_role = DEFAULT"))
    session.expire_all()


def test_a_modified_entry_is_detected(db, app):
    entries = _entries(4)
    _tamper("UPDATE audit_log SET summary = '{\"after\": {\"n\": 99}}' WHERE id = :i", i=entries[2].id)
    report = audit.verify_chain()
    assert not report.ok and report.broken_id == entries[2].id and "изменено" in report.reason
    result = CliRunner().invoke(app.cli, ["audit", "verify"], obj=None)
    assert result.exit_code == 1 and f"записи № {entries[2].id}" in result.output


def test_a_removed_entry_is_detected(db):
    entries = _entries(4)
    _tamper("DELETE FROM audit_log WHERE id = :i", i=entries[1].id)
    report = audit.verify_chain()
    assert not report.ok and report.broken_id == entries[2].id


def test_cli_reports_an_intact_chain(db, app):
    _entries(2)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "Цепочка цела" in result.output


def _count(action):
    return session.query(audit.AuditEntry).filter_by(action=action).count()


def test_a_request_takes_the_audit_lock_only_at_its_commit(db, app):
    """An entry recorded early in a request waits for its commit: the chain's lock is not held over the rest of
    the request (an upload, a page) while every other audited write of the service queues behind it. A request
    rolled back leaves no entry."""
    from core import db as dbm
    with app.test_request_context():
        audit.record("test.deferred", object_type="Thing", object_id=1)
        with app.extensions["db_engine"].connect() as other:
            assert other.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": audit.AUDIT_LOCK_KEY})
            other.rollback()
        assert _count("test.deferred") == 0
        dbm.commit()
        assert _count("test.deferred") == 1
    with app.test_request_context():
        audit.record("test.rolled_back", object_type="Thing", object_id=2)
        dbm.rollback()
        audit.record("test.after_rollback", object_type="Thing", object_id=3)
        dbm.commit()
    assert _count("test.rolled_back") == 0 and _count("test.after_rollback") == 1
    assert audit.verify_chain().ok


def test_a_savepoint_in_a_request_keeps_or_drops_its_own_entries(db, app):
    """A savepoint released is no commit (the lock is still free afterwards); one rolled back takes the entries
    recorded inside it, and only those, with it."""
    from core import db as dbm
    with app.test_request_context():
        audit.record("test.before_savepoint", object_type="Thing", object_id=1)
        failed = db.begin_nested()
        audit.record("test.in_failed_savepoint", object_type="Thing", object_id=2)
        failed.rollback()
        kept = db.begin_nested()
        audit.record("test.in_kept_savepoint", object_type="Thing", object_id=3)
        kept.commit()
        with app.extensions["db_engine"].connect() as other:
            assert other.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": audit.AUDIT_LOCK_KEY})
            other.rollback()
        dbm.commit()
    assert [_count(a) for a in ("test.before_savepoint", "test.in_failed_savepoint", "test.in_kept_savepoint")] \
        == [1, 0, 1]
    assert audit.verify_chain().ok
