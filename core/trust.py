"""The certification authorities whose signatures this installation trusts.

TRUST_ROOTS (PEM/DER files, ":"-separated) when configured; otherwise the instance's demo CA,
which `flask serve` makes with the demo data — and then nothing else is trusted."""
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from asn1crypto import pem, x509
from flask import current_app
from pyhanko_certvalidator.util import get_ocsp_urls


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


def fetch_allowed_hosts() -> frozenset[str]:
    """The hosts validation may ask for OCSP/CRL (pades/fetching.py): FETCH_ALLOWED_HOSTS (comma-separated)
    when set, otherwise the hosts the trust roots themselves name in their AIA/CRL/OCSP extensions."""
    configured = current_app.config.get("FETCH_ALLOWED_HOSTS")
    if configured:
        return frozenset(h.strip().lower() for h in configured.split(",") if h.strip())
    return frozenset(hosts_of(trust_roots()))


def crl_urls(cert: x509.Certificate) -> list[str]:
    urls = []
    for dp in cert.crl_distribution_points:
        point = dp["distribution_point"]
        if point.name == "full_name":
            urls += [n.native for n in point.chosen if n.name == "uniform_resource_identifier"]
    return urls


def declared_urls(cert: x509.Certificate) -> list[str]:
    """Every URL a certificate asks to be fetched: OCSP, CRL distribution points, AIA caIssuers."""
    urls = list(get_ocsp_urls(cert)) + crl_urls(cert)
    aia = cert.authority_information_access_value
    for desc in aia or []:
        location = desc["access_location"]
        if location.name == "uniform_resource_identifier":
            urls.append(location.native)
    return urls


def hosts_of(certs: Iterable[x509.Certificate]) -> set[str]:
    return {(urlsplit(u).hostname or "").lower() for c in certs for u in declared_urls(c)} - {""}

