"""Key material for a signing batch, on its way from the browser to a worker.

A batch signs in a worker process, so the signer's key must reach it: the key the web process opened from the
PKCS#12 file (the passphrase stays there; `pades.PKCS12Signer.unlocked`) or, for a GOST key, the file and its
passphrase. They are never written in plaintext — not to Redis, the database or a log:

- the web process encrypts them with AES-256-GCM under a key derived by HKDF-SHA256 from
  SECRET_KEY and the batch id, and stores only the ciphertext in Redis, with a short TTL;
- SECRET_KEY lives in the processes' configuration only (environment or instance file),
  never in Redis or the database, so a copy of either gives ciphertext only;
- the worker derives the same key, decrypts in memory, and the entry is deleted as soon as
  the batch ends (or expires with the TTL if nobody runs it).

What remains: someone holding both SECRET_KEY and a Redis dump taken within the TTL could
decrypt; hence the short TTL and the deletion at the end.
"""
import json
import os
from base64 import b64decode, b64encode
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from core.jobs import redis_connection

TTL_SECONDS = 30 * 60


class KeyMaterialGone(Exception):
    """The batch's key material expired or was already used up."""


def _key(batch_id: int) -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"journals-sign-batch",
                info=f"batch:{batch_id}".encode()).derive(secret)


def _name(batch_id: int) -> str:
    return f"sign-batch-key:{batch_id}"


@dataclass(frozen=True)
class KeyMaterial:
    """What a batch signs with: the key opened by the web process (`pades.PKCS12Signer.unlocked`), or — a GOST
    key — its PKCS#12 file and passphrase."""
    unlocked: bytes | None = None
    pkcs12: bytes | None = None
    passphrase: str = ""

    def __repr__(self) -> str:              # never the key or the passphrase
        return f"<KeyMaterial {'unlocked' if self.unlocked else 'pkcs12'}>"


def put(batch_id: int, material: KeyMaterial) -> None:
    doc = {"unlocked": b64encode(material.unlocked).decode()} if material.unlocked is not None else \
        {"p12": b64encode(material.pkcs12 or b"").decode(), "pw": material.passphrase}
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(_key(batch_id)).encrypt(nonce, json.dumps(doc).encode(), _name(batch_id).encode())
    redis_connection().set(_name(batch_id), sealed, ex=TTL_SECONDS)


def get(batch_id: int) -> KeyMaterial:
    sealed = redis_connection().get(_name(batch_id))
    if not isinstance(sealed, bytes):       # None once expired (a binary client never answers str)
        raise KeyMaterialGone("Ключ подписи для пакета больше недоступен (истёк срок 30 минут). "
                              "Запустите подписание ещё раз.")
    plain = AESGCM(_key(batch_id)).decrypt(sealed[:12], sealed[12:], _name(batch_id).encode())
    doc = json.loads(plain)
    if "unlocked" in doc:
        return KeyMaterial(unlocked=b64decode(doc["unlocked"]))
    return KeyMaterial(pkcs12=b64decode(doc["p12"]), passphrase=doc["pw"])


def drop(batch_id: int) -> None:
    redis_connection().delete(_name(batch_id))


# ---- any short-lived state that must not lie in Redis in the clear ---------------------------------------------
# (the external signing's prepared PDF: pupils' names and marks). Same scheme, keyed by the entry's name.

def _state_key(name: str) -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"journals-sealed-state", info=name.encode()).derive(secret)


def seal(name: str, plain: bytes, ttl_seconds: int) -> None:
    nonce = os.urandom(12)
    redis_connection().set(name, nonce + AESGCM(_state_key(name)).encrypt(nonce, plain, name.encode()), ex=ttl_seconds)


def unseal(name: str) -> bytes | None:
    """The entry's plaintext, or None when it expired or never was."""
    sealed = redis_connection().get(name)
    if not isinstance(sealed, bytes):
        return None
    return AESGCM(_state_key(name)).decrypt(sealed[:12], sealed[12:], name.encode())
