"""A GOST test PKI made with OpenSSL's GOST engine (libengine-gost-openssl), an implementation
independent of the service's own GOST code: a GOST R 34.10-2012 root with a GOST-signed CRL served over
HTTP on 127.0.0.1 (its address is in the signer certificates) and a GOST-signed OCSP responder
(`openssl ocsp` per request, for the "-ocsp" certificates, whose AIA names it), a GOST time-stamp
authority (`openssl ts -reply`, Streebog-256, ESSCertIDv2 by Streebog), signers with Russian subject fields
(SN, G, CN, СНИЛС, ИНН) on 256- and 512-bit keys, one of them revoked, and a root nobody trusts.
`sign_cms` makes the detached CMS a CryptoPro-held key would return (openssl cms -engine gost)."""
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from asn1crypto import pem, x509

NAMES = {"director": ("Сафин", "Ринат Ильдарович"), "teacher": ("Иванова", "Мария Петровна")}
SNILS = {"director": "11223344595"}
INN = {"director": "165012345678"}


def available() -> bool:
    if shutil.which("openssl") is None:
        return False
    r = subprocess.run(["openssl", "engine", "gost"], capture_output=True, text=True)
    return r.returncode == 0


def _run(*args, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, stdin=subprocess.DEVNULL)


def _key(cwd: Path, name: str, bits: int) -> None:
    _run("genpkey", "-engine", "gost", "-algorithm", f"gost2012_{bits}", "-pkeyopt", "paramset:A",
         "-out", f"{name}.key", cwd=cwd)


class _Handler(SimpleHTTPRequestHandler):
    """GET: the CRL. POST /ocsp: an OCSP response made and signed (GOST) by `openssl ocsp` from the CA's index."""
    ca_dir: Path

    def log_message(self, *args):
        pass

    def do_POST(self):
        import tempfile
        request = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ca = self.ca_dir
        if self.path == "/tsa":
            command = ["ts", "-reply", "-config", str(ca / "tsa.cnf"), "-queryfile", "req.der", "-out", "resp.der"]
            kind = "application/timestamp-reply"
        else:
            command = ["ocsp", "-index", str(ca / "index.txt"), "-CA", str(ca / "root.pem"), "-rsigner",
                       str(ca / "root.pem"), "-rkey", str(ca / "root.key"), "-rmd", "md_gost12_256",
                       "-reqin", "req.der", "-respout", "resp.der", "-ndays", "1"]
            kind = "application/ocsp-response"
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "req.der").write_bytes(request)
            # `openssl ocsp` and `ts` take no -engine: it comes from an openssl.cnf of this harness only
            subprocess.run(["openssl", *command], cwd=tmp, check=True, capture_output=True, stdin=subprocess.DEVNULL,
                           env={**os.environ, "OPENSSL_CONF": str(ca / "engine.cnf")})
            body = (Path(tmp) / "resp.der").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class GostPKI:
    workdir: Path
    server: ThreadingHTTPServer | None = field(default=None, repr=False)

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def cert(self, name: str) -> x509.Certificate:
        return x509.Certificate.load(pem.unarmor((self.workdir / f"{name}.pem").read_bytes())[2])

    @property
    def root(self) -> x509.Certificate:
        return self.cert("root")

    def roots_pem(self) -> Path:
        return self.workdir / "root.pem"

    def sign_cms(self, name: str, data: bytes, *, bits: int = 256, cades: bool = True) -> bytes:
        """Detached CMS SignedData over `data`, with signed attributes and a Streebog digest; `cades`: with
        signingCertificateV2 hashed by Streebog, as CryptoPro's CAdES-BES."""
        (self.workdir / "tbs.bin").write_bytes(data)
        _run("cms", "-engine", "gost", "-sign", "-binary", *(["-cades"] if cades else []), "-in", "tbs.bin",
             "-signer", f"{name}.pem", "-inkey", f"{name}.key", "-md", f"md_gost12_{bits}", "-nosmimecap",
             "-outform", "DER", "-out", "sig.der", cwd=self.workdir)
        return (self.workdir / "sig.der").read_bytes()

    @property
    def tsa_url(self) -> str:
        """A GOST time-stamp authority: `openssl ts -reply` with the engine, signing with Streebog-256."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/tsa"

    def pkcs12(self, name: str, passphrase: str = "гост-пароль") -> bytes:
        """The key and certificate (with the root) as a PFX, as `openssl pkcs12 -export` writes it: PBES2 /
        AES-256-CBC. The password goes through the environment, not the command line."""
        env = {**os.environ, "GOST_PFX_PASS": passphrase}
        subprocess.run(["openssl", "pkcs12", "-engine", "gost", "-export", "-inkey", f"{name}.key", "-in",
                        f"{name}.pem", "-certfile", "root.pem", "-passout", "env:GOST_PFX_PASS",
                        "-out", f"{name}.p12"], cwd=self.workdir, check=True, capture_output=True, env=env,
                       stdin=subprocess.DEVNULL)
        return (self.workdir / f"{name}.p12").read_bytes()

    def verify_detached(self, cms: bytes, data: bytes) -> None:
        """OpenSSL's own check of a detached CMS over `data` against the GOST root (CalledProcessError if not)."""
        (self.workdir / "v.sig").write_bytes(cms)
        (self.workdir / "v.bin").write_bytes(data)
        _run("cms", "-engine", "gost", "-verify", "-binary", "-inform", "DER", "-in", "v.sig", "-content", "v.bin",
             "-CAfile", "root.pem", "-purpose", "any", "-out", "/dev/null", cwd=self.workdir)


def _subject(who: str) -> str:
    surname, given = NAMES[who]
    parts = [f"/C=RU/SN={surname}/GN={given}/CN={surname} {given}"]
    if who in SNILS:
        parts.append(f"/SNILS={SNILS[who]}/INN={INN[who]}")
    return "".join(parts)


ENGINE_CNF = """openssl_conf = openssl_def
[openssl_def]
engines = engine_section
[engine_section]
gost = gost_section
[gost_section]
engine_id = gost
default_algorithms = ALL
"""
TSA_CNF = ENGINE_CNF + """[tsa]
default_tsa = tsa_config
[tsa_config]
dir = {dir}
serial = $dir/tsaserial
signer_cert = $dir/tsa.pem
certs = $dir/root.pem
signer_key = $dir/tsa.key
signer_digest = md_gost12_256
default_policy = 1.2.643.100.113.1
digests = sha256, sha512, md_gost12_256, md_gost12_512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = md_gost12_256
"""
CA_CNF = """[ca]
default_ca = root
[root]
database = index.txt
crlnumber = crlnumber
certificate = root.pem
private_key = root.key
default_md = md_gost12_256
default_crl_days = 30
"""


def make(workdir: Path) -> GostPKI:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "crl").mkdir(exist_ok=True)
    handler = type("Handler", (_Handler,), {"ca_dir": workdir})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(workdir / "crl")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    crl_url = f"http://127.0.0.1:{server.server_port}/root.crl"
    ocsp_url = f"http://127.0.0.1:{server.server_port}/ocsp"
    # OpenSSL knows SNILS (1.2.643.100.3) and INN (1.2.643.3.131.1.1) by name
    (workdir / "oids.cnf").write_text("[req]\ndistinguished_name = dn\n[dn]\n", encoding="utf-8")
    (workdir / "signer.ext").write_text("keyUsage=critical,digitalSignature,nonRepudiation\n"
                                        f"basicConstraints=CA:FALSE\ncrlDistributionPoints=URI:{crl_url}\n",
                                        encoding="utf-8")
    (workdir / "ocsp-signer.ext").write_text("keyUsage=critical,digitalSignature,nonRepudiation\n"
                                             f"basicConstraints=CA:FALSE\nauthorityInfoAccess=OCSP;URI:{ocsp_url}\n",
                                             encoding="utf-8")
    (workdir / "ca.cnf").write_text(CA_CNF, encoding="utf-8")
    (workdir / "engine.cnf").write_text(ENGINE_CNF, encoding="utf-8")
    (workdir / "tsa.cnf").write_text(TSA_CNF.format(dir=workdir), encoding="utf-8")
    (workdir / "tsaserial").write_text("01\n")
    (workdir / "tsa.ext").write_text("keyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=CA:FALSE\n"
                                     f"extendedKeyUsage=critical,timeStamping\ncrlDistributionPoints=URI:{crl_url}\n",
                                     encoding="utf-8")
    (workdir / "index.txt").write_text("")
    (workdir / "index.txt.attr").write_text("unique_subject = no\n")     # one person, several certificates
    (workdir / "crlnumber").write_text("01\n")
    for root in ("root", "foreign-root"):
        _key(workdir, root, 256)
        o = "Тестовый ГОСТ УЦ" if root == "root" else "Посторонний ГОСТ УЦ"
        _run("req", "-engine", "gost", "-config", "oids.cnf", "-new", "-x509", "-key", f"{root}.key", "-utf8",
             "-subj", f"/C=RU/O={o}/CN=Корневой ГОСТ", "-md_gost12_256", "-days", "3650",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-out", f"{root}.pem", cwd=workdir)
    for name, who, bits, issuer in (("director", "director", 256, "root"), ("director512", "director", 512, "root"),
                                    ("teacher-gost", "teacher", 256, "root"),
                                    ("director-revoked", "director", 256, "root"),
                                    ("director-foreign", "director", 256, "foreign-root"),
                                    ("director-ocsp", "director", 256, "root"),
                                    ("director-ocsp-revoked", "director", 256, "root")):
        _key(workdir, name, bits)
        _run("req", "-engine", "gost", "-config", "oids.cnf", "-new", "-key", f"{name}.key", "-utf8",
             "-subj", _subject(who), "-out", f"{name}.csr", cwd=workdir)
        _run("x509", "-engine", "gost", "-req", "-in", f"{name}.csr", "-CA", f"{issuer}.pem", "-CAkey", f"{issuer}.key",
             "-CAcreateserial", "-md_gost12_256",   # the issuers hold 256-bit keys
             "-extfile", "ocsp-signer.ext" if "ocsp" in name else "signer.ext", "-days", "730",
             "-out", f"{name}.pem", cwd=workdir)
    _key(workdir, "tsa", 256)
    _run("req", "-engine", "gost", "-config", "oids.cnf", "-new", "-key", "tsa.key", "-utf8",
         "-subj", "/C=RU/O=Тестовый ГОСТ УЦ/CN=Служба штампов времени ГОСТ", "-out", "tsa.csr", cwd=workdir)
    _run("x509", "-engine", "gost", "-req", "-in", "tsa.csr", "-CA", "root.pem", "-CAkey", "root.key",
         "-CAcreateserial", "-md_gost12_256", "-extfile", "tsa.ext", "-days", "730", "-out", "tsa.pem", cwd=workdir)
    for name in ("director", "director512", "teacher-gost", "director-ocsp", "tsa"):   # the index OCSP answers from
        _run("ca", "-engine", "gost", "-config", "ca.cnf", "-valid", f"{name}.pem", cwd=workdir)
    for name in ("director-revoked", "director-ocsp-revoked"):
        _run("ca", "-engine", "gost", "-config", "ca.cnf", "-revoke", f"{name}.pem", "-crl_reason", "keyCompromise",
             cwd=workdir)
    _run("ca", "-engine", "gost", "-config", "ca.cnf", "-gencrl", "-out", "root-crl.pem", cwd=workdir)
    _run("crl", "-in", "root-crl.pem", "-outform", "DER", "-out", "crl/root.crl", cwd=workdir)
    return GostPKI(workdir, server)
