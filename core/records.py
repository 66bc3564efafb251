"""The legal archive as the domains below it see it: hand over a final PDF, read an archived copy back.

The archive package (above every domain) connects itself at `archive.init_app`: `keep` goes through the
`document_signed` signal, reading through the reader the archive registers in `app.extensions`.
"""
from flask import current_app

from core.signals import document_signed


class NoArchive(RuntimeError):
    """No legal archive is connected: nothing may claim to be archived."""


class CopyBroken(Exception):
    """The archived copy does not match its recorded hash: it is not handed out."""


def keep(document, *, kind: str, **meta):
    """Hand `document` to the legal archive in this transaction; returns its (pending) archive record."""
    records = [r for _, r in document_signed.send(document, kind=kind, **meta) if r is not None]
    if len(records) != 1:
        raise NoArchive(f"{len(records)} archives answered for a {kind!r} document; expected exactly one")
    return records[0]


def read_archived(record, *, user, purpose: str, **details) -> bytes:
    """The archived copy's bytes, hash-checked (CopyBroken) and written to the archive's access log."""
    reader = current_app.extensions.get("legal_archive")
    if reader is None:
        raise NoArchive("the legal archive is not configured (archive.init_app)")
    return reader(record, user=user, purpose=purpose, **details)
