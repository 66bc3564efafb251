"""Every stored byte of the service goes through here: one row shape (`StoredFile`), one way to write
(`put_once`) and one way to read back (`read_verified`), into a *named* store:

    "archive"   the legal archive's write-once store (ARCHIVE_URL: S3 with Object Lock): records only
    "files"     ordinary files (FILES_URL: an S3 bucket without Object Lock, or a local folder):
                evidence of tasks and stages, report attachments, readiness statements' working copies

A row records the store's name, the key, the SHA-256 and size of the bytes, their type and the user's
file name, so the bytes stay findable when the default store changes (Indico's StoredFileMixin).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

MAX_EVIDENCE_FILE = 20 * 1024 * 1024     # an evidence file or report attachment
# What evidence and report attachments may be, by suffix, with the type they are served as.
EVIDENCE_SUFFIXES = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
                     ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                     ".doc": "application/msword", ".odt": "application/vnd.oasis.opendocument.text",
                     ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     ".txt": "text/plain", ".zip": "application/zip"}


class FileStoreError(Exception):
    """A file was not stored or cannot be read back; the message is Russian and safe to show."""


class FileCorrupt(FileStoreError):
    """The stored bytes do not match the hash recorded for them: they are not handed out."""


@dataclass(frozen=True)
class Stored:
    """Where `put_once` put the bytes: what a `StoredFile` row records."""
    store: str
    storage_key: str
    sha256: str
    size: int
    content_type: str
    filename: str


class StoredFile:
    """Columns of a row that points at stored bytes. `__stored_file_optional__ = True` where a row may have
    no file (evidence that is only a link)."""
    __stored_file_optional__ = False

    @declared_attr
    def store(cls) -> Mapped[str | None]:
        return mapped_column(String(20), nullable=cls.__stored_file_optional__)

    @declared_attr
    def storage_key(cls) -> Mapped[str | None]:
        return mapped_column(String(1024), nullable=cls.__stored_file_optional__)

    @declared_attr
    def sha256(cls) -> Mapped[str | None]:
        return mapped_column(String(64), nullable=cls.__stored_file_optional__)

    @declared_attr
    def size(cls) -> Mapped[int | None]:
        return mapped_column(BigInteger, nullable=cls.__stored_file_optional__)

    @declared_attr
    def content_type(cls) -> Mapped[str | None]:
        return mapped_column(String(200), nullable=cls.__stored_file_optional__)

    @declared_attr
    def filename(cls) -> Mapped[str | None]:
        return mapped_column(String(300), nullable=cls.__stored_file_optional__)

    @property
    def has_file(self) -> bool:
        return self.storage_key is not None

    def set_stored(self, stored: Stored) -> None:
        self.store, self.storage_key, self.sha256 = stored.store, stored.storage_key, stored.sha256
        self.size, self.content_type, self.filename = stored.size, stored.content_type, stored.filename


def safe_filename(name: str | None) -> str:
    """The user's file name without any path or control characters ("файл" if nothing is left)."""
    name = PurePath((name or "").replace("\\", "/")).name.strip()
    name = "".join(c for c in name if c.isprintable())[:300]
    return name if name.strip(". ") else "файл"


def content_key(prefix: str, data: bytes, suffix: str = "") -> str:
    """A key that carries the content's hash: a retry, or the same file again, lands on the same object."""
    from core.storage import check_key
    return check_key(f"{prefix.strip('/')}/{hashlib.sha256(data).hexdigest()}{suffix}")


def put_once(store: str, key: str, data: bytes, *, filename: str, content_type: str,
             retain_until: date | None = None, metadata: dict[str, str] | None = None) -> Stored:
    """Write `data` under `key` unless the same bytes are there already, then check the store's hash of it.
    Raises FileStoreError with a message for the user; nothing is recorded unless the bytes are there."""
    from core.storage import ObjectExists, StorageError, StorageUnavailable, get_storage
    storage = get_storage(name=store)
    sha = hashlib.sha256(data).hexdigest()
    try:
        try:
            storage.put(key, data, retain_until=retain_until, content_type=content_type, metadata=metadata)
        except ObjectExists:
            pass                                   # stored by an earlier attempt: its hash is checked below
        head = storage.head(key)
    except StorageUnavailable:
        raise FileStoreError("Хранилище файлов недоступно, попробуйте позже: ничего не сохранено.") from None
    except StorageError as exc:
        raise FileStoreError(f"Файл «{filename}» не сохранён: {exc.__class__.__name__}.") from None
    if head.sha256 != sha or head.size != len(data):
        raise FileStoreError(f"Файл «{filename}» сохранён с ошибкой (контрольная сумма не совпала); "
                             "загрузите его ещё раз.")
    return Stored(store, key, sha, len(data), content_type, filename)


def read_verified(row: StoredFile | Stored) -> bytes:
    """The bytes from the row's own store, checked against its SHA-256 (FileCorrupt otherwise)."""
    from core.storage import ObjectMissing, get_storage
    if row.storage_key is None:
        raise ObjectMissing("no file recorded")
    data = get_storage(name=row.store or "archive").get(row.storage_key)
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise FileCorrupt("Файл в хранилище повреждён: контрольная сумма не совпадает.")
    return data
