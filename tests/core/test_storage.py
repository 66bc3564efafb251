"""Contract tests for archive storage, run against both real backends (no stubs).

The S3 backend runs against the session's SeaweedFS: one Object Lock bucket for this module
and a fresh random prefix in it per test. (Not a bucket per test: SeaweedFS makes each bucket a
collection with volumes of its own, the test server has 8 volumes in all, and locked objects
can never be removed to free them.) The S3-only tests go around our code with the raw minio
client to show that the *server* enforces write-once, not just our wrapper.
"""
import datetime as dt
import hashlib
import io
import json
import time
from unittest import mock
from uuid import uuid4

import pytest
from flask import Flask
from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import S3Error
from minio.retention import Retention

import archive
from core import storage as st
from core.storage import (
    LocalArchiveStorage,
    ObjectExists,
    ObjectLocked,
    ObjectMissing,
    S3ArchiveStorage,
    StorageError,
    StorageUnavailable,
    object_key,
    storage_from_url,
)
from tests.conftest import S3_KEY, S3_SECRET, s3_url
from web.embedded import free_ports

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + "Сводная ведомость".encode() + b"\n%%EOF\n"


def today():
    return dt.datetime.now(dt.timezone.utc).date()


def in_days(n):
    return today() + dt.timedelta(days=n)


def new_bucket():
    return f"t-{uuid4().hex[:12]}"


def raw_client(servers) -> Minio:
    return Minio(servers["s3_endpoint"], access_key=S3_KEY, secret_key=S3_SECRET, secure=False)


@pytest.fixture(scope="module")
def bucket(servers):
    return new_bucket()


@pytest.fixture
def s3(servers, bucket):
    return storage_from_url(s3_url(servers, f"{bucket}/t-{uuid4().hex[:12]}"))


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        return storage_from_url(f"file://{tmp_path}/archive")
    return request.getfixturevalue("s3")


# ---- the contract, both backends -----------------------------------------------------------------------

def test_put_get_head_round_trip(store):
    meta = {"record-id": "42", "school": "Школа № 5 «Радуга»"}
    put = store.put("records/42/a.pdf", PDF, retain_until=in_days(3), metadata=meta)
    assert put.key == "records/42/a.pdf"
    assert put.size == len(PDF)
    assert put.sha256 == hashlib.sha256(PDF).hexdigest()
    assert put.retain_until == in_days(3)
    assert put.legal_hold is False
    assert put.version_id

    assert store.get("records/42/a.pdf") == PDF
    assert store.get("records/42/a.pdf", version_id=put.version_id) == PDF
    with store.open("records/42/a.pdf") as f:
        assert f.read() == PDF

    head = store.head("records/42/a.pdf")
    assert head == put
    assert head.content_type == "application/pdf"
    assert head.metadata == meta


def test_an_unconfirmed_put_returns_what_the_server_then_reports(store):
    """`confirm=False` (the caller reads back itself) skips asking the server after the write; what it returns
    is what a head then says, version included, and write-once still holds."""
    meta = {"record-id": "43"}
    put = store.put("records/43/a.pdf", PDF, retain_until=in_days(3), metadata=meta, confirm=False)
    assert put == store.head("records/43/a.pdf")
    assert store.get("records/43/a.pdf", version_id=put.version_id) == PDF
    with pytest.raises(ObjectExists):
        store.put("records/43/a.pdf", PDF, retain_until=in_days(3), confirm=False)


def test_put_from_streams(store):
    class NonSeekable(io.RawIOBase):   # like an HTTP upload: read() only
        def __init__(self, data):
            self._f = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self._f.readinto(b)

    seekable = io.BytesIO(b"junk" + PDF)
    seekable.seek(4)   # only the bytes from the current position are stored
    a = store.put("s/a.pdf", seekable, retain_until=None)
    b = store.put("s/b.pdf", NonSeekable(PDF), retain_until=None, content_type="application/octet-stream")
    for obj in (a, b):
        assert (obj.size, obj.sha256) == (len(PDF), hashlib.sha256(PDF).hexdigest())
        assert store.get(obj.key) == PDF
    assert store.head("s/b.pdf").content_type == "application/octet-stream"
    assert store.put("s/empty", b"", retain_until=None).size == 0
    assert store.get("s/empty") == b""


def test_list_with_prefix(store):
    for key in ("records/2/c.pdf", "records/1/b.pdf", "records/1/a.pdf", "records/10/d.pdf", "other/x.json"):
        store.put(key, key.encode(), retain_until=None)
    assert list(store.list("records/1/")) == ["records/1/a.pdf", "records/1/b.pdf"]
    assert list(store.list("records/1")) == ["records/1/a.pdf", "records/1/b.pdf", "records/10/d.pdf"]
    assert list(store.list()) == ["other/x.json", "records/1/a.pdf", "records/1/b.pdf", "records/10/d.pdf",
                                  "records/2/c.pdf"]
    assert list(store.list("nothing/")) == []


@pytest.mark.parametrize("op", ["get", "open", "head", "delete", "hold"])
def test_missing_key(store, op):
    store.put("records/1/there.pdf", PDF, retain_until=None)
    call = {"get": lambda: store.get("records/1/absent.pdf"), "open": lambda: store.open("records/1/absent.pdf"),
            "head": lambda: store.head("records/1/absent.pdf"), "delete": lambda: store.delete("records/1/absent.pdf"),
            "hold": lambda: store.set_legal_hold("records/1/absent.pdf", True)}[op]
    with pytest.raises(ObjectMissing) as exc:
        call()
    assert isinstance(exc.value, FileNotFoundError)
    assert isinstance(exc.value, StorageError)


def test_unknown_version_is_missing(store):
    store.put("v.pdf", PDF, retain_until=None)
    with pytest.raises(ObjectMissing):
        store.get("v.pdf", version_id=uuid4().hex)


def test_write_once(store):
    first = store.put("records/7/x.pdf", PDF, retain_until=in_days(2))
    with pytest.raises(ObjectExists):
        store.put("records/7/x.pdf", b"forged", retain_until=in_days(2))
    with pytest.raises(ObjectExists):   # even where nothing protects it
        store.put("records/7/x.pdf", b"forged", retain_until=None)
    assert store.get("records/7/x.pdf") == PDF
    assert store.head("records/7/x.pdf") == first


def test_legal_hold(store):
    store.put("h.pdf", PDF, retain_until=None)
    assert store.head("h.pdf").legal_hold is False

    store.set_legal_hold("h.pdf", True)
    assert store.head("h.pdf").legal_hold is True
    with pytest.raises(ObjectLocked):
        store.delete("h.pdf")
    assert store.get("h.pdf") == PDF

    store.set_legal_hold("h.pdf", False)
    assert store.head("h.pdf").legal_hold is False
    store.delete("h.pdf")   # no retention, no hold: allowed
    with pytest.raises(ObjectMissing):
        store.head("h.pdf")
    assert list(store.list()) == []
    store.put("h.pdf", b"new", retain_until=None)   # a deleted key can be used again
    assert store.get("h.pdf") == b"new"


def test_legal_hold_at_write(store):
    obj = store.put("hw.pdf", PDF, retain_until=None, legal_hold=True)
    assert obj.legal_hold is True
    with pytest.raises(ObjectLocked):
        store.delete("hw.pdf")


def test_delete_refused_under_retention(store):
    store.put("r.pdf", PDF, retain_until=in_days(2))
    with pytest.raises(ObjectLocked):
        store.delete("r.pdf")
    store.set_legal_hold("r.pdf", True)   # hold and retention together
    store.set_legal_hold("r.pdf", False)  # releasing the hold leaves the retention
    with pytest.raises(ObjectLocked):
        store.delete("r.pdf")
    assert store.get("r.pdf") == PDF
    assert store.head("r.pdf").retain_until == in_days(2)


@pytest.mark.parametrize("key", ["", "/abs.pdf", "../up.pdf", "a/../b", "a/./b", "a//b", "a/", ".hidden",
                                 "a/.meta/x", "records/1/ä.pdf", "sp ace", "back\\slash", "x" * 1025])
def test_bad_keys(store, key):
    with pytest.raises(ValueError):
        store.put(key, PDF, retain_until=None)
    with pytest.raises(ValueError):
        store.get(key)
    with pytest.raises(ValueError):
        store.delete(key)


def test_bad_arguments(store):
    with pytest.raises(ValueError):
        store.put("p.pdf", PDF, retain_until=today())            # must be in the future
    with pytest.raises(TypeError):
        store.put("p.pdf", PDF, retain_until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    with pytest.raises(ValueError):
        store.put("p.pdf", PDF, retain_until=None, metadata={"sha256": "0" * 64})   # reserved
    with pytest.raises(ValueError):
        store.put("p.pdf", PDF, retain_until=None, metadata={"Bad Key": "x"})
    with pytest.raises(ObjectMissing):   # nothing was written
        store.head("p.pdf")


def test_ping(store):
    store.ping()
    store.ping()


# ---- keys, URLs, the Flask glue --------------------------------------------------------------------------

def test_object_key():
    sha = hashlib.sha256(PDF).hexdigest()
    assert object_key(42, sha) == f"records/42/{sha}.pdf"
    assert object_key("a-1", sha, suffix=".json") == f"records/a-1/{sha}.json"
    for bad in [("../1", sha), (1, sha.upper()), (1, sha[:10]), ("", sha)]:
        with pytest.raises(ValueError):
            object_key(*bad)


def test_urls_pick_backend_without_io(tmp_path):
    port = free_ports(1)[0]
    s3 = storage_from_url(f"s3://AK%2Fx:p%40ss%3Aw0rd@127.0.0.1:{port}/my-bucket?secure=0&region=ru-central-1")
    assert isinstance(s3, S3ArchiveStorage)   # built instantly although nothing listens on the port
    assert (s3.endpoint, s3.bucket, s3.secure) == (f"127.0.0.1:{port}", "my-bucket", False)
    assert s3.client._provider.retrieve().secret_key == "p@ss:w0rd"   # percent-decoded
    assert "p@ss" not in repr(s3) and "w0rd" not in repr(s3)
    assert storage_from_url("s3://a:b@s3.example.org/bkt").secure is True
    assert storage_from_url("s3://a:b@s3.example.org/bkt/").prefix == ""
    assert storage_from_url("s3://a:b@s3.example.org/bkt/prod/archive/").prefix == "prod/archive/"

    local = storage_from_url(f"file://{tmp_path}/a%20b")
    assert isinstance(local, LocalArchiveStorage) and local.root == tmp_path / "a b"
    assert not local.root.exists()   # created on first write, not on construction

    for bad in ["ftp://x/y", "s3://host:1/bkt", "s3://a:b@host:1/", "s3://a:b@host:1/bkt/../x",
                "s3://a:b@host:1/bkt?secure=0&typo=1", "s3://a:b@host:1/B_ad", "file://host/x", "file:relative"]:
        with pytest.raises(ValueError) as exc:
            storage_from_url(bad)
        assert "b@" not in str(exc.value)


def test_flask_glue(tmp_path):
    app = Flask("t")
    app.config["ARCHIVE_URL"] = f"file://{tmp_path}/arch"
    archive.init_app(app)
    assert "archive" not in app.extensions and not (tmp_path / "arch").exists()   # nothing built, no I/O
    s = st.get_storage(app)
    assert s is st.get_storage(app) is app.extensions["archive"]
    with app.app_context():
        assert st.get_storage() is s
        st.current_storage.put("x", b"1", retain_until=None)
    assert s.get("x") == b"1"

    bad = Flask("t")
    bad.config["ARCHIVE_URL"] = "ftp://x/y"
    with pytest.raises(ValueError):
        archive.init_app(bad)
    unset = Flask("t")
    unset.config["ARCHIVE_URL"] = None
    archive.init_app(unset)   # the embedded server's URL may come later
    with pytest.raises(RuntimeError):
        st.get_storage(unset)


# ---- local backend only ----------------------------------------------------------------------------------

def test_local_layout_and_expiry(tmp_path):
    store = LocalArchiveStorage(tmp_path)
    obj = store.put("records/1/a.pdf", PDF, retain_until=in_days(2))
    assert (tmp_path / "records/1/a.pdf").read_bytes() == PDF
    sidecar = json.loads((tmp_path / ".meta/records/1/a.pdf.json").read_text())
    assert sidecar["sha256"] == obj.sha256 and sidecar["retain_until"] == in_days(2).isoformat()
    assert list((tmp_path / ".tmp").iterdir()) == []   # no leftovers
    with pytest.raises(ObjectLocked):
        store.delete("records/1/a.pdf")
    # the day before the retention date it is still locked, from that day on it may go
    with mock.patch.object(st, "_utc_today", return_value=in_days(1)):
        with pytest.raises(ObjectLocked):
            store.delete("records/1/a.pdf")
    with mock.patch.object(st, "_utc_today", return_value=in_days(2)):
        store.delete("records/1/a.pdf")
    assert not (tmp_path / "records").exists() and not (tmp_path / ".meta/records").exists()


def test_local_failed_write_leaves_nothing(tmp_path):
    class Broken(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, b):
            raise OSError("client went away")

    store = LocalArchiveStorage(tmp_path)
    with pytest.raises(OSError):
        store.put("a.pdf", Broken(), retain_until=None)
    with pytest.raises(ObjectMissing):
        store.head("a.pdf")
    assert list((tmp_path / ".tmp").iterdir()) == []


# ---- S3 only: the server enforces WORM -------------------------------------------------------------------

def test_s3_server_refuses_version_delete_under_retention(s3, servers):
    obj = s3.put("records/1/a.pdf", PDF, retain_until=in_days(2))
    raw = raw_client(servers)
    with pytest.raises(S3Error) as exc:
        raw.remove_object(s3.bucket, s3.prefix + "records/1/a.pdf", version_id=obj.version_id)
    assert exc.value.code == "AccessDenied"
    # A delete without a version id "succeeds" but only adds a delete marker: the bytes stay.
    raw.remove_object(s3.bucket, s3.prefix + "records/1/a.pdf")
    with pytest.raises(ObjectMissing):
        s3.head("records/1/a.pdf")
    assert s3.get("records/1/a.pdf", version_id=obj.version_id) == PDF
    with pytest.raises(ObjectLocked):   # our delete removes versions by id, so the server decides
        s3.delete("records/1/a.pdf")
    assert s3.get("records/1/a.pdf", version_id=obj.version_id) == PDF


def test_s3_server_refuses_version_delete_under_legal_hold(s3, servers):
    obj = s3.put("h.pdf", PDF, retain_until=None)
    s3.set_legal_hold("h.pdf", True)
    with pytest.raises(S3Error) as exc:
        raw_client(servers).remove_object(s3.bucket, s3.prefix + "h.pdf", version_id=obj.version_id)
    assert exc.value.code == "AccessDenied"


def test_s3_overwrite_makes_a_new_version_and_keeps_the_original(s3, servers):
    obj = s3.put("records/1/a.pdf", PDF, retain_until=in_days(2))
    raw = raw_client(servers)
    forged = b"%PDF-1.7 forged"
    new = raw.put_object(s3.bucket, s3.prefix + "records/1/a.pdf", io.BytesIO(forged), len(forged))
    assert new.version_id != obj.version_id
    assert s3.get("records/1/a.pdf") == forged   # the raw write is visible as the latest version ...
    resp = raw.get_object(s3.bucket, s3.prefix + "records/1/a.pdf", version_id=obj.version_id)
    try:
        assert resp.read() == PDF                 # ... but the original is there, byte-identical
    finally:
        resp.close()
        resp.release_conn()
    assert s3.get("records/1/a.pdf", version_id=obj.version_id) == PDF
    assert s3.head("records/1/a.pdf", version_id=obj.version_id).sha256 == hashlib.sha256(PDF).hexdigest()
    with pytest.raises(ObjectLocked):   # and disposal cannot remove it while it is retained
        s3.delete("records/1/a.pdf")
    assert s3.get("records/1/a.pdf", version_id=obj.version_id) == PDF


def test_s3_compliance_retention_cannot_be_shortened(s3, servers):
    obj = s3.put("r.pdf", PDF, retain_until=in_days(3))
    raw = raw_client(servers)
    until = dt.datetime.combine(in_days(3), dt.time(), dt.timezone.utc)
    for weaker in (Retention(COMPLIANCE, until - dt.timedelta(days=1)), Retention(GOVERNANCE, until)):
        with pytest.raises(S3Error) as exc:
            raw.set_object_retention(s3.bucket, s3.prefix + "r.pdf", weaker, version_id=obj.version_id)
        assert exc.value.code == "AccessDenied"
    raw.set_object_retention(s3.bucket, s3.prefix + "r.pdf", Retention(COMPLIANCE, until + dt.timedelta(days=1)),
                             version_id=obj.version_id)   # extending is allowed
    assert s3.head("r.pdf").retain_until == in_days(4)


def test_s3_bucket_is_created_with_object_lock(servers):
    s3 = storage_from_url(s3_url(servers, new_bucket()))
    raw = raw_client(servers)
    assert not raw.bucket_exists(s3.bucket)   # nothing happens before first use
    s3.ping()
    assert raw.bucket_exists(s3.bucket)
    assert raw.get_bucket_versioning(s3.bucket).status == "Enabled"
    raw.get_object_lock_config(s3.bucket)   # raises on a bucket without Object Lock
    storage_from_url(s3_url(servers, s3.bucket)).ping()   # an existing Object Lock bucket is accepted


def test_s3_prefix_is_invisible_to_callers(s3, servers):
    assert s3.prefix.startswith("t-") and s3.prefix.endswith("/")
    s3.put("records/1/a.pdf", PDF, retain_until=None)
    assert list(s3.list()) == ["records/1/a.pdf"]
    assert s3.head("records/1/a.pdf").key == "records/1/a.pdf"
    names = [o.object_name for o in raw_client(servers).list_objects(s3.bucket, prefix=s3.prefix, recursive=True)]
    assert names == [s3.prefix + "records/1/a.pdf"]


def test_s3_bucket_without_object_lock_is_refused(servers):
    bucket = new_bucket()
    raw_client(servers).make_bucket(bucket)
    store = storage_from_url(s3_url(servers, bucket))
    with pytest.raises(StorageError, match="without Object Lock") as exc:
        store.ping()
    assert not isinstance(exc.value, StorageUnavailable)
    with pytest.raises(StorageError, match="without Object Lock"):
        store.put("a.pdf", PDF, retain_until=in_days(2))


def test_s3_unreachable_fails_fast():
    port = free_ports(1)[0]   # nothing listens there
    store = storage_from_url(f"s3://{S3_KEY}:{S3_SECRET}@127.0.0.1:{port}/{new_bucket()}?secure=0")
    for call in (store.ping, lambda: store.put("a.pdf", PDF, retain_until=in_days(2)), lambda: store.get("a.pdf")):
        start = time.monotonic()
        with pytest.raises(StorageUnavailable) as exc:
            call()
        assert time.monotonic() - start < 5
        assert isinstance(exc.value, ConnectionError)
        assert S3_SECRET not in str(exc.value)


def test_s3_wrong_secret_is_not_retryable(servers):
    store = storage_from_url(s3_url(servers, new_bucket()).replace(S3_SECRET, "wrong-secret"))
    with pytest.raises(StorageError) as exc:
        store.ping()
    assert not isinstance(exc.value, StorageUnavailable)
