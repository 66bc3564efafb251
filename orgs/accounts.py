"""Logging in, users, grants and API tokens. Services flush; they never commit."""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from core import audit
from core.db import session, utcnow
from orgs.models.organisations import Organisation
from orgs.models.users import ApiToken, Role, RoleGrant, User
from orgs.passwords import hash_password, needs_rehash, verify_password


class AuthError(Exception):
    pass


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None


def normalise_login(login: str) -> str:
    return login.strip().lower()


def authenticate(login: str, password: str) -> LoginResult:
    """Check a login; count failures and lock the account after too many."""
    user = session.scalar(select(User).where(User.login == normalise_login(login)))
    now = utcnow()
    if user is not None and user.locked_until and user.locked_until > now:
        audit.record("login.refused_locked", user, actor=user)
        minutes = int((user.locked_until - now).total_seconds() // 60) + 1
        return LoginResult(None, f"Слишком много неудачных попыток. Вход заблокирован ещё на {minutes} мин.")
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= current_app.config["LOGIN_MAX_FAILURES"]:
                user.locked_until = now + timedelta(seconds=current_app.config["LOGIN_LOCKOUT_SECONDS"])
                user.failed_logins = 0
                audit.record("login.locked", user, actor=user)
            else:
                audit.record("login.failed", user, actor=user)
            session.flush()
        return LoginResult(None, "Неверный логин или пароль.")
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record("login", user, actor=user)
    return LoginResult(user)


def create_user(login: str, full_name: str, password: str | None = None, *, email: str | None = None,
                position: str | None = None, actor: User | None = None) -> User:
    user = User(login=normalise_login(login), full_name=full_name.strip(), email=email, position=position,
                password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    audit.record("user.create", user, actor=actor, after={"login": user.login})
    return user


def set_password(user: User, password: str, *, actor: User | None = None) -> None:
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    session.flush()
    audit.record("user.password", user, actor=actor)


def grant(user: User, role: Role, org: Organisation, *, actor: User | None = None) -> RoleGrant:
    existing = session.scalar(select(RoleGrant).filter_by(user_id=user.id, role=role, organisation_id=org.id))
    if existing:
        return existing
    g = RoleGrant(user=user, role=role, organisation=org, granted_by_id=getattr(actor, "id", None))
    session.add(g)
    session.flush()
    audit.record("grant.add", user, actor=actor, after={"role": role.value, "organisation_id": org.id})
    return g


def revoke(grant_: RoleGrant, *, actor: User | None = None) -> None:
    audit.record("grant.remove", grant_.user, actor=actor,
                 before={"role": grant_.role.value, "organisation_id": grant_.organisation_id})
    grant_.user.grants.remove(grant_)
    session.flush()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Make an API token; the plain value is returned once and never stored."""
    plain = "jt_" + secrets.token_urlsafe(32)
    tok = ApiToken(user=user, name=name.strip() or "API", token_sha256=_digest(plain))
    session.add(tok)
    session.flush()
    audit.record("token.issue", tok, actor=user, after={"name": tok.name})
    return tok, plain


def revoke_token(tok: ApiToken, *, actor: User) -> None:
    tok.revoked_at = utcnow()
    session.flush()
    audit.record("token.revoke", tok, actor=actor)


def user_for_token(plain: str) -> User | None:
    tok = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(plain),
                                                ApiToken.revoked_at.is_(None)))
    if tok is None or not tok.user.active:
        return None
    return tok.user


PROFILE_FIELDS = ("surname", "given_name", "patronymic", "snils", "inn")


class ProfileError(ValueError):
    """A profile value that cannot be right; the message (Russian) names the field."""


def snils_ok(digits: str) -> bool:
    """СНИЛС: 11 digits, the last two a checksum of the first nine (rules of the Пенсионный фонд)."""
    if len(digits) != 11 or not digits.isdigit():
        return False
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits[:9]))
    control = total if total < 100 else (0 if total in (100, 101) else total % 101 % 100)
    return control == int(digits[9:])


def inn_ok(digits: str) -> bool:
    """A person's ИНН: 12 digits, the last two check digits (ФНС's weights)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    def check(weights):
        return sum(w * int(d) for w, d in zip(weights, digits)) % 11 % 10
    return (check((7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) == int(digits[10])
            and check((3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) == int(digits[11]))


def set_signer_profile(user: User, *, actor: User, **values: str | None) -> list[str]:
    """Set the fields a signing certificate is matched against (orgs/signers.py). Returns the changed
    fields' names; the audit log records which changed, not the values (СНИЛС is personal data)."""
    clean: dict[str, str | None] = {}
    for name in PROFILE_FIELDS:
        value = " ".join((values.get(name) or "").split()) or None
        if name in ("snils", "inn") and value:
            value = "".join(ch for ch in value if ch.isdigit())
            if not (snils_ok if name == "snils" else inn_ok)(value):
                label = "СНИЛС" if name == "snils" else "ИНН"
                raise ProfileError(f"{label} «{values.get(name)}» неверен: "
                                   f"{'11 цифр' if name == 'snils' else '12 цифр'} с верным контрольным числом.")
        clean[name] = value
    changed = [n for n, v in clean.items() if getattr(user, n) != v]
    for n in changed:
        setattr(user, n, clean[n])
    if changed:
        audit.record("user.profile", user, actor=actor, fields=changed)
    return changed
