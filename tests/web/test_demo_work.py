"""`flask demo-data`: the demo region at work, made by the service's own code; each demo login finds something
to do on its home page (issue 19)."""
from sqlalchemy import func, select

from assignments.models import Occurrence
from assignments.models import OccurrenceStatus as S
from core.db import session
from orgs.models.users import User
from tests.helpers import csrf_token
from web.demo import DEMO_PASSWORD, make_demo
from web.demo_work import populate
from web.work import work_for


def test_the_demo_region_is_at_work_and_every_login_has_something_to_do(app, db, client, tmp_path, monkeypatch,
                                                                       run_jobs):
    from web.demo import make_demo_pki
    make_demo(schools=30)
    make_demo_pki(tmp_path / "demo-pki")
    monkeypatch.setitem(app.config, "TRUST_ROOTS", str(tmp_path / "demo-pki" / "ca.pem"))
    populate(keys=tmp_path / "demo-pki")
    statuses = dict(session.execute(select(Occurrence.status, func.count()).group_by(Occurrence.status)).all())
    assert statuses.get(S.accepted) and statuses.get(S.returned) and statuses.get(S.submitted)
    accepted = dict(session.execute(select(Occurrence.late, func.count()).where(Occurrence.status == S.accepted)
                                    .group_by(Occurrence.late)).all())
    assert accepted.get(False) and accepted.get(True)                      # some in time, some late
    from transitions.models import Campaign, MunicipalReply
    (c,) = session.scalars(select(Campaign)).all()
    replies = [r for r in session.scalars(select(MunicipalReply).where(MunicipalReply.campaign_id == c.id))
               if r.submitted_at]
    assert sorted(r.submitted_at.date() <= c.reply_deadline for r in replies) == [False, True]   # third: missing
    from transitions.models import ReadinessStatement, StatementKind
    assert [st.kind for st in session.scalars(select(ReadinessStatement))] == [StatementKind.confirm] * 2
    from sheets.models import SheetStatus, SummarySheet
    states = {(s.class_name, s.version): s.status for s in session.scalars(select(SummarySheet))}
    assert states == {("5А", 1): SheetStatus.teacher_signed, ("7Б", 1): SheetStatus.superseded,
                      ("7Б", 2): SheetStatus.rendered, ("9В", 1): SheetStatus.rendered}
    import pades
    signed = session.scalars(select(SummarySheet).where(SummarySheet.class_name == "7Б",
                                                        SummarySheet.version == 1)).one()
    from asn1crypto import pem
    ca = pem.unarmor((tmp_path / "demo-pki" / "ca.pem").read_bytes())[2]
    reports = pades.validate(signed.pdf, [ca])
    assert len(reports) == 2 and all(r.intact and r.valid and r.trusted for r in reports)     # teacher, director
    changed = bytearray(signed.pdf)
    changed[len(changed) // 3] ^= 1
    from archive.models import ArchiveRecord, RecordStatus
    from core import db as dbm
    dbm.commit()
    run_jobs()                                                 # the worker of `serve` archives the signed one
    (record,) = session.scalars(select(ArchiveRecord).where(ArchiveRecord.source_type == "summary_sheet",
                                                            ArchiveRecord.source_id == signed.id)).all()
    session.refresh(record)
    assert record.status is RecordStatus.archived, record.last_error
    try:
        broken = pades.validate(bytes(changed), [ca], require_ours=False)
        assert not all(r.intact and r.valid for r in broken)
    except (pades.SigningError, ValueError, OSError):
        pass                                                                  # a damaged file: refused outright
    from assignments.notifications import unread_count
    for login in ("teacher", "director", "mouo", "region", "archivist", "admin", "metod"):
        user = session.scalars(select(User).where(User.login == login)).one()
        assert unread_count(user.id), f"{login}: nothing in the inbox"
    with app.test_request_context():
        for login in ("teacher", "director", "mouo", "region", "archivist", "metod"):
            user = session.scalars(select(User).where(User.login == login)).one()
            assert [it for s in work_for(user) for it in s.items], login                 # something to do
    user = session.scalars(select(User).where(User.login == "director")).one()
    user.must_change_password = False
    client.post("/login", data={"login": "director", "password": DEMO_PASSWORD,
                                "csrf_token": csrf_token(client, "/login")})
    page = client.get("/").get_data(as_text=True)
    assert 'class="work-item' in page and "Переход на безбумажные журналы" in page
