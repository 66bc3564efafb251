"""Clause duties: a clause's executors and deadline kept as a plan item (plan_items.clause_id) in a section
made from the clauses (plan_sections.from_clauses), so orders without a plan table can be assigned

Revision ID: b8e0a2c4d6f8
Revises: a7d9f1b3c5e8
Create Date: 2026-12-06 01:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8e0a2c4d6f8"
down_revision: str | Sequence[str] | None = "a7d9f1b3c5e8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("plan_sections", sa.Column("from_clauses", sa.Boolean(), server_default=sa.false(),
                                             nullable=False))
    op.add_column("plan_items", sa.Column("clause_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f("fk_plan_items_clause_id_ordinance_clauses"), "plan_items", "ordinance_clauses",
                          ["clause_id"], ["id"], ondelete="CASCADE")
    op.create_unique_constraint(op.f("uq_plan_items_clause_id"), "plan_items", ["clause_id"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_plan_items_clause_id"), "plan_items", type_="unique")
    op.drop_constraint(op.f("fk_plan_items_clause_id_ordinance_clauses"), "plan_items", type_="foreignkey")
    op.drop_column("plan_items", "clause_id")
    op.drop_column("plan_sections", "from_clauses")
