"""PostgreSQL restarted while schools submit their reports: a submission the client was told
succeeded is in the database, one that failed got an error and succeeds on retry (or is found
already submitted, when only the answer was lost), and no report is recorded twice."""
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from tests.faults.conftest import wait_for

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"


def test_db_restart_during_submissions(stack):
    import datetime as dt

    from assignments import services as svc
    from assignments.models import Occurrence, OccurrenceEvent, OccurrenceKind, OccurrenceStatus
    from core import db
    from core.db import session
    from ordinances import services as ordsvc
    from ordinances.models.ordinances import OrdinanceStatus
    from ordinances.parsing.parser import parse_file
    from orgs import accounts as auth
    from orgs.models.organisations import Organisation, OrgKind
    from orgs.models.users import Role
    from orgs.services import create_org
    with stack.app.app_context():
        mun = session.get(Organisation, stack.mun_id)
        region = session.get(Organisation, mun.parent_id)
        official = auth.create_user("faults-region", "Петров Пётр Петрович", "faults-pass-x1")
        auth.grant(official, Role.regional_official, region)
        director = auth.create_user("faults-dir", "Сафин Ринат Ильдарович", "faults-pass-x1")
        schools = [create_org(kind=OrgKind.school, code=f"FD{i}", parent=mun, name=f"Школа сдачи № {i}",
                              audited=False) for i in range(12)]
        o = ordsvc.create_from_parsed(parse_file(next(SEEDS.glob("001_*.txt"))), issuer=region, actor=official)
        ordsvc.set_status(o, OrdinanceStatus.in_force, actor=official)
        item = next(i for i in o.plan.items if i.number == "2.5")
        a = svc.create_assignment(item, region, schools, actor=official, rule="quarterly",
                                  horizon=(dt.date(2010, 9, 1), dt.date(2011, 8, 31)), notify=False)
        db.commit()
        occ_ids = list(session.scalars(select(Occurrence.id).where(
            Occurrence.assignment_id == a.id, Occurrence.kind != OccurrenceKind.appointment).order_by(Occurrence.id)))
        director_id = director.id
        session.remove()
    assert len(occ_ids) == 36

    ok, errors, already = [], [], []

    def client():
        """A school's browser: submit each report, retry after an error until it is accepted."""
        from orgs.models.users import User
        for occ_id in occ_ids:
            for _attempt in range(200):
                with stack.app.app_context():
                    try:
                        occ = svc.lock(occ_id)
                        svc.submit(occ, actor=session.get(User, director_id), text=f"Отчёт {occ_id}")
                        db.commit()
                        ok.append(occ_id)
                        break
                    except svc.AssignmentError:     # committed before, only the answer was lost
                        db.rollback()
                        already.append(occ_id)
                        break
                    except Exception as exc:        # noqa: BLE001 - the database is away: an error, retry
                        db.rollback()
                        errors.append(type(exc).__name__)
                        time.sleep(0.1)
                    finally:
                        session.remove()
                time.sleep(0.02)

    threads = [threading.Thread(target=client, daemon=True)]
    threads[0].start()
    wait_for(lambda: len(ok) >= 5, 30, "the first submissions")
    stack.stop("pg")
    time.sleep(2)
    stack.start("pg")
    threads[0].join(120)
    assert not threads[0].is_alive()
    assert errors, "the restart should have been seen by the client"
    assert sorted(ok + already) == sorted(occ_ids)

    def check(s):
        statuses = set(s.scalars(select(Occurrence.status).where(Occurrence.id.in_(occ_ids))))
        events = dict(s.execute(select(OccurrenceEvent.occurrence_id, func.count()).where(
            OccurrenceEvent.occurrence_id.in_(occ_ids), OccurrenceEvent.kind == "submit")
            .group_by(OccurrenceEvent.occurrence_id)).all())
        return statuses, events
    statuses, events = stack.query(check)
    assert statuses == {OccurrenceStatus.submitted}
    assert events == {i: 1 for i in occ_ids}     # none lost, none twice
