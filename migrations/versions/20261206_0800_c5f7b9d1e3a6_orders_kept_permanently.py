"""Orders of main activity and their attachments are kept permanently (Перечень типовых управленческих
архивных документов, приказ Росархива от 20.12.2019 № 236, ст. 19а) where the table still has the old 5 years

Revision ID: c5f7b9d1e3a6
Revises: b4e6a8c0d2f5
Create Date: 2026-12-06 08:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "c5f7b9d1e3a6"
down_revision: str | Sequence[str] | None = "b4e6a8c0d2f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BASIS = "Перечень типовых управленческих архивных документов (приказ Росархива от 20.12.2019 № 236), ст. 19а"


def upgrade() -> None:
    # only a table still at the seeded default: an archivist's own choice stays
    op.execute(f"""UPDATE archive_retention_rules SET years = 100, basis = '{BASIS}', updated_at = now()
                   WHERE kind IN ('order', 'attachment') AND years = 5""")


def downgrade() -> None:
    op.execute(f"""UPDATE archive_retention_rules SET years = 5, updated_at = now()
                   WHERE kind IN ('order', 'attachment') AND years = 100 AND basis = '{BASIS}'""")
