"""Database session and the single commit point.

Services change objects and flush; only `commit()` commits: after a request that
succeeded (status < 400) and in the job wrapper. Jobs queued with
`enqueue_after_commit` are sent only once that commit has succeeded.
"""
import functools
import json
import time
from datetime import datetime, timezone
from typing import TypeVar, cast

from flask import Flask, current_app
from sqlalchemy import CursorResult, DateTime, MetaData, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker

T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True)}


class AppSession(Session):
    """Bound to the current app's engine, so two apps (e.g. a test's and a live server's) can share a process."""

    def get_bind(self, mapper=None, clause=None, **kwargs):
        if self.bind is not None:   # the test harness binds a connection explicitly
            return self.bind
        return current_app.extensions["db_engine"]


session = scoped_session(sessionmaker(class_=AppSession))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _after_commit_jobs() -> list:
    return session().info.setdefault("after_commit", [])


def commit() -> None:
    """Commit, then send the jobs queued by this unit of work."""
    jobs = list(_after_commit_jobs())
    session.commit()
    _after_commit_jobs().clear()
    for send in jobs:
        send()


def rollback() -> None:
    _after_commit_jobs().clear()
    session.rollback()


def on_commit(send) -> None:
    """Run `send()` after the current transaction commits; dropped on rollback."""
    _after_commit_jobs().append(send)


class _Gathered:
    def __init__(self, key: str, send_all):
        self.key, self.send_all = key, send_all
        self.items: list = []

    def __call__(self) -> None:
        self.send_all(self.items)


def on_commit_gathered(key: str, item, send_all) -> None:
    """Gather `item` under `key`: after the commit, `send_all(items)` is called once with this transaction's
    items in order (a batch's sheets handed over as a few jobs, not a job each). Dropped on rollback."""
    jobs = _after_commit_jobs()
    gathered = next((j for j in jobs if isinstance(j, _Gathered) and j.key == key), None)
    if gathered is None:
        gathered = _Gathered(key, send_all)
        jobs.append(gathered)
    gathered.items.append(item)


def present(value: T | None, what: str) -> T:
    """`value`, which the row's state guarantees is set (a stored record has a key); an error if not."""
    if value is None:
        raise RuntimeError(f"{what} is missing")
    return value


def execute_count(statement, params=None) -> int:
    """Run an INSERT/UPDATE/DELETE in the session and return how many rows it touched."""
    return cast(CursorResult, session.execute(statement, params)).rowcount


# A pooled connection unused for this long is pinged before it is handed out, so one the server dropped in
# the meantime (a restart, a failover, an idle timeout) is replaced instead of failing its request. A busy pool
# hands out connections used moments ago: pinging those (SQLAlchemy's pool_pre_ping) was a round trip to the
# database on every request, 5 % of the web's CPU under load.
PING_AFTER_IDLE_S = 5.0


def make_engine(url: str):
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    # JSON as UTF-8, not \u-escaped: a class's marks go to the server in half the bytes (≈ 20 % less time to
    # insert a school's, measured); what PostgreSQL stores in a JSONB column is the same either way
    engine = create_engine(url, future=True, json_serializer=functools.partial(json.dumps, ensure_ascii=False))
    dialect = engine.dialect

    @event.listens_for(engine.pool, "checkin")
    def _returned(dbapi_connection, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_S:
            return                                    # new, or used moments ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection is gone: {exc}") from exc   # the pool connects anew
    return engine


def init_app(app: Flask) -> None:
    if not app.config.get("DATABASE_URL"):
        return  # CLI commands that start the embedded server configure it later
    app.extensions["db_engine"] = make_engine(app.config["DATABASE_URL"])

    @app.after_request
    def _finish(response):
        if response.status_code < 400:
            commit()
        else:
            rollback()
        return response

    @app.teardown_appcontext
    def _cleanup(exc):
        if exc is not None:
            rollback()
        if not app.config.get("DB_SESSION_BOUND"):
            session.remove()


MODEL_MODULES = ("orgs.models", "ordinances.models", "assignments.models", "transitions.models", "reports.models",
                 "core.audit", "core.security_log",
                 "sheets.models", "archive.models")


def import_models() -> None:
    """Import every model module so Base.metadata is complete (Alembic, tests)."""
    import importlib
    for name in MODEL_MODULES:
        importlib.import_module(name)
