"""The application's database role: everything it needs, but audit_log and archive_access_log only
SELECT and INSERT — no UPDATE, DELETE or TRUNCATE, and (not being their owner) no DROP TRIGGER

`journals_app` is a group role (NOLOGIN): the login the service connects with is made a member of it
(`serve` does this for its embedded PostgreSQL; docs/security.md says how in production). Migrations
run as the owner of the tables.

Revision ID: a7d9f1b3c5e8
Revises: f6c8e0a2b4d7
Create Date: 2026-12-04 07:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "a7d9f1b3c5e8"
down_revision: str | Sequence[str] | None = "f6c8e0a2b4d7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("audit_log", "archive_access_log")


def upgrade() -> None:
    op.execute("""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'journals_app') THEN
            CREATE ROLE journals_app NOLOGIN;
          END IF;
        END $$""")
    op.execute("GRANT USAGE ON SCHEMA public TO journals_app")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO journals_app")
    op.execute("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO journals_app")
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM journals_app")
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON alembic_version FROM journals_app")
    # tables and sequences later migrations make: the same rights (append-only ones are revoked there)
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO journals_app")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO journals_app")


def downgrade() -> None:
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM journals_app")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM journals_app")
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM journals_app")
    op.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM journals_app")
    op.execute("REVOKE USAGE ON SCHEMA public FROM journals_app")
