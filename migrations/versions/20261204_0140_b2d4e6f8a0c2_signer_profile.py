"""Users' profiles gain the person fields of a qualified certificate: surname, given name, patronymic, SNILS, INN

A signing certificate must name the person signing (orgs/signers.py); these are compared with the
certificate's SN, G, СНИЛС and ИНН. Empty name parts are taken from full_name.

Revision ID: b2d4e6f8a0c2
Revises: a15c7e7d0c01
Create Date: 2026-12-04 01:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b2d4e6f8a0c2"
down_revision: str | Sequence[str] | None = "a15c7e7d0c01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("surname", 100), ("given_name", 100), ("patronymic", 100), ("snils", 11), ("inn", 12))


def upgrade() -> None:
    for name, length in COLUMNS:
        op.add_column("users", sa.Column(name, sa.String(length), nullable=True))


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column("users", name)
