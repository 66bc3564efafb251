"""Test-only PKI: certomancer architecture from pki/certomancer.yml with fresh keys, and its
OCSP responder, CRLs and TSA served for real over HTTP on 127.0.0.1 (certomancer's Animator
WSGI app in a werkzeug server thread).

The server is bound first, so its port is known before certomancer writes the OCSP/CRL URLs
into the certificates. The Animator answers "as of now", and now is whatever the test froze
(freezegun patches datetime for the server thread too).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import tsp, x509
from certomancer import crypto_utils
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig, ServiceLabel
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

CONFIG = Path(__file__).parent / "pki" / "certomancer.yml"
KEY_LABELS = ("root", "interm", "interm-ocsp", "tsa", "teacher", "director", "teacher2", "encipher-only", "revoked",
              "expired", "foreign-root")
PASSPHRASE = "Пароль-к-ключу-42"          # of the test PKCS#12 files; a non-ASCII one on purpose


def generate_keys(directory: Path) -> None:
    """Test-only RSA keys, made per session (nothing secret-looking is checked in)."""
    (directory / "keys").mkdir(parents=True, exist_ok=True)
    for label in KEY_LABELS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (directory / "keys" / f"{label}.key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):     # no access log on the test output
        pass


class _Deferred:
    """WSGI app set after the server is bound (the certificates need its port)."""
    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


class _Animator(Animator):
    """certomancer's Animator, its time-stamp tokens made with the TSA's certificate parsed from its DER. The
    certificate certomancer builds keeps no encoding, so each token copied and encoded it again: ≈ 6 of a
    token's 7.5 ms of CPU, on the machine of benchmarks/year_end.py, where a real TSA is somebody else's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._tsa_certs: dict[tuple[str, str], x509.Certificate] = {}

    def serve_timestamp_response(self, request, *, label: str, arch: str):
        tsa = self.architectures[ArchLabel(arch)].service_registry.summon_timestamper(
            ServiceLabel(label), self.at_time(request))
        if (arch, label) not in self._tsa_certs:
            self._tsa_certs[arch, label] = x509.Certificate.load(tsa.tsa_cert.dump())
        tsa.tsa_cert = self._tsa_certs[arch, label]
        token = tsa.request_tsa_response(tsp.TimeStampReq.load(request.stream.read()))
        return Response(token.dump(), mimetype="application/timestamp-reply")


@dataclass
class TestPKI:
    __test__ = False                            # not a pytest test class
    workdir: Path
    base_url: str
    config: CertomancerConfig
    _server: object
    _thread: threading.Thread

    @property
    def arch(self):
        return self.config.get_pki_arch(ArchLabel("school"))

    def cert(self, label: str) -> x509.Certificate:
        arch = self.arch if label != "foreign-root" else self.config.get_pki_arch(ArchLabel("foreign"))
        return arch.get_cert(CertLabel(label))

    def pkcs12(self, label: str, passphrase: str = PASSPHRASE) -> bytes:
        """Key, certificate and chain (intermediate, root), as a user would get them."""
        return self.arch.package_pkcs12(CertLabel(label), password=passphrase.encode("utf-8"))

    def key_path(self, label: str) -> Path:
        return self.workdir / "keys" / f"{label}.key.pem"

    @property
    def root(self) -> x509.Certificate:
        return self.cert("root")

    @property
    def interm(self) -> x509.Certificate:
        return self.cert("interm")

    @property
    def tsa_url(self) -> str:
        return self.arch.service_registry.get_tsa_info(ServiceLabel("tsa")).url

    def validation_context(self, *, allow_fetching: bool = True, revocation_mode: str = "hard-fail", **kwargs):
        from pyhanko_certvalidator import ValidationContext
        return ValidationContext(trust_roots=[self.root], other_certs=[self.interm],
                                 allow_fetching=allow_fetching, revocation_mode=revocation_mode, **kwargs)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# The holders of the signers' certificates (certomancer.yml): a user signs only with their own.
NAMES = {"teacher": "Иванова Мария Петровна", "director": "Сафин Ринат Ильдарович",
         "teacher2": "Борисова Белла Борисовна", "revoked": "Гарипов Ильнур Рашитович",
         "expired": "Лаптева Ольга Николаевна", "encipher-only": "Иванова Мария Петровна"}


class KeptKeysBackend(crypto_utils.PycaCryptographyBackend):
    """certomancer's crypto backend, keeping each RSA key it has loaded. Its own loads the key again for every
    token, OCSP answer and CRL, and OpenSSL 3 checks an RSA key as it loads it: ≈ 40 ms of CPU a time-stamp
    token, a third of the machine in benchmarks/year_end.py, where a real TSA is somebody else's machine."""

    def __init__(self):
        self._keys: dict[bytes, rsa.RSAPrivateKey] = {}
        self._lock = threading.Lock()

    def generic_sign(self, private_key, tbs_bytes, sd_algo):
        if sd_algo.signature_algo != "rsassa_pkcs1v15":
            return super().generic_sign(private_key, tbs_bytes, sd_algo)
        der = private_key.dump()
        with self._lock:
            key = self._keys.get(der)
            if key is None:
                loaded = serialization.load_der_private_key(der, password=None)
                assert isinstance(loaded, rsa.RSAPrivateKey)
                key = self._keys[der] = loaded
        return key.sign(tbs_bytes, padding.PKCS1v15(), getattr(hashes, sd_algo.hash_algo.upper())())


def start(workdir: Path) -> TestPKI:
    if not isinstance(crypto_utils.CRYPTO_BACKEND, KeptKeysBackend):
        crypto_utils.CRYPTO_BACKEND = KeptKeysBackend()     # certomancer's pluggable backend (one per process)
    generate_keys(workdir)
    app = _Deferred()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    base_url = f"http://127.0.0.1:{server.server_port}"
    config = CertomancerConfig.from_file(str(CONFIG), key_search_dir=str(workdir), external_url_prefix=base_url)
    app.app = _Animator(AnimatorArchStore(config.pki_archs), with_web_ui=False)
    thread = threading.Thread(target=server.serve_forever, name="test-pki-http", daemon=True)
    thread.start()
    return TestPKI(workdir=workdir, base_url=base_url, config=config, _server=server, _thread=thread)
