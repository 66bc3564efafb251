"""Base schools («базовые школы», letter 000): a flag on organisations

Revision ID: f8c0e2a4b6d9
Revises: e7b9d1f3a5c8
Create Date: 2026-12-06 11:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f8c0e2a4b6d9"
down_revision: str | Sequence[str] | None = "e7b9d1f3a5c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("organisations", sa.Column("base_school", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column("organisations", "base_school")
