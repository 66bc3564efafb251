"""Transition to paperless journals in the browser: a municipal official answers the reply form
(Приложение 2), a director confirms readiness with a signed statement, and the region looks at its
progress chart and the monitoring roll-up. Screenshots go to docs/screens/transition-*.png.

This module runs its own live server on its own database, on the session's
PostgreSQL, Redis and S3, with the demo region and a campaign half-way through. Real clock: the
test PKI's certificates are valid until 01.09.2027.
"""
import datetime as dt

import pytest

from tests.browser.conftest import make_live_app, new_page, serving, shot, sign_in
from tests.sheets import pki as test_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = test_pki.start(tmp_path_factory.mktemp("pki"))
    yield p
    p.close()


@pytest.fixture(scope="module")
def tr_app(servers):
    app = make_live_app(servers, "jt_browser_transitions", "browser-tests-transitions")
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture(scope="module")
def tr_url(tr_app):
    with serving(tr_app) as url:
        yield url


@pytest.fixture
def tr_page(browser, tr_url):
    context, pg = new_page(browser, tr_url)
    yield pg
    context.close()


@pytest.fixture(scope="module")
def campaign(tr_app, pki):
    """The demo region (4 municipalities × 10 schools), a campaign with its list published, three
    municipalities' answers, schools at various stages, and a monthly report with half a year of data."""
    from asn1crypto import pem
    from sqlalchemy import select

    from core import db
    from core.db import session
    from orgs.models.organisations import Organisation
    from orgs.models.users import User
    from pades import PKCS12Signer
    from reports import services as reports
    from transitions import services as svc
    from transitions.models import StageKind, StatementKind
    from web.demo import DEMO_PASSWORD, make_demo
    roots = pki.workdir / "roots.pem"
    roots.write_bytes(pem.armor("CERTIFICATE", pki.root.dump()))
    tr_app.config["TRUST_ROOTS"] = str(roots)          # signing checks the director's certificate
    with tr_app.app_context():
        make_demo(schools=40)
        users = {u.login: u for u in session.scalars(select(User))}
        users["director"].full_name = test_pki.NAMES["director"]   # the holder of the test PKI's key
        region = session.scalar(select(Organisation).where(Organisation.code == "R16"))
        official = users["region"]
        today = svc.today()
        c = svc.create_campaign(region=region, title=f"Безбумажное ведение журналов с 01.09.{today.year + 1}",
                                target_date=dt.date(today.year + 1, 9, 1), reply_deadline=today + dt.timedelta(days=7),
                                actor=official)
        munis = svc.region_municipalities(c)
        schools = {m.id: svc.municipality_schools(m) for m in munis}
        svc.set_recommended(c, [s for m in munis for s in schools[m.id][:6]], actor=official)
        svc.publish_list(c, actor=official)
        mouo_of = {m.id: users["mouo" if m.code == "M001" else f"mouo-{m.code.lower()}"] for m in munis}
        first = next(m for m in munis if m.code == "M001")
        for m in munis:
            if m is first or m.code == "M004":
                continue            # M001 answers in the browser; M004 has not answered yet
            lines = [{"school_id": s.id, "decision": "included"} for s in schools[m.id][:6]]
            lines[5] = {"school_id": schools[m.id][5].id, "decision": "excluded", "reason": "Нет доступа в Интернет"}
            lines.append({"school_id": schools[m.id][7].id, "decision": "added", "reason": "Базовая школа"})
            svc.save_reply(c, m, lines, submit=True, contact_name="Иванова А.А.", actor=mouo_of[m.id])
        p12 = pki.pkcs12("director")
        evidence = {StageKind.platform: {"platform": "dnevnik_ru", "url": "https://dnevnik.ru/school/1"},
                    StageKind.parents_link: {"url": "https://school.edu.ru/usluga", "section": "Муниципальная услуга"},
                    StageKind.trial: {"date_from": (today - dt.timedelta(days=60)).isoformat()},
                    StageKind.paperless: {"date_from": c.target_date.isoformat()}}
        order = {"order_number": "12-о", "order_date": (today - dt.timedelta(days=90)).isoformat()}

        def advance(school, n: int, director):
            """Accept the first n stages of a school (signing the readiness statement when reached)."""
            mouo = mouo_of[school.parent_id]
            for stage in c.stages[:n]:
                if stage.kind is StageKind.readiness:
                    director.full_name = test_pki.NAMES["director"]   # the holder of the test PKI's key
                    svc.sign_statement(c, school, kind=StatementKind.confirm, signer=PKCS12Signer(p12,
                                                                                                  test_pki.PASSPHRASE),
                                       actor=director)
                    continue
                file = ("Положение.pdf", b"%PDF-1.4 demo") if stage.requires_file else None
                svc.submit_evidence(c, school, stage, evidence.get(stage.kind, order), file=file, actor=director)
                svc.decide(svc.state_for(c, school, stage), accept=True, actor=mouo)

        director = users["director"]
        director_school = director.grants[0].organisation
        advance(director_school, 6, director)            # everything before the confirmation: ready to sign
        pattern = [8, 8, 7, 6, 5, 3, 2, 1, 0]
        k = 0
        final = svc.final_school_ids(c)
        for m in munis:
            for s in schools[m.id][:8]:
                if s.id == director_school.id or s.id not in final:
                    continue
                advance(s, pattern[k % len(pattern)], users[f"dir-{s.code.lower()}"])
                k += 1
        spec = reports.DEFAULT_FORMS["monthly"]
        start = (today.replace(day=1) - dt.timedelta(days=150)).replace(day=1)
        form = reports.create_form(owner=region, title=spec["title"], periodicity="monthly",
                                   deadline_text=spec["deadline_text"], submitter_kind="municipality",
                                   fields=spec["fields"], first_period=start, campaign=c, actor=official)
        for i, period in enumerate(reversed(reports.periods(form))):
            for j, m in enumerate(munis):
                paperless = min(10, i * (j + 1) // 2)
                sub = reports.save_submission(form, m, period, {
                    "schools_total": 10, "schools_electronic": min(10, 6 + i), "schools_paperless": paperless,
                    "paperless_share": paperless * 10, "parents_link": "да" if i > 2 else "нет"},
                    submit=True, actor=mouo_of[m.id])
                reports.decide_submission(sub, accept=True, actor=official)
        db.commit()
        out = {"id": c.id, "form_id": form.id, "password": DEMO_PASSWORD, "first": first.id,
               "school": director_school.id,
               "rec_first": [s.id for s in schools[first.id][:6]], "other_first": schools[first.id][8].id}
        session.remove()
    return out


def test_municipal_official_answers_the_reply_form(tr_page, campaign):
    page, c = tr_page, campaign
    sign_in(page, "mouo", c["password"])
    page.click("nav >> text=Переход")
    page.locator("#campaigns a").first.click()
    page.click("text=Ответ по форме (Приложение 2)")
    page.wait_for_selector("#reply-form")
    assert "ожидается" in page.inner_text("#reply-state")
    rec = c["rec_first"]
    for sid in rec:
        page.check(f"input[name='decision-{sid}'][value='included']")
    page.check(f"input[name='decision-{rec[3]}'][value='excluded']")
    page.fill("#contact_name", "Сафина Л.Р.")
    page.click("text=Направить ответ в регион")
    page.wait_for_selector("#errors")
    assert "для исключения из перечня укажите причину" in page.inner_text("#errors")
    shot(page, "transition-01-reply-form-error")
    page.fill(f"input[name='reason-{rec[3]}']", "Школа на капитальном ремонте до 2028 г.")
    page.check(f"input[name='decision-{c['other_first']}']")
    page.fill(f"input[name='reason-{c['other_first']}']", "Готова: апробация с 2025 г.")
    page.click("text=Направить ответ в регион")
    page.wait_for_selector("text=Ответ направлен в регион")
    assert "в срок" in page.inner_text("#reply-state")
    shot(page, "transition-02-reply-sent")


def test_director_confirms_readiness_with_a_signed_statement(tr_page, campaign, pki, tmp_path):
    page, c = tr_page, campaign
    key = tmp_path / "director.p12"
    key.write_bytes(pki.pkcs12("director"))
    sign_in(page, "director", c["password"])
    page.goto(f"/transitions/{c['id']}/schools/{c['school']}")
    page.wait_for_selector("#sign-form")
    page.set_input_files("#pkcs12", str(key))
    page.fill("#passphrase", "неверный пароль")
    page.click("#sign-form button[type=submit]")
    page.wait_for_selector("#errors")
    assert "неверный пароль" in page.inner_text("#errors")
    page.set_input_files("#pkcs12", str(key))
    page.fill("#passphrase", test_pki.PASSPHRASE)
    shot(page, "transition-03-director-signs")
    page.click("#sign-form button[type=submit]")
    page.wait_for_selector("text=сохранено в архиве")
    assert "готовность подтверждена директором" in page.inner_text("#readiness-state")
    assert "Сафин Ринат Ильдарович" in page.inner_text("#statements")
    shot(page, "transition-04-readiness-confirmed")
    with page.expect_download() as dl:
        page.click("#statements >> text=PDF с подписью")
    assert dl.value.path().read_bytes().startswith(b"%PDF-")


def test_region_sees_progress_and_the_report_chart(tr_page, campaign):
    page, c = tr_page, campaign
    sign_in(page, "region", c["password"])
    page.goto(f"/transitions/{c['id']}/replies")
    page.wait_for_selector("#replies")
    assert "не представлен" not in page.inner_text("#replies") or "ожидается" in page.inner_text("#replies")
    shot(page, "transition-05-region-replies-final-list")
    page.goto(f"/transitions/{c['id']}/progress")
    page.wait_for_selector("#progress-chart svg")
    assert page.locator("#progress-chart svg rect").count() > 10
    shot(page, "transition-06-region-progress-chart")
    page.goto(f"/transitions/reports/{c['form_id']}/rollup")
    page.wait_for_selector("#rollup-chart svg polyline")
    shot(page, "transition-07-region-report-rollup-chart")
