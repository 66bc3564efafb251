"""Users, their role grants on organisations, and API tokens."""
import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, UniqueConstraint, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from orgs.models.organisations import Organisation


class Role(str, enum.Enum):
    regional_official = "regional_official"
    municipal_official = "municipal_official"
    director = "director"
    deputy_director = "deputy_director"
    class_teacher = "class_teacher"
    archivist = "archivist"
    admin = "admin"
    executor = "executor"          # staff of a support body (institute, computer or methodical centre)

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.regional_official: "Специалист регионального органа управления образованием",
    Role.municipal_official: "Специалист МОУО",
    Role.director: "Директор школы",
    Role.deputy_director: "Заместитель директора",
    Role.class_teacher: "Классный руководитель",
    Role.executor: "Сотрудник организации-исполнителя",
    Role.archivist: "Архивист",
    Role.admin: "Администратор",
}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)   # stored lower-case
    full_name: Mapped[str] = mapped_column(String(300))
    position: Mapped[str | None] = mapped_column(String(300))
    # As in the person's qualified signature certificate, which must name them (orgs/signers.py).
    # Empty name parts: taken from full_name ("Фамилия Имя Отчество").
    surname: Mapped[str | None] = mapped_column(String(100))
    given_name: Mapped[str | None] = mapped_column(String(100))
    patronymic: Mapped[str | None] = mapped_column(String(100))
    snils: Mapped[str | None] = mapped_column(String(11))       # 11 digits
    inn: Mapped[str | None] = mapped_column(String(12))         # a person's ИНН: 12 digits
    email: Mapped[str | None] = mapped_column(String(300))
    email_digest: Mapped[bool] = mapped_column(default=True, server_default=true())  # the daily e-mail, own choice
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id; None: cannot log in
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)       # wrong passwords since the last login (atomic)
    locked_until: Mapped[datetime | None]                       # unused since login throttling (orgs/throttle.py)
    must_change_password: Mapped[bool] = mapped_column(default=False)   # set by an administrator's password
    password_changed_at: Mapped[datetime | None]
    # TOTP (orgs/second_factor.py): the secret encrypted under SECRET_KEY; recovery codes as SHA-256 hex
    totp_secret: Mapped[str | None] = mapped_column(String(300))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]                          # a code is accepted once (no replay)
    recovery_codes: Mapped[list | None] = mapped_column(JSONB)
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    grants: Mapped[list["RoleGrant"]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                     foreign_keys="RoleGrant.user_id",
                                                     lazy="selectin")

    def __repr__(self) -> str:
        return f"<User {self.id} {self.login}>"


class RoleGrant(Base):
    """A role held on an organisation; it is valid for that organisation's whole subtree."""
    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "role", "organisation_id", name="one_grant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, name="role"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    organisation: Mapped[Organisation] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer token for /api/v1; only its SHA-256 is stored."""
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    scope: Mapped[str] = mapped_column(String(10), default="write")   # read: GET/HEAD only; write: all

    user: Mapped[User] = relationship()


class UserSession(Base):
    """A browser session kept on the server: the cookie carries only its random id (whose SHA-256 is
    stored), so logout, a password change or a deactivation ends it everywhere at once."""
    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]                                 # the absolute limit
    second_factor_at: Mapped[datetime | None]                    # TOTP passed (or not needed: set at login)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(40))

    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Failed logins per key ("ip:…", "ip-login:…", "global"), counted by one atomic upsert each."""
    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(default=utcnow)
    blocked_until: Mapped[datetime | None]


class PasswordReset(Base):
    """A one-time reset link sent by e-mail: only the token's SHA-256 is stored."""
    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
