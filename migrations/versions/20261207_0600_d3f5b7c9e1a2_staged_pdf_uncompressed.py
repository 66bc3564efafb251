"""archive_records.staged_pdf stored out of line without compression (STORAGE EXTERNAL)

The bytes staged between an ingest's prepare and store are a signed, timestamped PDF, already Flate-compressed:
pglz tried to compress each of them (≈ 1.4 ms of PostgreSQL's CPU for 150 KB, measured) and kept the original
anyway — as for summary_sheets.pdf (c2e4a6b8d0f1).

Revision ID: d3f5b7c9e1a2
Revises: c2e4a6b8d0f1
Create Date: 2026-12-07 06:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "d3f5b7c9e1a2"
down_revision: str | Sequence[str] | None = "c2e4a6b8d0f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE archive_records ALTER COLUMN staged_pdf SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE archive_records ALTER COLUMN staged_pdf SET STORAGE EXTENDED")
