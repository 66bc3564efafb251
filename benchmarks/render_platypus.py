"""The previous renderer (Platypus + a second pass through pyHanko for PDF/A), kept as the baseline of
benchmarks/year_end.py: sheets/render.py must stay well under its cost (issue 20). Not used by the service.

Render a summary sheet (сводная ведомость) to a PDF/A-3b file, ready for signature fields.

Two steps, both in memory:

1. reportlab platypus lays the sheet out on A4 landscape in PT Sans (embedded; nothing in
   standard-14 fonts, not even the canvas' initial font). A wide sheet is cut into subject
   groups, one group per page slice, with № and name repeated; a long one splits vertically
   with the two header rows repeated. The last page carries totals, the council decision and
   two empty rectangles where the signature fields go; their page and boxes are recorded
   while drawing (`SheetLayout`) so `pades.prepare_fields` puts the fields exactly there.
2. pyHanko's writer copies that file into a *new* file (`copy_into_new_writer`; not an
   incremental update: nothing is signed yet, and one clean revision is what the archive
   wants under the signatures) and adds what PDF/A needs and reportlab cannot do: an sRGB
   OutputIntent, XMP metadata (pdfaid part 3, conformance B, dc:title, dc:identifier = the
   document id), an Info dictionary kept equal to the XMP, /Lang, and marks.json attached
   as an associated file (AFRelationship /Data). An attached file is why this is PDF/A-3b,
   not -2b. Signing later adds incremental updates only, and pyHanko keeps XMP and Info in
   step there too.

Not verified here: a full PDF/A validator run (veraPDF is not on this machine).
"""
from __future__ import annotations

from datetime import datetime, timezone
from io import BytesIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.metadata import model
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.fonts import addMapping
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from pades.layout import CLASS_TEACHER_FIELD, DIRECTOR_FIELD, FieldBox, SheetLayout
from pades.pdfa import CREATOR_TOOL, srgb_icc_profile
from sheets import sheet_data as sheet_model
from sheets.render import (  # the sheet's geometry, fonts and colours are the service's: only the drawing differs
    FONT,
    FONT_B,
    GRID,
    HEAD_BG,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    MIN_MARK_W,
    NAME_W,
    NUM_W,
    PAGE,
    SIG_BOX_H,
    SIG_BOX_W,
    ZEBRA,
    Rendered,
    register_fonts,
    subject_of,
    title_of,
)
from sheets.sheet_data import SheetData, sorted_pupils


def render_sheet(sheet: SheetData) -> bytes:
    return render(sheet).pdf


def render(sheet: SheetData) -> Rendered:
    _register_fonts()
    out = BytesIO()
    boxes: list[FieldBox] = []
    doc = BaseDocTemplate(
        out, pagesize=PAGE, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM, title=title_of(sheet), author=sheet.school, subject=subject_of(sheet),
        creator=CREATOR_TOOL, initialFontName=FONT, invariant=True, lang="ru-RU")
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="sheet", frames=[frame])])
    doc.build(_story(sheet, doc.width, boxes), canvasmaker=_numbered_canvas(sheet))
    if [b.name for b in boxes] != [CLASS_TEACHER_FIELD, DIRECTOR_FIELD]:
        raise RuntimeError(f"signature boxes were not laid out: {boxes}")
    return Rendered(pdf=_to_pdfa(out.getvalue(), sheet), layout=SheetLayout(pages=doc.page, fields=tuple(boxes)))


# ---- fonts and styles -------------------------------------------------------------------------------------

def _register_fonts() -> None:
    register_fonts()
    # <b> inside Paragraphs must map to the embedded bold face, not to Helvetica-Bold
    for bold, italic, face in ((0, 0, FONT), (1, 0, FONT_B), (0, 1, FONT), (1, 1, FONT_B)):
        addMapping(FONT, bold, italic, face)


def _style(size: float, *, bold=False, center=False, leading=None) -> ParagraphStyle:
    return ParagraphStyle("s", fontName=FONT_B if bold else FONT, fontSize=size, leading=leading or size * 1.2,
                          alignment=TA_CENTER if center else 0)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- the story --------------------------------------------------------------------------------------------

def _story(sheet: SheetData, width: float, boxes: list[FieldBox]) -> list[Flowable]:
    pupils = sorted_pupils(sheet.pupils)
    story: list[Flowable] = [_header(sheet, width), Spacer(0, 6)]
    groups = _subject_groups(sheet, width)
    for i, group in enumerate(groups):
        if i:
            story.append(PageBreak())
        caption = f"Отметки по предметам {group[0] + 1}–{group[-1] + 1} из {len(sheet.subjects)}"
        story += [Paragraph(caption, _style(8, bold=True)), Spacer(0, 3),
                  _marks_table(sheet, pupils, [sheet.subjects[j] for j in group], width)]
    story += [PageBreak(), Paragraph("Пропуски уроков и решение педагогического совета", _style(8, bold=True)),
              Spacer(0, 3), _absence_table(pupils), Spacer(0, 10),
              KeepTogether([_totals_block(sheet), Spacer(0, 8), _council_block(sheet), Spacer(0, 10),
                            _SignatureBlock(sheet, boxes)])]
    return story


def _header(sheet: SheetData, width: float) -> Flowable:
    lines = [
        Paragraph("СВОДНАЯ ВЕДОМОСТЬ УЧЁТА УСПЕВАЕМОСТИ ОБУЧАЮЩИХСЯ", _style(13, bold=True)),
        Paragraph(f"за {_esc(sheet.school_year)} учебный год", _style(10, bold=True)),
        Spacer(0, 4),
    ] + [Paragraph(f"{k}: <b>{_esc(v)}</b>", _style(9)) for k, v in (
        ("Субъект РФ", sheet.region), ("Муниципальное образование", sheet.municipality),
        ("Образовательная организация", sheet.school), ("Класс", sheet.class_name),
        ("Классный руководитель", sheet.class_teacher))]
    qr = Drawing(64, 64, initialFontName=FONT)   # else renderPDF selects Helvetica (not embedded)
    widget = QrCodeWidget(sheet.verify_url, barWidth=64, barHeight=64, barBorder=0)
    qr.add(widget)
    right = [qr, Paragraph("Проверка подлинности:", _style(6.5)), Paragraph(_esc(sheet.verify_url), _style(6.5))]
    t = Table([[lines, right]], colWidths=[width - 170, 170])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("FONTNAME", (0, 0), (-1, -1), FONT)]))
    return t


def _subject_groups(sheet: SheetData, width: float) -> list[list[int]]:
    """Subject indices per page slice: as many whole subjects (all their periods) as fit."""
    per_subject = MIN_MARK_W * len(sheet.periods)
    fit = max(1, int((width - NUM_W - NAME_W) // per_subject))
    n = len(sheet.subjects)
    return [list(range(i, min(i + fit, n))) for i in range(0, n, fit)]


def _base_table_style() -> list:
    return [("FONTNAME", (0, 0), (-1, -1), FONT), ("FONTSIZE", (0, 0), (-1, -1), 7), ("LEADING", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.4, GRID), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LEFTPADDING", (0, 0), (-1, -1), 1.5), ("RIGHTPADDING", (0, 0), (-1, -1), 1.5)]


def _marks_table(sheet: SheetData, pupils, subjects: list[str], width: float) -> Table:
    periods = sheet.periods
    mark_w = (width - NUM_W - NAME_W) / (len(subjects) * len(periods))
    head1: list = ["№", Paragraph("Фамилия, имя обучающегося", _style(7, bold=True, center=True))]
    head2: list = ["", ""]
    for s in subjects:
        head1 += [Paragraph(_esc(s), _style(7, bold=True, center=True))] + [""] * (len(periods) - 1)
        head2 += [Paragraph(_esc(p), _style(6, center=True, leading=6.6)) for p in periods]
    rows = [head1, head2]
    style = _base_table_style() + [
        ("SPAN", (0, 0), (0, 1)), ("SPAN", (1, 0), (1, 1)), ("BACKGROUND", (0, 0), (-1, 1), HEAD_BG),
        ("ALIGN", (2, 2), (-1, -1), "CENTER"), ("ALIGN", (0, 0), (0, -1), "CENTER"),
    ]
    for k in range(len(subjects)):
        c = 2 + k * len(periods)
        style += [("SPAN", (c, 0), (c + len(periods) - 1, 0)),
                  ("LINEBEFORE", (c, 0), (c, -1), 1.0, colors.black)]   # subject boundaries stand out
    for n, pupil in enumerate(pupils, 1):
        r = len(rows)
        row = [str(n), Paragraph(_esc(pupil.name), _style(7.5, leading=8.5))]
        for s in subjects:
            for p in periods:
                mark = pupil.mark(s, p)
                row.append(mark)
                if mark in ("2", "незач", "н/а"):
                    style.append(("FONTNAME", (len(row) - 1, r), (len(row) - 1, r), FONT_B))
        if n % 2 == 0:
            style.append(("BACKGROUND", (0, r), (-1, r), ZEBRA))
        rows.append(row)
    t = Table(rows, colWidths=[NUM_W, NAME_W] + [mark_w] * (len(subjects) * len(periods)), repeatRows=2)
    t.setStyle(TableStyle(style))
    return t


def _absence_table(pupils) -> Table:
    head = ["№", "Фамилия, имя обучающегося", "Пропущено\nдней", "Пропущено\nуроков", "в т. ч.\nпо болезни",
            "Решение педагогического совета"]
    rows = [head] + [[str(n), Paragraph(_esc(p.name), _style(7.5)), str(p.absences_days), str(p.absences_lessons),
                      str(p.absences_illness), p.decision] for n, p in enumerate(pupils, 1)]
    t = Table(rows, colWidths=[NUM_W, 190, 58, 58, 58, 150], repeatRows=1, hAlign="LEFT")
    t.setStyle(TableStyle(_base_table_style() + [
        ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG), ("FONTNAME", (0, 0), (-1, 0), FONT_B),
        ("ALIGN", (0, 0), (-1, -1), "CENTER"), ("ALIGN", (1, 1), (1, -1), "LEFT"),
        ("ALIGN", (5, 1), (5, -1), "LEFT")]))
    return t


def _totals_block(sheet: SheetData) -> Table:
    t = sheet_model.totals(sheet)
    rows = [[f"Итоги по отметкам «{t.column}»", ""], ["Всего обучающихся", str(t.total)]]
    rows += [[label[:1].upper() + label[1:], str(t.counts[key])] for key, label in sheet_model.CATEGORY_LABELS.items()]
    rows += [["Успеваемость, %", f"{t.success_pct:.1f}"], ["Качество знаний, %", f"{t.quality_pct:.1f}"]]
    table = Table(rows, colWidths=[220, 50], hAlign="LEFT")
    table.setStyle(TableStyle(_base_table_style() + [
        ("SPAN", (0, 0), (1, 0)), ("FONTNAME", (0, 0), (-1, 0), FONT_B), ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG),
        ("ALIGN", (1, 1), (1, -1), "CENTER")]))
    return table


def _council_block(sheet: SheetData) -> Paragraph:
    when = sheet.council_date.strftime("%d.%m.%Y") if sheet.council_date else "____________"
    proto = _esc(sheet.council_protocol) if sheet.council_protocol else "____"
    return Paragraph(f"Решение о переводе (выпуске) обучающихся принято педагогическим советом "
                     f"<b>{when}</b>, протокол № <b>{proto}</b>.", _style(9))


class _SignatureBlock(Flowable):
    """Two labelled empty rectangles. Records where they land (page, absolute box) into `boxes`,
    which is how the signer learns where to create the fields."""

    HEIGHT = SIG_BOX_H + 26

    def __init__(self, sheet: SheetData, boxes: list[FieldBox]):
        super().__init__()
        self.rows = [(CLASS_TEACHER_FIELD, "Классный руководитель", sheet.class_teacher),
                     (DIRECTOR_FIELD, "Директор", sheet.director)]
        self.boxes = boxes

    def wrap(self, avail_width, avail_height):
        self.width = avail_width
        return avail_width, self.HEIGHT

    def draw(self):
        c = self.canv
        self.boxes.clear()                     # if a split forced a redraw, the last draw wins
        for i, (field, role, person) in enumerate(self.rows):
            x = i * (SIG_BOX_W + 60)
            c.setFont(FONT_B, 9)
            c.drawString(x, self.HEIGHT - 10, role)
            c.setStrokeColor(colors.Color(0.6, 0.6, 0.6))
            c.setLineWidth(0.5)
            c.setDash(2, 2)
            c.rect(x, 12, SIG_BOX_W, SIG_BOX_H)
            c.setDash()
            c.setFont(FONT, 8)
            c.drawString(x, 2, f"/ {person} /")
            x1, y1 = c.absolutePosition(x, 12)
            x2, y2 = c.absolutePosition(x + SIG_BOX_W, 12 + SIG_BOX_H)
            # Rounded: float noise (230.00000000000003) makes pyHanko warn that the stamp does not fit.
            box = tuple(round(v, 2) for v in (x1, y1, x2, y2))
            self.boxes.append(FieldBox(field, role, c.getPageNumber() - 1, box))


def _numbered_canvas(sheet: SheetData):
    """A canvas that holds pages back until the end so every footer can say «Стр. N из M»
    (the usual reportlab recipe; a second layout pass would double the render time)."""
    footer_mid = f"Сводная ведомость · {sheet.class_name} · {sheet.school_year} · {sheet.school}"
    doc_line = f"Документ № {sheet.document_id}"

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._held: list[dict] = []

        def showPage(self):
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._held)
            for state in self._held:
                self.__dict__.update(state)
                self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int):
            w = self._pagesize[0]
            self.setFont(FONT, 7.5)
            self.setFillColor(colors.black)
            self.setStrokeColor(GRID)
            self.setLineWidth(0.4)
            self.line(MARGIN_X, 30, w - MARGIN_X, 30)
            self.drawString(MARGIN_X, 20, doc_line)
            self.drawCentredString(w / 2, 20, footer_mid[:150])
            self.drawRightString(w - MARGIN_X, 20, f"Стр. {self._pageNumber} из {total}")

    return NumberedCanvas


# ---- PDF/A-3b post-processing -----------------------------------------------------------------------------

def _to_pdfa(pdf: bytes, sheet: SheetData) -> bytes:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # A fresh Info with every key pyHanko manages: it only *updates* existing keys when it also
    # writes XMP, and PDF/A wants both to say the same (reportlab's Producer would differ).
    info = generic.DictionaryObject({pdf_name(k): pdf_string("") for k in
                                     ("/Title", "/Author", "/Subject", "/Creator", "/CreationDate", "/ModDate")})
    w = copy_into_new_writer(PdfFileReader(BytesIO(pdf)), writer_kwargs={"info": info})
    root = w.root

    icc = generic.StreamObject({pdf_name("/N"): generic.NumberObject(3)}, stream_data=srgb_icc_profile())
    icc.compress()
    root["/OutputIntents"] = generic.ArrayObject([w.add_object(generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/OutputIntent"), pdf_name("/S"): pdf_name("/GTS_PDFA1"),
        pdf_name("/OutputConditionIdentifier"): pdf_string("sRGB IEC61966-2.1"),
        pdf_name("/RegistryName"): pdf_string("http://www.color.org"),
        pdf_name("/Info"): pdf_string("sRGB IEC61966-2.1"),
        pdf_name("/DestOutputProfile"): w.add_object(icc)}))])
    root["/Lang"] = pdf_string("ru-RU")

    # marks.json as an associated file. Not pyHanko's embed_file(): with an AFRelationship it
    # bumps the header to PDF 2.0, which PDF/A-3 (based on PDF 1.7) does not allow.
    data = sheet_model.to_json(sheet)
    ef = EmbeddedFileObject.from_file_data(w, data, mime_type="application/json",
                                           params=EmbeddedFileParams(creation_date=now, modification_date=now))
    spec = FileSpec(file_spec_string="marks.json", file_name="marks.json", embedded_data=ef,
                    description="Отметки ведомости в машиночитаемом виде (JSON)",
                    af_relationship=pdf_name("/Data")).as_pdf_object()
    spec_ref = w.add_object(spec)
    names = generic.DictionaryObject({pdf_name("/EmbeddedFiles"): generic.DictionaryObject(
        {pdf_name("/Names"): generic.ArrayObject([pdf_string("marks.json"), spec_ref])})})
    root["/Names"] = w.add_object(names)
    root["/AF"] = generic.ArrayObject([spec_ref])
    w.update_root()

    meta = w.document_meta
    meta.title, meta.author, meta.subject, meta.creator = title_of(sheet), sheet.school, subject_of(sheet), CREATOR_TOOL
    # No meta.keywords: pyHanko writes them as pdf:keywords (sic, lower case), not a PDF/A
    # property, so it would need an extension schema. dc:identifier is a standard one.
    meta.created = now
    ns_dc, ns_pdfaid = model.NS["dc"], model.NS["pdfaid"]
    meta.xmp_extra = [model.XmpStructure.of(
        (model.ExpandedName(ns_pdfaid, "part"), model.XmpValue("3")),
        (model.ExpandedName(ns_pdfaid, "conformance"), model.XmpValue("B")),
        (model.ExpandedName(ns_dc, "identifier"), model.XmpValue(sheet.document_id)),
    )]
    out = BytesIO()
    w.write(out)
    return out.getvalue()
