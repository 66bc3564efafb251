"""Class teachers per class and school year; the deputy director's role

Until now a sheet got a class teacher only when its school had exactly one teacher account, and a sheet
without one could be certified by any teacher of the school. The director (or a deputy) now assigns
the class teacher of each class for a school year; only that teacher certifies the sheet, imports its
marks and reads them.

Revision ID: a15c7e7d0c01
Revises: 5b1f0c2d9a77
Create Date: 2026-12-04 01:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a15c7e7d0c01"
down_revision: str | Sequence[str] | None = "5b1f0c2d9a77"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TYPE role ADD VALUE IF NOT EXISTS 'deputy_director' AFTER 'director'")
    op.create_table(
        "class_teachers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("school_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("school_year", sa.String(9), nullable=False),
        sa.Column("class_name", sa.String(20), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("school_id", "school_year", "class_name", name="one_class_teacher"),
    )
    op.create_index("ix_class_teachers_user", "class_teachers", ["user_id", "school_year"])
    # Sheets whose teacher was set (the one-teacher rule, or a certification) keep it as the class's assignment.
    op.execute("""
        INSERT INTO class_teachers (school_id, school_year, class_name, user_id, assigned_at)
        SELECT DISTINCT ON (school_id, school_year, class_name) school_id, school_year, class_name,
               class_teacher_id, now()
        FROM summary_sheets WHERE class_teacher_id IS NOT NULL
        ORDER BY school_id, school_year, class_name, version DESC
    """)


def downgrade() -> None:
    op.drop_index("ix_class_teachers_user", table_name="class_teachers")
    op.drop_table("class_teachers")
    # An enum value cannot be dropped in PostgreSQL; 'deputy_director' stays unused.
