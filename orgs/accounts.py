"""Logging in, users, grants and API tokens. Services flush; they never commit."""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update

from core import audit
from core.db import session, utcnow
from orgs.models.organisations import Organisation, path_ids
from orgs.models.users import ApiToken, PasswordReset, Role, RoleGrant, User
from orgs.passwords import check_strength, hash_password, needs_rehash, verify_password


class AuthError(Exception):
    pass


class PasswordError(ValueError):
    """A password that cannot be set; the message (Russian) says why."""


WRONG = "Неверный логин или пароль."
RESET_HOURS = 1
FAILED_LOGINS_NOTICE = 5      # wrong passwords in a row that the administrators are told of


@dataclass
class LoginResult:
    user: User | None
    error: str | None = None


def normalise_login(login: str) -> str:
    return login.strip().lower()


def authenticate(login: str, password: str, *, ip: str | None = None) -> LoginResult:
    """Check a login. A throttled address is answered before any password is checked; an unknown login, a
    wrong password and a deactivated account get the same answer after the same argon2 work."""
    from core.security_log import log_event
    from orgs import throttle
    wait = throttle.waiting(ip)
    if wait is not None:
        throttle.record_failure(ip)
        log_event("login_throttled", status=429)
        return LoginResult(None, wait.message)
    user = session.scalar(select(User).where(User.login == normalise_login(login)))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        throttle.record_failure(ip)
        if user is not None:       # one atomic increment: parallel guesses each count
            failures = session.execute(update(User).where(User.id == user.id)
                                       .values(failed_logins=User.failed_logins + 1)
                                       .returning(User.failed_logins)).scalar_one()
            audit.record("login.failed", user, actor=user)
            if failures == FAILED_LOGINS_NOTICE:
                _tell_admins_of_guessing(user, failures)
        log_event("login_failed", user_id=user.id if user is not None else None)
        return LoginResult(None, WRONG)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, utcnow()
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record("login", user, actor=user)
    return LoginResult(user)


def _tell_admins_of_guessing(user: User, failures: int) -> None:
    """Once per run of wrong passwords (the count resets at the next good login): the administrators above the
    account's organisations decide whether it is its owner or somebody guessing."""
    from core.signals import notice
    holders = {i for g in user.grants for i in path_ids(g.organisation.path)}
    notice.send(user, kind="account.failed_logins", org_ids=sorted(holders), action="user.manage",
                url=f"/admin/users/{user.id}",
                text=f"Учётная запись «{user.login}» ({user.full_name}): {failures} неверных паролей подряд "
                     f"с последнего входа. Если это не её владелец — смените пароль или отключите запись.")


def create_user(login: str, full_name: str, password: str | None = None, *, email: str | None = None,
                position: str | None = None, actor: User | None = None) -> User:
    """An administrator's new user must choose their own password at first login."""
    user = User(login=normalise_login(login), full_name=full_name.strip(), email=email, position=position,
                password_hash=hash_password(password) if password else None,
                must_change_password=bool(password and actor is not None))
    session.add(user)
    session.flush()
    audit.record("user.create", user, actor=actor, after={"login": user.login})
    return user


def set_password(user: User, password: str, *, actor: User | None = None, keep=None) -> None:
    """Set the password and end the user's other sessions. Set by someone else (an administrator), it must
    be changed at the next login."""
    from orgs import sessions
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until, user.password_changed_at = 0, None, utcnow()
    user.must_change_password = actor is not None and actor.id != user.id
    session.flush()
    ended = sessions.end_all(user, "password", keep=keep)
    audit.record("user.password", user, actor=actor, sessions_ended=ended)


def change_password(user: User, current: str, new: str, repeat: str, *, keep=None) -> None:
    """The user's own change: the current password, then the new one twice, strong and not a common one."""
    if not verify_password(user.password_hash, current):
        raise PasswordError("Текущий пароль введён неверно.")
    if new != repeat:
        raise PasswordError("Новый пароль и повтор не совпадают.")
    if verify_password(user.password_hash, new):
        raise PasswordError("Новый пароль должен отличаться от текущего.")
    weak = check_strength(new, login=user.login)
    if weak:
        raise PasswordError(weak)
    set_password(user, new, actor=user, keep=keep)


def deactivate(user: User, *, actor: User) -> None:
    """No more logins: sessions end and API tokens are revoked now."""
    from orgs import sessions
    user.active = False
    revoked = _revoke_all_tokens(user)
    ended = sessions.end_all(user, "deactivated")
    audit.record("user.deactivate", user, actor=actor, sessions_ended=ended, tokens_revoked=revoked)


def reactivate(user: User, *, actor: User) -> None:
    user.active = True
    session.flush()
    audit.record("user.reactivate", user, actor=actor)


def force_reset(user: User, *, actor: User) -> str | None:
    """An administrator's reset: sessions end, tokens are revoked, and the user must set a new password —
    by a one-time link mailed to them when SMTP_URL and an address are set (None returned), otherwise
    with a temporary password returned here for the administrator to hand over (shown once)."""
    from orgs import sessions
    revoked = _revoke_all_tokens(user)
    ended = sessions.end_all(user, "reset")
    audit.record("user.force_reset", user, actor=actor, sessions_ended=ended, tokens_revoked=revoked)
    if current_app.config.get("SMTP_URL") and user.email:
        user.password_hash = None                      # the old one no longer opens anything
        user.must_change_password = False
        session.flush()
        send_reset_link(user)
        return None
    temporary = secrets.token_urlsafe(12)
    set_password(user, temporary, actor=actor)
    return temporary


def _revoke_all_tokens(user: User) -> int:
    from core.db import execute_count
    return execute_count(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                         .values(revoked_at=utcnow()))


def request_reset(login_or_email: str) -> None:
    """«Забыли пароль?»: mail a one-time link if such an active user with an address exists. Says nothing
    either way (the page shows the same text), so it does not tell which logins or addresses exist."""
    value = login_or_email.strip().lower()
    if not value or not current_app.config.get("SMTP_URL"):
        return
    user = session.scalar(select(User).where((User.login == value) | (func.lower(User.email) == value)))
    if user is not None and user.active and user.email:
        send_reset_link(user)


def send_reset_link(user: User) -> None:
    from core.db import on_commit
    from core.mail import send_mail
    token = secrets.token_urlsafe(32)
    session.add(PasswordReset(user_id=user.id, token_sha256=_digest(token),
                              expires_at=utcnow() + timedelta(hours=RESET_HOURS)))
    session.flush()
    audit.record("user.reset_link", user)
    link = f"{(current_app.config.get('PUBLIC_URL') or '').rstrip('/')}/login/reset/{token}"
    address = user.email or ""
    body = (f"Здравствуйте, {user.full_name}!\n\nЧтобы задать новый пароль для входа в «Электронные журналы» "
            f"(логин {user.login}), откройте ссылку в течение {RESET_HOURS} ч.:\n{link}\n\n"
            "Ссылка действует один раз. Если вы не просили сменить пароль, просто удалите это письмо.")
    on_commit(lambda: send_mail(address, "Смена пароля в «Электронных журналах»", body))


def reset_for(token: str) -> PasswordReset | None:
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_sha256 == _digest(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    return reset


def complete_reset(reset: PasswordReset, new: str, repeat: str) -> User:
    user = session.get_one(User, reset.user_id)
    if new != repeat:
        raise PasswordError("Новый пароль и повтор не совпадают.")
    weak = check_strength(new, login=user.login)
    if weak:
        raise PasswordError(weak)
    reset.used_at = utcnow()
    set_password(user, new, actor=user)
    return user


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


def issue_token(user: User, name: str, *, scope: str = "write", days: int | None = None) -> tuple[ApiToken, str]:
    """Make an API token; the plain value is returned once and never stored. It expires after `days`
    (API_TOKEN_DAYS by default); a "read" token may only GET."""
    if scope not in ("read", "write"):
        raise ValueError(f"unknown token scope {scope!r}")
    days = days if days is not None else current_app.config.get("API_TOKEN_DAYS", 90)
    plain = "jt_" + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=days)
    tok = ApiToken(user=user, name=name.strip() or "API", token_sha256=_digest(plain), scope=scope,
                   expires_at=expires)
    session.add(tok)
    session.flush()
    audit.record("token.issue", tok, actor=user, after={"name": tok.name, "scope": scope,
                                                         "expires_at": expires.isoformat()})
    return tok, plain


def revoke_token(tok: ApiToken, *, actor: User) -> None:
    tok.revoked_at = utcnow()
    session.flush()
    audit.record("token.revoke", tok, actor=actor)


def token_for(plain: str) -> ApiToken | None:
    """The live token (not revoked, not expired, its user active); its last use is noted (once a minute)."""
    now = utcnow()
    tok = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(plain),
                                                ApiToken.revoked_at.is_(None)))
    if tok is None or not tok.user.active or (tok.expires_at is not None and tok.expires_at <= now):
        return None
    if tok.last_used_at is None or now - tok.last_used_at >= timedelta(minutes=1):
        tok.last_used_at = now
    return tok


def user_for_token(plain: str) -> User | None:
    tok = token_for(plain)
    return tok.user if tok else None


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
