"""The request metrics are made once per process even when a fresh gthread worker's first requests
arrive together (found by benchmarks/load.py: each of them registered the histogram again and got
«Duplicated timeseries in CollectorRegistry», a 500, at every worker start and recycle)."""
import time

from tests.helpers import at_once
from web import observability


def test_concurrent_first_requests_make_the_metrics_once(monkeypatch):
    made = []

    def slow_make():
        time.sleep(0.05)          # widen the window between "not made yet" and "made", as a busy CPU does
        made.append(object())
        return {"n": len(made)}

    monkeypatch.setattr(observability, "_metrics", None)
    monkeypatch.setattr(observability, "_make_metrics", slow_make)
    got = []
    at_once(8, lambda: got.append(observability.metrics()))      # a fresh worker's first requests, together
    assert len(made) == 1
    assert all(m is got[0] for m in got)
