"""Server-side browser sessions. The signed cookie carries only a random session id; the record here
decides: it ends after SESSION_IDLE_MINUTES without a request and SESSION_ABSOLUTE_HOURS after the
login, at logout, at «выйти на всех устройствах», and when the password changes or the account is
deactivated — so a stolen cookie stops working at once, everywhere.
"""
import hashlib
import secrets
from datetime import timedelta

from flask import current_app, request
from flask import session as http_session
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from core.db import execute_count, session, utcnow
from orgs.models.users import User, UserSession

COOKIE_KEY = "sid"
TOUCH_EVERY = timedelta(minutes=1)     # last_seen_at is written at most this often

# Runs before every page: built once, so a request pays neither its construction nor its cache key. The user and
# their grants come in the same round trip.
_BY_DIGEST = select(UserSession).options(joinedload(UserSession.user).joinedload(User.grants)) \
    .where(UserSession.token_sha256 == bindparam("digest"))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(user: User, *, second_factor_done: bool) -> UserSession:
    """A new session for `user` in this browser (the cookie is reset first: no fixation)."""
    now = utcnow()
    token = secrets.token_urlsafe(32)
    record = UserSession(user_id=user.id, token_sha256=_digest(token), created_at=now, last_seen_at=now,
                         expires_at=now + timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"]),
                         second_factor_at=now if second_factor_done else None,
                         ip=request.remote_addr, user_agent=(request.user_agent.string or "")[:300] or None)
    session.add(record)
    session.flush()
    http_session.clear()
    http_session.permanent = True
    http_session[COOKIE_KEY] = token
    return record


def current() -> UserSession | None:
    """This browser's live session, or None (the cookie is then cleared)."""
    token = http_session.get(COOKIE_KEY)
    if not token:
        return None
    record = session.scalar(_BY_DIGEST, {"digest": _digest(token)})
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if record is None or record.revoked_at is not None or record.expires_at <= now or \
            record.last_seen_at + idle <= now or not record.user.active:
        http_session.clear()
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        record.last_seen_at = now
    return record


def end(record: UserSession, reason: str) -> None:
    record.revoked_at, record.revoked_reason = utcnow(), reason
    session.flush()


def end_all(user: User, reason: str, *, keep: UserSession | None = None) -> int:
    """End every live session of `user` (but `keep`); returns how many were ended."""
    stmt = (update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    return execute_count(stmt)


def live(user: User) -> list[UserSession]:
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    return list(session.scalars(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None), UserSession.expires_at > now,
        UserSession.last_seen_at > now - idle).order_by(UserSession.last_seen_at.desc())))
