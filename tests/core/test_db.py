"""The connection pool: a connection the server dropped while it sat idle in the pool is replaced before use
(pinged only after PING_AFTER_IDLE_S, not on every checkout)."""
import time

import pytest
from sqlalchemy import exc, text

from core import db
from core.db import make_engine


def _drop(app, pid: int) -> None:
    """End backend `pid` from another connection, as a server restart or an idle timeout would."""
    with app.extensions["db_engine"].connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(100):
            if not other.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}):
                return
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} did not end")


def _backend(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT pg_backend_pid()"))


@pytest.fixture
def engine(app):
    engine = make_engine(app.config["DATABASE_URL"])
    yield engine
    engine.dispose()


def test_a_connection_dropped_while_idle_in_the_pool_is_replaced(app, engine, monkeypatch):
    first = _backend(engine)
    _drop(app, first)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)     # it has been idle "long enough"
    assert _backend(engine) != first                       # pinged, found gone, connected anew: no error


def test_a_connection_used_moments_ago_is_not_pinged(app, engine, monkeypatch):
    """Without the ping the request that meets a dropped connection fails (the trade for one round trip less
    per request); the pool then throws that connection away and the next use connects anew."""
    first = _backend(engine)
    _drop(app, first)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    with pytest.raises(exc.OperationalError) as raised:
        _backend(engine)
    assert raised.value.connection_invalidated
    assert _backend(engine) != first


def test_a_healthy_idle_connection_is_pinged_and_kept(engine, monkeypatch):
    first = _backend(engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    assert _backend(engine) == first == _backend(engine)
