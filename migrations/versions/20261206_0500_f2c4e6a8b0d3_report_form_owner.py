"""Report forms run by a municipality for its schools: report_forms.owner_id (the region for existing forms)

Revision ID: f2c4e6a8b0d3
Revises: e1b3d5f7a9c2
Create Date: 2026-12-06 05:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f2c4e6a8b0d3"
down_revision: str | Sequence[str] | None = "e1b3d5f7a9c2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("report_forms", sa.Column("owner_id", sa.Integer(), nullable=True))
    op.execute("UPDATE report_forms SET owner_id = region_id")
    op.alter_column("report_forms", "owner_id", nullable=False)
    op.create_foreign_key(op.f("fk_report_forms_owner_id_organisations"), "report_forms", "organisations",
                          ["owner_id"], ["id"])
    op.create_index(op.f("ix_report_forms_owner_id"), "report_forms", ["owner_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_report_forms_owner_id"), table_name="report_forms")
    op.drop_constraint(op.f("fk_report_forms_owner_id_organisations"), "report_forms", type_="foreignkey")
    op.drop_column("report_forms", "owner_id")
