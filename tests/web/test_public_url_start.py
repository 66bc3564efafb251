"""A server process (RQ worker, gunicorn) refuses to start without PUBLIC_URL, saying why."""
import os
import subprocess
import sys

from core import ROOT


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "PUBLIC_URL"}
    return {**env, "SECRET_KEY": "x", "INSTANCE_PATH": "/nonexistent-not-used", **extra}


def test_worker_refuses_to_start_without_public_url(tmp_path):
    r = subprocess.run([sys.executable, "-m", "web.worker", "default"], cwd=ROOT, capture_output=True, text=True,
                       env=_env(INSTANCE_PATH=str(tmp_path), REDIS_URL="redis://127.0.0.1:1/0",
                                DATABASE_URL="postgresql+psycopg://x@127.0.0.1:1/x"), timeout=60)
    assert r.returncode != 0 and "PUBLIC_URL не задан" in r.stderr


def test_gunicorn_refuses_to_start_without_public_url(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60,
                       env=_env(INSTANCE_PATH=str(tmp_path), JT_BIND="127.0.0.1:0", LOG_FORMAT="plain"))
    assert r.returncode != 0 and "PUBLIC_URL не задан" in r.stderr


def test_bad_public_url_is_named(tmp_path):
    r = subprocess.run([sys.executable, "-m", "web.worker", "default"], cwd=ROOT, capture_output=True, text=True,
                       env=_env(INSTANCE_PATH=str(tmp_path), PUBLIC_URL="journals.example.ru"), timeout=60)
    assert r.returncode != 0 and "PUBLIC_URL: ожидается адрес" in r.stderr
