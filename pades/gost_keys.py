"""GOST R 34.10-2012 keys held on the server: a PKCS#12 (PFX) container with a GOST key, and the
CAdES-BES signature it makes (what CryptoPro returns: detached SignedData, signed attributes
contentType, signingTime, messageDigest and signingCertificateV2, all hashes Streebog).

pyca/cryptography opens no PFX whose key is GOST («Invalid password or PKCS12 data»), so the
container is read here with asn1crypto: PBES2 (PBKDF2 + AES-CBC) shrouded key bags and encrypted
certificate bags, which is what `openssl pkcs12 -export` writes by default, also with the GOST
engine. Containers protected with the GOST PBE of Р 50.1.112-2016 (CryptoPro's own export) are
refused with a message saying how to re-export. The password is checked by the key itself: the
public key derived from the decrypted private key must be the certificate's.

Private key bytes, as OpenSSL's GOST engine writes them: an OCTET STRING, little-endian.
"""
from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

from asn1crypto import algos, cms, core, pkcs12, tsp, x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from . import gost

PRF: dict[str, type[hashes.HashAlgorithm]] = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
                                             "sha512": hashes.SHA512}
KEY_BAG = "1.2.840.113549.1.12.10.1.2"     # pkcs8ShroudedKeyBag
CERT_BAG = "1.2.840.113549.1.12.10.1.3"


class GostKeyError(ValueError):
    """The container cannot be opened; the message is for the user (Russian, nothing secret)."""


class _PrivateKeyInfo(core.Sequence):
    """PKCS#8 read without asn1crypto's key parsing (it knows no GOST key)."""
    _fields = [("version", core.Integer), ("algorithm", core.Any), ("private_key", core.OctetString),
               ("attributes", core.Any, {"implicit": 0, "optional": True})]


@dataclass(repr=False)
class GostKey:
    """A decrypted GOST key with its certificate. `repr` shows the owner only."""
    certificate: x509.Certificate
    chain: list[x509.Certificate]
    bits: int
    _curve: str = field(repr=False)
    _private: bytes = field(repr=False)     # big-endian, as gostcrypto takes it

    def __repr__(self) -> str:
        return f"<GostKey {self.bits} бит {self.certificate.subject.human_friendly}>"

    @property
    def md_algorithm(self) -> str:
        return f"streebog{self.bits}"

    def sign_bytes(self, data: bytes) -> bytes:
        """GOST R 34.10-2012 over Streebog(`data`), CMS encoding (s‖r big-endian; gost.verify's inverse)."""
        import gostcrypto
        size = self.bits // 8
        mode = gostcrypto.gostsignature.MODE_256 if size == 32 else gostcrypto.gostsignature.MODE_512
        signer = gostcrypto.gostsignature.new(mode, gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019[self._curve])
        digest = gost.streebog(data, self.md_algorithm)[::-1]
        r_s = bytes(signer.sign(bytearray(self._private), bytearray(digest),
                                bytearray(secrets.token_bytes(size))))
        return r_s[size:] + r_s[:size]

    @functools.cached_property
    def _signing_certificate_der(self) -> bytes:
        """ESS signing-certificate-v2 naming this key's certificate by its Streebog hash, made once per key and
        parsed from this DER for each signature (signing threads share the key, not an asn1crypto value):
        asn1crypto encodes a value it built again at every dump, one it parsed it writes as read
        (pades/signed_attributes.py)."""
        md, cert = self.md_algorithm, self.certificate
        return tsp.SigningCertificateV2({"certs": [{
            "hash_algorithm": {"algorithm": md}, "cert_hash": gost.streebog(cert.dump(), md),
            "issuer_serial": {"issuer": [x509.GeneralName({"directory_name": cert.issuer})],
                              "serial_number": cert.serial_number}}]}).dump()

    def sign_cades(self, data: bytes) -> bytes:
        """Detached CAdES-BES SignedData over `data`, as CryptoPro makes it."""
        md = self.md_algorithm
        cert = self.certificate
        cert_id = tsp.SigningCertificateV2.load(self._signing_certificate_der)
        attrs = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": datetime.now(timezone.utc)})]}),
            cms.CMSAttribute({"type": "message_digest", "values": [gost.streebog(data, md)]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [cert_id]}),
        ])
        signature = self.sign_bytes(attrs.dump())
        key_oid = {256: "gost2012_256", 512: "gost2012_512"}[self.bits]
        signer_info = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {"issuer": cert.issuer,
                                                                       "serial_number": cert.serial_number}}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": md}),
            "signed_attrs": attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": key_oid}),
            "signature": signature,
        })
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData({
            "version": "v1", "digest_algorithms": [algos.DigestAlgorithm({"algorithm": md})],
            "encap_content_info": {"content_type": "data"},
            "certificates": [cms.CertificateChoices({"certificate": c}) for c in [cert, *self.chain]],
            "signer_infos": [signer_info]})}).dump()


def load_pkcs12(data: bytes, passphrase: bytes | None) -> GostKey:
    """The GOST key and certificates of a PFX. Raises GostKeyError (wrong password, damaged file, GOST PBE)."""
    try:
        bags = list(_bags(data, passphrase or b""))
    except GostKeyError:
        raise
    except (ValueError, TypeError, KeyError):
        raise GostKeyError("Не удалось открыть файл ключа: неверный пароль или файл повреждён") from None
    keys = [b for b in bags if isinstance(b, _PrivateKeyInfo)]
    certs = [b for b in bags if isinstance(b, x509.Certificate)]
    if len(keys) != 1 or not certs:
        raise GostKeyError("В файле PKCS#12 нет закрытого ключа или сертификата подписанта")
    key_info = keys[0]
    algorithm = gost._Algorithm.load(key_info["algorithm"].dump())
    bits = gost.KEY_OIDS.get(algorithm["algorithm"].dotted)
    if bits is None:
        raise GostKeyError("В файле PKCS#12 ключ не ГОСТ Р 34.10-2012")
    params = gost._GostKeyParameters.load(algorithm["parameters"].dump())
    curve = gost.CURVES.get(params["public_key_param_set"].dotted)
    if curve is None:
        raise GostKeyError(f"Неизвестный набор параметров ключа ГОСТ: {params['public_key_param_set'].dotted}")
    raw = key_info["private_key"].native
    private = core.load(raw).native if raw[:1] in (b"\x04", b"\x02") and len(raw) > bits // 8 else raw
    if isinstance(private, int):          # older engines: an INTEGER
        private = private.to_bytes(bits // 8, "big")[::-1]
    private_be = bytes(private)[::-1]
    cert = _certificate_of(private_be, curve, bits, certs)
    return GostKey(certificate=cert, chain=[c for c in certs if c.dump() != cert.dump()], bits=bits,
                   _curve=curve, _private=private_be)


def _certificate_of(private_be: bytes, curve: str, bits: int, certs: list[x509.Certificate]) -> x509.Certificate:
    """The certificate whose public key is this private key's: the proof that the password was right."""
    import gostcrypto
    mode = gostcrypto.gostsignature.MODE_256 if bits == 256 else gostcrypto.gostsignature.MODE_512
    curve_params = gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019[curve]
    try:
        public = bytes(gostcrypto.gostsignature.new(mode, curve_params).public_key_generate(bytearray(private_be)))
    except gostcrypto.gostsignature.GOSTSignatureError:
        raise GostKeyError("Не удалось открыть файл ключа: неверный пароль или файл повреждён") from None
    for cert in certs:
        try:
            if gost.key_bits(cert.public_key) and gost._gost_key(cert.public_key)[1] == public:
                return cert
        except ValueError:
            continue
    raise GostKeyError("Не удалось открыть файл ключа: неверный пароль, или в файле нет сертификата этого ключа")


# ---- PFX structure (RFC 7292) ---------------------------------------------------------------------------------

def _bags(data: bytes, passphrase: bytes):
    """The private keys (_PrivateKeyInfo) and certificates of a PFX."""
    pfx = pkcs12.Pfx.load(data)
    for content_info in pfx.authenticated_safe:
        kind = content_info["content_type"].native
        if kind == "data":
            contents = pkcs12.SafeContents.load(content_info["content"].native)
        elif kind == "encrypted_data":
            enc = content_info["content"]["encrypted_content_info"]
            contents = pkcs12.SafeContents.load(_decrypt(enc["content_encryption_algorithm"],
                                                         enc["encrypted_content"].native, passphrase))
        else:
            continue
        for bag in contents:
            oid = bag["bag_id"].dotted
            if oid == KEY_BAG:
                encrypted = bag["bag_value"]
                yield _PrivateKeyInfo.load(_decrypt(encrypted["encryption_algorithm"],
                                                    encrypted["encrypted_data"].native, passphrase))
            elif oid == CERT_BAG and bag["bag_value"]["cert_id"].native == "x509":
                yield x509.Certificate.load(bag["bag_value"]["cert_value"].parsed.dump())


def _decrypt(algorithm, ciphertext: bytes, passphrase: bytes) -> bytes:
    if algorithm["algorithm"].native != "pbes2":
        raise GostKeyError("Файл ключа защищён не PBES2 (вероятно, ГОСТ-шифрованием КриптоПро). Экспортируйте "
                           "ключ с шифрованием AES: openssl pkcs12 -engine gost -export -keypbe AES-256-CBC "
                           "-certpbe AES-256-CBC")
    params = algorithm["parameters"]
    kdf, scheme = params["key_derivation_func"], params["encryption_scheme"]
    cipher_name = scheme["algorithm"].native
    if kdf["algorithm"].native != "pbkdf2" or not cipher_name.startswith("aes"):
        raise GostKeyError(f"Шифрование файла ключа {cipher_name} не поддерживается: экспортируйте ключ с AES-256-CBC")
    kp = kdf["parameters"]
    prf = kp["prf"]["algorithm"].native.replace("hmac_with_", "") if kp["prf"].native else "sha1"
    if prf not in PRF:
        raise GostKeyError(f"Функция PBKDF2 {prf} файла ключа не поддерживается: экспортируйте ключ с AES-256-CBC")
    key = PBKDF2HMAC(PRF[prf](), scheme.key_length, kp["salt"].native, kp["iteration_count"].native).derive(passphrase)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(scheme["parameters"].native)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()
