"""District offices: a city's education offices per district (Краснодар, order 271 п. 2) between a
municipality and its schools

Revision ID: a3d5f7b9c1e4
Revises: f2c4e6a8b0d3
Create Date: 2026-12-06 06:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "a3d5f7b9c1e4"
down_revision: str | Sequence[str] | None = "f2c4e6a8b0d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE org_kind ADD VALUE IF NOT EXISTS 'district_office' AFTER 'municipality'")


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; a database with district offices cannot go back.
    op.execute("""
        DO $$ BEGIN
          IF EXISTS (SELECT 1 FROM organisations WHERE kind = 'district_office') THEN
            RAISE EXCEPTION 'district offices exist: move their schools first';
          END IF;
        END $$""")
