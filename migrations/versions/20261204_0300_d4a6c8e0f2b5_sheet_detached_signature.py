"""A signed sheet may carry the director's detached CAdES signature over its final PDF (.sig)

Revision ID: d4a6c8e0f2b5
Revises: c3e5f7a9b1d4
Create Date: 2026-12-04 03:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4a6c8e0f2b5"
down_revision: str | Sequence[str] | None = "c3e5f7a9b1d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("summary_sheets", sa.Column("detached_sig", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("summary_sheets", "detached_sig")
