"""Disposal: a held record cannot be disposed of; an act is drafted, signed, archived itself, and only
then are its records deleted; the act remains. On S3 the server still refuses to delete anything
under retention, whatever the database says."""
import datetime as dt
import io
import json

import pytest

from archive.models import DisposalAct, DisposalStatus, RecordKind, RecordStatus
from archive.services import ArchiveError, place_hold, record_for
from core import db
from core.db import session
from core.storage import ObjectMissing, get_storage
from tests.archive.conftest import signer
from tests.helpers import csrf_token
from tests.sheets import pki as test_pki

YESTERDAY = dt.date.today() - dt.timedelta(days=1)


def _archive(tree, sign_sheet, run_jobs, *names):
    sheets = [sign_sheet(tree["a"], n) for n in names]
    db.commit()
    run_jobs()
    records = [record_for("summary_sheet", s.id) for s in sheets]
    assert all(r.status is RecordStatus.archived for r in records)
    return sheets, records


def _age(record, storage):
    """Retention has passed: in the database and in the store's own metadata."""
    record.retention_until = YESTERDAY
    for key in [v.key for v in record.versions] + [record.manifest_key]:
        path = storage._meta_path(key)
        meta = json.loads(path.read_text())
        meta["retain_until"] = YESTERDAY.isoformat()
        path.write_text(json.dumps(meta))
    db.commit()


def test_a_held_record_cannot_be_disposed_of(tree, people, pki, sign_sheet, run_jobs, local_storage):
    from archive import disposal
    _, (held, free) = _archive(tree, sign_sheet, run_jobs, "5А", "5Б")
    _age(held, local_storage)
    _age(free, local_storage)
    place_hold(held, "Запрос суда", actor=people.archivist)
    eligible = session.scalars(disposal.eligible_statement(people.archivist)).all()
    assert free in eligible and held not in eligible
    with pytest.raises(ArchiveError, match="запрет на уничтожение"):
        disposal.draft([held, free], "истёк срок", actor=people.archivist, organisation=tree["region"])
    act = disposal.draft([free], "истёк срок", actor=people.archivist, organisation=tree["region"])
    # a hold placed after the act was drafted stops the signing
    place_hold(free, "Новый запрос", actor=people.archivist)
    with pytest.raises(ArchiveError, match="Составьте новый акт"):
        disposal.sign(act, signer(pki, "director"), actor=people.archivist)
    # and the storage itself refuses while the hold is set
    from core.storage import ObjectLocked
    with pytest.raises(ObjectLocked):
        local_storage.delete(free.key)


def test_an_act_is_signed_archived_and_only_then_are_the_records_deleted(
        app, client, logged_in, tree, people, pki, sign_sheet, run_jobs, local_storage):
    sheets, (r1, r2, r3) = _archive(tree, sign_sheet, run_jobs, "6А", "6Б", "6В")
    for r in (r1, r2, r3):
        _age(r, local_storage)
    logged_in(people.archivist)
    page = client.get("/archive/disposal").get_data(as_text=True)
    assert all(f'value="{r.id}"' in page for r in (r1, r2, r3))
    resp = client.post("/archive/disposal", data={"csrf_token": csrf_token(client, "/archive/disposal"),
                                                  "record_id": [r1.id, r2.id, r3.id],
                                                  "basis": "Истечение сроков хранения"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    act = session.query(DisposalAct).one()
    assert act.status is DisposalStatus.draft and len(act.items) == 3
    # nothing is deleted by a draft
    assert local_storage.get(r1.key)
    resp = client.post(f"/archive/disposal/{act.id}/sign", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client, f"/archive/disposal/{act.id}"),
                             "passphrase": "не тот", "key": (io.BytesIO(pki.pkcs12("director")), "k.p12")})
    assert resp.status_code == 303 and act.status is DisposalStatus.draft
    resp = client.post(f"/archive/disposal/{act.id}/sign", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client, f"/archive/disposal/{act.id}"),
                             "passphrase": test_pki.PASSPHRASE, "key": (io.BytesIO(pki.pkcs12("director")), "k.p12")})
    assert resp.status_code == 302
    session.refresh(act)
    assert act.status is DisposalStatus.signed and act.record.status is RecordStatus.pending
    assert local_storage.get(r1.key)                       # signed, not yet archived: nothing deleted
    place_hold(r3, "Запрос архивного отдела", actor=people.archivist)   # after signing: r3 is kept
    db.commit()
    run_jobs()                                             # the act is archived, then executed
    session.expire_all()
    act = session.get(DisposalAct, act.id)
    assert act.status is DisposalStatus.executed and act.record.status is RecordStatus.archived
    assert act.record.kind is RecordKind.disposal_act
    assert local_storage.get(act.record.key) == act.pdf     # the act remains, archived
    outcomes = {i.record_id: i.outcome for i in act.items}
    assert outcomes == {r1.id: "disposed", r2.id: "disposed", r3.id: "kept"}
    for r in (r1, r2):
        r = session.get(type(r), r.id)
        assert r.status is RecordStatus.disposed and r.disposed_at
        for key in (r.key, r.manifest_key):
            with pytest.raises(ObjectMissing):
                local_storage.get(key)
    assert session.get(type(r3), r3.id).status is RecordStatus.archived and local_storage.get(r3.key)
    # the personal data went with the objects: the surname index and the sheet's working copy
    from sqlalchemy import text
    assert session.execute(text("SELECT search FROM archive_records WHERE id = :i"), {"i": r1.id}).scalar() is None
    session.refresh(sheets[0])
    assert sheets[0].pdf is None and sheets[0].marks is None
    # the record pages say what happened
    page = client.get(f"/archive/records/{r1.id}").get_data(as_text=True)
    assert "Уничтожен по акту" in page and f"акту № {act.number}" in page


def test_s3_refuses_to_delete_before_the_retention_date_even_if_the_database_says_it_is_due(
        tree, people, pki, sign_sheet, run_jobs):
    from archive import disposal
    _, (record,) = _archive(tree, sign_sheet, run_jobs, "7Д")
    record.retention_until = YESTERDAY                     # a wrong database (bug, bad restore, tampering)
    db.commit()
    act = disposal.draft([record], "истёк срок", actor=people.archivist, organisation=tree["region"])
    disposal.sign(act, signer(pki, "director"), actor=people.archivist)
    db.commit()
    run_jobs()
    session.expire_all()
    act = session.get(DisposalAct, act.id)
    (item,) = act.items
    assert act.status is DisposalStatus.executed and item.outcome == "kept"
    assert "хранилище отказало" in item.message
    record = session.get(type(record), record.id)
    assert record.status is RecordStatus.archived and get_storage().get(record.key)


def test_the_archivist_sets_retention_with_a_reason_and_permanent_records_are_never_disposed(
        client, logged_in, db, tree, make_user):
    """Orders are kept permanently by the list of standard archival documents; the archivist of the region
    changes the table, each change with its reason in the audit log; a permanent record never becomes
    eligible for a disposal act."""
    from archive import disposal
    from archive.models import PERMANENT_YEARS, RecordKind, RetentionRule
    from core.audit import AuditEntry
    from tests.helpers import csrf_token, form_fields
    archivist = make_user("archivist", tree["region"])
    logged_in(archivist)
    page = client.get("/archive/retention").get_data(as_text=True)
    fields = form_fields(page, "retention-form")
    assert fields.get("permanent-order") == "1" and fields["years-summary_sheet"] == "25"
    fields["years-readiness_statement"] = "10"
    resp = client.post("/archive/retention", data=fields)                     # no reason given
    assert resp.status_code == 400 and "укажите причину" in resp.get_data(as_text=True)
    assert db.get(RetentionRule, RecordKind.readiness_statement).years == 5
    fields["reason"] = "Письмо архивного отдела области от 01.12.2026 № 15"
    assert client.post("/archive/retention", data=fields).status_code == 302
    assert db.get(RetentionRule, RecordKind.readiness_statement).years == 10
    (entry,) = db.query(AuditEntry).filter_by(action="archive.retention").all()
    assert entry.summary["reason"] == fields["reason"] and entry.summary["after"]["years"] == 10
    # a permanent record past its (100-year) lock date is still not eligible
    from archive.models import ArchiveRecord
    record = ArchiveRecord(kind=RecordKind.order, status=RecordStatus.archived, source_type="ordinance_file",
                           title="Приказ № 271", organisation_id=tree["region"].id, org_path=tree["region"].path,
                           key="orders/271.pdf", sha256="ab" * 32, archived_at=dt.datetime.now(dt.timezone.utc),
                           retention_years=PERMANENT_YEARS, retention_until=YESTERDAY)
    db.add(record)
    db.flush()
    assert disposal.why_not(record) == "документ хранится постоянно"
    assert record.id not in {r.id for r in db.scalars(disposal.eligible_statement(archivist))}
    # a director may not change the table
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    logged_in(make_user("director", tree["a"]))
    assert client.get("/archive/retention").status_code == 403
