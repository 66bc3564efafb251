"""A demo certification authority made on the first `flask serve`, so the demo users can sign.

Demo only: a self-signed root and one PKCS#12 per signing user, under instance/demo-pki/.
Real installations point TRUST_ROOTS at their CAs and users bring their own keys.
"""
import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

# The published passphrase of the demo keys (demo data only); the demo users share it.
PASSPHRASE = "demo-2026-pass"  # nosec B105 # published on purpose: demo data only


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make(directory: Path, people: dict[str, str], passphrase: str, *, seal: str | None = None) -> Path:
    """Write ca.pem and <login>.p12 for each {login: full name}; returns the CA's path. With `seal`
    (a name), also archive-seal.p12: the archive's service key, which signs export inventories."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name("Демо-УЦ: не для реальных документов")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    keys = dict(people, **({"archive-seal": seal} if seal else {}))
    for login, full_name in keys.items():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        cert = (x509.CertificateBuilder().subject_name(_name(full_name)).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=730))
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                             crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                .sign(ca_key, hashes.SHA256()))
        blob = pkcs12.serialize_key_and_certificates(
            login.encode(), key, cert, [ca], serialization.BestAvailableEncryption(passphrase.encode()))
        path = directory / f"{login}.p12"
        path.write_bytes(blob)
        path.chmod(0o600)
    return ca_path
