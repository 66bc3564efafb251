"""Fixity on the real SeaweedFS: an object changed or removed through the storage's own S3 API (the
raw client, with the storage's credentials: a new version under the same key, a delete marker) is
found by the fixity job and by `flask archive fixity`, and shown to archivists."""
import io

from minio import Minio

from archive import fixity
from archive.models import RecordStatus
from core import db
from core.db import session
from core.storage import get_storage
from tests.conftest import S3_KEY, S3_SECRET


def _archived(tree, sign_sheet, run_jobs, *names):
    from archive.services import record_for
    sheets = [sign_sheet(tree["a"], n) for n in names]
    db.commit()
    run_jobs()
    records = [record_for("summary_sheet", s.id) for s in sheets]
    assert all(r.status is RecordStatus.archived for r in records)
    return records


def test_fixity_finds_a_changed_and_a_missing_object(app, servers, tree, people, sign_sheet, run_jobs, client,
                                                    logged_in):
    ok, changed, missing = _archived(tree, sign_sheet, run_jobs, "5А", "5Б", "5В")
    storage = get_storage()
    raw = Minio(servers["s3_endpoint"], access_key=S3_KEY, secret_key=S3_SECRET, secure=False)
    forged = b"%PDF-1.7\n% not the signed sheet\n%%EOF\n"
    raw.put_object(storage.bucket, storage.prefix + changed.key, io.BytesIO(forged), len(forged))
    raw.remove_object(storage.bucket, storage.prefix + missing.manifest_key)     # a delete marker hides it
    run = fixity.run(record_ids=[ok.id, changed.id, missing.id], trigger="test")
    assert (run.checked, run.ok, run.changed, run.missing) == (3, 1, 1, 1)
    assert ok.fixity_ok is True
    assert changed.fixity_ok is False and "не совпадает" in changed.fixity_message
    assert "исходная версия объекта цела" in changed.fixity_message     # the locked original survives
    assert missing.fixity_ok is False and "отсутствует" in missing.fixity_message
    assert {(p["record_id"], p["problem"]) for p in run.problems} == {(changed.id, "changed"), (missing.id, "missing")}
    # archivists see it: on the status page, and in their inbox — those whose organisations hold the
    # records (region), not the archivist of another municipality; once, not again on the next run
    from assignments.notifications import inbox
    (note,) = [n for n in inbox(people.archivist.id) if n.kind == "archive.fixity"]
    assert "нарушена у 2 архивных записей" in note.text and f"№ {changed.id}" in note.text
    assert note.url == "/archive/status"
    assert not [n for n in inbox(people.archivist_m2.id) if n.kind == "archive.fixity"]
    assert not [n for n in inbox(people.director.id) if n.kind == "archive.fixity"]
    fixity.run(record_ids=[changed.id, missing.id], trigger="test")
    assert len([n for n in inbox(people.archivist.id) if n.kind == "archive.fixity"]) == 1
    logged_in(people.archivist)
    page = client.get("/archive/status").get_data(as_text=True)
    assert f">{changed.id}</a>" in page and f">{missing.id}</a>" in page and "Нарушения целостности" in page
    assert 'id="inbox-link">Уведомления <span class="tag">1</span>' in page
    inbox_page = client.get("/assignments/inbox").get_data(as_text=True)
    assert "нарушена у 2 архивных записей" in inbox_page and 'href="/archive/status"' in inbox_page
    # a changed object is not handed out as the archive copy
    from tests.helpers import csrf_token
    resp = client.post(f"/archive/records/{changed.id}/download",
                       data={"csrf_token": csrf_token(client, "/archive"), "purpose": "запрос суда"})
    assert resp.status_code == 409 and "не совпадает с контрольной суммой" in resp.get_data(as_text=True)


def test_fixity_cli_prints_a_summary_and_fails_on_problems(app, servers, tree, people, sign_sheet, run_jobs):
    (record,) = _archived(tree, sign_sheet, run_jobs, "6А")
    runner = app.test_cli_runner()
    # everything archived is checked, the longest unchecked first
    out = runner.invoke(args=["archive", "fixity"])
    assert out.exit_code == 0, out.output
    assert "изменено: 0; отсутствует: 0" in out.output
    storage = get_storage()
    raw = Minio(servers["s3_endpoint"], access_key=S3_KEY, secret_key=S3_SECRET, secure=False)
    raw.remove_object(storage.bucket, storage.prefix + record.key)
    session.expire_all()
    out = runner.invoke(args=["archive", "fixity"])
    assert out.exit_code == 1, out.output
    assert "отсутствует: 1" in out.output and f"запись № {record.id}" in out.output
    from assignments.notifications import inbox
    (note,) = [n for n in inbox(people.archivist.id) if n.kind == "archive.fixity"]
    assert f"записи № {record.id}" in note.text and "отсутствует" in note.text
    assert note.url == f"/archive/records/{record.id}"


def test_scheduled_fixity_takes_the_longest_unchecked_first(app, tree, people, sign_sheet, run_jobs):
    a, b = _archived(tree, sign_sheet, run_jobs, "4А", "4Б")
    fixity.run(record_ids=[a.id], trigger="test")
    from archive.tasks import fixity_batch
    before = a.last_fixity_at
    result = fixity_batch(limit=1)
    assert result["checked"] == 1
    assert b.last_fixity_at is not None and a.last_fixity_at == before


def test_the_periodic_jobs_are_scheduled_once_and_reschedule_themselves(app, db, redis_conn):
    import datetime as dt

    from archive import tasks
    from core.jobs import queue
    now = dt.datetime(2026, 11, 25, 10, 7, tzinfo=dt.timezone.utc)
    ids = tasks.schedule(app, now=now)
    assert ids == ["archive-fixity-202611251100", "archive-renew-202611260000", "archive-sweep-202611251015",
                   "archive-anchor-202611251015", "archive-evidence-202611260000"]
    assert tasks.schedule(app, now=now) == ids                     # idempotent: a second worker adds nothing
    registry = queue("archive").scheduled_job_registry
    assert sorted(registry.get_job_ids()) == sorted(ids)
    tasks.periodic("sweep")                                        # runs, then puts the next slot in place
    assert len(registry.get_job_ids()) == 6
