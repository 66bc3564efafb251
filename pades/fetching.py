"""Outbound requests only to where the installation says.

Validation may ask OCSP responders and CRL servers named in certificates, and pyHanko may chase a
certificate's AIA caIssuers URL to build a chain. For an uploaded document those addresses are the
uploader's choice: a PDF whose certificates name internal hosts would make the server request them
(blind SSRF). So every fetcher goes through `restricted`:

- no AIA chasing at all: a chain is built from the document's own certificates and the configured
  roots, so nothing is requested for a chain that does not reach the trust roots (certvalidator asks
  for revocation data only while validating a path that ends in a trusted root);
- OCSP and CRL requests only to hosts on the allow-list (FETCH_ALLOWED_HOSTS; by default the hosts named
  in the trust roots' own AIA/CRL/OCSP extensions): a certificate naming any other host gets no request,
  and its revocation status counts as not obtained (hard-fail refuses, soft-fail says so).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import urlsplit

from pyhanko_certvalidator.errors import OCSPFetchError
from pyhanko_certvalidator.fetchers.api import CertificateFetcher, CRLFetcher, FetcherBackend, Fetchers, OCSPFetcher
from pyhanko_certvalidator.util import get_ocsp_urls

from core.trust import crl_urls

# Validation is "as of now", taken when the validation context is made; an OCSP answer fetched a moment
# later carries a thisUpdate after that now, and pyhanko-certvalidator calls it "too recent" beyond the
# tolerance (1 s by default). A slow responder, a busy machine or a responder's clock a little ahead
# would then fail a good signature, so allow a minute of clock skew and network delay.
CLOCK_SKEW = timedelta(seconds=60)


def _allowed(urls: Iterable[str], hosts: frozenset[str]) -> bool:
    urls = list(urls)
    return bool(urls) and all((urlsplit(u).hostname or "").lower() in hosts for u in urls)


class _OCSP(OCSPFetcher):
    def __init__(self, inner: OCSPFetcher, hosts: frozenset[str]):
        self.inner, self.hosts = inner, hosts

    async def fetch(self, cert, authority):
        if not _allowed(get_ocsp_urls(cert), self.hosts):
            raise OCSPFetchError("OCSP responder not on the allow-list (FETCH_ALLOWED_HOSTS): not asked")
        return await self.inner.fetch(cert, authority)

    def fetched_responses(self):
        return self.inner.fetched_responses()

    def fetched_responses_for_cert(self, cert):
        return self.inner.fetched_responses_for_cert(cert)


class _CRL(CRLFetcher):
    def __init__(self, inner: CRLFetcher, hosts: frozenset[str]):
        self.inner, self.hosts = inner, hosts
        self._refused: set[bytes] = set()

    async def fetch(self, cert, *, use_deltas=None):
        if not _allowed(crl_urls(cert), self.hosts):
            self._refused.add(cert.dump())
            return []                          # no CRL obtained: certvalidator judges as for an absent one
        return await self.inner.fetch(cert, use_deltas=use_deltas)

    def fetched_crls(self):
        return self.inner.fetched_crls()

    def fetched_crls_for_cert(self, cert):
        if cert.dump() in self._refused:
            return []
        return self.inner.fetched_crls_for_cert(cert)


class _NoCertificates(CertificateFetcher):
    """AIA chasing is off: chains come from the document and the configuration."""

    def fetch_cert_issuers(self, cert):
        return _empty()

    def fetch_crl_issuers(self, certificate_list):
        return _empty()

    def fetched_certs(self):
        return []


async def _empty():
    return
    yield   # an async generator that yields nothing


class _Restricted(FetcherBackend):
    def __init__(self, inner: FetcherBackend, hosts: frozenset[str]):
        self.inner, self.hosts = inner, hosts

    def get_fetchers(self) -> Fetchers:
        f = self.inner.get_fetchers()
        return Fetchers(ocsp_fetcher=_OCSP(f.ocsp_fetcher, self.hosts), crl_fetcher=_CRL(f.crl_fetcher, self.hosts),
                        cert_fetcher=_NoCertificates())

    async def close(self):
        await self.inner.close()


def restricted(inner: FetcherBackend | None, hosts: Iterable[str]):
    """`inner` (pyHanko's aiohttp backend by default) limited as described above."""
    hosts = frozenset(h.lower() for h in hosts)
    if inner is None:                 # made here, so owned here: the validation context closes it
        from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
        from pyhanko_certvalidator.fetchers.api import OwnedFetcherBackend
        return OwnedFetcherBackend(_Restricted(AIOHttpFetcherBackend(), hosts))
    return _Restricted(inner, hosts)
