"""gunicorn settings for a web node: `gunicorn -c gunicorn.conf.py wsgi:app`.

Everything can be overridden from the environment (systemd EnvironmentFile, docker -e):
  JT_BIND          address to listen on                     default 127.0.0.1:8000 (the proxy is in front)
  WEB_CONCURRENCY  worker processes                         default 2 × CPU + 1, at most 8
  JT_THREADS       threads per worker                       default 4 (gthread: slow uploads do not block)
  JT_TIMEOUT       seconds before a silent worker is killed default 120 (large XLSX/ZIP exports)
  PROMETHEUS_MULTIPROC_DIR  where workers share metrics     default a fresh directory under /tmp
TLS ends at the proxy; set PROXY_FIX=1 (one proxy) so X-Forwarded-* are honoured, see docs/operations.md.
"""
import multiprocessing
import os
import tempfile

bind = os.environ.get("JT_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * multiprocessing.cpu_count() + 1, 8))
worker_class = "gthread"
threads = int(os.environ.get("JT_THREADS", "4"))
timeout = int(os.environ.get("JT_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory held by large PDFs/XLSX) — rarely: at 2,000 requests a busy 2-core box
# (benchmarks/load.py, ≈ 25 requests/s per worker) rebooted every worker each 80 s, all four within seconds of
# each other, and the pages queued behind the boots. A wide jitter keeps the restarts apart.
max_requests = 20000
max_requests_jitter = 5000
preload_app = False            # each worker builds its own app (and database pool) after the fork
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None               # the app logs each request as JSON, with its request id (app/observability.py)
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
limit_request_field_size = 16380

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="jt-metrics-")


def on_starting(server):
    from web.config import ConfigError, require_public_url, settings_from_env
    try:
        require_public_url(settings_from_env())
    except ConfigError as exc:
        raise SystemExit(f"Сервис не запущен: {exc}") from None
    # Files from a previous run would be merged into this run's figures.
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))


def post_worker_init(worker):
    # the app is loaded: keep its start-up objects out of every later full garbage collection (web/worker.py)
    from web.worker import freeze_startup_objects
    freeze_startup_objects()


def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


# gunicorn's own lines (start, worker boot/exit, errors) in the same shape as the app's: JSON with
# LOG_FORMAT=json (the units, the Procfile, the Dockerfile), short human lines otherwise (`serve`).
_FORMATTER = "web.observability.JsonFormatter" if os.environ.get("LOG_FORMAT") == "json" else \
    "web.observability.TextFormatter"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False, "qualname": "gunicorn.error"},
        # the app writes a line per request itself (web.observability); gunicorn's access lines would double it
        "gunicorn.access": {"level": "WARNING", "handlers": ["console"], "propagate": False,
                            "qualname": "gunicorn.access"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "app", "stream": "ext://sys.stderr",
                             "filters": ["upkeep"]}},
    "formatters": {"app": {"()": _FORMATTER}},
    "filters": {"upkeep": {"()": "web.observability.UpkeepFilter"}},
}
