"""Security events — refused access (403), failed logins, CSRF failures, rate-limit hits — written in their
own transaction, so they stay when the request's own transaction rolls back (every answer ≥ 400 does).

No personal data: an event names the user by id when one is known, never by the login that was typed,
and never carries a password, a token or a form's content.
"""
import logging
from datetime import datetime

from flask import current_app, g, has_request_context, request
from sqlalchemy import Integer, String, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

log = logging.getLogger("journals.security")


class SecurityEvent(Base):
    __tablename__ = "security_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)   # forbidden | login_failed | csrf | rate_limited …
    status: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str | None] = mapped_column(String(10))
    path: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)   # no foreign key: events outlive users
    detail: Mapped[dict] = mapped_column(JSONB, default=dict)


def independent():
    """A connection in its own transaction, committed on leaving the block whatever the request does."""
    return current_app.extensions["db_engine"].begin()


def log_event(kind: str, *, status: int | None = None, user_id: int | None = None, **detail) -> None:
    if has_request_context():
        g.security_logged = True
    values = {"at": utcnow(), "kind": kind, "status": status, "user_id": user_id, "detail": detail}
    if has_request_context():
        user = g.get("user")
        values.update(method=request.method, path=request.path[:300], ip=request.remote_addr,
                      user_id=user_id if user_id is not None else getattr(user, "id", None))
    log.warning("security event %s status=%s path=%s ip=%s user=%s", kind, status, values.get("path"),
                values.get("ip"), values["user_id"])
    try:
        with independent() as conn:
            conn.execute(insert(SecurityEvent).values(**values))
    except Exception:   # the refusal itself must still be answered
        log.exception("security event %s not stored", kind)
