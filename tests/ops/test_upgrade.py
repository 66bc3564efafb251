"""Upgrades: a database built at the first migration, with data in it, is upgraded to head; the data survives
and the current code reads it (ORM, access scopes, the audit hash chain)."""
import hashlib
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from web import create_app, embedded

FIRST = "67a5482b5afc"
ROOT = Path(__file__).resolve().parents[2]


def _cfg(url):
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes.update(url=url, quiet=True)
    return cfg


def test_first_migration_is_the_base():
    script = ScriptDirectory.from_config(_cfg("postgresql://unused/x"))
    assert list(script.get_bases()) == [FIRST]


def test_upgrade_from_the_first_migration_keeps_the_data(servers):
    from core.audit import GENESIS, AuditEntry
    url = embedded.create_database(servers["pg_url"], f"jt_upgrade_{uuid.uuid4().hex[:8]}")
    cfg = _cfg(url)
    command.upgrade(cfg, FIRST)
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    at = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)
    with psycopg.connect(plain) as conn:
        conn.execute("INSERT INTO organisations (id, kind, code, name, parent_id, path, created_at) VALUES "
                     "(1, 'region', 'R-1', 'Область', NULL, '/1/', %s), "
                     "(2, 'municipality', 'M-1', 'Район', 1, '/1/2/', %s), "
                     "(3, 'school', 'S-1', 'Школа № 1', 2, '/1/2/3/', %s)", (at, at, at))
        conn.execute("INSERT INTO users (id, login, full_name, active, failed_logins, created_at) VALUES "
                     "(1, 'admin', 'Администратор', true, 0, %s), (2, 'director1', 'Директор', true, 0, %s)", (at, at))
        conn.execute("INSERT INTO role_grants (user_id, role, organisation_id, granted_at) VALUES "
                     "(1, 'admin', 1, %s), (2, 'director', 3, %s)", (at, at))
        prev = GENESIS
        for i, action in enumerate(("org.create", "user.create", "role.grant"), start=1):
            e = AuditEntry(id=i, at=at, actor_id=1, actor_label="admin", action=action, object_type="test",
                           object_id=str(i), summary={"n": i}, ip=None, prev_hash=prev)
            e.hash = hashlib.sha256(e.payload()).hexdigest()
            conn.execute("INSERT INTO audit_log (id, at, actor_id, actor_label, action, object_type, object_id, "
                         "summary, ip, prev_hash, hash) VALUES (%s,%s,%s,%s,%s,%s,%s,%s::jsonb,%s,%s,%s)",
                         (e.id, e.at, e.actor_id, e.actor_label, e.action, e.object_type, e.object_id,
                          '{"n": %d}' % i, e.ip, e.prev_hash, e.hash))
            prev = e.hash
        for table in ("organisations", "users", "role_grants", "audit_log"):   # as the app would leave them
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")

    command.upgrade(cfg, "head")

    app = create_app({"TESTING": True, "DATABASE_URL": url, "REDIS_URL": servers["redis_url"],
                      "SECRET_KEY": "upgrade-test", "LOG_FORMAT": "plain"})
    try:
        with app.app_context():
            from sqlalchemy import select

            from core import audit
            from core.db import session
            from orgs.access import can
            from orgs.models.organisations import Organisation
            from orgs.models.users import User
            try:
                orgs = {o.code: o for o in session.scalars(select(Organisation))}
                assert set(orgs) == {"R-1", "M-1", "S-1"} and orgs["S-1"].path == "/1/2/3/"
                director = session.scalar(select(User).where(User.login == "director1"))
                assert director.full_name == "Директор"
                assert [g.role.value for g in director.grants] == ["director"]
                assert can(director, "sheet.sign_director", orgs["S-1"])
                assert not can(director, "sheet.sign_director", orgs["R-1"])
                report = audit.verify_chain()
                assert report.ok and report.checked == 3
                # new rows still get fresh ids after the upgrade
                audit.record("ops.upgrade_checked", object_type="test", object_id="x")
                session.flush()
                assert audit.verify_chain().checked == 4
            finally:
                session.rollback()
                session.remove()
    finally:
        app.extensions["db_engine"].dispose()
        if "redis" in app.extensions:
            app.extensions["redis"].close()
