"""Archive of signed records: write-once storage, ingest, retention, holds, fixity, disposal.

The storage backend is chosen by `ARCHIVE_URL` (see `core.storage`) and built on first
use, because the URL of the embedded S3 server is only known once `serve` has started it.
"""
import logging
from urllib.parse import urlsplit

from flask import Flask

from core.signals import detached_signature, document_signed
from core.storage import BACKENDS, current_storage

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """No I/O and nothing built: a bad URL scheme fails now, the connection happens on first use."""
    url = app.config.get("ARCHIVE_URL")
    if url and urlsplit(url).scheme not in BACKENDS:
        raise ValueError(f"ARCHIVE_URL: unknown scheme {urlsplit(url).scheme!r}; use one of {sorted(BACKENDS)}")
    app.shell_context_processor(lambda: {"archive_storage": current_storage})
    # Signed documents come to the archive: a pending record in the signer's transaction, the ingest
    # job after its commit. Archived copies are read back through the archive's access log.
    from archive import services
    document_signed.connect(services.on_document_signed)
    detached_signature.connect(services.on_detached_signature)
    app.extensions["legal_archive"] = services.read_archived
