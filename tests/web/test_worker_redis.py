"""Redis going away under the workers: the persistent embedded Redis keeps its data across a kill -9,
and the workers' client (web.worker.patient_redis) waits for Redis to come back instead of failing
at once (the end-to-end case with real workers: tests/faults/test_redis_outage.py)."""
import os
import signal
import threading
import time

import pytest
import redis

from web import embedded
from web.worker import patient_redis


def _kill(port: int, stop) -> None:
    with redis.Redis(port=port) as r:
        pid = r.info("server")["process_id"]
    os.kill(pid, signal.SIGKILL)
    stop()          # reaps the dead process


def test_persistent_redis_keeps_queues_across_kill_9(tmp_path):
    port = embedded.free_ports(1)[0]
    stop = embedded.start_redis(tmp_path / "redis", port, persistent=True, appendfsync="always")
    try:
        with redis.Redis(port=port) as r:
            r.rpush("rq:queue:signing", "job-1", "job-2")
            r.hset("rq:job:job-1", mapping={"status": "queued"})
            r.set("short-lived", "x", ex=600)
        _kill(port, stop)
        stop = embedded.start_redis(tmp_path / "redis", port, persistent=True, appendfsync="always")
        with redis.Redis(port=port) as r:
            assert r.lrange("rq:queue:signing", 0, -1) == [b"job-1", b"job-2"]
            assert r.hget("rq:job:job-1", "status") == b"queued"
            assert 0 < r.ttl("short-lived") <= 600
    finally:
        stop()


def test_default_redis_is_not_persistent(tmp_path):
    port = embedded.free_ports(1)[0]
    stop = embedded.start_redis(tmp_path / "redis", port)
    with redis.Redis(port=port) as r:
        r.set("k", "v")
    stop()
    stop = embedded.start_redis(tmp_path / "redis", port)
    try:
        with redis.Redis(port=port) as r:
            assert r.get("k") is None
    finally:
        stop()
    with pytest.raises(ValueError):
        embedded.start_redis(tmp_path / "redis", port, persistent=True, appendfsync="no")


def test_worker_client_waits_for_redis_to_come_back(tmp_path):
    port = embedded.free_ports(1)[0]
    stop = embedded.start_redis(tmp_path / "redis", port, persistent=True, appendfsync="always")
    client = patient_redis(f"redis://127.0.0.1:{port}/0", seconds=30)
    try:
        client.rpush("q", "a")                       # a pooled connection, broken by the kill below
        _kill(port, stop)
        stop = None

        def restart():
            nonlocal stop
            time.sleep(1.5)                          # the outage (this test's subject, not a sync)
            stop = embedded.start_redis(tmp_path / "redis", port, persistent=True, appendfsync="always")
        t = threading.Thread(target=restart)
        t0 = time.monotonic()
        t.start()
        client.rpush("q", "b")                       # waits for the restarted Redis, then succeeds
        assert time.monotonic() - t0 >= 1.4
        t.join(30)
        assert client.lrange("q", 0, -1) == [b"a", b"b"]
    finally:
        client.close()
        if stop:
            stop()


def test_worker_client_gives_up_after_its_time():
    port = embedded.free_ports(1)[0]             # nothing listens there
    client = patient_redis(f"redis://127.0.0.1:{port}/0", seconds=1)
    t0 = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    assert 1 <= time.monotonic() - t0 < 10
    client.close()
