"""RQ queues, enqueue-after-commit and the job wrapper.

Jobs are module-level functions decorated with `@job`; they take ids, run inside
an application context, and commit once at the end (rollback on failure).
"""
import functools
import inspect
import logging
import os
import re
import types
import typing

from flask import Flask, current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

from core import db

log = logging.getLogger(__name__)

# JSON, not RQ's default pickle: a payload in Redis is data, never code run by the worker.
SERIALIZER = JSONSerializer
QUEUES = ("signing", "archive", "notifications", "reports", "default")
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
_worker_app = None
_app_factory = None
_worker_pid = None


def redis_connection(app: Flask | None = None) -> Redis:
    app = app or current_app
    conn = app.extensions.get("redis")
    if conn is None:
        conn = app.extensions["redis"] = Redis.from_url(app.config["REDIS_URL"])
    return conn


def queue(name: str = "default", app: Flask | None = None) -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection(app), serializer=SERIALIZER)


def enqueue_after_commit(func, *args, queue_name: str = "default", job_id: str | None = None,
                         retry: Retry | None = None, on_failure=None, swept: bool = False) -> None:
    """Queue `func(*args)` once the current transaction commits; never if it rolls back. `on_failure`:
    RQ's failure callback (also run by RQ's cleanup when the worker running the job died). `swept`: a
    scheduled sweep finds the work anyway (a pending archive record), so Redis being unreachable is
    logged, not raised: the change is committed and the user must not get an error for it."""
    if job_id is not None and not JOB_ID.match(job_id):
        raise ValueError(f"bad job id {job_id!r}")
    db.on_commit(lambda: send_job(func, *args, queue_name=queue_name, job_id=job_id, retry=retry,
                                  on_failure=on_failure, swept=swept))


def send_job(func, *args, queue_name: str = "default", job_id: str | None = None, retry: Retry | None = None,
             on_failure=None, swept: bool = False) -> None:
    """Queue `func(*args)` now: what `enqueue_after_commit` sends after the commit (the same arguments), for
    an after-commit callback of its own."""
    if job_id is not None and not JOB_ID.match(job_id):
        raise ValueError(f"bad job id {job_id!r}")
    try:
        queue(queue_name).enqueue(func, *args, job_id=job_id, unique=job_id is not None, retry=retry,
                                  on_failure=on_failure)
    except DuplicateJobError:
        log.info("job %s already queued", job_id)   # the same work is already waiting
    except RedisError as exc:
        if not swept:
            raise
        log.warning("job %s not queued (%s): the sweep will queue it", job_id, type(exc).__name__)


class BadJobArguments(TypeError):
    """A queued payload whose arguments do not have the shape the job declares."""


def _argument_check(func):
    """Check each argument against the job's annotations (ids and ISO dates: int, str, None), so a
    payload of the wrong shape fails at once with a clear message instead of deep inside the job."""
    signature = inspect.signature(func)
    hints = typing.get_type_hints(func)

    def allowed(annotation) -> tuple:
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            return tuple(t for a in typing.get_args(annotation) for t in allowed(a))
        return (type(None),) if annotation is None else (annotation,)

    def check(args, kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise BadJobArguments(f"{func.__qualname__}: {exc}") from None
        for name, value in bound.arguments.items():
            types_ok = allowed(hints.get(name, object))
            if not isinstance(value, types_ok) or (isinstance(value, bool) and bool not in types_ok):
                raise BadJobArguments(f"{func.__qualname__}: argument {name!r} must be "
                                      f"{' | '.join(t.__name__ for t in types_ok)}, got {type(value).__name__}")
    return check


def job(func):
    """Run an RQ job inside an app context and commit its work once, at the end."""
    check = _argument_check(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        check(args, kwargs)
        if has_app_context():
            return _run(func, args, kwargs)
        with _app_for_worker().app_context():
            return _run(func, args, kwargs)
    return wrapper


def _run(func, args, kwargs):
    try:
        result = func(*args, **kwargs)
        db.commit()
        return result
    except Exception:
        db.rollback()
        raise


def _app_for_worker() -> Flask:
    global _worker_app, _worker_pid
    if _worker_app is None:
        _worker_app, _worker_pid = (_app_factory or _configured_factory())(), os.getpid()
    elif _worker_pid != os.getpid():
        # A forked work-horse must not share the parent's database connections.
        engine = _worker_app.extensions.get("db_engine")
        if engine is not None:
            engine.dispose(close=False)
        _worker_pid = os.getpid()
    return _worker_app


def in_app_context(func, *args):
    """Run `func(*args)` in the worker's app context (RQ callbacks run outside the job wrapper)."""
    if has_app_context():
        return func(*args)
    with _app_for_worker().app_context():
        return func(*args)


def _configured_factory():
    """A bare `rq worker` imports only the job's module: it names the app by a dotted path, as WSGI servers
    do ("module:function", JOBS_APP_FACTORY, default web:create_app); a configuration, not a layer import."""
    import importlib
    module, _, name = os.environ.get("JOBS_APP_FACTORY", "web:create_app").partition(":")
    return getattr(importlib.import_module(module), name)


def set_app_factory(factory) -> None:
    """The top layer says how a job outside any app context builds its app (web.create_app)."""
    global _app_factory
    _app_factory = factory


def adopt_worker_app(app: Flask) -> None:
    """The worker process hands its (I/O-free) app to the jobs its work-horses run."""
    global _worker_app, _worker_pid
    _worker_app, _worker_pid = app, os.getpid()


@job
def ping(value: str) -> str:
    """A no-op job used by the readiness check and the tests of the queue."""
    return value


def init_app(app: Flask) -> None:
    pass  # the connection is made on first use, so create_app does no I/O
