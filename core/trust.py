"""The certification authorities whose signatures this installation trusts.

TRUST_ROOTS (PEM/DER files, ":"-separated) when configured; otherwise the instance's demo CA,
which `flask serve` makes with the demo data — and then nothing else is trusted."""
from functools import lru_cache
from pathlib import Path

from asn1crypto import pem, x509
from flask import current_app


@lru_cache(maxsize=8)
def load_roots(paths: str) -> tuple[x509.Certificate, ...]:
    certs = []
    for p in filter(None, paths.split(":")):
        data = Path(p).read_bytes()
        blobs = [der for _, _, der in pem.unarmor(data, multiple=True)] if pem.detect(data) else [data]
        certs += [x509.Certificate.load(b) for b in blobs]
    return tuple(certs)


def trust_roots_source() -> str:
    configured = current_app.config.get("TRUST_ROOTS")
    if configured:
        return configured
    demo = Path(current_app.instance_path) / "demo-pki" / "ca.pem"
    return str(demo) if demo.exists() else ""


def trust_roots() -> tuple[x509.Certificate, ...]:
    source = trust_roots_source()
    return load_roots(source) if source else ()
