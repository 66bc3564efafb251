"""Operations plumbing for a multi-machine installation: request ids, JSON logs, Prometheus metrics, ProxyFix.

- Every request gets an id: a sane incoming `X-Request-Id` (from the proxy) is kept, otherwise one is made;
  it is sent back in `X-Request-Id` and appears in every log line written while the request runs.
- Logs go to stderr as short human lines (time, level, message; a line per request for the web) by
  default, and as one JSON object per line with `LOG_FORMAT=json` (the systemd units, the Procfile and the
  Dockerfile set it). Log lines carry ids (request, user, endpoint), never form data, query strings,
  headers or cookies; URL passwords and bearer tokens that slip into a message are masked. Libraries'
  chatter (Alembic's set-up, RQ's registry upkeep, pyHanko's path-building tracebacks) is debug-level.
- `/metrics` (Prometheus text format). Allowed with `Authorization: Bearer <METRICS_TOKEN>` when
  METRICS_TOKEN is set; without a token only from the loopback address (a scraper on the same machine), and
  not when the request came through a proxy (X-Forwarded-For, Forwarded, X-Real-IP): set METRICS_TOKEN there.
  Several gunicorn workers: set PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py does) and the per-process
  request histograms are merged. Queue, job and archive figures are read from Redis and PostgreSQL at
  scrape time, so every web node reports the same values for them.
- `PROXY_FIX=N`: trust N proxies' X-Forwarded-For/-Proto/-Host/-Port/-Prefix. Unset: the headers are ignored.
"""
import hmac
import json
import logging
import os
import re
import sys
import threading
import time
import uuid

from flask import Blueprint, Flask, Response, abort, current_app, g, has_request_context, request

log = logging.getLogger(__name__)
bp = Blueprint("observability", __name__)

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
SECRET_PATTERNS = (
    (re.compile(r"(://[^:/@\s]*:)[^@\s]+@"), r"\1***@"),                 # passwords in URLs
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I), r"\1***"),      # bearer tokens
    (re.compile(r"((?:password|passphrase|secret|token)\w*[\"']?\s*[=:]\s*[\"']?)[^\s,\"'&]+", re.I), r"\1***"),
)
SETTINGS = ("LOG_FORMAT", "METRICS_TOKEN", "PROXY_FIX", "LOG_LEVEL")
_metrics = None
_metrics_lock = threading.Lock()


# ---- settings -----------------------------------------------------------------------------------------------

def _setting(app: Flask, key: str, default=None):
    """From web.config, else (outside tests) from the environment."""
    if app.config.get(key) is not None:
        return app.config[key]
    if not app.testing and os.environ.get(key):
        return os.environ[key]
    return default


# ---- logging ------------------------------------------------------------------------------------------------

def redact(text: str) -> str:
    for pattern, repl in SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = g.get("request_id")
        elif not hasattr(record, "request_id"):
            record.request_id = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields are only those the code passes in `extra={"ctx": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            out["request_id"] = rid
        ctx = getattr(record, "ctx", None)
        if isinstance(ctx, dict):
            out.update(ctx)
        if record.exc_info:
            out["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            out["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """«14:02:07 ИНФО сообщение»: what a person at the console needs. A traceback only for real errors."""
    LEVELS = {"DEBUG": "отладка", "INFO": "инфо", "WARNING": "ВНИМАНИЕ", "ERROR": "ОШИБКА", "CRITICAL": "СБОЙ"}

    def format(self, record: logging.LogRecord) -> str:
        line = (f"{time.strftime('%H:%M:%S', time.localtime(record.created))} "
                f"{self.LEVELS.get(record.levelname, record.levelname):8s} {redact(record.getMessage())}")
        if record.exc_info and record.levelno >= logging.ERROR:
            line += "\n" + redact(self.formatException(record.exc_info))
        elif record.exc_info and record.exc_info[1] is not None:
            line += f" ({type(record.exc_info[1]).__name__}: {str(record.exc_info[1])[:200]})"
        return line


# Libraries' routine lines, kept for LOG_LEVEL=DEBUG: logger → the level from which it is shown.
CHATTY = {"alembic": logging.WARNING, "rq.scheduler": logging.WARNING, "pyhanko": logging.ERROR,
          "pyhanko_certvalidator": logging.ERROR, "fontTools": logging.WARNING, "urllib3": logging.WARNING,
          "werkzeug": logging.WARNING}   # the request lines are ours (a line per request, with its time)
_UPKEEP = re.compile(r"cleaning (?:group )?registries|subscribing from channel|subscribing to channel|Listening on|"
                     r"Scheduler for|scheduler lock|started with PID|Registering birth|Scheduler (?:with PID \d+ )?"
                     r"(?:has )?stopp|sent heartbeat|Control socket|storage: <", re.I)


class UpkeepFilter(logging.Filter):
    """RQ's worker says every few minutes that it cleaned its registries, gunicorn where its control socket
    is: debug, not info."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.INFO and _UPKEEP.search(record.getMessage()):
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def configure_logging(app: Flask) -> None:
    fmt = _setting(app, "LOG_FORMAT", "plain" if app.testing else "text")
    if fmt not in ("json", "text"):
        return                                      # "plain": the caller's own handlers (the tests')
    root = logging.getLogger()
    if any(getattr(h, "_jt_handler", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._jt_handler = True  # type: ignore[attr-defined]  # our marker: installed once
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(UpkeepFilter())
    root.addHandler(handler)
    level = str(_setting(app, "LOG_LEVEL", "INFO")).upper()
    root.setLevel(level)
    if level != "DEBUG":
        for name, shown_from in CHATTY.items():
            logging.getLogger(name).setLevel(shown_from)
    app.logger.handlers.clear()      # Flask's default handler would print each line a second time
    app.logger.propagate = True


# ---- metrics ------------------------------------------------------------------------------------------------

def _make_metrics():
    from prometheus_client import Counter, Histogram
    return {
        "latency": Histogram("jt_http_request_duration_seconds", "Time to answer a request, by endpoint",
                             ["endpoint", "method"],
                             buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)),
        "requests": Counter("jt_http_requests", "Requests answered, by endpoint and status class",
                            ["endpoint", "method", "status"]),
    }


def metrics():
    """Made once per process: a gthread worker's first requests arrive together, and registering the
    histogram twice raises «Duplicated timeseries» (a 500)."""
    global _metrics
    if _metrics is None:
        with _metrics_lock:
            if _metrics is None:
                _metrics = _make_metrics()
    return _metrics


class StateCollector:
    """Figures read at scrape time from the shared stores: identical on every node."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        yield from self._queues(GaugeMetricFamily)
        yield from self._database(GaugeMetricFamily)

    def _queues(self, Gauge):
        from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

        from core.jobs import QUEUES, queue
        depth = Gauge("jt_queue_depth", "Jobs waiting in an RQ queue", labels=["queue"])
        running = Gauge("jt_queue_running", "Jobs being run now", labels=["queue"])
        failed = Gauge("jt_queue_failed", "Jobs in the failed registry", labels=["queue"])
        dur_sum = Gauge("jt_job_duration_seconds_sum", "Total run time of the recently finished jobs",
                        labels=["queue"])
        dur_count = Gauge("jt_job_duration_seconds_count", "Recently finished jobs counted in the sum",
                          labels=["queue"])
        dur_max = Gauge("jt_job_duration_seconds_max", "Longest run time among the recently finished jobs",
                        labels=["queue"])
        try:
            for name in QUEUES:
                q = queue(name, self.app)
                depth.add_metric([name], q.count)
                running.add_metric([name], StartedJobRegistry(queue=q).count)
                failed.add_metric([name], FailedJobRegistry(queue=q).count)
                durations = []
                ids = FinishedJobRegistry(queue=q).get_job_ids(-200, -1)   # the most recent 200
                for j in q.job_class.fetch_many(ids, connection=q.connection, serializer=q.serializer):
                    if j is not None and j.started_at and j.ended_at:
                        durations.append((j.ended_at - j.started_at).total_seconds())
                dur_sum.add_metric([name], sum(durations))
                dur_count.add_metric([name], len(durations))
                dur_max.add_metric([name], max(durations, default=0.0))
        except Exception as exc:   # Redis down: say so instead of failing the whole scrape
            log.warning("metrics: queues unavailable: %s", type(exc).__name__)
            up = Gauge("jt_redis_up", "Redis answered the scrape")
            up.add_metric([], 0)
            yield up
            return
        yield from (depth, running, failed, dur_sum, dur_count, dur_max)

    def _database(self, Gauge):
        from sqlalchemy import func, select

        try:
            with self.app.extensions["db_engine"].connect() as conn:
                sheets = Gauge("jt_sheets", "Summary sheets by status", labels=["status"])
                try:
                    from sheets.models import SummarySheet
                    for status, n in conn.execute(select(SummarySheet.status, func.count())
                                                  .group_by(SummarySheet.status)):
                        sheets.add_metric([getattr(status, "value", str(status))], n)
                except ImportError:
                    pass
                records = Gauge("jt_archive_records", "Archive records by status (pending = waiting for the store)",
                                labels=["status"])
                fixity = Gauge("jt_archive_fixity_failures", "Archive records whose last fixity check failed")
                from archive.models import ArchiveRecord
                for status, n in conn.execute(select(ArchiveRecord.status, func.count())
                                              .group_by(ArchiveRecord.status)):
                    records.add_metric([getattr(status, "value", str(status))], n)
                fixity.add_metric([], conn.execute(select(func.count()).select_from(ArchiveRecord)
                                                   .where(ArchiveRecord.fixity_ok.is_(False))).scalar_one())
                yield from (sheets, records, fixity)
        except Exception as exc:
            log.warning("metrics: database unavailable: %s", type(exc).__name__)
            up = Gauge("jt_database_up", "PostgreSQL answered the scrape")
            up.add_metric([], 0)
            yield up


def _metrics_allowed() -> bool:
    token = _setting(current_app, "METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), str(token).encode())
    # A proxy on the same machine makes every client look local: a request it forwarded (it says so in
    # these headers) is not the local scraper, whatever its address.
    forwarded = any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))
    return request.remote_addr in ("127.0.0.1", "::1") and not forwarded


@bp.route("/metrics")
def metrics_view():
    if not _metrics_allowed():
        abort(403)
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    state = CollectorRegistry()
    state.register(StateCollector(current_app._get_current_object()))
    body = generate_latest(process_registry) + generate_latest(state)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


# ---- request hooks ------------------------------------------------------------------------------------------

def _start():
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response):
    rid = g.get("request_id")
    if rid:
        response.headers["X-Request-Id"] = rid
    started = g.pop("request_started", None)
    if started is None:
        return response
    elapsed = time.perf_counter() - started
    endpoint = request.endpoint or "unmatched"     # the route's name, never the raw path (ids, names)
    if endpoint != "observability.metrics_view":
        m = metrics()
        m["latency"].labels(endpoint, request.method).observe(elapsed)
        m["requests"].labels(endpoint, request.method, f"{response.status_code // 100}xx").inc()
    user = g.get("user")
    log.info("%s %s %s %.1fms", request.method, endpoint, response.status_code, elapsed * 1000,
             extra={"ctx": {"method": request.method, "endpoint": endpoint, "status": response.status_code,
                            "duration_ms": round(elapsed * 1000, 1),
                            "user_id": getattr(user, "id", None)}})
    return response


def init_app(app: Flask) -> None:
    configure_logging(app)
    proxies = _setting(app, "PROXY_FIX")
    if proxies not in (None, "", 0, "0"):
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = int(proxies)
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    app.before_request_funcs.setdefault(None, []).insert(0, _start)   # first, so the id exists for all others
    app.after_request(_finish)
    app.register_blueprint(bp)
    from orgs.auth import PUBLIC_ENDPOINTS
    PUBLIC_ENDPOINTS.add("observability.metrics_view")   # its own check: token or loopback
