"""One setting per user for the daily e-mail digest (users.email_digest, on by default)

Revision ID: b4e6a8c0d2f5
Revises: a3d5f7b9c1e4
Create Date: 2026-12-06 07:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b4e6a8c0d2f5"
down_revision: str | Sequence[str] | None = "a3d5f7b9c1e4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email_digest", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    op.drop_column("users", "email_digest")
