from pathlib import Path

from sqlalchemy import func, select

from orgs.models.organisations import Organisation, OrgKind
from orgs.models.users import Role, User

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"


def test_demo_data_makes_a_region_with_people(app, db):
    result = app.test_cli_runner().invoke(args=["demo-data", "--schools", "12"])
    assert result.exit_code == 0, result.output
    assert "admin" in result.output and "demo-2026-pass" in result.output
    kinds = dict(db.execute(select(Organisation.kind, func.count()).group_by(Organisation.kind)).all())
    assert kinds[OrgKind.region] == 1 and kinds[OrgKind.school] == 12 and kinds[OrgKind.municipality] >= 2
    directors = db.scalars(select(User).where(User.login.like("dir-%"))).all()
    assert len(directors) == 11 and all(u.grants[0].role is Role.director for u in directors)
    again = app.test_cli_runner().invoke(args=["demo-data", "--schools", "3"])
    assert again.exit_code == 1 and "уже созданы" in again.output    # not twice


def test_orgs_import_and_users_create(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["orgs", "import", str(SAMPLES / "organisations.csv")])
    assert result.exit_code == 0, result.output
    region = db.scalar(select(Organisation).where(Organisation.parent_id.is_(None), Organisation.code == "RT"))
    assert region is not None
    weak = runner.invoke(args=["users", "create", "boss", "--name", "Начальник", "--role", "admin", "--org", "RT"],
                         input="short\nshort\n")
    assert weak.exit_code != 0 and "не короче" in weak.output
    ok = runner.invoke(args=["users", "create", "boss", "--name", "Начальник", "--role", "admin", "--org", "RT"],
                       input="long-enough-pass-1\nlong-enough-pass-1\n")
    assert ok.exit_code == 0, ok.output
    user = db.scalar(select(User).where(User.login == "boss"))
    assert user.grants[0].organisation_id == region.id and "long-enough" not in user.password_hash


def test_orgs_import_reports_rows_and_writes_nothing(app, db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code;name;kind;parent_code\nX1;Регион;регион;\nX2;Школа;школа;NOPE\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["orgs", "import", str(bad)])
    assert result.exit_code == 1 and "bad.csv, строка 3" in result.output and "Ничего не записано" in result.output
    assert db.scalar(select(Organisation).where(Organisation.code == "X1")) is None
