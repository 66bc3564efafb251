"""Settings, read from the environment; an unset URL means "start the embedded server" (see web.embedded)."""
import os

DEFAULTS = {
    "DATABASE_URL": None,
    "REDIS_URL": None,
    "ARCHIVE_URL": None,          # s3://KEY:SECRET@host:port/bucket?secure=0  or  file:///path
    "FILES_URL": None,            # ordinary files (evidence, attachments): s3://…/bucket?lock=0 or file:///path
    "TSA_URL": None,
    "SECRET_KEY": None,  # nosec B105 # no secret here; None means generate one in instance/
    "SMTP_URL": None,
    "SMTP_CA_FILE": None,         # CA bundle for the SMTP server's TLS certificate (default: the system's)
    "PUBLIC_URL": None,           # e.g. https://journals.example.ru — printed in verification links; required
    "DEMO": False,                # set by `serve`: the demo instance (its own address is the public one)
    "TRUST_ROOTS": None,          # PEM file(s) of the CAs whose signatures are trusted, ":"-separated
    "FETCH_ALLOWED_HOSTS": None,  # hosts OCSP/CRL may be fetched from, ","-separated (default: named by the roots)
    "ARCHIVE_SEAL_KEY": None,     # PKCS#12 of the archive's service key (signs export inventories)
    "ARCHIVE_SEAL_PASSPHRASE": None,  # nosec B105 # no secret here; set from the environment
    "ARCHIVE_FIXITY_BATCH": 500,  # records re-hashed per hourly fixity run
    "ARCHIVE_REVINFO_CACHE_SECONDS": 300,  # OCSP/CRL answers shared by the workers via Redis (0: off)
    "ARCHIVE_LTA_RENEW_DAYS": 365,  # renew the archive timestamp this long before its TSA certificate ends
    "SHEET_BATCH_CHUNK": 25,      # sheets a batch renders or signs per transaction (sheets.tasks)
    "ARCHIVE_INGEST_GROUP": 5,    # sheets signed together that one archive job ingests together (archive.ingest)
    "SIGN_THREADS": 4,            # signatures of a batch made at once (their TSA round trips overlap)
    "BABEL_DEFAULT_LOCALE": "ru",
    "BABEL_DEFAULT_TIMEZONE": "Europe/Moscow",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,   # set true behind TLS
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,   # the cookie's own life; the session record decides (below)
    # the cookie carries only the session id: set at login, it is not signed and sent again with every page
    "SESSION_REFRESH_EACH_REQUEST": False,
    "SESSION_IDLE_MINUTES": 30,       # a server-side session ends after this long without a request
    "SESSION_ABSOLUTE_HOURS": 8,      # and this long after the login, however active
    "API_TOKEN_DAYS": 90,             # new API tokens expire after this many days
    "LOGIN_IP_FREE_FAILURES": 5,      # failed logins from one address before it must wait (doubling each time)
    "LOGIN_BACKOFF_MAX_SECONDS": 15 * 60,
    "LOGIN_GLOBAL_FAILURES_PER_MINUTE": 300,   # all addresses together: above it, every login waits a minute
    "SECOND_FACTOR_ROLES": "admin,archivist",  # roles that must log in with TOTP
    "WTF_CSRF_TIME_LIMIT": None,      # the token lives as long as the session
    "MAX_CONTENT_LENGTH": 50 * 1024 * 1024,
    "ORG_IMPORT_MAX_ROWS": 20000,
    "MARKS_IMPORT_MAX_ROWS": 200_000,
    "ORDINANCE_FILE_MAX_BYTES": 20 * 1024 * 1024,  # the signed order PDF and each attachment
    "ARCHIVE_VERIFY_FETCH": True,     # verification may fetch OCSP/CRL over the network
    "PUBLIC_VERIFY_MAX_BYTES": 5 * 1024 * 1024,   # the public /verify/<id> page: largest upload (413 above)
    "PUBLIC_VERIFY_PER_MINUTE": 10,   # uploads to the public page per client address per minute (429 above)
    "DIGEST_DAYS_AHEAD": 3,           # the daily digest lists what is due within this many days
    "MAIL_FROM": "journals@localhost",
}

# Read from the environment as given; everything else in DEFAULTS is converted to its default's type.
NOT_FROM_ENV = ("BABEL_DEFAULT_LOCALE", "SESSION_COOKIE_HTTPONLY", "WTF_CSRF_TIME_LIMIT")
TRUE = ("1", "true", "yes", "on")


class ConfigError(ValueError):
    pass


def settings_from_env(environ=os.environ) -> dict:
    """The settings given in the environment (names as in DEFAULTS); unset ones keep their defaults.
    A value that does not fit its setting's type is an error naming the variable."""
    found: dict[str, object] = {}
    for key, default in DEFAULTS.items():
        raw = environ.get(key)
        if key in NOT_FROM_ENV or raw is None or raw == "":
            continue
        if isinstance(default, bool):
            found[key] = raw.strip().lower() in TRUE
        elif isinstance(default, int):
            try:
                found[key] = int(raw)
            except ValueError:
                raise ConfigError(f"{key}: ожидается целое число, получено «{raw}»") from None
        else:
            found[key] = raw
    return found


def require_public_url(config) -> None:
    """The verification link printed inside every signed sheet is permanent: it must not come from a
    request's Host header or a default. A server process refuses to start without PUBLIC_URL."""
    from urllib.parse import urlsplit
    url = config.get("PUBLIC_URL")
    if not url:
        raise ConfigError("PUBLIC_URL не задан: это внешний адрес сервиса (например https://journals.example.ru), "
                          "он печатается в ссылке проверки подлинности каждой ведомости.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"PUBLIC_URL: ожидается адрес вида https://journals.example.ru, получено «{url}»")


def trusted_hosts(public_url: str) -> list[str]:
    """The Host values a request may carry: the public one and the machine itself (health checks)."""
    from urllib.parse import urlsplit
    return sorted({urlsplit(public_url).hostname or "", "localhost", "127.0.0.1"} - {""})
