"""The certification authorities whose signatures this installation trusts (TRUST_ROOTS)."""
from functools import lru_cache
from pathlib import Path

from asn1crypto import pem, x509
from flask import current_app


@lru_cache(maxsize=8)
def _load(paths: str) -> tuple[x509.Certificate, ...]:
    certs = []
    for p in filter(None, paths.split(":")):
        data = Path(p).read_bytes()
        blobs = [der for _, _, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
        certs += [x509.Certificate.load(b) for b in blobs]
    return tuple(certs)


def trust_roots() -> tuple[x509.Certificate, ...]:
    return _load(current_app.config.get("TRUST_ROOTS") or "")
