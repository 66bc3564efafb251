"""B-LTA renewal: before the archive timestamp's certificate expires, a new document timestamp is
added over the stored object and written as a new object version; the old one is never removed."""
import hashlib

from app import db
from app.db import session
from archive import fixity, get_storage
from archive.models import RecordStatus


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
