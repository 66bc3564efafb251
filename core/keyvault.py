"""Key material for a signing batch, on its way from the browser to a worker.

A batch signs in a worker process, so the signer's PKCS#12 and passphrase (or a token PIN)
must reach it. They are never written in plaintext — not to Redis, the database or a log:

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


def put(batch_id: int, *, pkcs12: bytes, passphrase: str) -> None:
    plain = json.dumps({"p12": b64encode(pkcs12).decode(), "pw": passphrase}).encode()
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(_key(batch_id)).encrypt(nonce, plain, _name(batch_id).encode())
    redis_connection().set(_name(batch_id), sealed, ex=TTL_SECONDS)


def get(batch_id: int) -> tuple[bytes, str]:
    sealed = redis_connection().get(_name(batch_id))
    if not isinstance(sealed, bytes):       # None once expired (a binary client never answers str)
        raise KeyMaterialGone("Ключ подписи для пакета больше недоступен (истёк срок 30 минут). "
                              "Запустите подписание ещё раз.")
    plain = AESGCM(_key(batch_id)).decrypt(sealed[:12], sealed[12:], _name(batch_id).encode())
    doc = json.loads(plain)
    return b64decode(doc["p12"]), doc["pw"]


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
