"""PAdES signatures on a rendered summary sheet, and their validation (pyHanko 0.38).

The legal sequence (DESIGN.md, "Signing, and what it must mean legally"):

1. Both empty signature fields are in the document's first revision, where the renderer left room:
   the summary sheet's renderer writes them itself (sheets/render.py), `prepare_fields` rewrites any
   other PDF once to add them. The director's field carries a /Lock (FieldMDP: all fields;
   DocMDP P=1): whoever signs it locks the document.
2. The class teacher signs first with `certify=True`: a certification signature allowing
   FILL_FORMS only, so the director can still sign and nothing else may change.
3. The director signs last; the lock makes any later change (other than LTV data) invalid.

After the first signature there are only incremental updates. B-B without a TSA, B-T with
one (a failing TSA is an error, never a silent downgrade), B-LT with `embed_validation_info`
(OCSP/CRL in the DSS). B-LTA is the archive's job at ingest.

Key material: `PKCS12Signer` (a file + passphrase asked per signing session, never kept; an RSA/EC
key, or a GOST key read by `gost_keys`), `PKCS11Signer` (token/HSM), and `begin_external` /
`finish_external` for keys that never reach this process, such as GOST (КЭП) keys in CryptoPro: the
document digest goes out, a CMS comes back, is checked and embedded as is. A GOST key on the server signs
through the same external path with a CMS made here (`_sign_gost`).
"""
from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import threading
from base64 import b64decode, b64encode
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from io import BytesIO
from typing import Any

from asn1crypto import cms, x509
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
    pkcs12,
)
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1, translate_pyca_cryptography_key_to_asn1
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngine
from pyhanko.pdf_utils.font.opentype import CIDFontType2, GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError, PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import fields, signers
from pyhanko.sign._session_scope import run_and_release
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.signers.pdf_byterange import PreparedByteRangeDigest
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors
from pyhanko_certvalidator.registry import SimpleCertificateStore

from pades import fetching, gost, gost_keys, quick_read, room
from pades.fonts import FONT_REGULAR
from pades.layout import CLASS_TEACHER_FIELD, DIRECTOR_FIELD, ROLE_LABELS, FieldBox, SheetLayout  # noqa: F401  (public here)
from pades.pdfa import is_ours
from pades.reviewed_once import ReviewedOnce  # noqa: F401  (public here)
from pades.signed_attributes import PadesSignedAttributes
from pades.timestamps import StrictTimeStamper, TimestampUnavailable

log = logging.getLogger(__name__)
gost.register()   # GOST R 34.10-2012 / Streebog in asn1crypto's OID maps (pades/gost.py)

# Bytes of hex placeholder for the CMS, the worst case. A fixed size instead of pyHanko's trial signature,
# which would sign twice (ENVIRONMENT.md §7). Measured with the test PKI (Cyrillic names,
# 3-certificate chain): a B-T CMS is 6.9 KB of DER = 13.8 KB of hex, B-B about half that;
# about doubled here for real qualified chains, whose certificates are larger. Used the first time a key
# signs in a process; then the room is learned from its last signature (pades/room.py).
RESERVED_B = 16 * 1024
RESERVED_T = 32 * 1024
RESERVED_EXTERNAL = 32 * 1024        # GOST CMS from CryptoPro may carry the whole chain

MOSCOW = timezone(timedelta(hours=3), "MSK")    # UTC+3 all year since 2014; no tzdata needed


class SigningError(Exception):
    """A signature was not made. The message is Russian and safe to show to the user:
    it never contains a passphrase or PIN."""


class NotOurDocumentError(ValueError):
    """Asked to validate a file this system did not produce (or not a PDF at all)."""


# ---- fields ---------------------------------------------------------------------------------------------

def prepare_fields(pdf: bytes, layout: SheetLayout) -> bytes:
    """Add the two empty visible signature fields, teacher's and director's, in one new
    (non-incremental) revision, so the first signature covers a document that already has
    both. The director's field locks all fields and the document when signed."""
    w = copy_into_new_writer(PdfFileReader(BytesIO(pdf)))
    for box in layout.fields:
        locks = box.name == DIRECTOR_FIELD
        x1, y1, x2, y2 = (round(v) for v in box.box)
        fields.append_signature_field(w, fields.SigFieldSpec(
            sig_field_name=box.name, on_page=box.page, box=(x1, y1, x2, y2),
            readable_field_name=f"Подпись: {box.label}",
            # an appearance stream, however neutral: PDF/A wants one on every widget
            empty_field_appearance=True,
            field_mdp_spec=fields.FieldMDPSpec(fields.FieldMDPAction.ALL) if locks else None,
            doc_mdp_update_value=fields.MDPPerm.NO_CHANGES if locks else None,
        ))
    out = BytesIO()
    w.write(out)
    return out.getvalue()


# ---- signers --------------------------------------------------------------------------------------------

class Signer(abc.ABC):
    """Where the private key lives. `session()` yields a pyHanko signer for one signing; a GOST key
    (`gost_key`) signs through `gost_keys` instead, since pyHanko's signers know no Streebog."""

    gost_key: gost_keys.GostKey | None = None
    # May several threads sign with this key at once (a batch overlapping its TSA round trips)? A parsed
    # software key may; a token's session may not (PKCS#11 sessions are per thread of use).
    concurrent: bool = False

    @property
    @abc.abstractmethod
    def certificate(self) -> x509.Certificate: ...

    @abc.abstractmethod
    def session(self) -> contextlib.AbstractContextManager[signers.Signer]: ...

    @property
    def other_certs(self) -> list[x509.Certificate]:
        """The chain that comes with the key (the PKCS#12 file, the token), for path building."""
        return []

    def __repr__(self) -> str:                  # never anything secret
        return f"<{type(self).__name__} {owner_name(self.certificate)}>"


class _CachedKeySigner(signers.SimpleSigner):
    """SimpleSigner re-parses the DER key inside every sign_raw call (ENVIRONMENT.md §7:
    most of the cost of a signature). Keep the parsed pyca key instead."""

    def __init__(self, pyca_key, **kwargs):
        super().__init__(**kwargs)
        self._pyca_key = pyca_key
        self.signed_attr_prov_spec = PadesSignedAttributes(self.signing_cert)   # made once per key

    @property
    def signing_key_pyca(self):
        return self._pyca_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mech = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        key = self._pyca_key
        if mech == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if mech == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
            return key.sign(data, ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        return super().sign_raw(data, digest_algorithm)    # rarer mechanisms: pyHanko's own path


class PKCS12Signer(Signer):
    """A key in a PKCS#12 file. The passphrase opens it here and is not kept; the parsed key
    lives as long as this object (one signing session), so repeated signatures are cheap.
    A file pyca/cryptography cannot open may hold a GOST key (`gost_keys`): `gost_key` is then set."""

    concurrent = True

    def __init__(self, pkcs12_bytes: bytes, passphrase: str | bytes | None,
                 other_certs: Iterable[x509.Certificate] = ()):
        if isinstance(passphrase, str):
            passphrase = passphrase.encode("utf-8")
        self._extra = list(other_certs)
        try:
            key, cert, chain = pkcs12.load_key_and_certificates(pkcs12_bytes, passphrase or None)
        except (ValueError, TypeError):
            # pyca says only "Invalid password or PKCS12 data"; no cause chained, nothing echoed.
            # The passphrase goes out of scope here: only the parsed key is kept.
            try:
                self.gost_key = gost_keys.load_pkcs12(pkcs12_bytes, passphrase)
            except gost_keys.GostKeyError as e:
                raise SigningError(str(e)) from None
            return
        if key is None or cert is None:
            raise SigningError("В файле PKCS#12 нет закрытого ключа или сертификата подписанта")
        self._use(key, translate_pyca_cryptography_cert_to_asn1(cert),
                  [translate_pyca_cryptography_cert_to_asn1(c) for c in chain] + self._extra)

    def _use(self, key, cert: x509.Certificate, chain: list[x509.Certificate]) -> None:
        self._signer = _CachedKeySigner(key, signing_cert=cert, cert_registry=SimpleCertificateStore.from_certs(chain),
                                        signing_key=translate_pyca_cryptography_key_to_asn1(key))

    def unlocked(self) -> bytes | None:
        """The opened key and its certificates, for the sealed hand-over to a worker (core/keyvault.py): the
        key as PKCS#8, checked when the file was opened here, so the worker need not check it again (OpenSSL's
        RSA key check is ≈ 28 ms, most of a batch's start) and the passphrase goes nowhere. None for a GOST
        key, which is handed over as its file."""
        if self.gost_key is not None:
            return None
        key, cert = self._signer.signing_key_pyca, self.certificate
        return json.dumps({"key": b64encode(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))
                           .decode(), "cert": b64encode(cert.dump()).decode(),
                           "chain": [b64encode(c.dump()).decode() for c in self._signer.cert_registry]}).encode()

    @classmethod
    def from_unlocked(cls, blob: bytes) -> "PKCS12Signer":
        """The signer `unlocked()` handed over; the blob comes only from our own authenticated (AES-GCM) seal."""
        doc = json.loads(blob)
        key = load_der_private_key(b64decode(doc["key"]), None, unsafe_skip_rsa_key_validation=True)
        signer = cls.__new__(cls)
        signer._extra = []
        signer._use(key, x509.Certificate.load(b64decode(doc["cert"])),
                    [x509.Certificate.load(b64decode(c)) for c in doc["chain"]])
        return signer

    @property
    def certificate(self) -> x509.Certificate:
        return self.gost_key.certificate if self.gost_key else self._signer.signing_cert

    @property
    def other_certs(self) -> list[x509.Certificate]:
        return self.gost_key.chain + self._extra if self.gost_key else list(self._signer.cert_registry)

    @contextlib.contextmanager
    def session(self) -> Iterator[signers.Signer]:
        if self.gost_key:       # pyHanko's signers hash with pyca/cryptography: no Streebog (see sign)
            raise SigningError("Ключ ГОСТ подписывает только через pades.sign")
        yield self._signer


class PKCS11Signer(Signer):
    """A key on a PKCS#11 token or HSM (SoftHSM2 in tests). A token session is opened, logged
    into and closed per signature. The PIN lives as long as this object (one signing session)
    and appears in no message or repr. python-pkcs11 is imported only when a token is used."""

    def __init__(self, module_path: str, token_label: str, pin: str, *, key_label: str | None = None,
                 key_id: bytes | None = None, cert_label: str | None = None, cert_id: bytes | None = None,
                 other_certs: Iterable[x509.Certificate] = ()):
        if key_label is None and key_id is None:
            raise ValueError("key_label or key_id is required")
        self._module, self._token, self._pin = module_path, token_label, pin
        # pyHanko pairs a missing cert label/id with the key's, as tokens usually store them
        self._ids: dict[str, Any] = dict(key_label=key_label, key_id=key_id, cert_label=cert_label, cert_id=cert_id)
        self._other_certs = list(other_certs)
        self._cert: x509.Certificate | None = None
        self._chain: list[x509.Certificate] | None = None

    def __repr__(self) -> str:                  # no token I/O, no PIN
        return f"<PKCS11Signer token={self._token!r} key={self._ids['key_label'] or self._ids['key_id']!r}>"

    @property
    def certificate(self) -> x509.Certificate:
        if self._cert is None:
            with self.session() as s:
                self._cert = s.signing_cert
        return self._cert

    @property
    def other_certs(self) -> list[x509.Certificate]:
        if self._chain is None:
            with self.session():                # reads the token's certificate and chain
                pass
        return list(self._chain or ())

    @contextlib.contextmanager
    def session(self) -> Iterator[signers.Signer]:
        import pkcs11
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign import pkcs11 as hk11
        try:
            p11 = hk11.open_pkcs11_session(self._module, token_criteria=TokenCriteria(label=self._token),
                                           user_pin=self._pin)
        except pkcs11.PinIncorrect:
            raise SigningError("Неверный PIN-код токена") from None
        except pkcs11.PinLocked:
            raise SigningError("PIN-код токена заблокирован") from None
        except (pkcs11.PKCS11Error, PyHankoSigningError, OSError) as e:
            raise SigningError(f"Токен «{self._token}» недоступен: {type(e).__name__}") from None
        try:
            # other_certs_to_pull=None: take every certificate on the token for the chain
            signer = hk11.PKCS11Signer(p11, ca_chain=self._other_certs, other_certs_to_pull=None, **self._ids)
            self._cert = signer.signing_cert               # loads key and certificate handles now
            self._chain = list(signer.cert_registry)
        except pkcs11.PKCS11Error as e:
            p11.close()
            raise SigningError(f"На токене «{self._token}» нет указанного ключа или сертификата "
                               f"({type(e).__name__})") from None
        try:
            yield signer
        finally:
            p11.close()


# ---- signing --------------------------------------------------------------------------------------------

class _PTSansFactory(GlyphAccumulatorFactory):
    """PT Sans for the stamp, from bytes prepared once per process (`_stamp_font`).

    Stock GlyphAccumulatorFactory opens the TTF per signature (and never closes it: a
    ResourceWarning), and fontTools then decompiles PT Sans' large GSUB/GPOS tables to subset
    it, about 90 ms of every signature. The stamp needs neither ligatures nor kerning."""

    def create_font_engine(self, writer, obj_stream=None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return _StampFontEngine(writer, self.font_size, obj_stream)


# Given to every stamp, so the stamps of one signer use the same glyphs whatever their times and serials.
STAMP_ALWAYS = "0123456789ABCDEF.:-+ "

_parsed = threading.local()


def _stamp_faces() -> tuple:
    """The stamp font parsed once per thread — (HarfBuzz font, fontTools font, glyph set, PostScript name) — not
    for each signature (fontTools read its glyph table again: ≈ 2.3 ms of a signature's ≈ 20). Per thread:
    fontTools decompiles lazily and HarfBuzz objects are not for sharing between threads."""
    faces = getattr(_parsed, "faces", None)
    if faces is None:
        import uharfbuzz as hb
        from fontTools import ttLib
        data = _stamp_font()
        tt = ttLib.TTFont(BytesIO(data))
        name = next(n for n in tt["name"].names if n.nameID == 6).toUnicode()
        faces = _parsed.faces = (hb.Font(hb.Face(data)), tt, tt.getGlyphSet(preferCFF=True), name)
    return faces


class _StampFontEngine(GlyphAccumulator):
    """The stamp's font subset made once per set of glyphs and process, not per signature: pyHanko subsets
    and saves the font for each (fontTools: ≈ 17 ms, half of a signature's CPU), while a batch's stamps
    differ only in their digits, which every stamp carries (STAMP_ALWAYS).

    Made from the font parsed once per thread (`_stamp_faces`): what GlyphAccumulator.__init__ sets up
    (pyHanko 0.38, pinned), for a TrueType font without OpenType options, with those objects."""

    def __init__(self, writer, font_size: int, obj_stream=None) -> None:
        hb_font, tt, glyph_set, ps_name = _stamp_faces()
        FontEngine.__init__(self, writer, ps_name, embedded_subset=True, obj_stream=obj_stream, font_size=font_size)
        self.hb_font, self.tt = hb_font, tt
        self._font_ref = writer.allocate_placeholder()
        self.cff_charset, self.use_raw_gids = None, True             # TrueType outlines: glyph ids are CIDs
        self.cidfont_obj = _SubsetOnce(tt, ps_name, self.subset_prefix)
        self.features = None
        self.units_per_em = tt["head"].unitsPerEm
        self._glyphs: dict[int, tuple[int, int]] = {}
        self._glyph_set = glyph_set
        self._cid_to_unicode: dict[int, str] = {}
        self._GlyphAccumulator__reverse_cmap = None
        self.ot_language_tag = self.ot_script_tag = self.writing_direction = self.bcp47_lang_code = None
        self._subset_created = self._write_prepared = False
        self.shape(STAMP_ALWAYS)

    def _extract_subset(self, options=None):
        assert isinstance(self.cidfont_obj, _SubsetOnce)
        self.cidfont_obj.font_file = stamp_font_file(frozenset(self._glyphs))


class _SubsetOnce(CIDFontType2):
    """A CIDFontType2 whose font file is the cached subset (`stamp_font_file`), not `tt` saved again."""
    font_file = b""

    def set_font_file(self, writer):
        stream = generic.StreamObject({generic.pdf_name("/Filter"): generic.pdf_name("/FlateDecode")},
                                      encoded_data=self.font_file)
        ref = writer.add_object(stream)
        self._font_descriptor[generic.pdf_name("/FontFile2")] = ref
        return ref


_subsetting = threading.Lock()


def stamp_font_file(glyph_ids: frozenset[int]) -> bytes:
    # One thread makes a missing subset while the others wait for it: a batch's signing threads start
    # together with the same signer, and lru_cache alone let each of them make it (≈ 15 ms each).
    with _subsetting:
        return _stamp_font_subset(glyph_ids)


@functools.lru_cache(maxsize=64)
def _stamp_font_subset(glyph_ids: frozenset[int]) -> bytes:
    """The stamp font cut down to `glyph_ids`, compressed, as pyHanko would embed it: glyph ids kept (the
    stamp's text refers to them: CIDToGIDMap /Identity), no layout tables."""
    import zlib

    from fontTools import subset
    from fontTools.ttLib import TTFont
    options = subset.Options(layout_closure=False, retain_gids=True)
    options.drop_tables += ["GPOS", "GDEF", "GSUB"]
    font = TTFont(BytesIO(_stamp_font()))
    subsetter = subset.Subsetter(options)
    subsetter.populate(gids=sorted(glyph_ids))
    subsetter.subset(font)
    out = BytesIO()
    font.save(out)
    return zlib.compress(out.getvalue())


# ASCII, Latin-1 (« »), Cyrillic with the supplement (Tatar, Bashkir and the other languages
# of Russia), general punctuation, №. Fewer glyphs make every per-signature subset cheaper.
_STAMP_CHARS = [*range(0x20, 0x7F), *range(0xA0, 0x100), *range(0x400, 0x530), *range(0x2010, 0x2040), 0x2116]
_STAMP_FONT: bytes | None = None


def _stamp_font() -> bytes:
    global _STAMP_FONT
    if _STAMP_FONT is None:
        from fontTools import subset
        from fontTools.ttLib import TTFont
        options = subset.Options()
        options.layout_features = []
        options.hinting = False                         # screen hinting is no use inside a PDF
        # layout tables: costly to decompile, not needed; hdmx and co.: costly to recompile
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "hdmx", "LTSH", "VDMX"]
        font = TTFont(BytesIO(FONT_REGULAR.read_bytes()))
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=_STAMP_CHARS)
        subsetter.subset(font)
        out = BytesIO()
        font.save(out)
        _STAMP_FONT = out.getvalue()
    return _STAMP_FONT


def warm_up() -> None:
    """Make what every visible stamp uses (its font, ≈ 60 ms) before the first signature: a worker calls this at
    start, so the first sheet of its first batch does not pay for it."""
    _stamp_font()


STAMP_STYLE = TextStampStyle(
    stamp_text=("Документ подписан электронной подписью\n"
                "Сертификат: %(serial)s\n"
                "Владелец: %(owner)s\n"
                "Действителен с %(valid_from)s по %(valid_to)s\n"
                "Подписано: %(ts)s"),
    text_box_style=TextBoxStyle(font=_PTSansFactory(str(FONT_REGULAR), font_size=8)),
    timestamp_format="%d.%m.%Y %H:%M:%S %Z",
    border_width=1,
)


def owner_name(cert: x509.Certificate) -> str:
    return cert.subject.native.get("common_name", cert.subject.human_friendly)


def serial_of(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "X")


def _stamp_params(cert: x509.Certificate) -> dict[str, str]:
    """Validity dates as Russian CA tools print them (Moscow time); the signing time (%(ts)s)
    is pyHanko's own, in UTC and labelled so."""
    validity = cert["tbs_certificate"]["validity"]
    return {"serial": serial_of(cert), "owner": owner_name(cert),
            "valid_from": validity["not_before"].native.astimezone(MOSCOW).strftime("%d.%m.%Y"),
            "valid_to": validity["not_after"].native.astimezone(MOSCOW).strftime("%d.%m.%Y")}


def sign(pdf: bytes, field_name: str, signer: Signer, *, timestamper_url: str | None = None, certify: bool = False,
         validation_context: ValidationContext | None = None, embed_validation_info: bool = False,
         new_field: bool = False, reason: str | None = None, location: str | None = None) -> bytes:
    """Sign the empty field `field_name` (PAdES; B-B, B-T with a TSA, B-LT with
    `embed_validation_info`, which needs a `validation_context` that can reach OCSP/CRL).

    `certify=True` is for the first signer only (DocMDP FILL_FORMS). The signer's certificate
    is refused if expired, and when a validation context is given also if revoked, untrusted
    or not meant for signing (no nonRepudiation).

    `new_field=True` signs in a new invisible field of that name instead (documents with no
    prepared field: the archive's acts and inventories), with `reason` and `location`."""
    if embed_validation_info and validation_context is None:
        raise ValueError("embed_validation_info needs a validation_context")
    if signer.gost_key is not None:
        return _sign_gost(pdf, field_name, signer, timestamper_url=timestamper_url, certify=certify,
                          validation_context=validation_context, embed_validation_info=embed_validation_info,
                          new_field=new_field, reason=reason, location=location)
    return run_sync(run_and_release(
        _sign(pdf, field_name, signer, timestamper_url=timestamper_url, certify=certify,
              validation_context=validation_context, embed_validation_info=embed_validation_info,
              new_field=new_field, reason=reason, location=location),
        validation_context))


async def _sign(pdf: bytes, field_name: str, signer: Signer, *, timestamper_url, certify, validation_context,
                embed_validation_info, new_field, reason, location) -> bytes:
    reader = _read(pdf)
    if not new_field:
        _check_field(reader, field_name, certify)
    with signer.session() as hk_signer:
        cert = hk_signer.signing_cert
        await check_certificate(cert, hk_signer.cert_registry, validation_context)
        meta = signers.PdfSignatureMetadata(
            field_name=field_name, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
            certify=certify, docmdp_permissions=_docmdp(certify),
            embed_validation_info=embed_validation_info, reason=reason, location=location,
            validation_context=validation_context if embed_validation_info else None)
        timestamper = StrictTimeStamper(timestamper_url, timeout=10) if timestamper_url else None
        if new_field:
            pdf_signer = signers.PdfSigner(meta, hk_signer, timestamper=timestamper,
                                           new_field_spec=fields.SigFieldSpec(sig_field_name=field_name))
            params = None
        else:
            pdf_signer = signers.PdfSigner(meta, hk_signer, timestamper=timestamper, stamp_style=STAMP_STYLE)
            params = _stamp_params(cert)

        async def attempt(reserved: int, again: bool) -> BytesIO:
            return await pdf_signer.async_sign_pdf(   # the reader that checked the field: parsed once
                IncrementalPdfFileWriter.from_reader(_read(pdf) if again else reader),
                existing_fields_only=not new_field, bytes_reserved=reserved, appearance_text_params=params)

        try:
            return await room.made_to_fit(room.signature_key(cert, timestamper_url, embed_validation_info),
                                          RESERVED_T if timestamper else RESERVED_B, attempt)
        except TimestampUnavailable as e:
            raise SigningError(f"Служба штампов времени недоступна ({timestamper_url}): {e}. "
                               "Подпись не создана; повторите позже.") from None
        except PyHankoSigningError as e:
            raise SigningError(f"Подпись не создана: {e}") from e


def _sign_gost(pdf: bytes, field_name: str, signer: Signer, *, timestamper_url, certify, validation_context,
               embed_validation_info, new_field, reason, location) -> bytes:
    """A GOST key on the server signs as an external signer would (CAdES-BES made by `gost_keys`), and
    the CMS goes through the same checks before it is embedded."""
    key = signer.gost_key
    assert key is not None
    if embed_validation_info:
        raise SigningError("Для ключа ГОСТ данные проверки (B-LT) добавляет архив при приёме, не подпись")
    if validation_context is not None:
        run_sync(run_and_release(check_certificate(key.certificate, signer.other_certs, validation_context),
                                 validation_context))
    _, state = begin_external(pdf, field_name, key.certificate, other_certs=signer.other_certs, certify=certify,
                              new_field=new_field, reason=reason, location=location)
    return finish_external(state, key.sign_cades(state.signed_bytes()), timestamper_url=timestamper_url)


def run_sync(coro):
    """`coro` run to its end in an event loop of its own, as asyncio.run does, or the same in a worker thread
    when this thread already runs an event loop (an async caller; Playwright's sync API in the test session),
    where no second loop can start."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="pades") as pool:
        return pool.submit(_run, coro).result()


def _run(coro):
    # Not asyncio.run: on the main thread it lends SIGINT to the task and, taking it back, formats the task's
    # repr with its result (signal.signal's enum lookup) — the whole PDF's bytes, ≈ 2 ms a call. Ctrl-C
    # interrupts the loop as it does any code.
    with asyncio.Runner() as runner:
        return runner.get_loop().run_until_complete(coro)


def _docmdp(certify: bool) -> fields.MDPPerm:
    """FILL_FORMS for the certifying teacher, so the director can still sign. Otherwise the
    field's /Lock decides (director: P=1); asking for less only makes pyHanko log a warning."""
    return fields.MDPPerm.FILL_FORMS if certify else fields.MDPPerm.NO_CHANGES


def _read(pdf: bytes, error: type[Exception] = SigningError) -> PdfFileReader:
    try:
        return quick_read.reader(pdf)
    except (PdfReadError, PdfError, ValueError) as e:
        raise error(f"Файл повреждён или не является PDF: {e}") from None


def _check_field(reader: PdfFileReader, field_name: str, certify: bool) -> None:
    """Signing order rules, checked before any key is touched."""
    found = {name: (value is not None, ref.get_object()) for name, value, ref in fields.enumerate_sig_fields(reader)}
    label = ROLE_LABELS.get(field_name, field_name)
    if field_name not in found:
        raise SigningError(f"В документе нет поля подписи «{label}»")
    signed, field_obj = found[field_name]
    if signed:
        raise SigningError(f"Поле «{label}» уже подписано")
    if certify and any(done for done, _ in found.values()):
        raise SigningError("Удостоверяющей может быть только первая подпись документа")
    # A field that locks all fields must be signed last, or the others could never be.
    locks_all = "/Lock" in field_obj and \
        fields.FieldMDPSpec.from_pdf_object(field_obj["/Lock"]).action == fields.FieldMDPAction.ALL
    waiting = [f"«{ROLE_LABELS.get(n, n)}»" for n, (done, _) in found.items() if n != field_name and not done]
    if locks_all and waiting:
        raise SigningError(f"Эта подпись закрывает документ; сначала нужны подписи: {', '.join(waiting)}")


def _check_validity(cert: x509.Certificate) -> None:
    now = datetime.now(timezone.utc)
    validity = cert["tbs_certificate"]["validity"]
    if now > validity["not_after"].native:
        raise SigningError(f"Срок действия сертификата {owner_name(cert)} (№ {serial_of(cert)}) истёк "
                           f"{validity['not_after'].native.astimezone(MOSCOW):%d.%m.%Y}")
    if now < validity["not_before"].native:
        raise SigningError(f"Сертификат {owner_name(cert)} (№ {serial_of(cert)}) начинает действовать "
                           f"{validity['not_before'].native.astimezone(MOSCOW):%d.%m.%Y}")


SIGNING_KEY_USAGES = frozenset({"non_repudiation", "digital_signature"})


def check_key_usage(cert: x509.Certificate) -> None:
    """A signature key: keyUsage names nonRepudiation (contentCommitment) or digitalSignature."""
    usage = cert.key_usage_value
    if usage is None:
        raise SigningError(f"В сертификате {owner_name(cert)} (№ {serial_of(cert)}) не указано назначение ключа: "
                           "подписывать документы им нельзя")
    if not set(usage.native) & SIGNING_KEY_USAGES:
        raise SigningError(f"Ключ сертификата {owner_name(cert)} (№ {serial_of(cert)}) предназначен не для подписи "
                           f"({', '.join(sorted(usage.native))}): подписывать документы им нельзя")


def check_signing_certificate(cert: x509.Certificate, trust_roots: Iterable[x509.Certificate], *,
                              other_certs: Iterable[x509.Certificate] = (), fetcher_backend=None,
                              allowed_hosts: Iterable[str] | None = None) -> None:
    """Everything a signing certificate must be, checked before anything is signed or written: issued
    (through `other_certs` if need be) by one of `trust_roots`, in force, not revoked — the OCSP
    responder or CRL it names is asked, and an unanswerable one is a refusal (hard-fail) — and a
    signature key. Certificates naming no OCSP/CRL (a demo CA) are checked for the rest."""
    roots = list(trust_roots)
    if not roots:
        raise SigningError("Подписание невозможно: не настроены доверенные удостоверяющие центры (TRUST_ROOTS). "
                           "Обратитесь к администратору.")
    others = list(other_certs)
    if allowed_hosts is not None:          # the installation's allow-list (pades/fetching.py)
        fetcher_backend = fetching.restricted(fetcher_backend, allowed_hosts)
    vc = ValidationContext(trust_roots=roots, other_certs=others, allow_fetching=True, revocation_mode="hard-fail",
                           signature_validator=gost.SignatureValidator(), time_tolerance=fetching.CLOCK_SKEW,
                           **({"fetcher_backend": fetcher_backend} if fetcher_backend is not None else {}))
    run_sync(run_and_release(check_certificate(cert, others, vc), vc))


async def check_certificate(cert: x509.Certificate, registry, vc: ValidationContext | None) -> None:
    """Refuse before signing, with a reason the user can act on."""
    _check_validity(cert)
    if vc is None:
        return
    check_key_usage(cert)
    validator = CertificateValidator(cert, intermediate_certs=list(registry), validation_context=vc)
    try:
        await validator.async_validate_usage(set())
    except cv_errors.RevokedError:
        raise SigningError(f"Сертификат {owner_name(cert)} (№ {serial_of(cert)}) отозван; "
                           "подписывать им нельзя") from None
    except cv_errors.ExpiredError:
        raise SigningError(f"Срок действия сертификата {owner_name(cert)} (№ {serial_of(cert)}) истёк") from None
    except cv_errors.InvalidCertificateError as e:
        if cert.self_signed != "no":
            raise SigningError(f"Сертификат {owner_name(cert)} (№ {serial_of(cert)}) самоподписанный: он не выдан "
                               "удостоверяющим центром, подписывать им нельзя") from None
        raise SigningError(f"Сертификат {owner_name(cert)} не подходит для подписи: {e}") from None
    except cv_errors.PathBuildingError:
        raise SigningError(f"Сертификат {owner_name(cert)} выдан недоверенным удостоверяющим центром") from None
    except cv_errors.PathValidationError as e:
        if "revocation" in str(e).lower():
            raise SigningError(f"Не удалось проверить, не отозван ли сертификат {owner_name(cert)} "
                               f"(№ {serial_of(cert)}): служба OCSP/CRL удостоверяющего центра не ответила. "
                               "Подпись не создана; повторите позже.") from None
        raise SigningError(f"Сертификат {owner_name(cert)} не прошёл проверку: {e}") from None


# ---- external (GOST) signing: digest out, CMS in ---------------------------------------------------------

@dataclass(frozen=True)
class ExternalState:
    """Everything needed to finish later, possibly in another process: plain bytes and ints
    (store it with the signing request). `pdf` already contains the signature placeholder."""
    pdf: bytes
    field_name: str
    md_algorithm: str
    document_digest: bytes
    reserved_start: int
    reserved_end: int
    signer_cert: bytes                          # DER of the certificate the user chose

    def signed_bytes(self) -> bytes:
        """The bytes the signature covers (/ByteRange). A GOST client hashes these itself with
        GOST R 34.11-2012: OpenSSL here has no Streebog, so `document_digest` is SHA-256."""
        return self.pdf[:self.reserved_start] + self.pdf[self.reserved_end:]


def begin_external(pdf: bytes, field_name: str, cert: x509.Certificate, *,
                   other_certs: Iterable[x509.Certificate] = (), md_algorithm: str = "sha256",
                   certify: bool = False, new_field: bool = False, reason: str | None = None,
                   location: str | None = None) -> tuple[bytes, ExternalState]:
    """Lay out the signature (stamp with the chosen certificate's data, placeholder) and
    return the digest for the external signer, e.g. CryptoPro in the user's browser.
    Same field rules as `sign`; only the expiry of `cert` can be checked here (revocation is
    checked when the finished document is validated)."""
    reader = _read(pdf)
    if not new_field:
        _check_field(reader, field_name, certify)
    _check_validity(cert)
    bits = gost.key_bits(cert.public_key)
    if bits:   # a GOST key signs a Streebog digest of the same length; pyHanko lays out the rest
        md_algorithm = f"streebog{bits}"
    ext = signers.ExternalSigner(signing_cert=cert, cert_registry=SimpleCertificateStore.from_certs(other_certs),
                                 signature_value=bytes(512))
    meta = signers.PdfSignatureMetadata(field_name=field_name, subfilter=fields.SigSeedSubFilter.PADES,
                                        md_algorithm="sha256" if bits else md_algorithm, certify=certify,
                                        docmdp_permissions=_docmdp(certify), reason=reason, location=location)
    if new_field:
        pdf_signer = signers.PdfSigner(meta, ext, new_field_spec=fields.SigFieldSpec(sig_field_name=field_name))
    else:
        pdf_signer = signers.PdfSigner(meta, ext, stamp_style=STAMP_STYLE)
    try:
        prep, _tbs, out = run_sync(pdf_signer.async_digest_doc_for_signing(
            IncrementalPdfFileWriter(BytesIO(pdf)), existing_fields_only=not new_field,
            bytes_reserved=RESERVED_EXTERNAL, appearance_text_params=None if new_field else _stamp_params(cert)))
    except PyHankoSigningError as e:
        raise SigningError(f"Подпись не подготовлена: {e}") from e
    state = ExternalState(pdf=out.getvalue(), field_name=field_name, md_algorithm=md_algorithm,
                          document_digest=prep.document_digest, reserved_start=prep.reserved_region_start,
                          reserved_end=prep.reserved_region_end, signer_cert=cert.dump())
    return (gost.streebog(state.signed_bytes(), md_algorithm) if bits else prep.document_digest), state


def finish_external(state: ExternalState, cms_bytes: bytes, *, timestamper_url: str | None = None) -> bytes:
    """Embed the CMS that came back (its signed part byte for byte: no re-signing). Checked first: it is
    a SignedData by the chosen certificate whose messageDigest is this document's and whose signature
    verifies. With `timestamper_url`, a signature timestamp over the signature value is added as an
    unsigned attribute (CAdES-T / PAdES B-T, as for the keys signing here); a TSA failure is an error."""
    info = check_detached_cms(cms_bytes, state.signed_bytes(), x509.Certificate.load(state.signer_cert),
                              md_algorithm=state.md_algorithm)
    if timestamper_url:
        cms_bytes = _with_signature_timestamp(info, timestamper_url)
    out = BytesIO(state.pdf)
    prep = PreparedByteRangeDigest(document_digest=state.document_digest,
                                   reserved_region_start=state.reserved_start, reserved_region_end=state.reserved_end)
    try:
        run_sync(PdfTBSDocument.async_finish_signing(out, prep, cms_bytes))
    except PyHankoSigningError:
        raise SigningError("Подпись не помещается в зарезервированное место документа") from None
    return out.getvalue()


def check_detached_cms(cms_bytes: bytes, data: bytes, expected: x509.Certificate, *,
                       md_algorithm: str | None = None) -> cms.ContentInfo:
    """A detached CMS SignedData (CAdES-BES) over `data` by `expected`, whose signature verifies (GOST or
    not); `md_algorithm`: the digest it must use. Raises SigningError saying which check failed."""
    try:
        info = cms.ContentInfo.load(cms_bytes)
        signed = info["content"]
        if info["content_type"].native != "signed_data" or len(signed["signer_infos"]) != 1:
            raise ValueError("not a single-signer SignedData")
        signer_info = signed["signer_infos"][0]
        attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
        message_digest = attrs["message_digest"].native
        algo = signer_info["digest_algorithm"]["algorithm"].native
        certs = [c.chosen for c in signed["certificates"]]
    except (ValueError, KeyError, TypeError, IndexError):
        raise SigningError("Получены не данные подписи CMS (SignedData с подписанными атрибутами)") from None
    if not any(c.dump() == expected.dump() for c in certs):
        raise SigningError(f"Подпись сделана не тем сертификатом: ожидался {owner_name(expected)} "
                           f"(№ {serial_of(expected)})")
    if md_algorithm is not None and algo != md_algorithm:
        raise SigningError(f"Подпись сделана с алгоритмом хеширования {algo}, а для этого сертификата ожидался "
                           f"{md_algorithm}")
    if gost.is_streebog(algo):
        digest = gost.streebog(data, algo)
    elif algo in hashlib.algorithms_available:
        digest = hashlib.new(algo, data).digest()
    else:
        raise SigningError(f"Алгоритм хеширования {algo} не поддерживается")
    if digest != message_digest:
        raise SigningError("Полученная подпись относится к другому документу (хэш не совпадает)")
    if gost.check_streebog_ess(signer_info, expected) is False:
        raise SigningError("Атрибут signingCertificateV2 подписи указывает на другой сертификат")
    try:
        intact, valid = validate_sig_integrity(signer_info, expected, "data", digest,
                                               sig_validator=gost.SignatureValidator())
    except SignatureValidationError:
        intact = valid = False
    if not (intact and valid):
        raise SigningError("Полученная подпись не проходит криптографическую проверку")
    return cms.ContentInfo.load(cms_bytes)      # as received: the checks above edited their copy


def _with_signature_timestamp(info: cms.ContentInfo, timestamper_url: str) -> bytes:
    """The CMS with a signature-time-stamp token (RFC 3161 over the signature value, SHA-256) in the
    signer's unsigned attributes; the signed attributes and the signature stay as they came."""
    signer_info = info["content"]["signer_infos"][0]
    stamp = StrictTimeStamper(timestamper_url, timeout=10)

    try:
        token = run_sync(stamp.async_timestamp(hashlib.sha256(signer_info["signature"].native).digest(), "sha256"))
    except TimestampUnavailable as e:
        raise SigningError(f"Служба штампов времени недоступна ({timestamper_url}): {e}. "
                           "Подпись не создана; повторите позже.") from None
    attrs = list(signer_info["unsigned_attrs"]) if signer_info["unsigned_attrs"].native else []
    attrs.append(cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]}))
    signer_info["unsigned_attrs"] = cms.CMSAttributes(attrs)
    return info.dump(force=False)


# ---- validation -----------------------------------------------------------------------------------------

@dataclass
class SignatureReport:
    field_name: str
    signer_cn: str
    serial: str
    signing_time: datetime | None               # from the timestamp when there is one, else as claimed
    intact: bool                                # the signed bytes are unchanged
    valid: bool                                 # the cryptographic signature is correct
    trusted: bool                               # the certificate chains to a trust root, not revoked/expired
    coverage: str                               # ENTIRE_FILE / ENTIRE_REVISION / ...
    modification_level: str | None              # NONE / LTA_UPDATES / FORM_FILLING / ANNOTATIONS / OTHER
    docmdp_ok: bool | None
    timestamp_ok: bool | None                   # None: no timestamp
    bottom_line: bool
    summary_ru: str
    details: str = field(default="", repr=False)  # pyHanko's full report, for the log/archive


def validate(pdf: bytes, trust_roots: Iterable[x509.Certificate | bytes], *,
             other_certs: Iterable[x509.Certificate | bytes] = (), crls: Iterable = (), ocsps: Iterable = (),
             allow_fetching: bool = False, revocation_mode: str | None = None,
             require_ours: bool = True, reader: PdfFileReader | None = None,
             fetcher_backend=None, allowed_hosts: Iterable[str] | None = None,
             diff_policy: ReviewedOnce | None = None) -> list[SignatureReport]:
    """Validate every signature in the document, in signing order.

    Revocation data comes from the arguments, the document's DSS (B-LT) and, with
    `allow_fetching`, from the OCSP/CRL URLs in the certificates. `revocation_mode` defaults
    to "hard-fail" when fetching (an unreachable responder is then a failure) and
    "soft-fail" otherwise. Validation is as of now; long-term (past) validation of B-LTA
    archives is the archive's business. `reader`: the caller's reader of the same bytes (parsing a
    signed sheet's signatures is a good part of the cost); `fetcher_backend`: how to fetch (the
    archive shares answers between its workers); `diff_policy`: the caller's `ReviewedOnce`, when it
    checks the same reader's signatures again (the archive's long-term check)."""
    if require_ours and not is_ours(pdf):
        raise NotOurDocumentError("Файл не является сводной ведомостью, выпущенной этой системой")
    reader = reader or _read(pdf, NotOurDocumentError)
    vc_kwargs: dict[str, Any] = dict(
                     trust_roots=[_cert(c) for c in trust_roots], other_certs=[_cert(c) for c in other_certs],
                     crls=[c if not isinstance(c, bytes) else asn1_crl.CertificateList.load(c) for c in crls],
                     ocsps=[o if not isinstance(o, bytes) else asn1_ocsp.OCSPResponse.load(o) for o in ocsps],
                     allow_fetching=allow_fetching, signature_validator=gost.SignatureValidator(),
                     time_tolerance=fetching.CLOCK_SKEW,
                     revocation_mode=revocation_mode or ("hard-fail" if allow_fetching else "soft-fail"))
    if allow_fetching and allowed_hosts is not None:    # the installation's allow-list (pades/fetching.py)
        fetcher_backend = fetching.restricted(fetcher_backend, allowed_hosts)
    if allow_fetching and fetcher_backend is not None:
        vc_kwargs["fetcher_backend"] = fetcher_backend
    try:
        vc = DocumentSecurityStore.read_dss(reader).as_validation_context(vc_kwargs)
    except NoDSSFoundError:
        vc = ValidationContext(**vc_kwargs)

    async def run() -> list[SignatureReport]:
        reports = []
        for sig in reader.embedded_regular_signatures:
            gost.prime_digest(sig)               # Streebog: pyca/cryptography has none
            reports.append(_report(sig, await async_validate_pdf_signature(sig, vc, diff_policy=diff_policy)))
        return reports
    return run_sync(run_and_release(run(), vc))


def _cert(c: x509.Certificate | bytes) -> x509.Certificate:
    return x509.Certificate.load(c) if isinstance(c, bytes) else c


def _report(sig, st) -> SignatureReport:
    cert = st.signing_cert
    ts = st.timestamp_validity
    ts_ok = None if ts is None else bool(ts.intact and ts.valid and ts.trusted)
    when = ts.timestamp if ts is not None else st.signer_reported_dt
    level = st.modification_level.name if st.modification_level is not None else None
    report = SignatureReport(
        field_name=str(sig.field_name), signer_cn=owner_name(cert), serial=serial_of(cert), signing_time=when,
        intact=st.intact, valid=st.valid, trusted=st.trusted, coverage=st.coverage.name if st.coverage else "",
        modification_level=level, docmdp_ok=st.docmdp_ok, timestamp_ok=ts_ok, bottom_line=st.bottom_line,
        summary_ru="", details=st.pretty_print_details())
    report.summary_ru = _summary_ru(report, st)
    return report


def _summary_ru(r: SignatureReport, st) -> str:
    algorithm = gost.key_label(st.signing_cert.public_key)
    who = (f"{ROLE_LABELS.get(r.field_name, r.field_name)}: {r.signer_cn}, сертификат № {r.serial}"
           + (f", {algorithm}" if algorithm else ""))
    # Moscow time, named, as every page of the service gives times (the region's working day)
    when = f", {r.signing_time.astimezone(MOSCOW):%d.%m.%Y %H:%M} МСК" if r.signing_time else ""
    if not r.intact:
        return f"НЕДЕЙСТВИТЕЛЬНА — документ изменён после подписания ({who})"
    if not r.valid:
        return f"НЕДЕЙСТВИТЕЛЬНА — подпись не соответствует документу ({who})"
    if not r.trusted:
        indic = st.trust_problem_indic.name if st.trust_problem_indic is not None else ""
        if st.revoked or indic.startswith("REVOKED"):
            reason = "сертификат отозван"
        elif indic.startswith(("EXPIRED", "OUT_OF_BOUNDS")):
            reason = "срок действия сертификата истёк"
        else:
            reason = {"NO_CERTIFICATE_CHAIN_FOUND": "сертификат выдан недоверенным УЦ",
                      "TRY_LATER": "нет сведений об отзыве сертификата",
                      "NOT_YET_VALID": "сертификат ещё не действовал",
                      }.get(indic, f"сертификат не прошёл проверку ({indic or 'причина не указана'})")
        return f"НЕ ПОДТВЕРЖДЕНА — {reason} ({who})"
    if r.docmdp_ok is False:
        return f"НЕДЕЙСТВИТЕЛЬНА — после подписания внесены недопустимые изменения ({who})"
    if r.timestamp_ok is False:
        return f"НЕ ПОДТВЕРЖДЕНА — штамп времени не прошёл проверку ({who})"
    if not r.bottom_line:
        return f"НЕ ПОДТВЕРЖДЕНА ({who})"
    stamp = " (со штампом времени)" if r.timestamp_ok else ""
    return f"Действительна{stamp} — {who}{when}"
