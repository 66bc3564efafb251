"""Application factory. Nothing here does I/O: embedded servers start in the `serve` command."""
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from app.config import DEFAULTS, settings_from_env

ROOT = Path(__file__).resolve().parent.parent
csrf = CSRFProtect()


def create_app(test_config: Mapping | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(instance_dir()), template_folder=str(ROOT / "templates"),
                static_folder=str(ROOT / "app" / "static"))
    app.config.from_mapping(DEFAULTS)
    app.config.update(test_config if test_config is not None else settings_from_env())
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)

    import archive
    from app import db, jobs
    from app.auth import init_app as init_auth
    db.init_app(app)
    archive.init_app(app)
    jobs.init_app(app)
    csrf.init_app(app)
    Babel(app)
    init_auth(app)
    from app import observability
    observability.init_app(app)  # request ids, JSON logs, /metrics, ProxyFix

    from app import cli, filters, nav
    cli.init_app(app)
    filters.init_app(app)
    nav.init_app(app)
    from app import security
    security.init_app(app)

    from app.api import bp as api_bp
    from app.health import bp as health_bp
    from app.home import bp as home_bp
    from app.admin import bp as admin_bp
    from workflow.ordinance_views import bp as ordinances_bp
    from signing.views import bp as sheets_bp
    from workflow.views import bp as workflow_bp
    from workflow.assignment_views import bp as assignments_bp
    from workflow.transition_views import bp as transitions_bp
    for bp in (home_bp, health_bp, admin_bp, workflow_bp, ordinances_bp, sheets_bp, assignments_bp, transitions_bp):
        app.register_blueprint(bp)
    from archive.views import bp as archive_bp
    app.register_blueprint(archive_bp)
    from workflow.ordinance_file_views import bp as ordinance_files_bp
    app.register_blueprint(ordinance_files_bp)
    from signing.api import bp as sheets_api_bp
    from workflow.assignment_api import bp as assignment_api_bp
    from workflow.transition_api import bp as transitions_api_bp
    from archive.api import bp as archive_api_bp
    from workflow.ordinance_files_api import bp as ordinance_files_api_bp
    for bp in (api_bp, sheets_api_bp, assignment_api_bp, transitions_api_bp, archive_api_bp, ordinance_files_api_bp):
        csrf.exempt(bp)  # bearer tokens only: no ambient cookie credentials to forge
        app.register_blueprint(bp)
    return app


def instance_dir() -> Path:
    """Where local state lives (embedded servers' data, the generated secret key); INSTANCE_PATH overrides."""
    return Path(os.environ.get("INSTANCE_PATH") or ROOT / "instance").resolve()


def _instance_secret(app: Flask) -> str:
    """A random SECRET_KEY kept in instance/ (mode 0600) so sessions survive restarts."""
    path = Path(app.instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
