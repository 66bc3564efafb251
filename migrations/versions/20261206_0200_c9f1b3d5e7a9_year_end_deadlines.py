"""Year-end deadlines: by when a region's or municipality's schools must have their sheets signed and archived

Revision ID: c9f1b3d5e7a9
Revises: b8e0a2c4d6f8
Create Date: 2026-12-06 02:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c9f1b3d5e7a9"
down_revision: str | Sequence[str] | None = "b8e0a2c4d6f8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "year_end_deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("school_year", sa.String(length=9), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("ordinance_id", sa.Integer(), nullable=True),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_year_end_deadlines_organisation_id_organisations")),
        sa.ForeignKeyConstraint(["ordinance_id"], ["ordinances.id"],
                                name=op.f("fk_year_end_deadlines_ordinance_id_ordinances")),
        sa.ForeignKeyConstraint(["set_by_id"], ["users.id"], name=op.f("fk_year_end_deadlines_set_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_year_end_deadlines")),
        sa.UniqueConstraint("organisation_id", "school_year", name="one_deadline"),
    )


def downgrade() -> None:
    op.drop_table("year_end_deadlines")
