"""The rule for every signature made in a person's name: a certificate this installation trusts, in force,
not revoked, meant for signing — and issued to that person.

Checked before anything is signed or written, on every path (page, batch, CLI, PKCS#11 token, external
CMS): `check_signer(cert, user)`. The person check compares the certificate's SN + G (or CN) with the
user's surname, given name and patronymic, and its СНИЛС / ИНН, when it carries them, with the profile's.
"""
from asn1crypto import x509
from flask import current_app

import pades
from core.trust import fetch_allowed_hosts, load_roots
from orgs.models.users import User
from pades.identity import CertifiedPerson, name_key, person


def signing_roots() -> tuple[x509.Certificate, ...]:
    """TRUST_ROOTS only: no fallback, so an installation without configured CAs cannot sign at all
    (`serve` configures its demo CA)."""
    configured = current_app.config.get("TRUST_ROOTS")
    return load_roots(configured) if configured else ()


def name_parts(user: User) -> tuple[str, str, str]:
    """(surname, given name, patronymic): the profile's, or read from full_name."""
    if user.surname:
        return user.surname, user.given_name or "", user.patronymic or ""
    parts = user.full_name.split()
    return (parts[0] if parts else "", parts[1] if len(parts) > 1 else "", " ".join(parts[2:]))


def mismatch(user: User, holder: CertifiedPerson) -> str | None:
    """Why the certificate is not this user's (Russian, showing both), or None."""
    surname, given, patronymic = name_parts(user)
    profile_name = " ".join(p for p in (surname, given, patronymic) if p)
    if name_key(holder.full_name) != name_key(profile_name):
        return (f"Сертификат выдан на «{holder.full_name}», а в профиле вошедшего пользователя — «{profile_name}». "
                "Подписывать можно только своим сертификатом; если в профиле ошибка, её исправляет администратор.")
    for label, in_cert, in_profile in (("СНИЛС", holder.snils, user.snils), ("ИНН", holder.inn, user.inn)):
        if in_cert is None:
            continue
        if not in_profile:
            return (f"В сертификате указан {label} {in_cert}, а в профиле пользователя {profile_name} {label} "
                    "не заполнен: его вносит администратор.")
        if "".join(ch for ch in in_profile if ch.isdigit()) != in_cert:
            return f"{label} в сертификате ({in_cert}) не совпадает с {label} в профиле ({in_profile})."
    return None


def check_signer(cert: x509.Certificate, user: User, *, other_certs=()) -> None:
    """Raise pades.SigningError (Russian, with the reason) unless `cert` may sign for `user` now."""
    problem = mismatch(user, person(cert))
    if problem:
        raise pades.SigningError(problem)
    pades.check_signing_certificate(cert, signing_roots(), other_certs=other_certs,
                                    allowed_hosts=fetch_allowed_hosts())
