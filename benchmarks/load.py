"""Load on a production-like web node: gunicorn (gunicorn.conf.py, 4 workers) on loopback, a bounded
threaded HTTP client; prints req/s, p50/p95/p99 per endpoint and errors. Not a test; asserts nothing.

    .venv/bin/python benchmarks/load.py                        # 20 s, 16 concurrent clients
    .venv/bin/python benchmarks/load.py --seconds 60 --clients 32

Starts its own embedded PostgreSQL and Redis in a temp dir (fsync off), a file:// archive, the demo
region (30 schools), then logs each client in as a regional official (one session per client).
"""
import argparse
import http.cookiejar
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ENDPOINTS = [("healthz", "/healthz"), ("readyz", "/readyz"), ("home", "/"), ("orgs", "/orgs"),
             ("assignments", "/assignments"), ("metrics", "/metrics")]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def client(base, login, password):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    html = opener.open(base + "/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    try:
        opener.open(base + "/login", urllib.parse.urlencode({"login": login, "password": password,
                                                              "csrf_token": token}).encode(), timeout=30)
    except urllib.error.HTTPError as err:
        assert err.code == 302, err.code
    return opener


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()

    from app import embedded
    base_dir = Path(tempfile.mkdtemp(prefix="jt-load-"))
    pg_port, redis_port, web_port = embedded.free_ports(3)
    stops = [embedded.start_postgres(base_dir / "pg", pg_port, fsync=False),
             embedded.start_redis(base_dir / "redis", redis_port)]
    web = None
    try:
        url = embedded.create_database(f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/postgres", "load")
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
               "ARCHIVE_URL": f"file://{base_dir / 'archive'}", "SECRET_KEY": "load-test",
               "INSTANCE_PATH": str(base_dir / "instance"), "JT_BIND": f"127.0.0.1:{web_port}",
               "WEB_CONCURRENCY": str(args.workers), "LOG_LEVEL": "warning",
               "PROMETHEUS_MULTIPROC_DIR": str(base_dir / "metrics")}
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        subprocess.run(flask + ["migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        out = subprocess.run(flask + ["demo-data"], cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
        login, password = next((m.group(1), m.group(2)) for m in re.finditer(r"^\s+(\S+)\s+(\S+)\s+(.*)$", out, re.M)
                               if "регион" in m.group(3).lower() or "област" in m.group(3).lower())
        web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        base = f"http://127.0.0.1:{web_port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        openers = [client(base, login, password) for _ in range(args.clients)]
        times, errors = defaultdict(list), defaultdict(int)
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def run(i, opener):
            n = i
            while time.monotonic() < stop_at:
                name, path = ENDPOINTS[n % len(ENDPOINTS)]
                n += 1
                t0 = time.perf_counter()
                try:
                    with opener.open(base + path, timeout=60) as resp:
                        resp.read()
                        ok = resp.status == 200
                except (urllib.error.URLError, OSError):
                    ok = False
                dt = time.perf_counter() - t0
                with lock:
                    times[name].append(dt)
                    if not ok:
                        errors[name] += 1
        threads = [threading.Thread(target=run, args=(i, o)) for i, o in enumerate(openers)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - started
        total = sum(len(v) for v in times.values())
        print(f"gunicorn {args.workers} workers × gthread, {args.clients} clients, {wall:.1f} s: "
              f"{total} requests, {total / wall:.0f} req/s, errors {sum(errors.values())}")
        print(f"{'endpoint':<12} {'n':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for name, _ in ENDPOINTS:
            v = sorted(times[name])
            if not v:
                continue
            q = statistics.quantiles(v, n=100) if len(v) > 1 else [v[0]] * 99
            print(f"{name:<12} {len(v):>6} {len(v) / wall:>7.1f} {q[49] * 1000:>8.1f} {q[94] * 1000:>8.1f} "
                  f"{q[98] * 1000:>8.1f} {errors[name]:>7}")
    finally:
        if web is not None:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(30)
        for stop in reversed(stops):
            stop()
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
