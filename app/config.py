"""Settings, read from the environment; an unset URL means "start the embedded server" (see app.embedded)."""
import os

DEFAULTS = {
    "DATABASE_URL": None,
    "REDIS_URL": None,
    "ARCHIVE_URL": None,          # s3://KEY:SECRET@host:port/bucket?secure=0  or  file:///path
    "TSA_URL": None,
    "SECRET_KEY": None,  # nosec B105 # no secret here; None means generate one in instance/
    "SMTP_URL": None,
    "PUBLIC_URL": None,           # e.g. https://journals.example.ru — printed in verification links
    "TRUST_ROOTS": None,          # PEM file(s) of the CAs whose signatures are trusted, ":"-separated
    "ARCHIVE_SEAL_KEY": None,     # PKCS#12 of the archive's service key (signs export inventories)
    "ARCHIVE_SEAL_PASSPHRASE": None,  # nosec B105 # no secret here; set from the environment
    "ARCHIVE_FIXITY_BATCH": 500,  # records re-hashed per hourly fixity run
    "ARCHIVE_LTA_RENEW_DAYS": 365,  # renew the archive timestamp this long before its TSA certificate ends
    "BABEL_DEFAULT_LOCALE": "ru",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Moscow",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,   # set true behind TLS
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "WTF_CSRF_TIME_LIMIT": None,      # the token lives as long as the session
    "MAX_CONTENT_LENGTH": 50 * 1024 * 1024,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCKOUT_SECONDS": 15 * 60,
    "ORG_IMPORT_MAX_ROWS": 20000,
}

ENV_KEYS = ("DATABASE_URL", "REDIS_URL", "ARCHIVE_URL", "TSA_URL", "SECRET_KEY", "SMTP_URL", "PUBLIC_URL",
            "TRUST_ROOTS", "ARCHIVE_SEAL_KEY", "ARCHIVE_SEAL_PASSPHRASE")
BOOL_ENV_KEYS = ("SESSION_COOKIE_SECURE",)


def settings_from_env(environ=os.environ) -> dict:
    """The subset of settings given in the environment; unset ones keep their defaults."""
    found = {k: environ[k] for k in ENV_KEYS if environ.get(k)}
    for key in BOOL_ENV_KEYS:
        if key in environ:
            found[key] = environ[key].lower() in ("1", "true", "yes", "on")
    return found
