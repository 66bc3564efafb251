"""B-LTA renewal: before the archive timestamp's certificate expires, a new document timestamp is
added over the stored object and written as a new object version; the old one is never removed."""
import hashlib

from archive import fixity
from archive.models import RecordStatus
from core import db
from core.db import session
from core.storage import get_storage


def test_renewal_adds_a_timestamp_as_a_new_version_and_keeps_the_old(app, tree, people, sign_sheet, run_jobs, tsa):
    from archive.services import record_for
    from archive.tasks import due_for_renewal, renew_due
    from archive.verify import verify_bytes
    sheet = sign_sheet(tree["a"], "10Б")
    db.commit()
    run_jobs()
    record = record_for("summary_sheet", sheet.id)
    assert record.status is RecordStatus.archived
    first_key, first_sha = record.key, record.sha256
    assert record not in due_for_renewal()                   # the TSA certificate runs to 2040
    app.config["ARCHIVE_LTA_RENEW_DAYS"] = 365 * 30          # "fifteen years later"
    try:
        assert record in due_for_renewal()
        result = renew_due()
    finally:
        app.config["ARCHIVE_LTA_RENEW_DAYS"] = 365
    assert result["renewed"] >= 1 and result["failed"] == 0, result
    session.refresh(record)
    assert [v.number for v in record.versions] == [1, 2] and record.versions[1].reason == "lta_renewal"
    assert record.key != first_key and record.versions[0].key == first_key
    storage = get_storage()
    old, new = storage.get(first_key), storage.get(record.key)
    assert hashlib.sha256(old).hexdigest() == first_sha          # untouched
    assert new.startswith(old)                                   # the new timestamp is an incremental update
    v = verify_bytes(new)
    assert v.ok, v.lines_ru()
    assert [s.kind for s in v.signatures].count("archive_timestamp") == 2
    assert verify_bytes(old).ok                                  # the earlier version still verifies too
    check = fixity.check_record(record)
    assert check.ok and check.objects == 4                       # two PDFs, two manifests
    assert f"records/{record.id}/" in record.manifest_key and record.manifest["previous"]["sha256"] == first_sha


def test_a_renewal_the_restored_database_does_not_know_comes_back_from_its_manifest(app, tree, people, sign_sheet,
                                                                                    run_jobs, tsa):
    """A database restored from a dump taken before a renewal: the record still points at version 1;
    `reconcile.rebuild` finds version 2's manifest in the bucket and makes it the newest version again."""
    import json

    from archive import reconcile
    from archive.models import RecordVersion
    from archive.services import record_for
    from archive.tasks import renew_due
    sheet = sign_sheet(tree["a"], "10В")
    db.commit()
    run_jobs()
    record = record_for("summary_sheet", sheet.id)
    app.config["ARCHIVE_LTA_RENEW_DAYS"] = 365 * 30
    try:
        assert renew_due()["renewed"] >= 1
    finally:
        app.config["ARCHIVE_LTA_RENEW_DAYS"] = 365
    session.refresh(record)
    v1, v2 = record.versions
    renewed = {"key": record.key, "sha256": record.sha256, "manifest_key": record.manifest_key}
    # what the dump had: version 1 only
    storage = get_storage()
    session.delete(v2)
    record.key, record.sha256, record.size, record.version_id = v1.key, v1.sha256, v1.size, v1.version_id
    record.manifest_key, record.manifest_sha256 = v1.manifest_key, v1.manifest_sha256
    record.manifest = json.loads(storage.get(v1.manifest_key))
    record.timestamp_at, record.timestamp_expires_at = v1.timestamp_at, v1.timestamp_expires_at
    session.flush()
    assert {k for k in reconcile.compare().orphans if k.startswith(f"records/{record.id}/")} == {
        renewed["key"], renewed["manifest_key"]}

    done = reconcile.rebuild({record.id})
    assert done.records == [] and done.versions == [(record.id, 2)] and done.problems == []
    session.expire_all()
    record = record_for("summary_sheet", sheet.id)
    assert [v.number for v in record.versions] == [1, 2] and record.versions[1].reason == "lta_renewal"
    assert {"key": record.key, "sha256": record.sha256, "manifest_key": record.manifest_key} == renewed
    assert not [k for k in reconcile.compare().orphans if k.startswith(f"records/{record.id}/")]
    check = fixity.check_record(record)
    assert check.ok and check.objects == 4
    assert reconcile.rebuild({record.id}).versions == []             # once
    assert session.query(RecordVersion).filter_by(record_id=record.id).count() == 2
