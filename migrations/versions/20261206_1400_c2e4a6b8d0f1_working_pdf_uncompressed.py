"""summary_sheets.pdf stored out of line without compression (STORAGE EXTERNAL)

A sheet's PDF is already Flate-compressed: PostgreSQL's pglz tried to compress every write of it (≈ 1.7 ms of
a ≈ 2.5 ms row write of 150 KB, measured) and kept the original anyway. EXTERNAL skips the attempt; rows
written before keep their form until written again.

Revision ID: c2e4a6b8d0f1
Revises: b1d3f5a7c9e2
Create Date: 2026-12-06 14:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "c2e4a6b8d0f1"
down_revision: str | Sequence[str] | None = "b1d3f5a7c9e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE summary_sheets ALTER COLUMN pdf SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE summary_sheets ALTER COLUMN pdf SET STORAGE EXTENDED")
