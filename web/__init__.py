"""Application factory. Nothing here does I/O: embedded servers start in the `serve` command."""
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from core import ROOT, instance_dir, jobs
from web.config import DEFAULTS, settings_from_env, trusted_hosts

csrf = CSRFProtect()


def create_app(test_config: Mapping | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(instance_dir()), template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "web" / "static"))
    app.config.from_mapping(DEFAULTS)
    app.config.update(test_config if test_config is not None else settings_from_env())
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)
    if app.config.get("PUBLIC_URL") and not app.config.get("TRUSTED_HOSTS"):
        # A forged Host header gets 400 instead of reaching links, redirects or logs.
        app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config["PUBLIC_URL"])

    import archive
    from core import db
    from orgs.auth import init_app as init_auth
    db.init_app(app)
    archive.init_app(app)
    jobs.init_app(app)
    csrf.init_app(app)
    Babel(app)
    init_auth(app)
    from web import observability
    observability.init_app(app)  # request ids, JSON logs, /metrics, ProxyFix

    from core import filters
    from web import cli, nav
    cli.init_app(app)
    filters.init_app(app)
    nav.init_app(app)
    from web import security
    security.init_app(app)

    from archive import api as archive_api
    from archive import public_views
    from archive import views as archive_views
    from assignments import api as assignments_api
    from assignments import views as assignments_views
    from ordinances import api as ordinances_api
    from ordinances import file_views, files_api
    from ordinances import views as ordinances_views
    from orgs import api as orgs_api
    from orgs import views as orgs_views
    from reports import api as reports_api
    from reports import views as reports_views
    from sheets import api as sheets_api
    from sheets import overview_views
    from sheets import views as sheets_views
    from transitions import api as transitions_api
    from transitions import views as transitions_views
    from web import admin, api, health, home
    pages = (home, health, admin, orgs_views, ordinances_views, file_views, assignments_views, transitions_views,
             reports_views, sheets_views, overview_views, archive_views, public_views)
    apis = (api, orgs_api, ordinances_api, files_api, assignments_api, transitions_api, reports_api, sheets_api,
            archive_api)
    for module in pages:
        app.register_blueprint(module.bp)
    for module in apis:
        csrf.exempt(module.bp)  # bearer tokens only: no ambient cookie credentials to forge
        app.register_blueprint(module.bp)
    return app




def _instance_secret(app: Flask) -> str:
    """A random SECRET_KEY kept in instance/secrets/ (0700, the file 0600) so sessions survive restarts —
    apart from the data (the embedded servers' directories, their Redis AOF), so that a backup of the data
    does not carry the key that decrypts what the data holds encrypted (docs/operations.md, backups)."""
    secrets_dir = Path(app.instance_path) / "secrets"
    path, old = secrets_dir / "secret_key", Path(app.instance_path) / "secret_key"
    secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    if old.exists() and not path.exists():   # kept there by an older version
        os.replace(old, path)
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


jobs.set_app_factory(create_app)   # jobs run outside a request build their app with it
