"""Campaigns run by a municipality for its own schools: transition_campaigns.owner_id (the region for existing ones)

Revision ID: a9d1f3b5c7e0
Revises: f8c0e2a4b6d9
Create Date: 2026-12-06 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a9d1f3b5c7e0"
down_revision: str | Sequence[str] | None = "f8c0e2a4b6d9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("transition_campaigns", sa.Column("owner_id", sa.Integer(), nullable=True))
    op.execute("UPDATE transition_campaigns SET owner_id = region_id")
    op.alter_column("transition_campaigns", "owner_id", nullable=False)
    op.create_foreign_key(op.f("fk_transition_campaigns_owner_id_organisations"), "transition_campaigns",
                          "organisations", ["owner_id"], ["id"])
    op.create_index(op.f("ix_transition_campaigns_owner_id"), "transition_campaigns", ["owner_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_transition_campaigns_owner_id"), table_name="transition_campaigns")
    op.drop_constraint(op.f("fk_transition_campaigns_owner_id_organisations"), "transition_campaigns",
                       type_="foreignkey")
    op.drop_column("transition_campaigns", "owner_id")
