"""The executor role: staff of a support body (institute, computer or methodical centre) answer their tasks

Revision ID: e1b3d5f7a9c2
Revises: d0a2c4e6f8b1
Create Date: 2026-12-06 04:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "e1b3d5f7a9c2"
down_revision: str | Sequence[str] | None = "d0a2c4e6f8b1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE role ADD VALUE IF NOT EXISTS 'executor'")


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; grants of it are removed so the value is simply unused.
    op.execute("DELETE FROM role_grants WHERE role = 'executor'")
