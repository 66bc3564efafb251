"""`flask serve` as a newcomer sees it: human lines only (no JSON, no library chatter), the web under gunicorn
rather than Flask's development server, and everything stopped on Ctrl-C (issue 19)."""
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from core import ROOT
from web import embedded


def test_serve_starts_under_gunicorn_with_a_readable_console():
    instance = embedded.service_tempdir("jt-serve-")
    port = embedded.free_ports(1)[0]
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOG_FORMAT", "DATABASE_URL", "REDIS_URL", "ARCHIVE_URL", "PUBLIC_URL", "TRUST_ROOTS")}
    env.update(INSTANCE_PATH=str(instance), WEB_CONCURRENCY="1")
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port),
                             "--demo-schools", "2"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline, up = time.time() + 240, False
        while time.time() < deadline and proc.poll() is None and not up:
            try:
                up = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200  # nosec B310
            except OSError:
                time.sleep(1)
        assert up, "the service did not answer"
        served = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5)  # nosec B310
        assert served.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
        shutil.rmtree(instance, ignore_errors=True)
    lines = output.splitlines()
    assert not [ln for ln in lines if ln.lstrip().startswith("{")], output
    assert "Сервис: http://127.0.0.1:" in output and "Остановлено." in output, output
    assert "development server" not in output and "Booting worker" in output, output
    assert not [ln for ln in lines if "cleaning registries" in ln or "alembic.runtime" in ln], output
