"""The author's telephone of an order («Исп. А.И.Юсупов, тел. 246-26-07», 002) is kept

Revision ID: e7b9d1f3a5c8
Revises: d6a8c0e2f4b7
Create Date: 2026-12-06 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e7b9d1f3a5c8"
down_revision: str | Sequence[str] | None = "d6a8c0e2f4b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("ordinance_approvals", sa.Column("phone", sa.String(length=50), nullable=True))


def downgrade() -> None:
    op.drop_column("ordinance_approvals", "phone")
