"""One stored-file shape (core.files.StoredFile) for every row that points at stored bytes

Task and stage evidence, readiness statements and report attachments each named the store, key and hash
their own way. They now share: store (the named store: "archive" or "files"), storage_key, sha256, size,
content_type, filename. Existing bytes stay where they are, in the archive's bucket: their rows say
store = 'archive'; new evidence goes to the ordinary "files" store.

Revision ID: 5b1f0c2d9a77
Revises: e99f66889b2c
Create Date: 2026-12-03 12:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b1f0c2d9a77"
down_revision: str | Sequence[str] | None = "e99f66889b2c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# report_submissions.values: a file field's value {"name","backend","key","sha256","size"} becomes
# {"filename","store","storage_key","sha256","size","content_type"}; other values are left alone.
_REPORT_FILES_UP = """
UPDATE report_submissions s SET values = (
    SELECT jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'object' AND v ? 'key' AND v ? 'sha256' THEN
        jsonb_build_object('filename', v->'name', 'store', 'archive', 'storage_key', v->'key',
                           'sha256', v->'sha256', 'size', v->'size', 'content_type', 'application/octet-stream')
        ELSE v END)
    FROM jsonb_each(s.values) AS e(k, v))
WHERE s.values <> '{}'::jsonb
"""
_REPORT_FILES_DOWN = """
UPDATE report_submissions s SET values = (
    SELECT jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'object' AND v ? 'storage_key' THEN
        jsonb_build_object('name', v->'filename', 'backend', 's3', 'key', v->'storage_key',
                           'sha256', v->'sha256', 'size', v->'size')
        ELSE v END)
    FROM jsonb_each(s.values) AS e(k, v))
WHERE s.values <> '{}'::jsonb
"""


def upgrade() -> None:
    with op.batch_alter_table("occurrence_evidence") as t:
        t.alter_column("backend", new_column_name="store", existing_type=sa.String(20), existing_nullable=False)
        t.alter_column("object_key", new_column_name="storage_key", type_=sa.String(1024),
                       existing_type=sa.String(300), existing_nullable=False)
    op.execute("UPDATE occurrence_evidence SET store = 'archive'")

    with op.batch_alter_table("transition_evidence") as t:
        t.alter_column("file_name", new_column_name="filename", existing_type=sa.String(300))
        t.alter_column("file_backend", new_column_name="store", existing_type=sa.String(20))
        t.alter_column("file_key", new_column_name="storage_key", existing_type=sa.String(1024))
        t.alter_column("file_sha256", new_column_name="sha256", existing_type=sa.String(64))
        t.alter_column("file_size", new_column_name="size", type_=sa.BigInteger(), existing_type=sa.Integer())
        t.alter_column("file_content_type", new_column_name="content_type", existing_type=sa.String(200))
    op.execute("UPDATE transition_evidence SET store = 'archive' WHERE storage_key IS NOT NULL")

    with op.batch_alter_table("transition_readiness_statements") as t:
        t.alter_column("archive_backend", new_column_name="store", existing_type=sa.String(20))
        t.alter_column("archive_key", new_column_name="storage_key", existing_type=sa.String(1024))
        t.alter_column("size", type_=sa.BigInteger(), existing_type=sa.Integer())
        t.add_column(sa.Column("content_type", sa.String(200)))
        t.add_column(sa.Column("filename", sa.String(300)))
    op.execute("UPDATE transition_readiness_statements SET store = 'archive', content_type = 'application/pdf', "
               "filename = 'readiness-' || id || '.pdf' WHERE storage_key IS NOT NULL")

    op.execute(_REPORT_FILES_UP)


def downgrade() -> None:
    op.execute(_REPORT_FILES_DOWN)
    with op.batch_alter_table("transition_readiness_statements") as t:
        t.drop_column("filename")
        t.drop_column("content_type")
        t.alter_column("size", type_=sa.Integer(), existing_type=sa.BigInteger())
        t.alter_column("storage_key", new_column_name="archive_key", existing_type=sa.String(1024))
        t.alter_column("store", new_column_name="archive_backend", existing_type=sa.String(20))
    with op.batch_alter_table("transition_evidence") as t:
        t.alter_column("content_type", new_column_name="file_content_type", existing_type=sa.String(200))
        t.alter_column("size", new_column_name="file_size", type_=sa.Integer(), existing_type=sa.BigInteger())
        t.alter_column("sha256", new_column_name="file_sha256", existing_type=sa.String(64))
        t.alter_column("storage_key", new_column_name="file_key", existing_type=sa.String(1024))
        t.alter_column("store", new_column_name="file_backend", existing_type=sa.String(20))
        t.alter_column("filename", new_column_name="file_name", existing_type=sa.String(300))
    with op.batch_alter_table("occurrence_evidence") as t:
        t.alter_column("storage_key", new_column_name="object_key", type_=sa.String(300),
                       existing_type=sa.String(1024), existing_nullable=False)
        t.alter_column("store", new_column_name="backend", existing_type=sa.String(20), existing_nullable=False)
