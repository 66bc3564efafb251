"""A municipality runs its own programme (issue 18): its official registers order 271-style from its text, gives
the methodical centre its monthly duty (п. 4.2) and opens a monthly report for its schools; a school reports late;
the municipality and the region see it late; the centre's staff answer their task."""
import re
from pathlib import Path

from tests.browser.conftest import shot, sign_in

SEED_004 = next((Path(__file__).resolve().parents[1] / "data" / "seeds").glob("004_*.txt"))


def test_a_municipality_runs_its_own_programme(page, demo, browser, live_url, tmp_path):
    # 1. the municipality registers its own order from its text; the clause duties come with it
    sign_in(page, "mouo", demo)
    page.goto("/ordinances/new")
    page.set_input_files("#file", str(SEED_004))
    page.click("text=Распознать")
    page.wait_for_selector("#ordinance-form")
    executors = page.locator("textarea[name$='-executors']")
    assert executors.filter(has_text="Руководителям общеобразовательных").count() == 5      # п. 3.1–3.5
    page.click("#ordinance-form button[type=submit]")
    page.wait_for_selector("#document")
    page.click("text=Ввести в действие")
    page.wait_for_selector("text=Состояние: Действует")
    shot(page, "municipal-01-order-with-clause-duties")
    # 2. п. 4.2 «Ежемесячно проводить мониторинг» goes to the methodical centre
    page.locator("tr", has_text="Ежемесячно проводить мониторинг").locator("text=Поручить…").click()
    page.wait_for_selector("#assign-form")
    page.locator("#one-orgs label", has_text="Методический центр").locator("input").check()
    page.click("#assign-form button[type=submit]")
    page.wait_for_selector("text=Методический центр")
    # 3. a monthly report for its schools, from October
    page.goto("/transitions/reports/new?template=monthly")
    page.select_option("#submitter_kind", "school")
    page.fill("#first_period", "2026-10-01")
    page.click("text=Утвердить форму")
    page.wait_for_selector("#submissions")
    form_url = re.sub(r"\?.*$", "", page.url)
    shot(page, "municipal-02-report-form")

    # 4. a school of the municipality reports for October — in December: late
    context = browser.new_context(base_url=live_url, locale="ru-RU")
    school = context.new_page()
    sign_in(school, "director", demo)
    school.goto(f"{form_url}?period=2026-10")
    school.locator("#submissions tr", has_text="№ 1").locator("text=заполнить").click()
    for key, value in (("schools_total", "1"), ("schools_electronic", "1"), ("schools_paperless", "1"),
                       ("paperless_share", "100")):
        school.fill(f"#f-{key}", value)
    school.select_option("#f-parents_link", index=1)
    school.click("text=Представить отчёт")
    school.wait_for_selector("text=с опозданием")
    context.close()

    # 5. the municipality and the region see it late
    page.goto(f"{form_url}?period=2026-10")
    assert "с опозданием" in page.inner_text("#submissions")
    page.click("text=Выйти")
    sign_in(page, "region", demo)
    page.goto(f"{form_url}?period=2026-10")
    assert "с опозданием" in page.inner_text("#submissions")
    shot(page, "municipal-03-region-sees-late")
    page.click("text=Выйти")

    # 6. the centre's staff answer their task
    sign_in(page, "metod", demo)
    page.goto("/assignments/my")
    assert "мониторинг" in page.inner_text("main")
    page.locator("table a[href*='/assignments/occurrences/']").first.click()
    assert "Назначение ответственного" in page.inner_text("main")          # first: who answers for it at the centre
    page.fill("#responsible_name", "Дьяченко В.А.")
    page.fill("#responsible_position", "директор МЦ")
    order = tmp_path / "prikaz-mc-12.pdf"
    order.write_bytes("%PDF-1.4\n% приказ МЦ о назначении ответственного\n%%EOF\n".encode())
    page.set_input_files("#files", str(order))
    page.fill("#text", "Назначена ответственная за мониторинг, приказ МЦ № 12.")
    page.click("text=Отправить на проверку")
    page.wait_for_selector("text=Отчёт отправлен на проверку")
    shot(page, "municipal-04-centre-answers")
