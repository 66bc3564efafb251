"""The director's readiness statement (заявление о готовности к безбумажному ведению журналов) as a PDF.

reportlab platypus, A4 portrait, PT Sans embedded (Cyrillic; nothing in standard-14 fonts). The
statement lists every stage of the campaign with its state and evidence, then the declaration,
and ends with an empty rectangle where the director's signature field goes: its page and box are
recorded while drawing, so `pades.prepare_fields` puts the field exactly there.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from io import BytesIO

import fontpkg_pt_sans
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from pades.layout import DIRECTOR_FIELD, FieldBox

FONT_DIR = fontpkg_pt_sans.ROOT / "files"
FONT, FONT_B = "PTSans-Statement", "PTSans-Statement-Bold"
CREATOR = "journals: заявление о готовности к безбумажному ведению журналов"
MARGIN = 42.0
SIG_W, SIG_H = 250.0, 66.0
MONTHS_GEN = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
              "ноября", "декабря"]


@dataclass(frozen=True)
class StageLine:
    number: int
    title: str
    status: str
    evidence: str
    decision: str = ""


@dataclass(frozen=True)
class StatementData:
    kind: str                         # "confirm" / "withdraw"
    number: int | None                # None: a preview, not yet registered
    school_name: str
    school_code: str
    municipality_name: str
    region_name: str
    campaign_title: str
    basis: str | None
    target_date: date
    paperless_from: date | None
    director_name: str
    director_position: str
    reason: str | None
    on: date
    stages: list[StageLine] = field(default_factory=list)


@functools.cache
def _register_fonts() -> None:
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "PT_Sans-Web-Regular.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_B, str(FONT_DIR / "PT_Sans-Web-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_B, italic=FONT, boldItalic=FONT_B)


def _style(size: float, *, bold=False, center=False, leading=None) -> ParagraphStyle:
    return ParagraphStyle("s", fontName=FONT_B if bold else FONT, fontSize=size, leading=leading or size * 1.25,
                          alignment=TA_CENTER if center else 0)


def _esc(text: str) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def long_date(d: date) -> str:
    return f"{d.day} {MONTHS_GEN[d.month - 1]} {d.year} г."


class _SignatureBox(Flowable):
    """Where the signature field goes; records its page and box in PDF user space."""

    def __init__(self, label: str, boxes: list[FieldBox]):
        super().__init__()
        self.label, self.boxes = label, boxes
        self.width, self.height = SIG_W, SIG_H + 14

    def wrap(self, avail_width, avail_height):
        return self.width, self.height

    def draw(self):
        c = self.canv
        c.setFont(FONT, 8)
        c.drawString(0, SIG_H + 4, self.label)
        c.setStrokeColor(colors.Color(0.6, 0.6, 0.6))
        c.setDash(2, 2)
        c.rect(0, 0, SIG_W, SIG_H)
        x1, y1 = c.absolutePosition(0, 0)
        self.boxes.append(FieldBox(DIRECTOR_FIELD, "Директор", c.getPageNumber() - 1, (x1, y1, x1 + SIG_W, y1 + SIG_H)))


def render_statement(data: StatementData) -> tuple[bytes, FieldBox]:
    """The statement PDF (no signature field yet) and the box for the director's signature."""
    _register_fonts()
    buf = BytesIO()
    confirm = data.kind == "confirm"
    title = ("Заявление о готовности к безбумажному ведению электронных журналов" if confirm
             else "Заявление об отзыве подтверждения готовности к безбумажному ведению электронных журналов")
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN, title=title, author=data.director_name, subject=data.school_name,
                            creator=CREATOR, lang="ru-RU",
                            initialFontName=FONT, initialFontSize=10)
    width = A4[0] - 2 * MARGIN
    boxes: list[FieldBox] = []
    story = [
        Paragraph(_esc(data.region_name), _style(9, center=True)),
        Paragraph(_esc(data.municipality_name), _style(9, center=True)),
        Spacer(1, 10),
        Paragraph(_esc(title), _style(14, bold=True, center=True, leading=18)),
        Paragraph(f"№ {data.number}" if data.number is not None else "предварительный просмотр — без номера",
                  _style(9, center=True)),
        Spacer(1, 12),
        Paragraph(f"<b>Школа:</b> {_esc(data.school_name)} (код {_esc(data.school_code)})", _style(10)),
        Paragraph(f"<b>Кампания:</b> {_esc(data.campaign_title)}; переход с {long_date(data.target_date)}",
                  _style(10)),
    ]
    if data.basis:
        story.append(Paragraph(f"<b>Основание:</b> {_esc(data.basis)}", _style(10)))
    story += [Spacer(1, 10), Paragraph("Этапы перехода и подтверждения", _style(11, bold=True)), Spacer(1, 4)]
    cell = _style(8.5, leading=10.5)
    head = _style(8.5, bold=True, leading=10.5)
    rows = [[Paragraph("№", head), Paragraph("Этап", head), Paragraph("Состояние", head),
             Paragraph("Подтверждение", head)]]
    for s in data.stages:
        status = _esc(s.status) + (f"<br/>{_esc(s.decision)}" if s.decision else "")
        rows.append([Paragraph(str(s.number), cell), Paragraph(_esc(s.title), cell), Paragraph(status, cell),
                     Paragraph(_esc(s.evidence), cell)])
    table = Table(rows, colWidths=[22, width * 0.36, width * 0.2, width - 22 - width * 0.56], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.Color(0.35, 0.35, 0.35)),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (-1, -1), FONT),
    ]))
    story += [table, Spacer(1, 14)]
    if confirm:
        when = f"{data.paperless_from or data.target_date:%d.%m.%Y}"
        text = (f"Настоящим подтверждаю, что школа выполнила перечисленные этапы и готова вести классные журналы "
                f"и дневники успеваемости только в электронном виде, без бумажных копий, с {when}. "
                f"На печать выводится, заверяется и сдаётся в архив только сводная ведомость успеваемости "
                f"за учебный год.")
    else:
        text = ("Настоящим отзываю ранее подписанное подтверждение готовности школы к безбумажному ведению "
                "электронных журналов. Причина: " + _esc(data.reason or "—") + ".")
    story += [Paragraph(text, _style(10.5, leading=14)), Spacer(1, 18)]
    who = Table([[Paragraph(f"{_esc(data.director_position)}<br/><b>{_esc(data.director_name)}</b><br/>"
                            f"{long_date(data.on)}", _style(10, leading=13)),
                  _SignatureBox("Электронная подпись директора", boxes)]],
                colWidths=[width - SIG_W - 10, SIG_W + 10])
    who.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                             ("FONTNAME", (0, 0), (-1, -1), FONT)]))
    story.append(KeepTogether([who]))
    doc.build(story)
    if not boxes:
        raise RuntimeError("signature box was not drawn")
    return buf.getvalue(), boxes[-1]
