"""Revocation data (OCSP responses, CRLs) shared by the archive's worker processes through Redis.

An RQ worker forks a work-horse per job, so a cache in the process dies with each sheet: every
ingest would ask the CA's OCSP responder and CRL server again for the same teacher, director and
TSA certificates — 15,000 times on the year-end day. Here the first horse's answers are kept in
Redis for a few minutes (never past the answer's own nextUpdate) and the next horses read them.

Safe to share: OCSP responses and CRLs are signed by the CA and checked by pyhanko-certvalidator
as if just fetched (signature, freshness against the validation time). The cache is an
optimisation only: any Redis error falls back to fetching.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging

from asn1crypto import crl, ocsp
from pyhanko_certvalidator.fetchers.api import CRLFetcher, FetcherBackend, Fetchers, OCSPFetcher

log = logging.getLogger(__name__)
PREFIX = "jt:revinfo:"


def shared(backend: FetcherBackend, redis, ttl_seconds: int) -> FetcherBackend:
    """`backend` with its OCSP and CRL fetchers reading and filling the shared cache."""
    return backend if redis is None or ttl_seconds <= 0 else _SharedBackend(backend, _Cache(redis, ttl_seconds))


class _Cache:
    def __init__(self, redis, ttl_seconds: int):
        self.redis, self.ttl = redis, ttl_seconds

    def get(self, key: str) -> list[bytes] | None:
        try:
            raw = self.redis.get(PREFIX + key)
            return None if raw is None else [base64.b64decode(d) for d in json.loads(raw)]
        except Exception as e:    # noqa: BLE001 - a cache miss, whatever went wrong
            log.warning("revocation cache: read failed (%s)", type(e).__name__)
            return None

    def put(self, key: str, items: list[bytes], next_updates: list[dt.datetime | None]) -> None:
        ttl = self.ttl
        now = dt.datetime.now(dt.timezone.utc)
        for when in next_updates:
            if when is not None:
                ttl = min(ttl, int((when - now).total_seconds()))
        if ttl <= 0:
            return
        try:
            self.redis.set(PREFIX + key, json.dumps([base64.b64encode(d).decode() for d in items]), ex=ttl)
        except Exception as e:    # noqa: BLE001 - the answer was fetched; only sharing it failed
            log.warning("revocation cache: write failed (%s)", type(e).__name__)


def _cert_key(kind: str, cert) -> str:
    return f"{kind}:{hashlib.sha256(cert.dump()).hexdigest()}"


class _SharedOCSP(OCSPFetcher):
    def __init__(self, inner: OCSPFetcher, cache: _Cache):
        self.inner, self.cache = inner, cache
        self.found: dict[str, list[ocsp.OCSPResponse]] = {}

    async def fetch(self, cert, authority) -> ocsp.OCSPResponse:
        key = _cert_key("ocsp", cert)
        cached = self.cache.get(key)
        if cached:
            resp = ocsp.OCSPResponse.load(cached[0])
            self.found.setdefault(key, []).append(resp)
            return resp
        resp = await self.inner.fetch(cert, authority)
        if resp["response_status"].native == "successful":
            single = resp.basic_ocsp_response["tbs_response_data"]["responses"][0]
            self.cache.put(key, [resp.dump()], [single["next_update"].native])
        return resp

    def fetched_responses(self):
        return [*self.inner.fetched_responses(), *(r for rs in self.found.values() for r in rs)]

    def fetched_responses_for_cert(self, cert):
        return [*self.inner.fetched_responses_for_cert(cert), *self.found.get(_cert_key("ocsp", cert), [])]


class _SharedCRL(CRLFetcher):
    def __init__(self, inner: CRLFetcher, cache: _Cache):
        self.inner, self.cache = inner, cache
        self.found: dict[str, list[crl.CertificateList]] = {}

    async def fetch(self, cert, *, use_deltas=None):
        key = _cert_key(f"crl:{bool(use_deltas)}", cert)
        cached = self.cache.get(key)
        if cached is not None:
            self.found[_cert_key("crl", cert)] = crls = [crl.CertificateList.load(d) for d in cached]
            return crls
        crls = list(await self.inner.fetch(cert, use_deltas=use_deltas))
        self.cache.put(key, [c.dump() for c in crls], [c["tbs_cert_list"]["next_update"].native for c in crls])
        return crls

    def fetched_crls(self):
        return [*self.inner.fetched_crls(), *(c for cs in self.found.values() for c in cs)]

    def fetched_crls_for_cert(self, cert):
        try:
            return self.inner.fetched_crls_for_cert(cert)
        except KeyError:
            return self.found[_cert_key("crl", cert)]


class _SharedBackend(FetcherBackend):
    def __init__(self, inner: FetcherBackend, cache: _Cache):
        self.inner, self.cache = inner, cache

    def get_fetchers(self) -> Fetchers:
        f = self.inner.get_fetchers()
        return Fetchers(ocsp_fetcher=_SharedOCSP(f.ocsp_fetcher, self.cache),
                        crl_fetcher=_SharedCRL(f.crl_fetcher, self.cache), cert_fetcher=f.cert_fetcher)

    async def close(self):
        await self.inner.close()
