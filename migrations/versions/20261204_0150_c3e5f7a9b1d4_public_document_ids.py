"""Every archive record gets a public document id (the /verify/<id> page)

Sheets' records carried their sheet's document id already; statements, orders' scans, attachments and
disposal acts had none, so the public verification page could not name them.

Revision ID: c3e5f7a9b1d4
Revises: b2d4e6f8a0c2
Create Date: 2026-12-04 01:50:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "c3e5f7a9b1d4"
down_revision: str | Sequence[str] | None = "b2d4e6f8a0c2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE archive_records SET document_id = gen_random_uuid()::text WHERE document_id IS NULL")


def downgrade() -> None:
    pass   # the ids stay: they may have been handed out
