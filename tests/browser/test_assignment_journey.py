"""A school director answers an assignment with a file; the municipal official accepts the school's evidence."""
import datetime as dt
from pathlib import Path

from tests.browser.conftest import shot, sign_in

SEED_001 = next((Path(__file__).resolve().parents[1] / "data" / "seeds").glob("001_*.txt"))


def _assignment_for_the_demo_school(live_app) -> int:
    from sqlalchemy import select

    from assignments import services as svc
    from core import db
    from core.db import session
    from ordinances import services as ordsvc
    from ordinances.models.ordinances import OrdinanceStatus
    from ordinances.parsing.parser import parse_file
    from orgs.models.organisations import Organisation
    from orgs.models.users import User
    with live_app.app_context():
        official = session.scalar(select(User).where(User.login == "region"))
        director = session.scalar(select(User).where(User.login == "director"))
        school = director.grants[0].organisation
        region = session.scalar(select(Organisation).where(Organisation.code == "R16"))
        o = ordsvc.create_from_parsed(parse_file(SEED_001), issuer=region, actor=official)
        ordsvc.set_status(o, OrdinanceStatus.in_force, actor=official)
        item = next(i for i in o.plan.items if i.number == "2.3")
        due = svc.today() + dt.timedelta(days=10)
        a = svc.create_assignment(item, region, [school], actor=official, rule="dates", dates=[due],
                                  horizon=(svc.today(), due))
        db.commit()
        a_id = a.id
        session.remove()
    return a_id


def test_municipal_official_accepts_a_schools_evidence(page, demo, live_app, tmp_path):
    _assignment_for_the_demo_school(live_app)
    evidence = tmp_path / "Приказ о назначении ответственного.pdf"
    evidence.write_bytes(b"%PDF-1.4\n% evidence of the school\n")

    sign_in(page, "director", demo)
    page.click("nav >> text=Мои задачи")
    page.wait_for_selector("#tasks")
    page.locator("#tasks a").first.click()
    page.wait_for_selector("#submit-form")
    page.fill("#text", "Журналы активированы, ответственный назначен приказом № 17")
    page.set_input_files("#files", str(evidence))
    shot(page, "assignments-01-director-submits")
    page.click("#submit-form button[type=submit]")
    page.wait_for_selector("text=Отчёт отправлен на проверку")
    assert "На проверке" in page.inner_text("#status")
    page.click("text=Выйти")

    sign_in(page, "mouo", demo)
    page.click("nav >> text=Мои задачи")
    page.wait_for_selector("#review")
    page.locator("#review a", has_text="Проверить").first.click()
    page.wait_for_selector("#accept-form")
    assert "Приказ о назначении ответственного.pdf" in page.inner_text("#history")
    with page.expect_download() as download:
        page.click("text=Приказ о назначении ответственного.pdf")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-1.4")
    shot(page, "assignments-02-mouo-reviews")
    page.click("#accept-form button[type=submit]")
    page.wait_for_selector("text=Принято.")
    assert "Принято" in page.inner_text("#status")
    page.click("nav >> text=Исполнение")
    page.wait_for_selector("#dashboard")
    shot(page, "assignments-03-municipality-dashboard")


def test_region_official_assigns_a_plan_row_to_all_schools(page, demo, live_app):
    _assignment_for_the_demo_school(live_app)        # an order 001 in force, with a first assignment
    sign_in(page, "region", demo)
    page.click("nav >> text=Документы")
    page.locator("a", has_text="3116").first.click()
    page.wait_for_selector("#plan")
    row = page.locator("tr", has_text="Ежеквартально")
    row.locator("text=Поручить…").click()
    page.wait_for_selector("#assign-form")
    page.check("#assign-form input[name=kinds][value=school]")
    page.fill("#horizon_start", "2026-09-01")
    page.fill("#horizon_end", "2027-08-31")
    shot(page, "assignments-04-region-assigns")
    page.click("#assign-form button[type=submit]")
    page.wait_for_selector("#targets")
    assert "Поручение дано: организаций 6" in page.content()
    assert page.locator("#targets tr").count() == 1 + 6
    page.click("nav >> text=Исполнение")
    page.wait_for_selector("#dashboard")
    assert "Итого по региону" in page.inner_text("#dashboard")
    shot(page, "assignments-05-region-dashboard")
    page.goto("/assignments/calendar?month=2026-12")
    page.wait_for_selector("#calendar")
    assert "0/6" in page.inner_text("#calendar")           # 31.12.2026: six schools, none done yet
    shot(page, "assignments-06-calendar")
