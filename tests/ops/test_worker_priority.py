"""Workers yield the CPU to the web (issue 20): `python -m web.worker` lowers its nice and its own session's
autogroup by WORKER_NICE (10 unless set; 0 = the web's priority)."""
import os
import subprocess
import sys

from core import ROOT

PROBE = """
import os
from pathlib import Path
from web.worker import lower_priority
nice = lower_priority(int(os.environ["LEVEL"]))
try:    # some kernels (and sandboxes) have no autogroups, or show the file empty or unreadable
    autogroup = Path("/proc/self/autogroup").read_text().split()[-1]
except (OSError, IndexError):
    autogroup = "-"
print(nice, os.getsid(0) == os.getpid(), autogroup)
"""


def probe(level: int) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env={**os.environ, "LEVEL": str(level)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_worker_runs_below_the_web_in_a_session_and_autogroup_of_its_own():
    start = os.nice(0)
    nice, own_session, autogroup = probe(7)
    assert int(nice) == min(19, start + 7) and own_session == "True"
    assert autogroup in ("-", "7")                     # "-": a kernel without autogroups


def test_worker_nice_zero_leaves_the_priority_alone():
    nice, _, _ = probe(0)
    assert int(nice) == os.nice(0)


def test_workers_are_warm_unless_forking_is_asked_for(monkeypatch):
    """Jobs run in the worker's own (preloaded) process; WORKER_FORK=1 brings back a work-horse per job."""
    from rq import SimpleWorker, Worker

    from web.worker import worker_class
    monkeypatch.delenv("WORKER_FORK", raising=False)
    assert worker_class() is SimpleWorker
    monkeypatch.setenv("WORKER_FORK", "1")
    assert worker_class() is Worker and not issubclass(Worker, SimpleWorker)


FREEZE_PROBE = """
import gc
from web import create_app
from web.worker import preload
preload(create_app())
print(gc.get_threshold())
print(gc.get_freeze_count())
"""


def test_a_preloaded_worker_keeps_its_start_up_objects_out_of_the_garbage_collector():
    """Full collections during a batch no longer walk the app's modules, mappers and fonts, and the collector
    runs far less often than at Python's defaults (issue 20)."""
    from web.worker import WORKER_GC_THRESHOLDS
    done = subprocess.run([sys.executable, "-c", FREEZE_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SECRET_KEY": "probe-secret-key-for-tests", "ARCHIVE_URL": ""})
    assert done.returncode == 0, done.stderr
    *_, thresholds, frozen = done.stdout.strip().splitlines()
    assert int(frozen) > 100_000
    assert thresholds == str(WORKER_GC_THRESHOLDS) and WORKER_GC_THRESHOLDS[0] > 10 * 700
