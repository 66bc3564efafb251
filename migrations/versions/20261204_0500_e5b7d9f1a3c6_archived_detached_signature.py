"""An archive record keeps the signer's detached CAdES signature (.sig) as an object beside the PDF

Revision ID: e5b7d9f1a3c6
Revises: d4a6c8e0f2b5
Create Date: 2026-12-04 05:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e5b7d9f1a3c6"
down_revision: str | Sequence[str] | None = "d4a6c8e0f2b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("archive_records", sa.Column("detached_sig_key", sa.String(1024), nullable=True))
    op.add_column("archive_records", sa.Column("detached_sig_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("archive_records", "detached_sig_sha256")
    op.drop_column("archive_records", "detached_sig_key")
