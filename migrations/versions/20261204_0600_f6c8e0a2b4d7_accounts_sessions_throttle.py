"""Accounts that can be managed: server-side sessions, login throttling, password resets, TOTP, token
expiry and scope, a password change required after an administrator's password; security events

Revision ID: f6c8e0a2b4d7
Revises: e5b7d9f1a3c6
Create Date: 2026-12-04 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f6c8e0a2b4d7"
down_revision: str | Sequence[str] | None = "e5b7d9f1a3c6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("users", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("users", sa.Column("password_changed_at", TS, nullable=True))
    op.add_column("users", sa.Column("totp_secret", sa.String(300), nullable=True))
    op.add_column("users", sa.Column("totp_enabled_at", TS, nullable=True))
    op.add_column("users", sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("recovery_codes", postgresql.JSONB(), nullable=True))
    op.alter_column("users", "must_change_password", server_default=None)
    op.add_column("api_tokens", sa.Column("expires_at", TS, nullable=True))
    op.add_column("api_tokens", sa.Column("scope", sa.String(10), nullable=False, server_default="write"))
    op.alter_column("api_tokens", "scope", server_default=None)
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE",
                                                         name="fk_user_sessions_user_id_users"), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("second_factor_at", TS, nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_reason", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_user_sessions"),
        sa.UniqueConstraint("token_sha256", name="uq_user_sessions_token_sha256"),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("blocked_until", TS, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttle"),
    )
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE",
                                                         name="fk_password_resets_user_id_users"), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_password_resets"),
        sa.UniqueConstraint("token_sha256", name="uq_password_resets_token_sha256"),
    )
    op.create_index("ix_password_resets_user_id", "password_resets", ["user_id"])
    op.create_table(
        "security_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(10), nullable=True),
        sa.Column("path", sa.String(300), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("detail", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_security_events"),
    )
    for col in ("at", "kind", "user_id"):
        op.create_index(f"ix_security_events_{col}", "security_events", [col])


def downgrade() -> None:
    op.drop_table("security_events")
    op.drop_table("password_resets")
    op.drop_table("login_throttle")
    op.drop_table("user_sessions")
    op.drop_column("api_tokens", "scope")
    op.drop_column("api_tokens", "expires_at")
    for col in ("recovery_codes", "totp_last_step", "totp_enabled_at", "totp_secret", "password_changed_at", "must_change_password"):
        op.drop_column("users", col)
