"""Write-once archive storage: one interface, two real backends chosen by `ARCHIVE_URL`.

    s3://ACCESS:SECRET@host:port/bucket[/prefix]?secure=0&region=...   S3 with Object Lock (production)
    file:///abs/path                                          local directory (development only)

Rules every backend keeps (tests/archive/test_storage.py runs one contract suite over both):

- An object is written once. `put` of an existing key raises `ObjectExists`; the key
  should carry the content hash (`object_key`), so a retry writes the same bytes anyway.
- Retention is set at write (COMPLIANCE mode on S3), as a *date*: the object may be
  deleted from 00:00 UTC of `retain_until`. It can be extended on the server, never shortened.
- `delete` is refused (`ObjectLocked`) while retention or a legal hold is active.
- The SHA-256 of the bytes is stored with the object (`x-amz-meta-sha256` on S3, a JSON
  sidecar locally) so `head` reports it without reading the data.
- A missing key is `ObjectMissing`, a `FileNotFoundError`, in every backend.
- Server unreachable, timeouts, 5xx: `StorageUnavailable` (jobs retry on it).
  Any other failure: `StorageError`. Bad arguments (keys, dates, metadata): `ValueError`.
"""
from __future__ import annotations

import abc
import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import threading
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from flask import Flask, current_app
from werkzeug.local import LocalProxy

log = logging.getLogger(__name__)

__all__ = [
    "ArchiveStorage", "StoredObject", "S3ArchiveStorage", "LocalArchiveStorage", "BACKENDS",
    "storage_from_url", "object_key", "check_key",
    "StorageError", "ObjectMissing", "ObjectExists", "ObjectLocked", "StorageUnavailable",
]


# ---- errors ----------------------------------------------------------------------------------------------

class StorageError(Exception):
    """Any archive storage failure."""


class ObjectMissing(StorageError, FileNotFoundError):
    """No object under this key (or version)."""


class ObjectExists(StorageError, FileExistsError):
    """The key is taken: objects are written once."""


class ObjectLocked(StorageError, PermissionError):
    """Retention or a legal hold forbids the change."""


class StorageUnavailable(StorageError, ConnectionError):
    """The store cannot be reached (refused, timed out, 5xx): try again later."""


# ---- keys, values ----------------------------------------------------------------------------------------

# Safe in S3, in URLs and as a path on any filesystem. No component may start with a dot:
# that rules out "." and ".." and keeps the local backend's ".meta"/".tmp" out of the key space.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
_META_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_RECORD_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_RESERVED_META = {"sha256"}


def check_key(key: str) -> str:
    if not isinstance(key, str) or len(key) > 1024 or not _KEY.fullmatch(key):
        raise ValueError(f"bad archive key {key!r}: use [A-Za-z0-9._-] parts joined by '/', "
                         "none empty or starting with '.'")
    return key


def object_key(record_id: str | int, sha256: str, suffix: str = ".pdf") -> str:
    """`records/<id>/<sha256><suffix>`: the id finds the object, the hash makes a retried write identical."""
    record_id = str(record_id)
    if not _RECORD_ID.fullmatch(record_id):
        raise ValueError(f"bad record id {record_id!r}")
    if not _SHA256.fullmatch(sha256):
        raise ValueError("sha256 must be 64 lowercase hex digits")
    return check_key(f"records/{record_id}/{sha256}{suffix}")


def _check_retention(retain_until: dt.date | None) -> None:
    if retain_until is None:
        return
    # datetime is a subclass of date; refuse it rather than guess its time zone
    if isinstance(retain_until, dt.datetime) or not isinstance(retain_until, dt.date):
        raise TypeError("retain_until must be a datetime.date")
    if retain_until <= _utc_today():   # S3 refuses a retention date in the past (InvalidRequest)
        raise ValueError(f"retain_until {retain_until} is not in the future")


def _check_metadata(metadata: dict[str, str] | None) -> dict[str, str]:
    metadata = dict(metadata or {})
    for k, v in metadata.items():
        if not isinstance(k, str) or not _META_KEY.fullmatch(k) or k in _RESERVED_META:
            raise ValueError(f"bad metadata key {k!r}: lowercase [a-z0-9-], not {sorted(_RESERVED_META)}")
        if not isinstance(v, str):
            raise ValueError(f"metadata value for {k!r} must be str")
    return metadata


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def _retention_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc)


def _retention_day(moment: dt.datetime) -> dt.date:
    """Inverse of _retention_start; a retention someone set to mid-day counts until the next day."""
    moment = moment.astimezone(dt.timezone.utc)
    return moment.date() + dt.timedelta(days=0 if moment.time() == dt.time() else 1)


def _is_locked(obj: StoredObject) -> bool:
    return obj.legal_hold or (obj.retain_until is not None and _utc_today() < obj.retain_until)


_CHUNK = 1024 * 1024


@contextlib.contextmanager
def _hashed_stream(data: bytes | BinaryIO) -> Iterator[tuple[typing.IO[bytes], int, str]]:
    """(readable positioned at the start, size, sha256 hex). The hash must be known before the
    upload starts, because it travels in a request header; a non-seekable stream is spooled.
    Closes what it created, never the caller's stream."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        yield io.BytesIO(data), len(data), hashlib.sha256(data).hexdigest()
        return
    h = hashlib.sha256()
    if data.seekable():
        start = data.tell()
        while chunk := data.read(_CHUNK):
            h.update(chunk)
        size = data.tell() - start
        data.seek(start)
        yield data, size, h.hexdigest()
        return
    with tempfile.SpooledTemporaryFile(max_size=16 * _CHUNK) as spool:
        size = 0
        while chunk := data.read(_CHUNK):
            h.update(chunk)
            spool.write(chunk)
            size += len(chunk)
        spool.seek(0)
        yield spool, size, h.hexdigest()


# ---- interface -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str | None                 # None only for objects not written through this module
    version_id: str | None
    retain_until: dt.date | None       # deletable from 00:00 UTC of this day
    legal_hold: bool
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict)


class ArchiveStorage(abc.ABC):
    """A write-once object store. Instances do no I/O until first used and are thread-safe."""

    scheme: str   # the URL scheme, recorded with each archive row as the backend name

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str) -> ArchiveStorage: ...

    @abc.abstractmethod
    def put(self, key: str, data: bytes | BinaryIO, *, retain_until: dt.date | None,
            content_type: str = "application/pdf", metadata: dict[str, str] | None = None,
            legal_hold: bool = False, confirm: bool = True) -> StoredObject:
        """Store new bytes under `key` with their retention; `ObjectExists` if the key is taken.
        `confirm=False`: the object's state is not asked of the server again after the write (what is returned
        is what was written) — for a caller that reads the object back itself."""

    @abc.abstractmethod
    def get(self, key: str, version_id: str | None = None) -> bytes: ...

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A stream of the object's bytes; close it (use `with`)."""

    @abc.abstractmethod
    def head(self, key: str, version_id: str | None = None) -> StoredObject: ...

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with `prefix`, in lexicographic order."""

    @abc.abstractmethod
    def set_legal_hold(self, key: str, on: bool) -> None: ...

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object for good; `ObjectLocked` while retention or a legal hold is active."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise unless the store is usable (readiness probe)."""


# ---- S3 --------------------------------------------------------------------------------------------------

class S3ArchiveStorage(ArchiveStorage):
    """S3 with Object Lock (MinIO, Ceph, SeaweedFS, AWS) through the `minio` SDK.

    The server enforces WORM: objects carry COMPLIANCE retention and legal holds, the bucket is
    versioned (Object Lock implies it), and deletes name the version, so a locked one is refused
    by the server itself rather than hidden behind a delete marker.
    """
    scheme = "s3"
    CONNECT_TIMEOUT = 5.0    # seconds; an unreachable server must fail fast, not after minutes
    READ_TIMEOUT = 60.0      # between bytes, not for a whole transfer
    RETRIES = 2              # urllib3 retries (connect errors and 5xx), with a short backoff

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, *, prefix: str = "",
                 secure: bool = True, region: str | None = None, connect_timeout: float = CONNECT_TIMEOUT,
                 read_timeout: float = READ_TIMEOUT, lock: bool = True):
        import urllib3
        from minio import Minio
        from minio.helpers import check_bucket_name
        check_bucket_name(bucket, strict=True)    # ValueError; no I/O
        self.endpoint, self.bucket, self.secure = endpoint, bucket, secure
        self.lock = lock          # False: an ordinary bucket (the "files" store), no retention, no holds
        # Keys live under `prefix/` in the bucket, so several archives (or test runs) can share one
        # bucket. On SeaweedFS that matters: each bucket is a collection with volumes of its own.
        self.prefix = check_key(prefix.strip("/")) + "/" if prefix.strip("/") else ""
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            # Retry-After is ignored: a server asking for an hour's pause must not block a request that long.
            retries=urllib3.Retry(total=self.RETRIES, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504],
                                  respect_retry_after_header=False),
            maxsize=10,
            **({"cert_reqs": "CERT_REQUIRED", "ca_certs": _ca_file()} if secure else {}))  # type: ignore[arg-type]
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region,
                            http_client=http)
        self._ready = False
        self._ready_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> S3ArchiveStorage:
        # Error messages never quote the URL: it holds the secret.
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise ValueError("ARCHIVE_URL: expected s3://ACCESS:SECRET@host:port/bucket")
        if parts.username is None or parts.password is None:
            raise ValueError("ARCHIVE_URL: s3:// needs ACCESS:SECRET@ (percent-encode special characters)")
        bucket, _, prefix = parts.path.strip("/").partition("/")
        if not bucket:
            raise ValueError("ARCHIVE_URL: the path must start with the bucket name")
        opts = dict(parse_qsl(parts.query))
        unknown = set(opts) - {"secure", "region", "connect_timeout", "read_timeout", "lock"}
        if unknown:
            raise ValueError(f"ARCHIVE_URL: unknown option(s) {sorted(unknown)}")
        secure = opts.get("secure", "1").lower() not in ("0", "false", "no", "off")
        lock = opts.get("lock", "1").lower() not in ("0", "false", "no", "off")
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:   # IPv6 literal
            host = f"[{parts.hostname}]" + ("" if parts.port is None else f":{parts.port}")
        return cls(host, unquote(parts.username), unquote(parts.password), bucket, prefix=unquote(prefix),
                   secure=secure,
                   region=opts.get("region") or None,
                   connect_timeout=float(opts.get("connect_timeout", cls.CONNECT_TIMEOUT)),
                   read_timeout=float(opts.get("read_timeout", cls.READ_TIMEOUT)), lock=lock)

    def __repr__(self):   # no credentials
        return f"<S3ArchiveStorage {'https' if self.secure else 'http'}://{self.endpoint}/{self.bucket}/{self.prefix}>"

    def _name(self, key: str) -> str:
        """The S3 object name of a key."""
        return self.prefix + check_key(key)

    # -- plumbing

    @contextlib.contextmanager
    def _errors(self, key: str | None = None, *, refused_means_locked: bool = False):
        """Translate minio/urllib3 failures into this module's exceptions."""
        import urllib3
        from minio.error import InvalidResponseError, S3Error, ServerError
        what = f"{self.bucket}/{self.prefix}{key}" if key else self.bucket
        try:
            yield
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchVersion", "NoSuchObject"):
                raise ObjectMissing(what) from None
            if refused_means_locked and e.code == "AccessDenied":
                raise ObjectLocked(f"{what}: retention or legal hold is active") from None
            if e.code in ("ServiceUnavailable", "SlowDown", "InternalError", "RequestTimeout"):
                raise StorageUnavailable(f"{what}: {e.code}") from e
            raise StorageError(f"{what}: {e.code}: {e.message}") from e
        except ServerError as e:       # a 5xx without an S3 error body
            raise StorageUnavailable(f"{what}: HTTP {e.status_code}") from e
        except InvalidResponseError as e:
            raise StorageError(f"{what}: {e}") from e
        except urllib3.exceptions.HTTPError as e:   # refused, timed out, retries exhausted
            raise StorageUnavailable(f"S3 at {self.endpoint} unreachable: {type(e).__name__}") from e

    def _ensure_bucket(self) -> None:
        """On first use: create the bucket with Object Lock, or check that the existing one has it.
        Object Lock can only be chosen at bucket creation, so a bucket without it is an error."""
        if self._ready:
            return
        from minio.error import S3Error
        with self._ready_lock:
            if self._ready:
                return
            with self._errors():
                if not self.client.bucket_exists(self.bucket):
                    try:
                        self.client.make_bucket(self.bucket, object_lock=self.lock)
                        log.info("storage: created bucket %s (object lock: %s) at %s", self.bucket, self.lock,
                                 self.endpoint)
                    except S3Error as e:
                        if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):  # a racing creator
                            raise
                if not self.lock:
                    self._ready = True
                    return
                try:
                    # An Object Lock bucket answers (with or without a default rule); others answer with an error.
                    self.client.get_object_lock_config(self.bucket)
                except S3Error as e:
                    if e.code in ("ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound",
                                  "InvalidBucketState"):
                        raise StorageError(
                            f"bucket {self.bucket!r} exists without Object Lock, so it cannot hold an archive; "
                            "create a new bucket (Object Lock can only be enabled at creation)") from None
                    raise
            self._ready = True

    # -- operations

    def put(self, key, data, *, retain_until, content_type="application/pdf", metadata=None, legal_hold=False,
            confirm=True):
        from minio.commonconfig import COMPLIANCE
        from minio.retention import Retention
        name = self._name(key)
        _check_retention(retain_until)
        if not self.lock and (retain_until or legal_hold):
            raise ValueError(f"bucket {self.bucket!r} has no Object Lock: no retention or legal hold")
        metadata = _check_metadata(metadata)
        self._ensure_bucket()
        # Write-once by asking first. S3 would otherwise add a new version on top (the old one stays
        # locked, but readers would see the new bytes). Two racing writers can both pass this check;
        # the hash in the key means they write the same bytes.
        try:
            self.head(key)
        except ObjectMissing:
            pass
        else:
            raise ObjectExists(key)
        retention = Retention(COMPLIANCE, _retention_start(retain_until)) if retain_until else None
        with _hashed_stream(data) as (stream, size, sha256), self._errors(key):
            headers = {"x-amz-meta-sha256": sha256}   # explicit prefix: minio passes x-amz-* through as is
            # Header values must be ASCII; percent-encoding keeps Cyrillic names round-tripping exactly.
            headers.update({f"x-amz-meta-{k}": quote(v, safe="") for k, v in metadata.items()})
            result = self.client.put_object(self.bucket, name, stream, size, content_type=content_type,
                                            metadata=headers, retention=retention, legal_hold=legal_hold)
        log.info("archive: stored %s (%d bytes, sha256 %s, version %s, retain until %s)",
                 key, size, sha256, result.version_id, retain_until)
        if not confirm:
            return StoredObject(key=key, size=size, sha256=sha256, version_id=result.version_id,
                                retain_until=retain_until, legal_hold=bool(legal_hold), content_type=content_type,
                                metadata=metadata)
        # Read the object's state back from the server (it may add a bucket default retention).
        stored = self.head(key, result.version_id)
        if stored.size != size or stored.sha256 != sha256:
            raise StorageError(f"{key}: the server reports {stored.size} bytes / {stored.sha256}")
        return stored

    def get(self, key, version_id=None):
        name = self._name(key)
        self._ensure_bucket()
        with self._errors(key):
            resp = self.client.get_object(self.bucket, name, version_id=version_id)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

    def open(self, key):
        name = self._name(key)
        self._ensure_bucket()
        with self._errors(key):
            # urllib3's response is an io.IOBase: read() streams, `with` closes it.
            return self.client.get_object(self.bucket, name)

    def head(self, key, version_id=None):
        name = self._name(key)
        self._ensure_bucket()
        with self._errors(key):
            st = self.client.stat_object(self.bucket, name, version_id=version_id)
        h = st.metadata   # case-insensitive headers
        until = h.get("x-amz-object-lock-retain-until-date")
        user = {hdr.lower()[len("x-amz-meta-"):]: unquote(value) for hdr, value in h.items()
                if hdr.lower().startswith("x-amz-meta-")}
        sha256 = user.pop("sha256", None)
        return StoredObject(
            key=key, size=st.size, sha256=sha256, version_id=st.version_id,
            retain_until=_retention_day(dt.datetime.fromisoformat(until.replace("Z", "+00:00"))) if until else None,
            legal_hold=h.get("x-amz-object-lock-legal-hold", "OFF").upper() == "ON",
            content_type=st.content_type or "application/octet-stream", metadata=user)

    def list(self, prefix=""):
        self._ensure_bucket()
        with self._errors():
            for obj in self.client.list_objects(self.bucket, prefix=self.prefix + prefix or None, recursive=True):
                yield obj.object_name[len(self.prefix):]

    def set_legal_hold(self, key, on):
        version_id = self.head(key).version_id   # the version that is current now, not a later one
        with self._errors(key):
            if on:
                self.client.enable_object_legal_hold(self.bucket, self._name(key), version_id=version_id)
            else:
                self.client.disable_object_legal_hold(self.bucket, self._name(key), version_id=version_id)
        log.info("archive: legal hold %s on %s (version %s)", "set" if on else "released", key, version_id)

    def delete(self, key):
        # A delete without a version id would "succeed" even on a locked object: it only adds a
        # delete marker, hiding the object. Deleting each version by id makes the server decide,
        # and it refuses (AccessDenied) while retention or a legal hold is active.
        name = self._name(key)
        self._ensure_bucket()
        with self._errors(key):
            versions = [o for o in self.client.list_objects(self.bucket, prefix=name, include_version=True)
                        if o.object_name == name]
        if not any(not v.is_delete_marker for v in versions):
            raise ObjectMissing(f"{self.bucket}/{name}")
        for v in versions:   # newest first; a refusal leaves the locked version (and older ones) in place
            with self._errors(key, refused_means_locked=True):
                self.client.remove_object(self.bucket, name, version_id=v.version_id)
        log.info("archive: deleted %s (%d version(s))", key, len(versions))

    def ping(self):
        self._ensure_bucket()
        with self._errors():
            if not self.client.bucket_exists(self.bucket):
                raise StorageError(f"bucket {self.bucket!r} is gone")


def _ca_file() -> str:
    import certifi
    return os.environ.get("SSL_CERT_FILE") or certifi.where()


# ---- local directory -------------------------------------------------------------------------------------

class LocalArchiveStorage(ArchiveStorage):
    """Objects as files under a directory. FOR DEVELOPMENT ONLY.

    The rules (write once, no delete under retention or hold) are enforced by this class alone:
    anyone with file access can change or remove the files, so a local directory gives no real
    WORM guarantee. Use S3 with Object Lock for records that matter.

    Layout: ROOT/<key> holds the bytes (read-only mode), ROOT/.meta/<key>.json the sidecar
    (sha256, size, retention, legal hold, version id), ROOT/.tmp/ the files being written.
    Writers take an flock on ROOT/.lock, so the web app and workers on one host can share it.
    The sidecar is written before the data file appears and removed after it is gone, so an
    object exists exactly when its data file does.
    """
    scheme = "file"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if not self.root.is_absolute():
            raise ValueError("the local archive needs an absolute path")
        self._meta = self.root / ".meta"
        self._tmp = self.root / ".tmp"

    @classmethod
    def from_url(cls, url: str) -> LocalArchiveStorage:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError("ARCHIVE_URL: expected file:///absolute/path")
        return cls(unquote(parts.path))

    def __repr__(self):
        return f"<LocalArchiveStorage {self.root}>"

    # -- plumbing

    def _prepare(self) -> None:
        for d in (self.root, self._meta, self._tmp):
            d.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _locked(self):
        self._prepare()
        with open(self.root / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _data_path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _meta_path(self, key: str) -> Path:
        return self._meta / (check_key(key) + ".json")

    def _read_meta(self, key: str) -> dict:
        if not self._data_path(key).is_file():
            raise ObjectMissing(key)
        try:
            return json.loads(self._meta_path(key).read_text())
        except FileNotFoundError:
            if not self._data_path(key).is_file():   # deleted meanwhile
                raise ObjectMissing(key) from None
            raise StorageError(f"{key}: sidecar {self._meta_path(key)} is missing") from None

    def _write_meta(self, key: str, meta: dict) -> None:
        path = self._meta_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._tmp, suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(meta, f, ensure_ascii=False, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)

    @staticmethod
    def _to_object(key: str, meta: dict) -> StoredObject:
        until = meta.get("retain_until")
        return StoredObject(key=key, size=meta["size"], sha256=meta["sha256"], version_id=meta["version_id"],
                            retain_until=dt.date.fromisoformat(until) if until else None,
                            legal_hold=bool(meta.get("legal_hold")), content_type=meta["content_type"],
                            metadata=dict(meta.get("metadata") or {}))

    def _prune_dirs(self, path: Path, top: Path) -> None:
        """Remove directories left empty by a delete, up to (not including) `top`."""
        path = path.parent
        while path != top:
            try:
                path.rmdir()
            except OSError:   # not empty
                return
            path = path.parent

    # -- operations

    def put(self, key, data, *, retain_until, content_type="application/pdf", metadata=None, legal_hold=False,
            confirm=True):
        path = self._data_path(key)
        _check_retention(retain_until)
        metadata = _check_metadata(metadata)
        if path.exists():   # fail before copying the bytes; checked again under the lock
            raise ObjectExists(key)
        self._prepare()
        fd, tmp = tempfile.mkstemp(dir=self._tmp, suffix=".part")
        try:
            h, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as f:
                if isinstance(data, (bytes, bytearray, memoryview)):
                    data = io.BytesIO(bytes(data))
                while chunk := data.read(_CHUNK):
                    h.update(chunk)
                    f.write(chunk)
                    size += len(chunk)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)   # a hint only; see the class docstring
            meta = {"sha256": h.hexdigest(), "size": size, "content_type": content_type, "metadata": metadata,
                    "retain_until": retain_until.isoformat() if retain_until else None,
                    "legal_hold": bool(legal_hold), "version_id": uuid.uuid4().hex,
                    "stored_at": dt.datetime.now(dt.timezone.utc).isoformat()}
            with self._locked():
                if path.exists():
                    raise ObjectExists(key)
                path.parent.mkdir(parents=True, exist_ok=True)
                self._write_meta(key, meta)   # sidecar first: the data file appearing is the commit
                os.replace(tmp, path)
                _fsync_dir(path.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        log.info("archive (local): stored %s (%d bytes, sha256 %s, retain until %s)",
                 key, size, meta["sha256"], retain_until)
        return self._to_object(key, meta)

    def get(self, key, version_id=None):
        if version_id is not None and self.head(key).version_id != version_id:
            raise ObjectMissing(f"{key} version {version_id}")
        with self.open(key) as f:
            return f.read()

    def open(self, key):
        try:
            return open(self._data_path(key), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectMissing(key) from None

    def head(self, key, version_id=None):
        obj = self._to_object(key, self._read_meta(key))
        if version_id is not None and obj.version_id != version_id:
            raise ObjectMissing(f"{key} version {version_id}")
        return obj

    def list(self, prefix=""):
        if not self.root.is_dir():
            return
        keys = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]   # .meta, .tmp
            rel = os.path.relpath(dirpath, self.root)
            for name in filenames:
                if name.startswith("."):
                    continue
                key = name if rel == "." else f"{rel.replace(os.sep, '/')}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        yield from sorted(keys)

    def set_legal_hold(self, key, on):
        with self._locked():
            meta = self._read_meta(key)
            meta["legal_hold"] = bool(on)
            self._write_meta(key, meta)
        log.info("archive (local): legal hold %s on %s", "set" if on else "released", key)

    def delete(self, key):
        with self._locked():
            obj = self._to_object(key, self._read_meta(key))
            if _is_locked(obj):
                raise ObjectLocked(f"{key}: retention until {obj.retain_until}, legal hold {obj.legal_hold}")
            data, meta = self._data_path(key), self._meta_path(key)
            data.unlink()   # data first: once it is gone, the object is gone
            meta.unlink(missing_ok=True)
            _fsync_dir(data.parent)
            self._prune_dirs(data, self.root)
            self._prune_dirs(meta, self._meta)
        log.info("archive (local): deleted %s", key)

    def ping(self):
        try:
            self._prepare()
        except OSError as e:
            raise StorageError(f"local archive {self.root}: {e.strerror}") from e
        if not os.access(self.root, os.W_OK) or not os.access(self._tmp, os.W_OK):
            raise StorageError(f"local archive {self.root} is not writable")


def _fsync_dir(path: Path) -> None:
    """Make a rename/unlink in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- registry --------------------------------------------------------------------------------------------

BACKENDS: dict[str, type[ArchiveStorage]] = {"s3": S3ArchiveStorage, "file": LocalArchiveStorage}


def storage_from_url(url: str) -> ArchiveStorage:
    """The backend for `url`'s scheme. Does no I/O: the store is contacted on first use."""
    scheme = urlsplit(url).scheme
    if scheme not in BACKENDS:
        raise ValueError(f"ARCHIVE_URL: unknown scheme {scheme!r}; use one of {sorted(BACKENDS)}")
    return BACKENDS[scheme].from_url(url)


STORES = {"archive": "ARCHIVE_URL", "files": "FILES_URL"}   # store name -> the setting with its URL


def get_storage(app: Flask | None = None, name: str = "archive") -> ArchiveStorage:
    """The app's named store, built from its URL once and kept in `app.extensions` ("archive" for the archive's,
    "storage:files" for the ordinary one). Without FILES_URL, ordinary files go to the archive's store."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]  # the proxy's target
    slot = "archive" if name == "archive" else f"storage:{name}"
    storage = app.extensions.get(slot)
    if storage is None:
        setting = STORES[name]
        url = app.config.get(setting) or (app.config.get("ARCHIVE_URL") if name == "files" else None)
        if not url:
            raise RuntimeError(f"{setting} is not set")
        # Building does no I/O, so two threads racing here only waste an object; setdefault keeps one.
        storage = app.extensions.setdefault(slot, storage_from_url(url))
        log.info("%s storage: %r", name, storage)   # the repr leaves out credentials
    return storage


# The current app's storage, resolved on each use.
current_storage: ArchiveStorage = LocalProxy(lambda: get_storage())  # type: ignore[assignment]
