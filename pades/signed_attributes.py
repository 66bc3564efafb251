"""The signed attributes of our PAdES signatures, with the signer's certificate identified once per key.

pyHanko's PAdES spec (CAdESSignedAttributeProviderSpec with is_pades) gives one attribute of its own,
signing-certificate-v2 (RFC 5035); content-type and message-digest are added by `format_signed_attributes`,
and PAdES forbids signing-time. pyHanko builds that value again for every signature, and asn1crypto encodes a
value it built again at every level of every dump (the signed attributes are dumped to be signed, then copied
into the SignerInfo and dumped with it): ≈ 7 ms of CPU a signature, 45 % of it (a teacher + director pair
in-process, 31 → 17 ms). A value parsed from DER is copied and written as it was read, so the value is made once
per key and kept as parsed DER.

Our PAdES signatures carry no other CAdES signed attribute (no commitment type, signer location or content
time-stamp): `pades.sign` passes none, and this spec would not add them.
"""
from __future__ import annotations

from asn1crypto import tsp, x509
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.general import as_signing_certificate_v2


class _Known(CMSAttributeProvider):
    attribute_type = "signing_certificate_v2"

    def __init__(self, der: bytes):
        self.der = der

    async def build_attr_value(self, dry_run=False) -> tsp.SigningCertificateV2:
        # parsed afresh (≈ 2 µs, lazily): a batch's signing threads share this provider, not an asn1crypto value
        return tsp.SigningCertificateV2.load(self.der)


class PadesSignedAttributes(SignedAttributeProviderSpec):
    """Set as a pyHanko signer's `signed_attr_prov_spec`; only for PAdES signatures (not CAdES, which needs
    signing-time)."""

    def __init__(self, signing_cert: x509.Certificate):
        self._provider = _Known(as_signing_certificate_v2(signing_cert).dump())

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str):
        yield self._provider
