"""A real `flask serve` in a child process, on a fresh instance directory, as a newcomer starts it."""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

from core import ROOT
from web import embedded

START_SECONDS = 300


@dataclass
class Served:
    url: str
    proc: subprocess.Popen
    output: str = field(default="")      # the whole console, once stopped


@contextlib.contextmanager
def running_serve(*args: str):
    """Start `flask serve --port P *args` with nothing configured (embedded servers, demo data); yield when
    /healthz answers; stop with Ctrl-C (SIGINT to its process group) and keep the console in `.output`."""
    instance = embedded.service_tempdir("jt-serve-")
    port = embedded.free_ports(1)[0]
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOG_FORMAT", "DATABASE_URL", "REDIS_URL", "ARCHIVE_URL", "PUBLIC_URL", "TRUST_ROOTS")}
    env.update(INSTANCE_PATH=str(instance), WEB_CONCURRENCY="2")
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port), *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    served = Served(f"http://127.0.0.1:{port}", proc)
    try:
        deadline, up = time.time() + START_SECONDS, False
        while time.time() < deadline and proc.poll() is None and not up:
            try:
                up = urllib.request.urlopen(f"{served.url}/healthz", timeout=2).status == 200  # nosec B310
            except OSError:
                time.sleep(1)
        assert up, "the service did not answer"
        yield served
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        served.output, _ = proc.communicate(timeout=120)
        shutil.rmtree(instance, ignore_errors=True)
