"""ordinance files: the signed order and its attachments as PDFs (kept while a draft, then archived)

Revision ID: e99f66889b2c
Revises: ef03e42e14ed
Create Date: 2026-11-25 22:56:30.455166

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'e99f66889b2c'
down_revision: Union[str, Sequence[str], None] = 'ef03e42e14ed'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('ordinance_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ordinance_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('attachment_number', sa.String(length=20), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('archive_record_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(role = 'attachment') = (attachment_number IS NOT NULL)", name=op.f('ck_ordinance_files_attachment_has_number')),
    sa.CheckConstraint("role IN ('order', 'attachment')", name=op.f('ck_ordinance_files_file_role')),
    sa.CheckConstraint('content IS NOT NULL OR archive_record_id IS NOT NULL', name=op.f('ck_ordinance_files_bytes_somewhere')),
    sa.ForeignKeyConstraint(['archive_record_id'], ['archive_records.id'], name=op.f('fk_ordinance_files_archive_record_id_archive_records')),
    sa.ForeignKeyConstraint(['ordinance_id'], ['ordinances.id'], name=op.f('fk_ordinance_files_ordinance_id_ordinances'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_ordinance_files_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ordinance_files')),
    sa.UniqueConstraint('ordinance_id', 'role', 'attachment_number', name='one_file_per_slot', postgresql_nulls_not_distinct=True)
    )
    op.create_index(op.f('ix_ordinance_files_archive_record_id'), 'ordinance_files', ['archive_record_id'], unique=True)
    op.create_index(op.f('ix_ordinance_files_ordinance_id'), 'ordinance_files', ['ordinance_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_ordinance_files_ordinance_id'), table_name='ordinance_files')
    op.drop_index(op.f('ix_ordinance_files_archive_record_id'), table_name='ordinance_files')
    op.drop_table('ordinance_files')
