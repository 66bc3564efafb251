"""Archive of signed records: write-once storage, ingest, retention, holds, fixity, disposal.

The storage backend is chosen by `ARCHIVE_URL` (see `archive.storage`) and built on first
use, because the URL of the embedded S3 server is only known once `serve` has started it.
"""
import logging
from urllib.parse import urlsplit

from flask import Flask, current_app
from werkzeug.local import LocalProxy

from archive.storage import ArchiveStorage, BACKENDS, storage_from_url

log = logging.getLogger(__name__)

# The current app's storage, resolved on each use: `from archive import current_storage`.
current_storage: ArchiveStorage = LocalProxy(lambda: get_storage())  # type: ignore[assignment]


def init_app(app: Flask) -> None:
    """No I/O and nothing built: a bad URL scheme fails now, the connection happens on first use."""
    url = app.config.get("ARCHIVE_URL")
    if url and urlsplit(url).scheme not in BACKENDS:
        raise ValueError(f"ARCHIVE_URL: unknown scheme {urlsplit(url).scheme!r}; use one of {sorted(BACKENDS)}")
    app.shell_context_processor(lambda: {"archive_storage": current_storage})
    # A summary sheet signed by the director comes to the archive: a pending record in the signing
    # transaction, the ingest job after its commit (signing.services.on_final).
    app.extensions["on_sheet_signed"] = _on_sheet_signed


def _on_sheet_signed(sheet) -> None:
    from archive.services import register_sheet
    register_sheet(sheet)


def get_storage(app: Flask | None = None) -> ArchiveStorage:
    """The app's storage, built from `ARCHIVE_URL` once and kept in `app.extensions["archive"]`."""
    app = app or current_app._get_current_object()
    storage = app.extensions.get("archive")
    if storage is None:
        url = app.config.get("ARCHIVE_URL")
        if not url:
            raise RuntimeError("ARCHIVE_URL is not set")
        # Building does no I/O, so two threads racing here only waste an object; setdefault keeps one.
        storage = app.extensions.setdefault("archive", storage_from_url(url))
        log.info("archive storage: %r", storage)   # the repr leaves out credentials
    return storage
