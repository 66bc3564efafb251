"""The request metrics are made once per process even when a fresh gthread worker's first requests
arrive together (found by benchmarks/load.py: each of them registered the histogram again and got
«Duplicated timeseries in CollectorRegistry», a 500, at every worker start and recycle)."""
import threading
import time

from web import observability


def test_concurrent_first_requests_make_the_metrics_once(monkeypatch):
    made = []

    def slow_make():
        time.sleep(0.05)          # widen the window between "not made yet" and "made", as a busy CPU does
        made.append(object())
        return {"n": len(made)}

    monkeypatch.setattr(observability, "_metrics", None)
    monkeypatch.setattr(observability, "_make_metrics", slow_make)
    start = threading.Barrier(8)
    got = []

    def first_request():
        start.wait()
        got.append(observability.metrics())

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1
    assert all(m is got[0] for m in got)
