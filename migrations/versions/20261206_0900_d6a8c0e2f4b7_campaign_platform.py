"""The journal platform a campaign's basis document names (001 п. 1.1: Дневник.ру)

Revision ID: d6a8c0e2f4b7
Revises: c5f7b9d1e3a6
Create Date: 2026-12-06 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d6a8c0e2f4b7"
down_revision: str | Sequence[str] | None = "c5f7b9d1e3a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("transition_campaigns", sa.Column("platform", sa.String(length=40), nullable=True))


def downgrade() -> None:
    op.drop_column("transition_campaigns", "platform")
