"""The rendered sheet, read back with pyHanko's reader and poppler's pdftotext (no pypdf)."""
import shutil
import subprocess
from io import BytesIO

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from pades.layout import CLASS_TEACHER_FIELD, DIRECTOR_FIELD
from pades.pdfa import document_id_of, is_ours
from sheets import sheet_data as sheet_model
from sheets.render import render
from sheets.sheet_data import HALF_YEARS, sort_key
from tests.sheets.sample import make_sheet

STANDARD_14 = {"Helvetica", "Times-Roman", "Courier", "Symbol", "ZapfDingbats"}


def page_texts(pdf: bytes) -> list[str]:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode("utf-8")
    return text.split("\f")[:-1]               # one form feed after every page


def test_wide_sheet_is_split_into_pages_with_header_and_footers(rendered, sheet):
    pages = page_texts(rendered.pdf)
    n = len(pages)
    assert n == rendered.layout.pages > 1
    first = pages[0]
    for text in ("СВОДНАЯ ВЕДОМОСТЬ", "2025/2026 учебный год", "Республика Татарстан", "Советский район",
                 "Средняя общеобразовательная школа № 101", "7 «А»", "Иванова Мария Петровна"):
        assert text in first, text
    for i, text in enumerate(pages, 1):
        assert f"Стр. {i} из {n}" in text
        assert f"Документ № {sheet.document_id}" in text
    # each subject appears in a table header, and every marks page repeats № and names
    all_text = "\n".join(pages)
    for subject in sheet.subjects:
        assert subject.split()[0] in all_text, subject
    marks_pages = [t for t in pages if "Отметки по предметам" in t]
    assert len(marks_pages) >= 4                           # 16 subjects × 7 periods do not fit on one
    for t in marks_pages:
        assert "Фамилия, имя" in t and "Абдуллина Алсу Ринатовна" in t


def test_long_sheet_repeats_the_header_rows_when_split_vertically():
    sheet = make_sheet(subjects=3)
    sheet.pupils = sheet.pupils * 3                         # 84 rows: more than a page
    for i, p in enumerate(sheet.pupils):
        sheet.pupils[i] = sheet_model.PupilRow(f"{p.name} {i:02d}", dict(p.marks), decision=p.decision)
    pages = page_texts(render(sheet).pdf)
    marks_pages = [t for t in pages if "I четв." in t]
    assert len(marks_pages) >= 2
    assert all("Фамилия, имя" in t and "Русский язык" in t for t in marks_pages)


def test_pupils_are_printed_alphabetically_with_yo_as_ye(rendered):
    text = page_texts(rendered.pdf)[0]
    printed = [line.split(None, 1)[1].split("  ")[0].strip() for line in text.splitlines()
               if line.strip()[:2].strip().isdigit() and "  " in line.strip()]
    names = [n for n in printed if len(n.split()) == 3]
    assert len(names) == 28, printed
    assert names == sorted(names, key=sort_key)
    assert names.index("Алёшин Пётр Сергеевич") == names.index("Алехина Дарья Олеговна") + 1
    assert names.index("Ёлкина Софья Дмитриевна") < names.index("Жукова Полина Алексеевна")


def test_fonts_are_all_embedded(rendered):
    r = PdfFileReader(BytesIO(rendered.pdf))
    seen = set()
    for i in range(r.root["/Pages"]["/Count"]):
        fonts = r.find_page_for_modification(i)[0].get_object()["/Resources"]["/Font"]
        for name in fonts:
            font = fonts[name]
            base = str(font["/BaseFont"]).lstrip("/")
            seen.add(base.split("+")[-1])
            assert base not in STANDARD_14
            descriptor = font["/FontDescriptor"]
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), base
    assert seen == {"PTSans-Regular", "PTSans-Bold"}


def test_pdfa_output_intent_and_xmp(rendered, sheet):
    r = PdfFileReader(BytesIO(rendered.pdf))
    assert r.input_version <= (1, 7)                         # PDF/A-3 is based on PDF 1.7
    intent = r.root["/OutputIntents"][0]
    assert intent["/S"] == "/GTS_PDFA1"
    profile = intent["/DestOutputProfile"]
    assert profile["/N"] == 3 and profile.data[36:40] == b"acsp"   # an ICC profile
    xmp = r.root["/Metadata"].data.decode("utf-8")
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert "Сводная ведомость успеваемости" in xmp and sheet.document_id in xmp
    assert document_id_of(rendered.pdf) == sheet.document_id
    assert is_ours(rendered.pdf) and is_ours(rendered.pdf, sheet.document_id)
    assert not is_ours(rendered.pdf, "SV-другой")
    info = r.trailer_view["/Info"]
    assert info["/Title"] in xmp and info["/Producer"] in xmp      # Info and XMP agree (PDF/A)


def test_marks_are_attached_as_json_that_parses_back(rendered, sheet):
    r = PdfFileReader(BytesIO(rendered.pdf))
    names = r.root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert names[0] == "marks.json"
    spec = names[1]
    assert spec["/AFRelationship"] == "/Data" and r.root["/AF"][0] == spec
    stream = spec["/EF"]["/F"]
    assert stream["/Subtype"] == "/application/json"
    back = sheet_model.from_json(stream.data)
    original = {p.name: p for p in sheet.pupils}
    assert len(back.pupils) == 28
    for p in back.pupils:
        assert p.marks == {k: v for k, v in original[p.name].marks.items() if v}
    assert back.subjects == sheet.subjects and back.periods == sheet.periods


def test_signature_boxes_are_on_the_last_page_inside_it(rendered):
    fields = rendered.layout.fields
    assert [f.name for f in fields] == [CLASS_TEACHER_FIELD, DIRECTOR_FIELD]
    for f in fields:
        x1, y1, x2, y2 = f.box
        assert f.page == rendered.layout.pages - 1
        assert 0 < x1 < x2 < 842 and 40 < y1 < y2 < 595
    assert fields[0].box[2] < fields[1].box[0]              # side by side, not overlapping


def test_the_render_carries_both_empty_signature_fields_in_its_only_revision(rendered):
    """What pades.prepare_fields adds to other PDFs, the renderer writes itself: both empty fields on the boxes'
    page, printable with an appearance (PDF/A), the director's locking every field and the document."""
    from pyhanko.sign.fields import enumerate_sig_fields
    assert rendered.pdf.count(b"%%EOF") == 1 and b"/Prev" not in rendered.pdf     # one revision, no update
    reader = PdfFileReader(BytesIO(rendered.pdf))
    assert reader.root["/AcroForm"]["/SigFlags"] == 1
    found = {name: (value, field) for name, value, field in enumerate_sig_fields(reader)}
    assert list(found) == [CLASS_TEACHER_FIELD, DIRECTOR_FIELD]
    page = reader.root["/Pages"]["/Kids"][rendered.layout.fields[0].page].get_object()
    for box in rendered.layout.fields:
        value, ref = found[box.name]
        widget = ref.get_object()
        assert value is None                                               # empty: nobody has signed
        assert [float(v) for v in widget["/Rect"]] == [round(v) for v in box.box]
        assert widget["/P"].get_object() is page and ref in [a for a in page["/Annots"]]
        assert widget["/F"] & 4 and widget["/AP"]["/N"].get_object()["/Subtype"] == "/Form"
        assert widget["/TU"] == f"Подпись: {box.label}"
    lock = found[DIRECTOR_FIELD][1].get_object()["/Lock"]
    assert (lock["/Action"], lock["/P"]) == ("/All", 1) and "/Lock" not in found[CLASS_TEACHER_FIELD][1].get_object()


def test_half_year_sheet_fits_more_subjects_per_page():
    quarters = render(make_sheet(subjects=12)).layout.pages     # 4 subjects a page
    halves = render(make_sheet(subjects=12, periods=HALF_YEARS)).layout.pages   # 6 a page
    assert halves < quarters


def test_a_pdf_not_made_here_is_not_ours():
    from reportlab.pdfgen.canvas import Canvas
    buf = BytesIO()
    c = Canvas(buf)
    c.drawString(100, 100, "hello")
    c.save()
    assert not is_ours(buf.getvalue())
    assert not is_ours(b"not a pdf at all")
    assert document_id_of(b"%PDF-1.7\n%%EOF") is None


def test_a_font_subset_reused_from_an_earlier_sheet_is_embedded_whole():
    """The second sheet with the same letters takes the font subset, and its compressed stream, made for the
    first: each embedded font program inflates to a TrueType font of the length its /Length1 declares."""
    sheet = make_sheet(pupils=5, subjects=4)
    programs = []
    for _ in range(2):
        r = PdfFileReader(BytesIO(render(sheet).pdf))
        fonts = r.find_page_for_modification(0)[0].get_object()["/Resources"]["/Font"]
        for name in sorted(fonts):
            stream = fonts[name]["/FontDescriptor"]["/FontFile2"]
            data = stream.data                        # pyHanko inflates /FlateDecode
            assert data[:4] == b"\x00\x01\x00\x00" and len(data) == stream["/Length1"]
            programs.append(data)
    half = len(programs) // 2
    assert half and programs[:half] == programs[half:]


def test_the_qr_code_scores_its_masks_as_reportlab_and_draws_the_same_code():
    """sheets.qr scores the eight masks faster than reportlab: for any payload and mask the same points, so the
    same mask is chosen and the same code drawn."""
    import random
    import string

    from reportlab.graphics.barcode import qrencoder

    from sheets.qr import QRCode, lost_points
    rnd = random.Random(20)
    for _ in range(40):
        url = "https://journals.example.ru/v/" + "".join(rnd.choices(string.ascii_letters + string.digits,
                                                                     k=rnd.randint(1, 150)))
        level = qrencoder.QRErrorCorrectLevel.M
        ours, theirs = QRCode(None, level), qrencoder.QRCode(None, level)
        for qr in (ours, theirs):
            qr.addData(url)
            qr.version = qr.calculate_version()
        for mask in range(8):
            theirs.makeImpl(True, mask)
            assert lost_points(theirs.modules) == qrencoder.QRUtil.getLostPoint(theirs)
        ours.make()
        theirs.make()
        assert ours.modules == theirs.modules
