"""Password hashing with argon2id, and what a new password must be."""
import gzip
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the login is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("timing-equaliser")
MIN_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# The 20,000 most common passwords (Royce Williams' list, as bundled by Django, BSD licence), and what
# Russian users type on a Latin keyboard layout or in Cyrillic.
COMMON_FILE = Path(__file__).with_name("data") / "common-passwords.txt.gz"
RUSSIAN_COMMON = ("пароль", "пароль123", "йцукен", "йцукенгшщз", "фывапролдж", "qwerty123456", "gfhjkm", "ghbdtn",
                  "1q2w3e4r5t", "zaq12wsx", "привет123", "пароль1234", "школа2024", "школа2025", "школа2026")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_FILE, "rt", encoding="utf-8") as f:
        return frozenset(line.strip().lower() for line in f if line.strip()) | frozenset(RUSSIAN_COMMON)


def check_strength(password: str, *, login: str | None = None) -> str | None:
    """A Russian message if the password is too weak, else None."""
    if len(password) < MIN_LENGTH:
        return f"Пароль должен быть не короче {MIN_LENGTH} символов."
    if password.isdigit() or password.isalpha():
        return "Пароль должен содержать и буквы, и цифры или знаки."
    lowered = password.lower()
    if lowered in common_passwords():
        return "Этот пароль есть в списке самых распространённых паролей: его подбирают первым. Выберите другой."
    if login and login.lower() in lowered:
        return "Пароль не должен содержать логин."
    return None
