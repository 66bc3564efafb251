"""Transition stages fall due: a due date per stage of a campaign, and per municipality where it differs

Revision ID: d0a2c4e6f8b1
Revises: c9f1b3d5e7a9
Create Date: 2026-12-06 03:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d0a2c4e6f8b1"
down_revision: str | Sequence[str] | None = "c9f1b3d5e7a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("transition_stage_defs", sa.Column("due_date", sa.Date(), nullable=True))
    op.create_table(
        "transition_stage_dues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("municipality_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["stage_id"], ["transition_stage_defs.id"],
                                name=op.f("fk_transition_stage_dues_stage_id_transition_stage_defs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["municipality_id"], ["organisations.id"],
                                name=op.f("fk_transition_stage_dues_municipality_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transition_stage_dues")),
        sa.UniqueConstraint("stage_id", "municipality_id", name="one_due_per_municipality"),
    )


def downgrade() -> None:
    op.drop_table("transition_stage_dues")
    op.drop_column("transition_stage_defs", "due_date")
