"""Login throttling that an attacker can neither dodge nor turn against a user.

- Every failed login counts, atomically (one INSERT … ON CONFLICT DO UPDATE … RETURNING per key, in its own
  transaction: a burst of parallel guesses counts each guess, and the count survives the request's rollback).
- Keys are the client's address (password spraying across accounts from one address is slowed) and all
  addresses together (a distributed attack slows every login for a minute). Accounts are never locked:
  a guesser can slow only their own address, not keep `admin` or `dir-<code>` out.
- From one address LOGIN_IP_FREE_FAILURES failures within an hour are free; after that the address waits
  1 s, and each further failure doubles the wait (2, 4, 8 … s, at most LOGIN_BACKOFF_MAX_SECONDS).
- The answer does not depend on the login: a throttled address is told to wait before any password is
  checked, whatever login it typed, so neither the message nor its timing says which logins exist.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import text

from core.db import utcnow
from core.security_log import independent

WINDOW = timedelta(hours=1)
GLOBAL_WINDOW = timedelta(minutes=1)
GLOBAL_KEY = "global"

_BUMP = text("""
INSERT INTO login_throttle (key, failures, window_start) VALUES (:key, 1, :now)
ON CONFLICT (key) DO UPDATE SET
  failures = CASE WHEN login_throttle.window_start < :floor THEN 1 ELSE login_throttle.failures + 1 END,
  window_start = CASE WHEN login_throttle.window_start < :floor THEN :now ELSE login_throttle.window_start END,
  blocked_until = CASE WHEN login_throttle.window_start < :floor THEN NULL ELSE login_throttle.blocked_until END
RETURNING failures, window_start
""")
_BLOCK = text("UPDATE login_throttle SET blocked_until = GREATEST(COALESCE(blocked_until, :until), :until) "
              "WHERE key = :key")


@dataclass(frozen=True)
class Wait:
    seconds: int

    @property
    def message(self) -> str:
        return f"Слишком много неудачных попыток входа с этого адреса. Повторите через {self.seconds} с."


def ip_key(ip: str | None) -> str:
    return f"ip:{ip or '-'}"


def waiting(ip: str | None, now: datetime | None = None) -> Wait | None:
    """The wait imposed on this address (or on everyone), checked before the password is."""
    now = now or utcnow()
    with independent() as conn:
        until = conn.execute(text("SELECT max(blocked_until) FROM login_throttle WHERE key IN (:ip, :all)"),
                             {"ip": ip_key(ip), "all": GLOBAL_KEY}).scalar()
    if until is None or until <= now:
        return None
    return Wait(max(1, int((until - now).total_seconds() + 0.999)))


def record_failure(ip: str | None, now: datetime | None = None) -> int:
    """Count one failed login from `ip`; set the back-off. Returns the address's failures in its window."""
    now = now or utcnow()
    cfg = current_app.config
    with independent() as conn:
        failures, _ = conn.execute(_BUMP, {"key": ip_key(ip), "now": now, "floor": now - WINDOW}).one()
        free = cfg["LOGIN_IP_FREE_FAILURES"]
        if failures >= free:
            delay = min(2 ** min(failures - free, 30), cfg["LOGIN_BACKOFF_MAX_SECONDS"])
            conn.execute(_BLOCK, {"key": ip_key(ip), "until": now + timedelta(seconds=delay)})
        total, started = conn.execute(_BUMP, {"key": GLOBAL_KEY, "now": now, "floor": now - GLOBAL_WINDOW}).one()
        if total > cfg["LOGIN_GLOBAL_FAILURES_PER_MINUTE"]:
            conn.execute(_BLOCK, {"key": GLOBAL_KEY, "until": started + GLOBAL_WINDOW})
    return failures
