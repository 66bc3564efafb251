"""summary_sheets.marks: each pupil's marks as {subject: {period: mark}} instead of [subject, period, mark] lists

The shape of the JSON attached to the PDF (sheets/sheet_data.py). The lists wrote each subject's name once per
mark: a class of 28 pupils × 16 subjects took ≈ 150 KB instead of ≈ 70 KB, and its ≈ 2,000 small lists cost the
import ten times as much to build and a render batch as much to read back (issue 20).

Revision ID: e5a7c9d1f3b4
Revises: d3f5b7c9e1a2
Create Date: 2026-12-07 13:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "e5a7c9d1f3b4"
down_revision: str | Sequence[str] | None = "d3f5b7c9e1a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _pupils_with(marks_sql: str) -> str:
    """An UPDATE giving each pupil of each sheet `marks_sql` (over the pupil `p`) as its "marks", in order."""
    return ("UPDATE summary_sheets SET marks = jsonb_set(marks, '{pupils}', (SELECT coalesce(jsonb_agg("
            f"p || jsonb_build_object('marks', coalesce(({marks_sql}), '{{}}'::jsonb)) ORDER BY n), '[]'::jsonb) "
            "FROM jsonb_array_elements(marks->'pupils') WITH ORDINALITY AS q(p, n)))")


def upgrade() -> None:
    op.execute(_pupils_with(
        "SELECT jsonb_object_agg(subject, by_period) FROM (SELECT t->>0 AS subject, jsonb_object_agg(t->>1, t->2) "
        "AS by_period FROM jsonb_array_elements(p->'marks') AS t GROUP BY t->>0) AS s")
        + " WHERE jsonb_typeof(marks #> '{pupils,0,marks}') = 'array'")


def downgrade() -> None:
    op.execute(_pupils_with(
        "SELECT coalesce(jsonb_agg(jsonb_build_array(s.key, per.key, per.value)), '[]'::jsonb) "
        "FROM jsonb_each(p->'marks') AS s, jsonb_each(s.value) AS per")
        + " WHERE jsonb_typeof(marks #> '{pupils,0,marks}') = 'object'")
