"""TOTP second factor (RFC 6238, pyotp): required for the roles in SECOND_FACTOR_ROLES (administrators and
archivists by default), optional for everyone else, with ten one-time recovery codes.

The secret is stored encrypted (AES-256-GCM under a key derived from SECRET_KEY), so a database copy
alone does not give the codes; recovery codes are stored as SHA-256 only. A code is accepted once:
the time step it belongs to is remembered, and an older or equal step is refused (no replay).
"""
import base64
import hashlib
import os
import secrets
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from core import audit
from core.db import session, utcnow
from orgs.models.users import User

ISSUER = "Электронные журналы"
RECOVERY_CODES = 10


def required(user: User) -> bool:
    roles = {r.strip() for r in (current_app.config.get("SECOND_FACTOR_ROLES") or "").split(",") if r.strip()}
    return any(g.role.value in roles for g in user.grants)


def needed(user: User) -> bool:
    """Must this user pass (or set up) a second factor to log in?"""
    return user.totp_enabled_at is not None or required(user)


def _key() -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"journals-totp",
                info=b"totp-secret").derive(current_app.config["SECRET_KEY"].encode())


def _seal(secret: str, user_id: int) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(_key()).encrypt(nonce, secret.encode(), str(user_id).encode())).decode()


def _open(sealed: str, user_id: int) -> str:
    raw = base64.b64decode(sealed)
    return AESGCM(_key()).decrypt(raw[:12], raw[12:], str(user_id).encode()).decode()


def begin_setup(user: User) -> str:
    """A new (not yet enabled) secret; returns the otpauth:// URI for the authenticator app."""
    import pyotp
    secret = pyotp.random_base32()
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = _seal(secret, user.id), None, None
    session.flush()
    return pyotp.TOTP(secret).provisioning_uri(name=user.login, issuer_name=ISSUER)


def pending_secret(user: User) -> str | None:
    return _open(user.totp_secret, user.id) if user.totp_secret else None


def _accept(user: User, code: str) -> bool:
    import pyotp
    if not user.totp_secret:
        return False
    totp = pyotp.TOTP(_open(user.totp_secret, user.id))
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != totp.digits:
        return False
    current = int(time.time() // totp.interval)
    for step in (current, current - 1, current + 1):   # a clock off by one step (30 s) still works
        if secrets.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False                           # this code (or a later one) was used already
            user.totp_last_step = step
            return True
    return False


def confirm_setup(user: User, code: str) -> list[str] | None:
    """Enable TOTP if `code` is right; returns the recovery codes (shown once) or None."""
    if not _accept(user, code):
        return None
    user.totp_enabled_at = utcnow()
    codes = new_recovery_codes(user)
    audit.record("user.totp_enabled", user, actor=user)
    return codes


def new_recovery_codes(user: User) -> list[str]:
    codes = [f"{secrets.randbelow(10**10):010d}" for _ in range(RECOVERY_CODES)]
    user.recovery_codes = [_code_digest(c) for c in codes]
    session.flush()
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def _code_digest(code: str) -> str:
    return hashlib.sha256("".join(ch for ch in code if ch.isdigit()).encode()).hexdigest()


def verify(user: User, code: str) -> bool:
    """A TOTP code, or a recovery code (used up)."""
    if user.totp_enabled_at is None:
        return False
    if _accept(user, code):
        return True
    digest = _code_digest(code)
    if len("".join(ch for ch in code if ch.isdigit())) == 10 and digest in (user.recovery_codes or []):
        user.recovery_codes = [c for c in user.recovery_codes or [] if c != digest]
        audit.record("user.recovery_code_used", user, actor=user, left=len(user.recovery_codes))
        return True
    return False


def disable(user: User, *, actor: User) -> None:
    user.totp_secret, user.totp_enabled_at, user.totp_last_step, user.recovery_codes = None, None, None, None
    session.flush()
    audit.record("user.totp_disabled", user, actor=actor)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an SVG QR code (reportlab, already a dependency), for a data: URL."""
    from reportlab.graphics import renderSVG
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    widget = QrCodeWidget(uri)
    x1, y1, x2, y2 = widget.getBounds()
    size = 200
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    return base64.b64encode(renderSVG.drawToString(drawing).encode()).decode()
