"""A regional official registers order 001 from its text file, corrects the preview, saves it and sees its plan."""
from pathlib import Path

from tests.browser.conftest import shot, sign_in

SEED_001 = next((Path(__file__).resolve().parents[1] / "data" / "seeds").glob("001_*.txt"))


def test_register_order_001_from_its_text_file(page, demo, tmp_path):
    sign_in(page, "region", demo)
    page.click("text=Документы")
    page.click("text=Зарегистрировать документ")
    page.set_input_files("#file", str(SEED_001))
    shot(page, "01-region-upload-order")
    page.click("text=Распознать")
    page.wait_for_selector("#ordinance-form")
    assert page.input_value("#number") == "3116"
    assert page.input_value("#date") == "2010-11-08"
    # Row 2.2 was split across a page in the source: it is one row in the preview.
    assert page.locator("textarea[name$='-title']").filter(has_text="Активация").count() == 1
    page.fill("#title", page.input_value("#title") + " (сверено)")
    shot(page, "02-region-preview-order")
    page.click("text=Сохранить")
    page.wait_for_selector("#document")
    assert "(сверено)" in page.inner_text("#document")
    assert "сохранён как черновик" in page.content()
    plan = page.locator("table").last
    assert plan.locator("tr").count() == 1 + 2 + 11 + 1 + 6   # header, 2 sections, 11 rows; clause duties 2.1–4.3
    assert "Ежеквартально" in plan.inner_text() and "11.11.2010" in plan.inner_text()
    # The signed plan (Приложение № 1) as a PDF, kept with the draft until the order comes in force.
    pdf = tmp_path / "plan-3116.pdf"
    pdf.write_bytes(_pdf("Приложение № 1. План мероприятий"))
    page.select_option("#file-slot", "attachment:1")
    page.set_input_files("#file-input", str(pdf))
    page.click("#file-upload button[type=submit]")
    page.wait_for_selector("text=загружен")
    assert "plan-3116.pdf" in page.inner_text("#files") and "черновик" in page.inner_text("#files")
    page.click("text=Ввести в действие")
    page.wait_for_selector("text=Состояние: Действует")
    assert page.locator("text=Редактировать").count() == 0    # in force: no more editing
    files = page.inner_text("#files")
    assert "передаётся в архив" in files or "в архиве" in files       # handed to the legal archive
    assert page.locator("#files >> text=Удалить").count() == 0
    shot(page, "03-region-order-in-force")


def _pdf(text: str) -> bytes:
    import io

    from reportlab.pdfgen.canvas import Canvas
    out = io.BytesIO()
    c = Canvas(out)
    c.drawString(100, 750, text)
    c.save()
    return out.getvalue()
