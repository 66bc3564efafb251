"""The test PKI (certomancer: TSA, OCSP, CRL over HTTP) in a process of its own, as a real TSA is elsewhere:
the benchmark then sees its CPU apart from its own, and its polling does not share the TSA's interpreter.

    pki = PkiProcess(workdir)      # pki.tsa_url, pki.root (asn1crypto certificate), pki.pid; pki.close()
    pki.requests()                 # {"tsa": n, "ocsp": n, "crl": n, "other": n} answered so far

Run as a script it is that process: it serves until its stdin closes.
"""
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


class PkiProcess:
    def __init__(self, workdir: Path):
        from asn1crypto import pem, x509
        self.proc = subprocess.Popen([sys.executable, str(HERE / "pki_process.py"), str(workdir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.tsa_url = (self.proc.stdout.readline() if self.proc.stdout else "").strip()
        if not self.tsa_url:
            raise SystemExit(f"the test PKI did not start (exit {self.proc.wait()})")
        self.root = x509.Certificate.load(pem.unarmor((workdir / "root.pem").read_bytes())[2])
        self.pid = self.proc.pid

    def requests(self) -> dict[str, int]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main(workdir: Path) -> None:
    sys.path.insert(0, str(HERE))
    from project_path import use_checkout
    use_checkout()
    from asn1crypto import pem

    from tests.sheets import pki
    served = pki.start(workdir)
    counts = {"tsa": 0, "ocsp": 0, "crl": 0, "other": 0}
    app = served._server.app  # type: ignore[attr-defined]   # werkzeug's server: count what it answers

    def counting(environ, start_response):
        path = environ.get("PATH_INFO", "")
        kind = next((k for k in ("tsa", "ocsp", "crl") if f"/{k}" in path), "other")
        counts[kind] += 1
        return app(environ, start_response)
    served._server.app = counting  # type: ignore[attr-defined]
    (workdir / "root.pem").write_bytes(pem.armor("CERTIFICATE", served.root.dump()))
    print(served.tsa_url, flush=True)
    for line in sys.stdin:               # until the benchmark closes our stdin (or exits)
        if line.strip() == "count":
            print(json.dumps(counts), flush=True)
    served.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
