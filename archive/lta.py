"""PDF-level work for the archive, no database: who signed, and PAdES B-LTA (validation data in the
DSS plus a document timestamp), first at ingest and then renewed before the timestamp's
certificate expires.

Each document timestamp is an incremental update, so the earlier bytes stay intact inside the new
file and every signature made before stays valid (modification level LTA_UPDATES).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from io import BytesIO
from typing import Any

from asn1crypto import x509

from pades import identity

# The signing path's strict timestamper's error: a TSA failure is an error, never a silently
# unstamped archive copy.
from pades.timestamps import StrictTimeStamper, TimestampUnavailable

log = logging.getLogger(__name__)

# Bytes of hex reserved for a document timestamp token (a TSA answer with its chain is 3-6 KB DER), the first
# time a TSA stamps in a process; then learned from its last token (pades/room.py).
TIMESTAMP_RESERVED = 24 * 1024


class ArchiveTimestampError(Exception):
    """The document timestamp could not be added (the TSA is down or refused). Russian message."""


@dataclass
class Stamped:
    pdf: bytes
    timestamp_at: datetime | None = None
    expires_at: datetime | None = None            # the TSA certificate's end of validity
    notes: list[str] = field(default_factory=list)   # what could not be collected, in Russian
    signers: list[dict] | None = None             # signer_info of the document (read on the way)


def signer_info(pdf: bytes, field_names: list[str] | None = None) -> list[dict]:
    """The signatures in signing order: role (field), name, certificate serial, time (from the
    signature's timestamp if there is one, else as claimed). Reads; checks nothing.

    With `field_names` (a document whose fields are known, such as a summary sheet: teacher, then
    director) the CMS blobs are taken straight from the /ByteRange gaps, which is much faster than
    pyHanko's parser (it reads the 32 KB hex of every /Contents a character at a time); anything
    unexpected falls back to the full parse."""
    if field_names:
        try:
            quick = _quick_signers(pdf, field_names)
        except (ValueError, KeyError, TypeError):
            quick = None
        if quick is not None:
            return quick
    from pades import quick_read
    return _signers(quick_read.reader(pdf, strict=False).embedded_regular_signatures)


_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _quick_signers(pdf: bytes, field_names: list[str]) -> list[dict] | None:
    from asn1crypto import cms

    from pades import ROLE_LABELS, owner_name, serial_of
    blobs = []
    for m in _BYTE_RANGE.finditer(pdf):
        a, b, c, d = map(int, m.groups())
        if a != 0 or not 0 < b < c <= len(pdf) or c + d > len(pdf):
            return None
        gap = pdf[b:c]
        if gap[:1] != b"<" or gap[-1:] != b">":
            return None
        info = cms.ContentInfo.load(bytes.fromhex(gap[1:-1].decode("ascii")), strict=False)
        if info["content_type"].native != "signed_data":
            return None
        blobs.append((b, info["content"], _claimed_time(pdf, m.start(), b, c)))
    regular = [(sd, claimed) for _, sd, claimed in sorted(blobs, key=lambda x: x[0])
               if sd["encap_content_info"]["content_type"].native == "data"]
    if len(regular) != len(field_names) or len(blobs) != len(regular):
        return None
    out = []
    for name, (sd, claimed) in zip(field_names, regular):
        signer = sd["signer_infos"][0]
        cert = identity.signer_certificate(sd)
        if cert is None:                     # not among its own certificates: the full parse says what it is
            return None
        when = None
        if signer["unsigned_attrs"].native is not None:
            for attr in signer["unsigned_attrs"]:
                if attr["type"].native == "signature_time_stamp_token":
                    when = attr["values"][0]["content"]["encap_content_info"]["content"].parsed["gen_time"].native
        if when is None and signer["signed_attrs"].native is not None:
            for attr in signer["signed_attrs"]:
                if attr["type"].native == "signing_time":
                    when = attr["values"][0].native
        when = when or claimed
        if when is None:
            return None
        out.append({"field": name, "role": ROLE_LABELS.get(name, name), "name": owner_name(cert),
                    "serial": serial_of(cert), "signed_at": when.isoformat() if when else None})
    return out


_CLAIMED = re.compile(rb"/M\s*\(((?:[^()\\]|\\.)*)\)")
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)")


def _pdf_literal(raw: bytes) -> str:
    """A PDF literal string's escapes undone (pyHanko writes the ':' of "D:" as \\072)."""
    def one(m):
        g = m.group(1)
        return bytes([int(g, 8) & 0xFF]) if g[:1].isdigit() else g
    return _ESCAPE.sub(one, raw).decode("latin-1")


def _claimed_time(pdf: bytes, at: int, gap_start: int, gap_end: int) -> datetime | None:
    """/M of the signature dictionary around offset `at` (outside the /Contents gap)."""
    from pyhanko.pdf_utils.generic import parse_pdf_date
    start = pdf.rfind(b" obj", 0, at)
    end = pdf.find(b"endobj", gap_end)
    if start < 0 or end < 0:
        return None
    for part in (pdf[start:gap_start], pdf[gap_end:end]):
        if m := _CLAIMED.search(part):
            return parse_pdf_date(_pdf_literal(m.group(1)), strict=False)
    return None


def _signers(signatures) -> list[dict]:
    from pades import ROLE_LABELS, gost, owner_name, serial_of
    out = []
    for sig in signatures:
        cert = gost.embedded_signer_cert(sig)
        when = _signature_time(sig) or sig.self_reported_timestamp
        out.append({"field": sig.field_name, "role": ROLE_LABELS.get(sig.field_name, sig.field_name),
                    "name": owner_name(cert), "serial": serial_of(cert),
                    "signed_at": when.isoformat() if when else None})
    return out


def _signature_time(sig) -> datetime | None:
    from pades.gost import absent
    attrs = sig.signer_info["unsigned_attrs"]
    if absent(attrs):
        return None
    for attr in attrs:
        if attr["type"].native == "signature_time_stamp_token":
            tst = attr["values"][0]["content"]["encap_content_info"]["content"].parsed
            return tst["gen_time"].native
    return None


def last_document_timestamp(pdf: bytes) -> tuple[datetime, datetime] | None:
    """(time, TSA certificate end) of the newest document timestamp, if any."""
    from pades import quick_read
    reader = quick_read.reader(pdf, strict=False)
    stamps = reader.embedded_timestamp_signatures
    if not stamps:
        return None
    return _token_times(stamps[-1].signed_data)


def _token_times(signed_data) -> tuple[datetime, datetime]:
    """(time, TSA certificate end) of a timestamp token's SignedData."""
    tst = signed_data["encap_content_info"]["content"].parsed
    cert = identity.signer_certificate(signed_data)
    if cert is None:
        raise ArchiveTimestampError("Штамп времени архива не содержит сертификата службы штампов времени.")
    return tst["gen_time"].native, cert["tbs_certificate"]["validity"]["not_after"].native


# Revocation data fetched for one ingest serves the next ones for a few minutes: a school's sheets
# are signed by the same teacher, director and TSA, so their OCSP answers and CRLs are the same. Per
# thread (a validation context is not meant to be shared between threads); across the forked
# work-horses of the RQ workers through Redis (archive/revinfo.py).
VC_TTL_SECONDS = 300
_local = threading.local()


def _validation_context(trust_roots: list[x509.Certificate]):
    from pyhanko_certvalidator import ValidationContext
    key = tuple(sorted(c.sha256 for c in trust_roots))
    cached = getattr(_local, "vc", None)
    now = time.monotonic()
    if cached is not None and cached[0] == key and now - cached[1] < VC_TTL_SECONDS:
        return cached[2]
    # soft-fail: an unreachable OCSP responder must not stop the archive copy; the notes say
    # what is missing, and the verification report will show it.
    from pades import fetching, gost
    vc = ValidationContext(trust_roots=list(trust_roots), allow_fetching=True, revocation_mode="soft-fail",
                           fetcher_backend=fetcher_backend(), signature_validator=gost.SignatureValidator(),
                           time_tolerance=fetching.CLOCK_SKEW)
    _local.vc = (key, now, vc)
    return vc


def fetcher_backend():
    """OCSP/CRL fetching for one validation context (which closes it when done), sharing the answers
    with the other worker processes through Redis when the app has one (archive/revinfo.py)."""
    from flask import has_app_context
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
    from pyhanko_certvalidator.fetchers.api import OwnedFetcherBackend

    from archive import revinfo
    from core.trust import fetch_allowed_hosts
    from pades.fetching import restricted
    shared = revinfo.shared(AIOHttpFetcherBackend(session=_session()), *_revinfo_cache())
    hosts = fetch_allowed_hosts() if has_app_context() else frozenset()    # no configuration: ask nobody
    return OwnedFetcherBackend(restricted(shared, hosts))


def _revinfo_cache():
    """(Redis, seconds) for the revocation data shared between worker processes (archive/revinfo.py)."""
    from flask import current_app, has_app_context
    if not has_app_context() or not current_app.config.get("REDIS_URL"):
        return None, 0
    from core.jobs import redis_connection
    return redis_connection(), int(current_app.config.get("ARCHIVE_REVINFO_CACHE_SECONDS") or 0)


# The paths a validation context found, by certificate. A batch's sheets carry the same teacher, director and
# TSA certificates, so each path is built and checked (revocation included) once per context — which lives
# VC_TTL_SECONDS at most, with the revocation data it fetched — instead of five times a sheet.
_paths: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def collect_paths(sig, vc) -> list:
    """pyHanko's `collect_validation_info` (the signer's and its timestamps' certificates validated, their
    revocation data left in `vc` for the DSS), with the paths remembered by `vc`."""
    from pyhanko.sign.general import extract_certificate_info
    from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
    signed = [sig.signed_data, *(tst for attached in (False, True)
                                 for tst in extract_tst_data_iter(sig.signer_info, signed=attached))]
    paths = []
    for signed_data in signed:
        info = extract_certificate_info(signed_data)
        paths.append(await validated_path(vc, info.signer_cert, list(info.other_certs)))
    return paths


async def validated_path(vc, cert, others, extended_usage: frozenset[str] = frozenset()):
    """The path of `cert` in `vc`, found once. A certificate of the path that has expired since is validated
    again (and fails as it should)."""
    from pyhanko_certvalidator import CertificateValidator
    known = _paths.setdefault(vc, {})
    key = (cert.sha256, *sorted(c.sha256 for c in others), *sorted(extended_usage))
    path = known.get(key)
    if path is None or _expired(path):
        path = await CertificateValidator(cert, intermediate_certs=others, validation_context=vc) \
            .async_validate_usage(set(), set(extended_usage) or None)
        known[key] = path
    return path


def _expired(path) -> bool:
    now = datetime.now(timezone.utc)
    return any(c.not_valid_after < now for c in path.iter_certs(include_root=True))


def add_archive_timestamp(pdf: bytes, tsa_url: str, trust_roots: list[x509.Certificate]) -> Stamped:
    """B-LTA at ingest: validation data (certificates, OCSP, CRL) for every signature and its
    timestamp goes into the DSS, then a document timestamp covers the whole file, all in one
    incremental revision."""
    from pyhanko.sign._session_scope import run_and_release

    from pades import run_sync
    vc = _validation_context(trust_roots)
    return run_sync(run_and_release(_add(pdf, tsa_url, vc), vc))


def add_archive_timestamps(pdfs: list[bytes], tsa_url: str, trust_roots: list[x509.Certificate]) -> list:
    """`add_archive_timestamp` for each of `pdfs`, concurrently on one event loop and validation context: while
    one document waits for its token, the next is hashed. A Stamped, or the exception raised, for each."""
    from pyhanko.sign._session_scope import run_and_release

    from pades import run_sync
    vc = _validation_context(trust_roots)

    async def each():
        return await asyncio.gather(*(_add(pdf, tsa_url, vc) for pdf in pdfs), return_exceptions=True)
    return run_sync(run_and_release(each(), vc))


async def _add(pdf: bytes, tsa_url: str, vc) -> Stamped:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper, TimestampDSSContentSettings
    from pyhanko_certvalidator import errors as cv_errors

    from pades import owner_name, quick_read, room
    reader = quick_read.reader(pdf)
    signatures = reader.embedded_regular_signatures
    paths, notes = [], []
    from pades import gost
    for sig in signatures:
        gost.prime_digest(sig)
        try:
            paths += await collect_paths(sig, vc)
        except (cv_errors.PathBuildingError, cv_errors.PathValidationError, cv_errors.InvalidCertificateError) as e:
            notes.append(f"подпись {sig.field_name} ({owner_name(gost.embedded_signer_cert(sig))}): данные для "
                         "проверки не собраны — "
                         f"{type(e).__name__}")
    timestamper = _timestamper(tsa_url)
    stamper = PdfTimeStamper(timestamper, field_name=f"ArchiveTimestamp-{uuid.uuid4().hex[:12]}",
                             readable_field_name="Штамп времени архива")

    async def attempt(reserved: int, again: bool) -> BytesIO:
        return await stamper.async_timestamp_pdf(
            IncrementalPdfFileWriter.from_reader(quick_read.reader(pdf) if again else reader), "sha256",
            validation_context=vc, validation_paths=paths, bytes_reserved=reserved,
            dss_settings=TimestampDSSContentSettings(update_before_ts=True, include_vri=False))

    try:
        stamped = await room.made_to_fit(room.timestamp_key(tsa_url), TIMESTAMP_RESERVED, attempt)
    except TimestampUnavailable as e:
        raise ArchiveTimestampError(f"Служба штампов времени недоступна ({tsa_url}): {e}") from None
    finally:
        await timestamper.session.close()
    when, expires = _token_times(timestamper.last_token["content"])   # no second parse of the output
    return Stamped(pdf=stamped, timestamp_at=when, expires_at=expires, notes=notes, signers=_signers(signatures))


def renew_archive_timestamp(pdf: bytes, tsa_url: str, trust_roots: list[x509.Certificate]) -> Stamped:
    """B-LTA renewal: validate the last document timestamp, add its validation data, and cover
    everything with a new document timestamp (pyHanko's archival timestamp chain)."""
    from pyhanko.sign._session_scope import run_and_release

    from pades import run_sync
    vc = _validation_context(trust_roots)
    return run_sync(run_and_release(_renew(pdf, tsa_url, vc), vc))


async def _renew(pdf: bytes, tsa_url: str, vc) -> Stamped:
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper

    from pades import gost, quick_read
    reader = quick_read.reader(pdf)
    if not reader.embedded_timestamp_signatures:       # archived without a TSA: the first stamp
        return await _add(pdf, tsa_url, vc)
    for sig in reader.embedded_signatures:             # pyHanko validates the chain before extending it
        gost.prime_digest(sig)
    timestamper = _timestamper(tsa_url)
    stamper = PdfTimeStamper(timestamper, field_name=f"ArchiveTimestamp-{uuid.uuid4().hex[:12]}",
                             readable_field_name="Штамп времени архива")
    try:
        out = await stamper.async_update_archival_timestamp_chain(reader, vc, in_place=False)
    except TimestampUnavailable as e:
        raise ArchiveTimestampError(f"Служба штампов времени недоступна ({tsa_url}): {e}") from None
    except SigningError as e:
        raise ArchiveTimestampError(f"Прежний штамп времени архива не прошёл проверку: {e}") from None
    finally:
        await timestamper.session.close()
    data = out.getvalue()
    stamp = last_document_timestamp(data)
    if stamp is None:
        raise ArchiveTimestampError("Новый штамп времени архива не найден в документе.")
    when, expires = stamp
    return Stamped(pdf=data, timestamp_at=when, expires_at=expires)


@functools.cache
def _ssl_context():
    """One CA bundle load per process (aiohttp's default loads certifi's for every session)."""
    import ssl

    import certifi
    return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or certifi.where())


def _session():
    """A lazily opened HTTP session (bound to the event loop of the operation, closed at its end)."""
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession

    class Session(LazySession):
        def get_session(self):
            import aiohttp
            if self._session is None:
                self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_ssl_context()))
            return self._session
    return Session()


# A token of each TSA, per process, from which its certificates are read for the DSS (see validation_paths).
TSA_CERTS_SECONDS = 3600
tsa_tokens: dict[str, tuple[float, Any]] = {}
_learning: dict[str, asyncio.Future] = {}


class ArchiveTimeStamper(StrictTimeStamper):
    """Keeps the token it got (read without parsing the output again) and its session (closed by us)."""
    last_token: Any = None

    @property
    def session(self):
        return self._session

    async def async_timestamp(self, message_digest, md_algorithm):
        self.last_token = await super().async_timestamp(message_digest, md_algorithm)
        return self.last_token

    async def validation_paths(self, validation_context):
        """The TSA certificate's paths, for the DSS written before the document timestamp. pyHanko learns the
        certificate from a dummy token each new timestamper requests, and an ingest makes one timestamper per
        document: every sheet cost the TSA a second request (benchmarks/year_end.py counts them). The token is
        kept per TSA and process for TSA_CERTS_SECONDS (a renewed TSA certificate is picked up within that)."""
        from pyhanko.sign import DEFAULT_MD
        from pyhanko.sign.timestamps.common_utils import extract_ts_certs
        known = tsa_tokens.get(self.url)
        if known is None or time.monotonic() - known[0] > TSA_CERTS_SECONDS:
            # documents stamped together (add_archive_timestamps) wait for the one request already made
            learning = _learning.get(self.url)
            if learning is None or learning.get_loop() is not asyncio.get_running_loop():
                learning = _learning[self.url] = asyncio.ensure_future(self.async_dummy_response(DEFAULT_MD))
            try:
                known = tsa_tokens[self.url] = (time.monotonic(), await learning)
            finally:
                if _learning.get(self.url) is learning:
                    del _learning[self.url]
        for cert in list(extract_ts_certs(known[1], self.cert_registry)):
            yield await validated_path(validation_context, cert, list(self.cert_registry),
                                       frozenset({"time_stamping"}))


def _timestamper(url: str) -> ArchiveTimeStamper:
    return ArchiveTimeStamper(url, timeout=10, session=_session())
