"""`flask serve` on a fresh instance dir: embedded servers, demo data, a worker; Ctrl-C stops it all."""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from core import ROOT
from web.embedded import free_ports


def _wait_ready(url: str, proc, deadline: float) -> dict:
    import json
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited early"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.loads(resp.read())
        except OSError:
            time.sleep(0.3)
    raise AssertionError("service did not become ready")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_starts_embedded_servers_and_stops_them_on_ctrl_c(tmp_path: Path):
    # the instance in our own temp dir (pytest's lies under a 0700 parent: the cluster would move, see
    # tests/ops/test_private_directory.py)
    import shutil

    from web.embedded import service_tempdir
    base = service_tempdir("jt-serve-")
    instance = base / "instance"
    port = free_ports(1)[0]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "ARCHIVE_URL")}
    env["INSTANCE_PATH"] = str(instance)
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port),
                             "--demo-schools", "4"], cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        ready = _wait_ready(f"http://127.0.0.1:{port}/readyz", proc, time.monotonic() + 120)
        assert ready["status"] == "ok", ready
        output = (tmp_path / "serve.log").read_text()
        assert "admin" in output and "demo-2026-pass" in output   # the demo logins are printed
        pg_pid = int((instance / "pg" / "postmaster.pid").read_text().split()[0])
        assert _alive(pg_pid)
        # Only loopback listeners, and no secret on any command line.
        cmdlines = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        settings = (instance / "embedded.json").read_text()
        import json
        assert json.loads(settings)["s3_secret"] not in cmdlines
        redis_password = json.loads(settings)["redis_password"]
        assert len(redis_password) >= 32 and redis_password not in cmdlines
        import redis
        with redis.Redis(port=json.loads(settings)["redis_port"]) as anonymous:
            try:
                anonymous.ping()
                raise AssertionError("the embedded Redis answered a client without its password")
            except redis.AuthenticationError:
                pass
        assert oct((instance / "redis" / "redis.conf").stat().st_mode & 0o777) == "0o600"
        assert oct((instance / "embedded.json").stat().st_mode & 0o777) == "0o600"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        log.close()
    assert "Остановлено." in (tmp_path / "serve.log").read_text()
    deadline = time.monotonic() + 10
    while _alive(pg_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pg_pid)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(instance) not in ps   # no server of this instance is left running
    shutil.rmtree(base, ignore_errors=True)
