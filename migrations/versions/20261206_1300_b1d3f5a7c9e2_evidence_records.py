"""Evidence records (RFC 4998): archive_evidence_trees and archive_record_evidence

Revision ID: b1d3f5a7c9e2
Revises: a9d1f3b5c7e0
Create Date: 2026-12-06 13:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1d3f5a7c9e2"
down_revision: str | Sequence[str] | None = "a9d1f3b5c7e0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archive_evidence_trees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("leaves", sa.Integer(), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("renewed_by_id", sa.Integer(), nullable=True),
        sa.Column("renewal_path", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["renewed_by_id"], ["archive_evidence_trees.id"],
                                name=op.f("fk_archive_evidence_trees_renewed_by_id_archive_evidence_trees")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_evidence_trees")),
    )
    op.create_index(op.f("ix_archive_evidence_trees_expires_at"), "archive_evidence_trees", ["expires_at"])
    op.create_index(op.f("ix_archive_evidence_trees_renewed_by_id"), "archive_evidence_trees", ["renewed_by_id"])
    op.create_table(
        "archive_record_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sealed_by_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.LargeBinary(), nullable=False),
        sa.Column("current_tree_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=True),
        sa.Column("ers_sha256", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["archive_records.id"],
                                name=op.f("fk_archive_record_evidence_record_id_archive_records")),
        sa.ForeignKeyConstraint(["sealed_by_id"], ["archive_evidence_trees.id"],
                                name=op.f("fk_archive_record_evidence_sealed_by_id_archive_evidence_trees")),
        sa.ForeignKeyConstraint(["current_tree_id"], ["archive_evidence_trees.id"],
                                name=op.f("fk_archive_record_evidence_current_tree_id_archive_evidence_trees")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_record_evidence")),
        sa.UniqueConstraint("record_id", name=op.f("uq_archive_record_evidence_record_id")),
    )
    op.create_index(op.f("ix_archive_record_evidence_current_tree_id"), "archive_record_evidence",
                    ["current_tree_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_archive_record_evidence_current_tree_id"), table_name="archive_record_evidence")
    op.drop_table("archive_record_evidence")
    op.drop_index(op.f("ix_archive_evidence_trees_renewed_by_id"), table_name="archive_evidence_trees")
    op.drop_index(op.f("ix_archive_evidence_trees_expires_at"), table_name="archive_evidence_trees")
    op.drop_table("archive_evidence_trees")
