"""GOST R 34.10-2012 signatures over GOST R 34.11-2012 («Стрибог») digests: what a Russian qualified
signature (КЭП) is, taught to asn1crypto, pyhanko-certvalidator and pyHanko through their own
extension points. Nothing installed is patched or forked.

Registered (once, on import of `pades`):
- asn1crypto's OID maps (class dicts meant to be extended): `DigestAlgorithmId` gets streebog256 /
  streebog512 (1.2.643.7.1.1.2.2 / .3); `SignedDigestAlgorithmId` gets the key OIDs CMS uses as the
  signature algorithm (gost2012_256 / _512: 1.2.643.7.1.1.1.1 / .2) and the certificate signature
  OIDs (gost2012_256_streebog256 / …512: 1.2.643.7.1.1.3.2 / .3).
Provided (used by pades.validate and the signing checks):
- `SignatureValidator`: the certificate validator's pluggable signature check; GOST via gostcrypto
  (pure Python; its Streebog is checked against OpenSSL's GOST engine in the tests), anything else
  by pyhanko-certvalidator's default (pyca/cryptography).
- `prime_digest(sig)`: pyHanko hashes the /ByteRange through pyca/cryptography, which has no
  Streebog; the digest is computed here and put in the embedded signature's own digest cache. Time-stamp
  tokens of a GOST TSA (the signature's, or a document timestamp) are prepared the same way
  (`prime_timestamp`).

Byte order, as in RFC 4491 / RFC 9215 and OpenSSL's engine: the public key is X‖Y little-endian in
an OCTET STRING; the CMS signature value is s‖r big-endian; the digest is read as a little-endian
number. gostcrypto takes big-endian r‖s and a big-endian digest.
"""
from __future__ import annotations

from asn1crypto import algos, core, keys
from pyhanko_certvalidator import sig_validate

from pades import identity

STREEBOG = {"1.2.643.7.1.1.2.2": "streebog256", "1.2.643.7.1.1.2.3": "streebog512"}
SIGNATURES = {"1.2.643.7.1.1.1.1": "gost2012_256", "1.2.643.7.1.1.1.2": "gost2012_512",
              "1.2.643.7.1.1.3.2": "gost2012_256_streebog256", "1.2.643.7.1.1.3.3": "gost2012_512_streebog512"}
# signature algorithm → (digest, key size in bytes)
SIGNATURE_DIGEST = {"gost2012_256": ("streebog256", 32), "gost2012_256_streebog256": ("streebog256", 32),
                    "gost2012_512": ("streebog512", 64), "gost2012_512_streebog512": ("streebog512", 64)}
KEY_OIDS = {"1.2.643.7.1.1.1.1": 256, "1.2.643.7.1.1.1.2": 512}
# Public key parameter sets → gostcrypto's curve names (the CryptoPro sets of GOST 2001 are the
# same curves as TC26 256 B, C, D: R 1323565.1.024-2019).
CURVES = {
    "1.2.643.7.1.2.1.1.1": "id-tc26-gost-3410-2012-256-paramSetA",
    "1.2.643.7.1.2.1.1.2": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.7.1.2.1.1.3": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.7.1.2.1.1.4": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.2.2.35.1": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.2.2.35.2": "id-tc26-gost-3410-2012-256-paramSetC",
    "1.2.643.2.2.35.3": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.2.2.36.0": "id-tc26-gost-3410-2012-256-paramSetB",
    "1.2.643.2.2.36.1": "id-tc26-gost-3410-2012-256-paramSetD",
    "1.2.643.7.1.2.1.2.1": "id-tc26-gost-3410-12-512-paramSetA",
    "1.2.643.7.1.2.1.2.2": "id-tc26-gost-3410-12-512-paramSetB",
    "1.2.643.7.1.2.1.2.3": "id-tc26-gost-3410-2012-512-paramSetC",
}
LABELS = {256: "ГОСТ Р 34.10-2012, 256 бит", 512: "ГОСТ Р 34.10-2012, 512 бит"}


def register() -> None:
    for cls, oids in ((algos.DigestAlgorithmId, STREEBOG), (algos.SignedDigestAlgorithmId, SIGNATURES)):
        if not all(oid in cls._map for oid in oids):
            cls._map.update(oids)
            # asn1crypto builds the reverse map once per class (its first instance): rebuilt here, since a
            # class set up before this call would otherwise keep None, or a map without these names
            cls._reverse_map = {name: oid for oid, name in cls._map.items()}


def is_streebog(md_algorithm: str | None) -> bool:
    return md_algorithm in STREEBOG.values()


def streebog(data: bytes, name: str = "streebog256") -> bytes:
    import gostcrypto
    return bytes(gostcrypto.gosthash.new(name, data=data).digest())


# ---- keys -----------------------------------------------------------------------------------------------

class _RawKeyInfo(core.Sequence):
    """SubjectPublicKeyInfo read without asn1crypto's key parsing (which knows no GOST key)."""
    _fields = [("algorithm", core.Any), ("public_key", core.BitString)]


class _Algorithm(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _GostKeyParameters(core.Sequence):
    _fields = [("public_key_param_set", core.ObjectIdentifier),
               ("digest_param_set", core.ObjectIdentifier, {"optional": True})]


def key_bits(public_key_info: keys.PublicKeyInfo) -> int | None:
    """256 or 512 for a GOST R 34.10-2012 key, None for any other."""
    algorithm = _Algorithm.load(_RawKeyInfo.load(public_key_info.dump())["algorithm"].dump())
    return KEY_OIDS.get(algorithm["algorithm"].dotted)


def key_label(public_key_info: keys.PublicKeyInfo) -> str | None:
    bits = key_bits(public_key_info)
    return LABELS[bits] if bits else None


def _gost_key(public_key_info: keys.PublicKeyInfo) -> tuple[str, bytes]:
    raw = _RawKeyInfo.load(public_key_info.dump())
    params = _GostKeyParameters.load(_Algorithm.load(raw["algorithm"].dump())["parameters"].dump())
    oid = params["public_key_param_set"].dotted
    if oid not in CURVES:
        raise ValueError(f"unknown GOST parameter set {oid}")
    point = core.OctetString.load(raw["public_key"].contents[1:]).native   # after the unused-bits byte
    half = len(point) // 2
    return CURVES[oid], point[:half][::-1] + point[half:][::-1]


def verify(signature: bytes, signed_data: bytes, public_key_info: keys.PublicKeyInfo, algorithm: str) -> bool:
    """A GOST R 34.10-2012 signature (CMS / X.509 encoding) over `signed_data`."""
    import gostcrypto
    digest_name, size = SIGNATURE_DIGEST[algorithm]
    curve_name, public_key = _gost_key(public_key_info)
    if len(signature) != 2 * size or len(public_key) != 2 * size:
        return False
    mode = gostcrypto.gostsignature.MODE_256 if size == 32 else gostcrypto.gostsignature.MODE_512
    checker = gostcrypto.gostsignature.new(mode, gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019[curve_name])
    digest = streebog(signed_data, digest_name)[::-1]
    return bool(checker.verify(bytearray(public_key), bytearray(digest),
                               bytearray(signature[size:] + signature[:size])))


class SignatureValidator(sig_validate.SignatureValidator):
    """GOST signatures here; every other algorithm through pyhanko-certvalidator's default."""

    def __init__(self):
        self._default = sig_validate.DefaultSignatureValidator()

    def validate_signature(self, signature, signed_data, public_key_info, signature_algorithm, context=None):
        from cryptography.exceptions import InvalidSignature
        name = signature_algorithm["algorithm"].native
        if name not in SIGNATURE_DIGEST:
            if context is None:
                return self._default.validate_signature(signature, signed_data, public_key_info, signature_algorithm)
            return self._default.validate_signature(signature, signed_data, public_key_info, signature_algorithm,
                                                    context)
        signed_data = _ORIGINAL_ATTRS.get(signature, signed_data)   # see check_streebog_ess
        try:
            ok = verify(signature, signed_data, public_key_info, name)
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidSignature(f"GOST signature not checkable: {e}") from None
        if not ok:
            raise InvalidSignature("GOST R 34.10-2012 signature does not verify")


def prime_digest(sig) -> None:
    """Before pyHanko validates an embedded GOST signature: check its Streebog signingCertificateV2
    (check_streebog_ess), and put the Streebog digest of its /ByteRange in its digest cache, where pyHanko
    looks first (EmbeddedPdfSignature.external_digests), so it never asks pyca/cryptography for either."""
    if sig.sig_object_type == "/DocTimeStamp":
        prime_timestamp(sig.signed_data)
    else:
        for token in _signature_timestamps(sig.signer_info):
            prime_timestamp(token)
    if _streebog_ess(sig.signer_info) is not None:
        cert = identity.signer_certificate(sig.signed_data, sig.signer_info)   # sig.signer_cert would check ESS itself
        if cert is not None:
            check_streebog_ess(sig.signer_info, cert)
    md = sig.external_md_algorithm
    if not is_streebog(md) or md in sig.external_digests:
        return
    stream = sig.reader.stream
    data = b""
    offsets = list(sig.byte_range)
    for start, length in zip(offsets[0::2], offsets[1::2]):
        stream.seek(start)
        data += stream.read(length)
    sig.external_digests[md] = streebog(data, md)


# ---- time-stamp tokens of a GOST TSA -------------------------------------------------------------------------
# pyHanko validates a token's SignedData by hashing its TSTInfo with the signer's digest algorithm through
# pyca/cryptography (no hook), so a Streebog-signed token fails there. Its messageDigest is checked here with
# Streebog; then, in memory only, the digest algorithm becomes SHA-256 and messageDigest SHA-256(TSTInfo),
# which pyHanko recomputes and compares; everything else (the GOST signature over the attributes exactly as
# signed — `_ORIGINAL_ATTRS` —, the TSA's certificate, chain, EKU, time and imprint) pyHanko checks itself.

def absent(value) -> bool:
    """An optional ASN.1 field that is not there. Not `value.native is None`: that converts a present
    set of attributes, certificates and all, to Python objects just to ask (≈ 5 ms a sheet at ingest)."""
    return isinstance(value, core.Void)


def _signature_timestamps(signer_info):
    unsigned = signer_info["unsigned_attrs"]
    if absent(unsigned):
        return []
    return [token["content"] for attr in unsigned if attr["type"].native == "signature_time_stamp_token"
            for token in attr["values"]]


def prime_timestamp(signed_data) -> None:
    """Make a Streebog-signed time-stamp token (a SignedData over TSTInfo) checkable by pyHanko, see above."""
    import hashlib

    from asn1crypto import cms
    signer_info = signed_data["signer_infos"][0]
    algorithm = signer_info["digest_algorithm"]["algorithm"].native
    if not is_streebog(algorithm):
        return
    cert = identity.signer_certificate(signed_data, signer_info)
    if cert is not None and _streebog_ess(signer_info) is not None:
        check_streebog_ess(signer_info, cert)          # the TSA's signingCertificateV2
    content = bytes(signed_data["encap_content_info"]["content"])
    attrs = signer_info["signed_attrs"]
    digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
    ok = len(digests) == 1 and digests[0] == streebog(content, algorithm)
    key = signer_info["signature"].native
    if len(_ORIGINAL_ATTRS) >= _KEEP:
        _ORIGINAL_ATTRS.clear()
    if not ok:
        _ORIGINAL_ATTRS[key] = b""                     # nothing verifies: pyHanko reports the token invalid
    else:
        _ORIGINAL_ATTRS.setdefault(key, attrs.untag().dump())
    signer_info["digest_algorithm"] = algos.DigestAlgorithm({"algorithm": "sha256"})
    signer_info["signed_attrs"] = cms.CMSAttributes([
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(content).digest()]})
        if a["type"].native == "message_digest" else a for a in attrs])


# ---- signingCertificateV2 with a Streebog hash --------------------------------------------------------------
# CAdES-BES as CryptoPro makes it carries signingCertificateV2 (ESS) whose certificate hash is Streebog;
# pyHanko checks that attribute through pyca/cryptography, which has no Streebog (an AttributeError). So
# the check is made here, with Streebog, before pyHanko sees the signature, and pyHanko is given the
# signer info without that one attribute. The signature over the signed attributes is still checked over
# the attributes exactly as signed: `SignatureValidator` is handed them back by the signature value.
_ORIGINAL_ATTRS: dict[bytes, bytes] = {}
_KEEP = 4096


def _streebog_ess(signer_info) -> tuple[int, str] | None:
    """(index, hash name) of a signingCertificateV2 attribute hashed with Streebog, or None."""
    attrs = signer_info["signed_attrs"]
    if absent(attrs):
        return None
    for i, attr in enumerate(attrs):
        if attr["type"].native == "signing_certificate_v2":
            algorithm = attr["values"][0]["certs"][0]["hash_algorithm"]["algorithm"].native
            return (i, algorithm) if is_streebog(algorithm) else None
    return None


def check_streebog_ess(signer_info, cert) -> bool | None:
    """Check a Streebog signingCertificateV2 against `cert` and take it out of `signer_info` (in memory
    only), keeping the signed attributes as signed for the signature check. None: no such attribute;
    False: it names another certificate — the signature is then reported invalid."""
    from asn1crypto import cms
    found = _streebog_ess(signer_info)
    if found is None:
        return None
    index, algorithm = found
    attrs = signer_info["signed_attrs"]
    cert_id = attrs[index]["values"][0]["certs"][0]
    ok = cert_id["cert_hash"].native == streebog(cert.dump(), algorithm)
    original = attrs.untag().dump() if ok else b""      # b"": nothing verifies against it
    signer_info["signed_attrs"] = cms.CMSAttributes([a for i, a in enumerate(attrs) if i != index])
    if len(_ORIGINAL_ATTRS) >= _KEEP:
        _ORIGINAL_ATTRS.clear()
    _ORIGINAL_ATTRS[signer_info["signature"].native] = original
    return ok


def embedded_signer_cert(sig):
    """`sig.signer_cert` of an embedded signature, safe for CAdES with a Streebog signingCertificateV2
    (pyHanko's own property checks that attribute through pyca/cryptography)."""
    prime_digest(sig)
    return sig.signer_cert
