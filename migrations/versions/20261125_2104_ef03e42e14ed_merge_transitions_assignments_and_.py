"""merge transitions, assignments and archive branches

Revision ID: ef03e42e14ed
Revises: fce8386a0490, 8fb9a61f52cf, 3f1c2a9d7e51
Create Date: 2026-11-25 21:04:03.780040

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'ef03e42e14ed'
down_revision: Union[str, Sequence[str], None] = ('fce8386a0490', '8fb9a61f52cf', '3f1c2a9d7e51')
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    pass


def downgrade() -> None:
    """Downgrade schema."""
    pass
