"""`flask --app wsgi serve`: the whole service on one machine.

For each of DATABASE_URL, REDIS_URL and ARCHIVE_URL left unset, the embedded
server is started with its data under instance/ (or $INSTANCE_PATH) (ports and S3 keys are chosen on
the first run and kept in instance/embedded.json, mode 0600). Then the schema is
migrated, demo data is made on the first run, one RQ worker is started, and the
web runs under gunicorn (Flask's development server with --dev) until Ctrl-C, when everything is stopped
in reverse order. Credentials reach the processes through their environment, never their command lines.
"""
import json
import os
import secrets
import signal
import subprocess  # nosec B404 # starts the RQ worker (sys.executable, fixed args)
import sys
from collections.abc import MutableMapping

import click

from core import ROOT
from web import embedded, instance_dir

INSTANCE = instance_dir()


def _settings() -> dict:
    path = INSTANCE / "embedded.json"
    if path.exists():
        cfg = json.loads(path.read_text())
        added = {k: secrets.token_hex(24) for k in ("redis_password", "pg_password", "pg_app_password")
                 if k not in cfg}          # made by an older version: add the passwords, keep the rest
        if added:
            cfg.update(added)
            _write_settings(path, cfg)
        return cfg
    pg, redis_port, *weed = embedded.free_ports(12)
    cfg = {"pg_port": pg, "redis_port": redis_port, "weed_ports": weed,
           "s3_key": "jt" + secrets.token_hex(8), "s3_secret": secrets.token_hex(20),
           "redis_password": secrets.token_hex(24), "pg_password": secrets.token_hex(24),
           "pg_app_password": secrets.token_hex(24)}
    INSTANCE.mkdir(parents=True, exist_ok=True)
    _write_settings(path, cfg)
    return cfg


def _write_settings(path, cfg: dict) -> None:
    """Write atomically, mode 0600 from the start (the file holds the embedded servers' secrets)."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f)
    os.replace(tmp, path)


def start_embedded(environ: MutableMapping[str, str]) -> list:
    """Start the servers whose URL is missing from `environ`, filling it in. Returns stop functions."""
    cfg = _settings()
    stops = []
    try:
        if not environ.get("DATABASE_URL"):
            click.echo("Запуск встроенного PostgreSQL…")
            stops.append(embedded.start_postgres(INSTANCE / "pg", cfg["pg_port"], password=cfg["pg_password"]))
            owner = embedded.create_database(
                f"postgresql+psycopg://postgres:{cfg['pg_password']}@127.0.0.1:{cfg['pg_port']}/postgres", "journals")
            _migrate(owner)                  # as the tables' owner; the service then connects as its own role
            environ["DATABASE_URL"] = embedded.app_login(owner, "journals_web", cfg["pg_app_password"])
        if not environ.get("REDIS_URL"):
            click.echo("Запуск встроенного Redis…")
            # With its AOF: jobs queued or scheduled survive a restart of `serve`.
            stops.append(embedded.start_redis(INSTANCE / "redis", cfg["redis_port"], persistent=True,
                                              password=cfg["redis_password"]))
            # Processes get it through their environment (REDIS_URL), never argv.
            environ["REDIS_URL"] = f"redis://:{cfg['redis_password']}@127.0.0.1:{cfg['redis_port']}/0"
        if not environ.get("ARCHIVE_URL"):
            click.echo("Запуск встроенного S3 (SeaweedFS, Object Lock)…")
            ports = cfg["weed_ports"]
            stops.append(embedded.start_seaweed(INSTANCE / "weed", ports, cfg["s3_key"], cfg["s3_secret"]))
            environ["ARCHIVE_URL"] = (f"s3://{cfg['s3_key']}:{cfg['s3_secret']}@127.0.0.1:"
                                      f"{ports[embedded.S3_PORT_INDEX]}/archive?secure=0")
            if not environ.get("FILES_URL"):   # ordinary files: a bucket of the same server, without Object Lock
                environ["FILES_URL"] = (f"s3://{cfg['s3_key']}:{cfg['s3_secret']}@127.0.0.1:"
                                        f"{ports[embedded.S3_PORT_INDEX]}/files?secure=0&lock=0")
    except BaseException:
        stop_all(stops)
        raise
    return stops


def _migrate(url: str) -> None:
    from alembic import command

    from web.cli import alembic_config
    command.upgrade(alembic_config(url), "head")


def stop_all(stops: list) -> None:
    for stop in reversed(stops):
        try:
            stop()
        except Exception as exc:  # keep stopping the others
            click.echo(f"Ошибка остановки: {exc}", err=True)


def run(host: str, port: int, demo_schools: int, dev: bool = False, empty_demo: bool = False) -> None:
    from core import db
    from web import create_app
    from web.cli import print_logins
    stops = start_embedded(os.environ)
    # Without configured CAs the demo CA (made with the demo data) is trusted, and nothing else.
    os.environ.setdefault("TRUST_ROOTS", str(INSTANCE / "demo-pki" / "ca.pem"))
    # The demo's public address is its own: the sheets' verification links point here (said on the page).
    os.environ.setdefault("PUBLIC_URL", f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}")  # nosec B104 # only compared
    os.environ["DEMO"] = "1"
    worker = web = None
    try:
        app = create_app()
        with app.app_context():
            from alembic import command

            from web.cli import alembic_config
            command.upgrade(alembic_config(app.config["DATABASE_URL"]), "head")
            logins = _demo_logins()
            if logins is None and not _has_users():
                from web.demo import make_demo
                click.echo(f"Создание демо-данных ({demo_schools} школ)…")
                logins = make_demo(schools=demo_schools)
                _make_demo_pki()
                if not empty_demo:
                    from web.demo_work import populate
                    click.echo("Демо-регион за работой: приказ, поручения, кампания, отчёты, ведомости…")
                    populate(keys=INSTANCE / "demo-pki")
                db.commit()
                _save_demo_logins(logins)
        # The worker gets the URLs (with credentials) through its environment, never argv.
        worker = subprocess.Popen([sys.executable, "-m", "web.worker"], cwd=str(ROOT), env=dict(os.environ),  # nosec B603 # this interpreter, fixed module name, no shell
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        if logins:
            print_logins(logins)
        click.echo(f"Сервис: http://{host}:{port}/   (Ctrl-C — остановить)")
        if dev:
            from werkzeug.serving import run_simple
            run_simple(host, port, app, threaded=True, use_reloader=False)
        else:
            web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],  # nosec B603 # this interpreter, fixed arguments
                                   cwd=str(ROOT), stdin=subprocess.DEVNULL, start_new_session=True,
                                   env={**os.environ, "JT_BIND": f"{host}:{port}",
                                        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2")})
            web.wait()
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("Остановка…")
        for process in (web, worker):          # the web first; the worker's current job finishes (warm shutdown)
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
        stop_all(stops)
        click.echo("Остановлено.")


def _make_demo_pki() -> None:
    from web.demo import DEMO_PASSWORD, make_demo_pki
    make_demo_pki(INSTANCE / "demo-pki")
    click.echo(f"Демо-ключи подписи (пароль {DEMO_PASSWORD}): {INSTANCE / 'demo-pki'}/teacher.p12, director.p12")


def _has_users() -> bool:
    from sqlalchemy import select

    from core.db import session
    from orgs.models.users import User
    return session.scalar(select(User.id).limit(1)) is not None


def _demo_logins():
    path = INSTANCE / "demo_logins.json"
    return [tuple(x) for x in json.loads(path.read_text())] if path.exists() else None


def _save_demo_logins(logins) -> None:
    path = INSTANCE / "demo_logins.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(logins, f, ensure_ascii=False)
