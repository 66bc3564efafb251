from web import create_app


def test_factory_reads_test_config_and_does_no_io():
    # No DATABASE_URL: create_app must not try to connect anywhere.
    assert not create_app({"SECRET_KEY": "x"}).testing
    assert create_app({"TESTING": True, "SECRET_KEY": "x"}).testing


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db/x")
    monkeypatch.setenv("ARCHIVE_URL", "file:///tmp/a")
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    monkeypatch.delenv("REDIS_URL", raising=False)
    from web.config import settings_from_env
    s = settings_from_env()
    assert s["DATABASE_URL"] == "postgresql://u@db/x" and s["ARCHIVE_URL"] == "file:///tmp/a"
    assert s["SESSION_COOKIE_SECURE"] is True and "REDIS_URL" not in s


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["checks"] == {"database": "ok", "redis": "ok", "archive": "ok", "files": "ok"}


def test_alembic_models_match_migrations(database_url):
    from alembic import command

    from web.cli import alembic_config
    command.check(alembic_config(database_url))   # raises if models and migrations differ


def test_every_setting_can_come_from_the_environment():
    import pytest

    from web.config import ConfigError, settings_from_env
    s = settings_from_env({"LOGIN_IP_FREE_FAILURES": "7", "ARCHIVE_VERIFY_FETCH": "false", "MAIL_FROM": "a@b.ru",
                           "MARKS_IMPORT_MAX_ROWS": "1000", "TESTING": "1"})
    assert s == {"LOGIN_IP_FREE_FAILURES": 7, "ARCHIVE_VERIFY_FETCH": False, "MAIL_FROM": "a@b.ru",
                 "MARKS_IMPORT_MAX_ROWS": 1000}      # TESTING is not a setting of the service
    with pytest.raises(ConfigError, match="LOGIN_IP_FREE_FAILURES"):
        settings_from_env({"LOGIN_IP_FREE_FAILURES": "пять"})
