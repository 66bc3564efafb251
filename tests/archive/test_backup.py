"""Backup and restore (docs/archive.md): a database restored from a pg_dump, with the same bucket,
gives back every record, and the fixity check over all of them passes; what was written after the
dump is listed by `archive reconcile` and rebuilt from its manifest by `archive reconcile --rebuild`."""
import subprocess
import uuid
from types import SimpleNamespace

from sqlalchemy import String, func, select

from tests.archive.conftest import YEAR, class_marks, signer
from tests.conftest import s3_url
from tests.helpers import assign_teacher
from tests.sheets.pki import NAMES
from web import embedded


def _pg_bin(name: str) -> str:
    from web.embedded import pg_bin
    return str(pg_bin() / name)


def _new_app(servers, db_name: str, prefix: str, roots_pem):
    from web import create_app
    return create_app({"TESTING": True, "DATABASE_URL": embedded.create_database(servers["pg_url"], db_name),
                       "REDIS_URL": servers["redis_url"], "ARCHIVE_URL": s3_url(servers, f"jt-test-archive/{prefix}"),
                       "SECRET_KEY": "backup-test", "TRUST_ROOTS": str(roots_pem),
                       "PUBLIC_URL": "http://jt.test"})


def _migrate(url: str) -> None:
    from alembic import command

    from web.cli import alembic_config
    command.upgrade(alembic_config(url), "heads")


def _signed_sheet(school, name, people, pki):
    from sheets import services
    (sheet,) = services.import_classes(school, YEAR, {name: class_marks(name)}, actor=people.director)
    assign_teacher([sheet], people.teacher, people.director)
    services.render_pdf(sheet, actor=people.director)
    services.sign(sheet, "teacher", signer(pki, "teacher"), actor=people.teacher)
    services.sign(sheet, "director", signer(pki, "director"), actor=people.director)
    return sheet


def _archive_one(school, name, people, pki):
    from archive import ingest
    from core import db
    sheet = _signed_sheet(school, name, people, pki)
    db.commit()
    record = ingest.ingest_sheet(sheet.id)
    db.commit()
    return record.id


def _row(record_id: int) -> dict:
    """What a rebuilt record must have as the original had it (ids of organisations aside)."""
    from archive.models import ArchiveRecord
    from core.db import session
    r = session.get(ArchiveRecord, record_id)
    fields = ("kind", "status", "source_type", "source_id", "document_id", "title", "school_year", "class_name",
              "class_label", "signers", "key", "sha256", "size", "version_id", "source_sha256", "manifest_key",
              "manifest_sha256", "retention_years", "retention_until", "legal_hold", "timestamp_at")
    # the words, not their positions (pupils are listed in another order in the PDF's marks.json)
    texts = session.execute(select(func.cast(func.strip(ArchiveRecord.search), String),
                                   func.cast(func.strip(ArchiveRecord.signer_search), String))
                            .where(ArchiveRecord.id == record_id)).one()
    return {**{f: getattr(r, f) for f in fields}, "search": texts[0], "signer_search": texts[1],
            "versions": [(v.number, v.key, v.sha256) for v in r.versions]}


def test_restore_from_a_dump_plus_the_bucket_gives_back_every_record(servers, pki, roots_pem, redis_conn, tmp_path):
    from archive import fixity, reconcile
    from archive.models import ArchiveRecord, RecordStatus
    from core import db
    from core.db import session
    from orgs import accounts as auth
    from orgs import services as org_services
    from orgs.models.organisations import Organisation, OrgKind
    from orgs.models.users import Role
    tag = uuid.uuid4().hex[:8]
    src_name, dst_name = f"jt_backup_{tag}", f"jt_restored_{tag}"
    src = _new_app(servers, src_name, f"backup-{tag}", roots_pem)
    _migrate(src.config["DATABASE_URL"])
    with src.app_context():
        region = org_services.create_org(kind=OrgKind.region, code=f"B{tag}", name="Область (резервная копия)")
        mun = org_services.create_org(kind=OrgKind.municipality, code=f"B{tag}-M", parent=region, name="Район")
        school = org_services.create_org(kind=OrgKind.school, code=f"B{tag}-S", parent=mun, name="Школа № 1")
        people = SimpleNamespace(teacher=auth.create_user(f"t{tag}", NAMES["teacher"], "correct-horse-42"),
                                 director=auth.create_user(f"d{tag}", NAMES["director"], "correct-horse-42"))
        auth.grant(people.teacher, Role.class_teacher, school)
        auth.grant(people.director, Role.director, school)
        db.commit()
        before = [_archive_one(school, n, people, pki) for n in ("1А", "1Б")]
        session.remove()
    dump = tmp_path / "journals.dump"
    host, port = servers["pg_url"].split("@", 1)[1].split("/", 1)[0].split(":")
    subprocess.run([_pg_bin("pg_dump"), "-h", host, "-p", port, "-U", "postgres", "-Fc", "-f", str(dump), src_name],
                   check=True, capture_output=True)
    with src.app_context():                                  # written after the dump
        from orgs.services import by_code
        after = _archive_one(by_code(f"B{tag}-S"), "1В",
                             SimpleNamespace(teacher=session.scalar(select(auth.User).filter_by(login=f"t{tag}")),
                                             director=session.scalar(select(auth.User).filter_by(login=f"d{tag}"))),
                             pki)
        session.remove()
        original = _row(after)
        session.remove()
    src.extensions["db_engine"].dispose()

    dst = _new_app(servers, dst_name, f"backup-{tag}", roots_pem)       # an empty database, the same bucket
    subprocess.run([_pg_bin("pg_restore"), "-h", host, "-p", port, "-U", "postgres", "--no-owner",
                    "-d", dst_name, str(dump)], check=True, capture_output=True)
    try:
        with dst.app_context():
            archived = session.scalars(select(ArchiveRecord.id).where(
                ArchiveRecord.status == RecordStatus.archived).order_by(ArchiveRecord.id)).all()
            assert archived == before
            run = fixity.run(trigger="restore")
            assert (run.checked, run.ok, run.changed, run.missing, run.errors) == (2, 2, 0, 0, 0)
            rec = reconcile.compare()
            assert rec.missing == [] and rec.orphans and all(k.startswith(f"records/{after}/") for k in rec.orphans)
            db.commit()
            out = dst.test_cli_runner().invoke(args=["archive", "fixity"])
            assert out.exit_code == 0 and "Проверено записей: 2" in out.output, out.output
            from core.audit import verify_chain
            assert verify_chain().ok                          # the audit log came back whole
            session.remove()

            # The record written after the dump comes back from its manifest, as it was.
            cli = dst.test_cli_runner()
            out = cli.invoke(args=["archive", "reconcile"])
            assert out.exit_code == 1 and "объект без записи" in out.output, out.output
            out = cli.invoke(args=["archive", "reconcile", "--rebuild"])
            assert out.exit_code == 0, out.output
            assert "Восстановлено записей: 1; версий: 0." in out.output
            assert f"запись № {after} восстановлена" in out.output
            session.remove()
            assert _row(after) == original                  # key, hashes, retention, signers, search text
            assert reconcile.compare().orphans == []
            run = fixity.run(trigger="restore")
            assert (run.checked, run.ok) == (3, 3)
            surname = class_marks("1В").pupils[0].name.split()[0]
            assert after in session.scalars(select(ArchiveRecord.id).where(ArchiveRecord.search.op("@@")(
                func.plainto_tsquery("russian", surname)))).all()
            again = cli.invoke(args=["archive", "reconcile", "--rebuild"])
            assert again.exit_code == 0 and "Восстановлено записей: 0; версий: 0." in again.output, again.output
            # the next record does not take an id the bucket holds
            db.commit()
            school = session.scalar(select(Organisation).filter_by(code=f"B{tag}-S"))
            people = SimpleNamespace(teacher=session.scalar(select(auth.User).filter_by(login=f"t{tag}")),
                                     director=session.scalar(select(auth.User).filter_by(login=f"d{tag}")))
            assert _archive_one(school, "1Г", people, pki) > after
            session.remove()
    finally:
        dst.extensions["db_engine"].dispose()
