"""Render a summary sheet (сводная ведомость) to a PDF/A-3b file, ready for signature fields.

At the cost of drawing (issue 20). What depends only on the sheet's shape — the subjects and periods, hence
the column widths, the subject groups per page, the wrapped header rows — is computed once and cached
(`grid_for`); a sheet then only measures its pupils' rows, breaks them into pages and draws text, rules and
fills straight onto reportlab's canvas: no Platypus flowables, no table splitting, no second pass for «Стр. N
из M» (the page count is known before the first page is drawn).

PDF/A-3b is written in the same pass, not by parsing the file again: an sRGB OutputIntent, XMP metadata and an
Info dictionary made by pyHanko's own metadata code from one `DocumentMetadata` (so they say the same, as PDF/A
wants, and pyHanko's later incremental updates keep them in step), /Lang, and marks.json attached as an
associated file (AFRelationship /Data). Fonts: PT Sans, embedded as subsets (PDF/A needs every glyph used, and
nothing in the standard 14); the subset of a given set of characters is made once per process
(`_CachingTTFont`), since every sheet of a region uses the same Cyrillic letters and digits.

The drawing of the previous renderer (Platypus) is kept in benchmarks/render_platypus.py as the baseline.
Not verified here: a full PDF/A validator run (veraPDF is not on this machine).
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from io import BytesIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.metadata import model, xmp_xml
from pyhanko.pdf_utils.metadata.info import update_info_dict
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.textobject import PDFTextObject

from pades.fonts import FONT_BOLD, FONT_REGULAR
from pades.layout import CLASS_TEACHER_FIELD, DIRECTOR_FIELD, FieldBox, SheetLayout
from pades.pdfa import CREATOR_TOOL, srgb_icc_profile
from sheets import sheet_data as sheet_model
from sheets.qr import QRCode
from sheets.sheet_data import SheetData, sorted_pupils

FONT, FONT_B = "PTSans", "PTSans-Bold"

PAGE = landscape(A4)
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 28.0, 28.0, 40.0
WIDTH = PAGE[0] - 2 * MARGIN_X
TOP, BOTTOM = PAGE[1] - MARGIN_TOP, MARGIN_BOTTOM
NUM_W, NAME_W, MIN_MARK_W = 16.0, 124.0, 19.0
SIG_BOX_W, SIG_BOX_H = 230.0, 62.0
GRID = colors.Color(0.35, 0.35, 0.35)        # DeviceRGB only: the OutputIntent is sRGB
HEAD_BG = colors.Color(0.88, 0.88, 0.88)
ZEBRA = colors.Color(0.96, 0.96, 0.96)
PAD_X, PAD_TOP, PAD_BOTTOM = 1.5, 1.5, 2.0   # cell padding
BOLD_MARKS = frozenset({"2", "незач", "н/а"})
QR_SIZE, RIGHT_W = 64.0, 170.0


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    layout: SheetLayout


def render_sheet(sheet: SheetData) -> bytes:
    return render(sheet).pdf


def render(sheet: SheetData) -> Rendered:
    register_fonts()
    pupils = sorted_pupils(sheet.pupils)
    pages = _paginate(sheet, pupils)
    meta = _metadata(sheet)
    out = BytesIO()
    c = Canvas(out, pagesize=PAGE, invariant=True, pageCompression=1, initialFontName=FONT, initialFontSize=9,
               lang="ru-RU")
    _pdfa_catalog(c, sheet, meta)
    boxes: list[FieldBox] = []
    for number, page in enumerate(pages, 1):
        for draw in page:
            draw(c, boxes)
        _footer(c, sheet, number, len(pages))
        c.showPage()
    c.save()
    if [b.name for b in boxes] != [CLASS_TEACHER_FIELD, DIRECTOR_FIELD]:
        raise RuntimeError(f"signature boxes were not laid out: {boxes}")
    return Rendered(pdf=out.getvalue(), layout=SheetLayout(pages=len(pages), fields=tuple(boxes)))


# ---- fonts and text ---------------------------------------------------------------------------------------

class _FlateOnce:
    """reportlab's Flate filter for the embedded font files, remembering what it compressed: a subset is the
    same bytes object for every sheet of a batch (`_CachingTTFont`), and compressing its ≈ 90 KB was a
    quarter of a sheet's rendering. zlib is deterministic: the bytes written are those it would give."""
    pdfname = pdfdoc.PDFZCompress.pdfname

    @functools.lru_cache(maxsize=64)
    def encode(self, data: bytes) -> bytes:
        return pdfdoc.PDFZCompress.encode(data)

    def decode(self, encoded: bytes) -> bytes:
        return pdfdoc.PDFZCompress.decode(encoded)


_FLATE_ONCE = _FlateOnce()


class _CachingTTFont(TTFont):
    """A TrueType font whose subsets are made once per set of characters: the same letters give the same
    subset bytes, so a batch of sheets pays the subsetting of each font once — and its compression."""

    def __init__(self, name: str, path: str):
        super().__init__(name, path)
        face = self.face
        make, add_objects = face.makeSubset, face.addSubsetObjects

        @functools.lru_cache(maxsize=64)
        def cached(subset: tuple[int, ...]) -> bytes:
            return make(list(subset))

        def add_subset_objects(doc, fontname, subset):
            descriptor = add_objects(doc, fontname, subset)
            font_file = doc.idToObject.get(f"fontFile:{face.filename}({fontname})")
            if font_file is not None and font_file.filters:     # compressed, as every page is (pageCompression)
                font_file.filters = [_FLATE_ONCE]
            return descriptor
        face.makeSubset = lambda subset: cached(tuple(subset))
        face.addSubsetObjects = add_subset_objects


@functools.cache
def register_fonts() -> None:
    pdfmetrics.registerFont(_CachingTTFont(FONT, str(FONT_REGULAR)))
    pdfmetrics.registerFont(_CachingTTFont(FONT_B, str(FONT_BOLD)))


@functools.lru_cache(maxsize=4096)
def _width(text: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(text, font, size)


def _wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """Words onto lines no wider than `width`; a word wider than a line is cut by characters (a URL)."""
    lines: list[str] = []
    line = ""
    for word in text.replace("\n", " \n ").split(" "):
        if word == "\n":
            lines.append(line)
            line = ""
            continue
        candidate = f"{line} {word}" if line else word
        if _width(candidate, font, size) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while _width(word, font, size) > width and len(word) > 1:
            cut = max(1, next((i for i in range(len(word), 0, -1) if _width(word[:i], font, size) <= width), 1))
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    lines.append(line)
    return tuple(lines)


def _text(c: Canvas, x: float, y: float, text: str, font: str, size: float, align: str = "left") -> None:
    if align == "center":
        x -= _width(text, font, size) / 2
    elif align == "right":
        x -= _width(text, font, size)
    c.setFont(font, size)
    c.drawString(x, y, text)


class _CachedText(PDFTextObject):
    """A text object that encodes each distinct string once per document: a sheet prints a handful of
    distinct marks some 3,000 times, and reportlab would split each into font subsets and escape it anew.
    (The subset a character goes to is fixed per document at its first use, so the encoding is too.)"""

    def __init__(self, canvas: Canvas):
        super().__init__(canvas)
        self._encoded = canvas.__dict__.setdefault("_jt_encoded", {})

    def _formatText(self, text: str) -> str:
        key = (self._fontname, self._fontsize, getattr(self, "_curSubset"), text)   # reportlab's state: untyped
        hit = self._encoded.get(key)
        if hit is None:
            hit = self._encoded[key] = (super()._formatText(text), getattr(self, "_curSubset"))
        setattr(self, "_curSubset", hit[1])
        return hit[0]


def _rich_line(c: Canvas, x: float, y: float, parts: list[tuple[str, str]], size: float) -> None:
    """One line of text in runs of regular and bold."""
    for text, font in parts:
        c.setFont(font, size)
        c.drawString(x, y, text)
        x += _width(text, font, size)


def _rich_wrap(parts: list[tuple[str, str]], size: float, width: float) -> list[list[tuple[str, str]]]:
    words = [(w, font) for text, font in parts for w in re.findall(r"\s*\S+\s*", text)]
    lines: list[list[tuple[str, str]]] = [[]]
    used = 0.0
    for word, font in words:
        if used and used + _width(word.rstrip(), font, size) > width:
            lines.append([])
            used = 0.0
            word = word.lstrip()
        lines[-1].append((word, font))
        used += _width(word, font, size)
    return lines


# ---- the grid: computed once per shape (subjects × periods) -----------------------------------------------

@dataclass(frozen=True)
class Grid:
    """The marks table of one subject group: column positions and the two header rows, wrapped."""
    subjects: tuple[str, ...]
    first: int                                   # index of the group's first subject in the sheet
    periods: tuple[str, ...]
    mark_w: float
    heads: tuple[tuple[str, ...], ...]           # per subject: its name's lines
    head_h: float                                # the subject row's height
    period_h: float                              # the periods row's height

    @property
    def columns(self) -> list[float]:
        """x of every column boundary, relative to the table's left edge."""
        xs = [0.0, NUM_W, NUM_W + NAME_W]
        for _ in range(len(self.subjects) * len(self.periods)):
            xs.append(xs[-1] + self.mark_w)
        return xs


@functools.lru_cache(maxsize=128)
def grid_for(subjects: tuple[str, ...], periods: tuple[str, ...]) -> tuple[Grid, ...]:
    """The subject groups of a sheet shape: as many whole subjects (all their periods) as fit across a page."""
    fit = max(1, int((WIDTH - NUM_W - NAME_W) // (MIN_MARK_W * len(periods))))
    grids = []
    for first in range(0, len(subjects), fit):
        group = subjects[first:first + fit]
        mark_w = (WIDTH - NUM_W - NAME_W) / (len(group) * len(periods))
        heads = tuple(_wrap(s, FONT_B, 7, mark_w * len(periods) - 2 * PAD_X) for s in group)
        name_head = _wrap("Фамилия, имя обучающегося", FONT_B, 7, NAME_W - 2 * PAD_X)
        lines = max(len(name_head), *(len(h) for h in heads))
        period_lines = max(len(_wrap(p, FONT, 6, mark_w - 2 * PAD_X)) for p in periods)
        grids.append(Grid(group, first, periods, mark_w, heads, lines * 8.4 + PAD_TOP + PAD_BOTTOM,
                          period_lines * 6.6 + PAD_TOP + PAD_BOTTOM))
    return tuple(grids)


def _row_h(lines: int, leading: float) -> float:
    return lines * leading + PAD_TOP + PAD_BOTTOM


# ---- pagination: what goes on which page, decided before anything is drawn --------------------------------

def _paginate(sheet: SheetData, pupils) -> list[list]:
    """Pages as lists of drawing steps (each `step(canvas, boxes)`)."""
    names = [_wrap(p.name, FONT, 7.5, NAME_W - 2 * PAD_X) for p in pupils]
    row_hs = [_row_h(len(n), 8.5) for n in names]
    pages: list[list] = [[]]
    y = TOP - _header_height(sheet)
    pages[0].append(functools.partial(_draw_header, sheet=sheet))
    y -= 6
    for i, grid in enumerate(grid_for(tuple(sheet.subjects), tuple(sheet.periods))):
        if i:
            pages.append([])
            y = TOP
        caption = f"Отметки по предметам {grid.first + 1}–{grid.first + len(grid.subjects)} из {len(sheet.subjects)}"
        pages[-1].append(functools.partial(_draw_caption, text=caption, y=y - 8))
        y -= 9.6 + 3
        start = 0
        while start < len(pupils):
            room = y - grid.head_h - grid.period_h - BOTTOM
            end = start
            while end < len(pupils) and room >= row_hs[end]:
                room -= row_hs[end]
                end += 1
            if end == start and y < TOP:          # not even one row under the header: next page
                pages.append([])
                y = TOP
                continue
            end = max(end, start + 1)
            pages[-1].append(functools.partial(_draw_marks, grid=grid, pupils=pupils, names=names,
                                               row_hs=row_hs, rows=(start, end), top=y))
            if end < len(pupils):
                pages.append([])
                y = TOP
            else:
                y -= grid.head_h + grid.period_h + sum(row_hs[start:end])
            start = end
    pages.append([])
    y = TOP
    pages[-1].append(functools.partial(_draw_caption, text="Пропуски уроков и решение педагогического совета",
                                       y=y - 8))
    y -= 9.6 + 3
    abs_rows = [_row_h(len(_wrap(p.name, FONT, 7.5, ABSENCE_COLS[1] - 2 * PAD_X)), 8.5) for p in pupils]
    start = 0
    while start < len(pupils) or start == 0:
        room, end = y - ABSENCE_HEAD_H - BOTTOM, start
        while end < len(pupils) and room >= abs_rows[end]:
            room -= abs_rows[end]
            end += 1
        pages[-1].append(functools.partial(_draw_absences, pupils=pupils, row_hs=abs_rows, rows=(start, end), top=y))
        if end < len(pupils):
            pages.append([])
            y = TOP
        else:
            y -= ABSENCE_HEAD_H + sum(abs_rows[start:end])
        start = end
        if start >= len(pupils):
            break
    y -= 10
    council = _council_lines(sheet)
    final_h = _totals_height() + 8 + len(council) * 10.8 + 10 + SIGNATURE_H
    if y - final_h < BOTTOM:
        pages.append([])
        y = TOP
    pages[-1].append(functools.partial(_draw_final, sheet=sheet, council=council, top=y))
    return pages


# ---- drawing ----------------------------------------------------------------------------------------------

def _header_lines(sheet: SheetData) -> list[tuple[str, str]]:
    return [("Субъект РФ", sheet.region), ("Муниципальное образование", sheet.municipality),
            ("Образовательная организация", sheet.school), ("Класс", sheet.class_name),
            ("Классный руководитель", sheet.class_teacher)]


def _header_height(sheet: SheetData) -> float:
    left_w = WIDTH - RIGHT_W
    lines = sum(len(_rich_wrap([(f"{k}: ", FONT), (v, FONT_B)], 9, left_w)) for k, v in _header_lines(sheet))
    left = 15.6 + 12 + 4 + lines * 10.8
    right = QR_SIZE + 7.8 * (1 + len(_wrap(sheet.verify_url, FONT, 6.5, RIGHT_W)))
    return max(left, right)


def _draw_header(c: Canvas, boxes, *, sheet: SheetData) -> None:
    x, y = MARGIN_X, TOP
    _text(c, x, y - 13, "СВОДНАЯ ВЕДОМОСТЬ УЧЁТА УСПЕВАЕМОСТИ ОБУЧАЮЩИХСЯ", FONT_B, 13)
    y -= 15.6
    _text(c, x, y - 10, f"за {sheet.school_year} учебный год", FONT_B, 10)
    y -= 12 + 4
    for key, value in _header_lines(sheet):
        for line in _rich_wrap([(f"{key}: ", FONT), (value, FONT_B)], 9, WIDTH - RIGHT_W):
            _rich_line(c, x, y - 9, line, 9)
            y -= 10.8
    qx, qy = MARGIN_X + WIDTH - RIGHT_W, TOP - QR_SIZE
    _draw_qr(c, sheet.verify_url, qx, qy, QR_SIZE)
    y = qy
    for caption in ("Проверка подлинности:", *_wrap(sheet.verify_url, FONT, 6.5, RIGHT_W)):
        _text(c, qx, y - 6.5, caption, FONT, 6.5)
        y -= 7.8


@functools.lru_cache(maxsize=256)
def _qr_runs(data: str) -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """The QR code's dark modules as horizontal runs (row, first column, length): one rectangle per run."""
    qr = QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    qr.addData(data)
    qr.make()
    n = qr.getModuleCount()
    runs = []
    for r in range(n):
        col = 0
        while col < n:
            if qr.isDark(r, col):
                start = col
                while col < n and qr.isDark(r, col):
                    col += 1
                runs.append((r, start, col - start))
            else:
                col += 1
    return n, tuple(runs)


def _draw_qr(c: Canvas, data: str, x: float, y: float, size: float) -> None:
    n, runs = _qr_runs(data)
    m = size / n
    path = c.beginPath()
    for r, col, length in runs:
        path.rect(x + col * m, y + size - (r + 1) * m, length * m, m)
    c.setFillColor(colors.black)
    c.drawPath(path, stroke=0, fill=1)


def _draw_caption(c: Canvas, boxes, *, text: str, y: float) -> None:
    _text(c, MARGIN_X, y, text, FONT_B, 8)


def _cell_baseline(top: float, h: float, lines: int, leading: float, size: float) -> float:
    """The first line's baseline for text centred vertically in a cell (as Platypus' VALIGN MIDDLE)."""
    block = lines * leading
    return top - PAD_TOP - (h - PAD_TOP - PAD_BOTTOM - block) / 2 - leading + (leading - size) * 0.5 + size * 0.22


def _rules(c: Canvas, horizontal, vertical, width: float = 0.4, color=GRID) -> None:
    """Grid lines in one path: `horizontal` as (y, x1, x2), `vertical` as (x, y1, y2)."""
    c.setStrokeColor(color)
    c.setLineWidth(width)
    c.lines([(x1, y, x2, y) for y, x1, x2 in horizontal] + [(x, y1, x, y2) for x, y1, y2 in vertical])


def _draw_marks(c: Canvas, boxes, *, grid: Grid, pupils, names, row_hs, rows: tuple[int, int], top: float) -> None:
    left = MARGIN_X
    xs = [left + v for v in grid.columns]
    right = xs[-1]
    n_per = len(grid.periods)
    body_top = top - grid.head_h - grid.period_h
    ys = [body_top]
    for i in range(*rows):
        ys.append(ys[-1] - row_hs[i])
    bottom = ys[-1]
    c.setFillColor(HEAD_BG)
    c.rect(left, body_top, right - left, top - body_top, stroke=0, fill=1)
    c.setFillColor(ZEBRA)
    for k, i in enumerate(range(*rows)):
        if (i + 1) % 2 == 0:
            c.rect(left, ys[k + 1], right - left, row_hs[i], stroke=0, fill=1)
    c.setFillColor(colors.black)
    # header text
    period_top = top - grid.head_h
    for x0, x1, lines in ((xs[0], xs[1], ("№",)), (xs[1], xs[2], _wrap("Фамилия, имя обучающегося", FONT_B, 7,
                                                                     NAME_W - 2 * PAD_X))):
        font = FONT if lines == ("№",) else FONT_B
        base = _cell_baseline(top, top - body_top, len(lines), 8.4 if font == FONT_B else 8, 7)
        for j, line in enumerate(lines):
            _text(c, (x0 + x1) / 2, base - j * 8.4, line, font, 7, "center")
    for k, head in enumerate(grid.heads):
        x0, x1 = xs[2 + k * n_per], xs[2 + (k + 1) * n_per]
        base = _cell_baseline(top, grid.head_h, len(head), 8.4, 7)
        for j, line in enumerate(head):
            _text(c, (x0 + x1) / 2, base - j * 8.4, line, FONT_B, 7, "center")
        for p, period in enumerate(grid.periods):
            px0 = x0 + p * grid.mark_w
            plines = _wrap(period, FONT, 6, grid.mark_w - 2 * PAD_X)
            pbase = _cell_baseline(period_top, grid.period_h, len(plines), 6.6, 6)
            for j, line in enumerate(plines):
                _text(c, px0 + grid.mark_w / 2, pbase - j * 6.6, line, FONT, 6, "center")
    # body text: one text object for the table, fonts switched only when they change
    t = _CachedText(c)
    font_now = None

    def put(x: float, y: float, text: str, font: str, size: float) -> None:
        nonlocal font_now
        if font_now != (font, size):
            t.setFont(font, size)
            font_now = (font, size)
        t.setTextOrigin(x, y)
        t._textOut(text)
    centres = [(xs[2 + j] + xs[3 + j]) / 2 for j in range(len(grid.subjects) * n_per)]
    for k, i in enumerate(range(*rows)):
        pupil, h, row_top = pupils[i], row_hs[i], ys[k]
        number = str(i + 1)
        base = _cell_baseline(row_top, h, 1, 8, 7)
        put((xs[0] + xs[1]) / 2 - _width(number, FONT, 7) / 2, base, number, FONT, 7)
        nbase = _cell_baseline(row_top, h, len(names[i]), 8.5, 7.5)
        for j, line in enumerate(names[i]):
            put(xs[1] + PAD_X, nbase - j * 8.5, line, FONT, 7.5)
        col = 0
        for subject in grid.subjects:
            for period in grid.periods:
                mark = pupil.mark(subject, period)
                if mark:
                    font = FONT_B if mark in BOLD_MARKS else FONT
                    put(centres[col] - _width(mark, font, 7) / 2, base, mark, font, 7)
                col += 1
    c.drawText(t)
    # rules: thin grid, then the subject boundaries in black
    horizontal = [(y, left, right) for y in (top, body_top, *ys[1:])]
    horizontal.append((period_top, xs[2], right))
    vertical = [(xs[0], top, bottom), (xs[1], top, bottom), (right, top, bottom)]
    for j in range(len(grid.subjects)):
        for p in range(1, n_per):
            vertical.append((xs[2 + j * n_per + p], period_top, bottom))
    _rules(c, horizontal, vertical)
    _rules(c, [], [(xs[2 + j * n_per], top, bottom) for j in range(len(grid.subjects))], 1.0, colors.black)


ABSENCE_COLS = (NUM_W, 190.0, 58.0, 58.0, 58.0, 150.0)
ABSENCE_HEAD = ("№", "Фамилия, имя обучающегося", "Пропущено\nдней", "Пропущено\nуроков", "в т. ч.\nпо болезни",
                "Решение педагогического совета")
ABSENCE_HEAD_H = _row_h(2, 8)


def _draw_absences(c: Canvas, boxes, *, pupils, row_hs, rows: tuple[int, int], top: float) -> None:
    xs = [MARGIN_X]
    for w in ABSENCE_COLS:
        xs.append(xs[-1] + w)
    body_top = top - ABSENCE_HEAD_H
    c.setFillColor(HEAD_BG)
    c.rect(xs[0], body_top, xs[-1] - xs[0], ABSENCE_HEAD_H, stroke=0, fill=1)
    c.setFillColor(colors.black)
    for j, head in enumerate(ABSENCE_HEAD):
        lines = _wrap(head, FONT_B, 7, ABSENCE_COLS[j] - 2 * PAD_X)
        base = _cell_baseline(top, ABSENCE_HEAD_H, len(lines), 8, 7)
        for k, line in enumerate(lines):
            _text(c, (xs[j] + xs[j + 1]) / 2, base - k * 8, line, FONT_B, 7, "center")
    y = body_top
    ys = [y]
    for i in range(*rows):
        p, h = pupils[i], row_hs[i]
        names = _wrap(p.name, FONT, 7.5, ABSENCE_COLS[1] - 2 * PAD_X)
        base = _cell_baseline(y, h, 1, 8, 7)
        _text(c, (xs[0] + xs[1]) / 2, base, str(i + 1), FONT, 7, "center")
        nbase = _cell_baseline(y, h, len(names), 8.5, 7.5)
        for k, line in enumerate(names):
            _text(c, xs[1] + PAD_X, nbase - k * 8.5, line, FONT, 7.5)
        for j, value in ((2, p.absences_days), (3, p.absences_lessons), (4, p.absences_illness)):
            _text(c, (xs[j] + xs[j + 1]) / 2, base, str(value), FONT, 7, "center")
        _text(c, xs[5] + PAD_X, base, p.decision, FONT, 7)
        y -= h
        ys.append(y)
    _rules(c, [(v, xs[0], xs[-1]) for v in (top, *ys)], [(x, top, y) for x in xs])


def _totals_rows(t: sheet_model.Totals) -> list[tuple[str, str]]:
    rows = [("Всего обучающихся", str(t.total))]
    rows += [(label[:1].upper() + label[1:], str(t.counts[key])) for key, label in sheet_model.CATEGORY_LABELS.items()]
    return [*rows, ("Успеваемость, %", f"{t.success_pct:.1f}"), ("Качество знаний, %", f"{t.quality_pct:.1f}")]


TOTALS_ROW_H = _row_h(1, 8)


def _totals_height() -> float:
    return TOTALS_ROW_H * (2 + len(sheet_model.CATEGORY_LABELS) + 2)


def _council_lines(sheet: SheetData) -> list[list[tuple[str, str]]]:
    when = sheet.council_date.strftime("%d.%m.%Y") if sheet.council_date else "____________"
    proto = sheet.council_protocol or "____"
    return _rich_wrap([("Решение о переводе (выпуске) обучающихся принято педагогическим советом ", FONT),
                       (when, FONT_B), (", протокол № ", FONT), (proto, FONT_B), (".", FONT)], 9, WIDTH)


SIGNATURE_H = SIG_BOX_H + 26


def _draw_final(c: Canvas, boxes: list[FieldBox], *, sheet: SheetData, council, top: float) -> None:
    """Totals, the council's decision and the two signature boxes, kept together on one page."""
    t = sheet_model.totals(sheet)
    xs = (MARGIN_X, MARGIN_X + 220, MARGIN_X + 270)
    rows = _totals_rows(t)
    c.setFillColor(HEAD_BG)
    c.rect(xs[0], top - TOTALS_ROW_H, xs[2] - xs[0], TOTALS_ROW_H, stroke=0, fill=1)
    c.setFillColor(colors.black)
    _text(c, xs[0] + PAD_X, _cell_baseline(top, TOTALS_ROW_H, 1, 8, 7), f"Итоги по отметкам «{t.column}»", FONT_B, 7)
    y = top - TOTALS_ROW_H
    ys = [top, y]
    for label, value in rows:
        base = _cell_baseline(y, TOTALS_ROW_H, 1, 8, 7)
        _text(c, xs[0] + PAD_X, base, label, FONT, 7)
        _text(c, (xs[1] + xs[2]) / 2, base, value, FONT, 7, "center")
        y -= TOTALS_ROW_H
        ys.append(y)
    _rules(c, [(v, xs[0], xs[2]) for v in ys], [(xs[0], top, y), (xs[2], top, y), (xs[1], ys[1], y)])
    y -= 8
    c.setFillColor(colors.black)
    for line in council:
        _rich_line(c, MARGIN_X, y - 9, line, 9)
        y -= 10.8
    y -= 10
    bottom = y - SIGNATURE_H
    for i, (field, role, person) in enumerate(((CLASS_TEACHER_FIELD, "Классный руководитель", sheet.class_teacher),
                                                (DIRECTOR_FIELD, "Директор", sheet.director))):
        x = MARGIN_X + i * (SIG_BOX_W + 60)
        _text(c, x, bottom + SIGNATURE_H - 10, role, FONT_B, 9)
        c.setStrokeColor(colors.Color(0.6, 0.6, 0.6))
        c.setLineWidth(0.5)
        c.setDash(2, 2)
        c.rect(x, bottom + 12, SIG_BOX_W, SIG_BOX_H)
        c.setDash()
        _text(c, x, bottom + 2, f"/ {person} /", FONT, 8)
        # Rounded: float noise (230.00000000000003) makes pyHanko warn that the stamp does not fit.
        box = (round(x, 2), round(bottom + 12, 2), round(x + SIG_BOX_W, 2), round(bottom + 12 + SIG_BOX_H, 2))
        boxes.append(FieldBox(field, role, c.getPageNumber() - 1, box))
        _signature_field(c, boxes[-1])


# The empty signature fields are written with the page, in the document's only revision, as pyHanko's
# `append_signature_field` would add them (pades.prepare_fields, for documents drawn elsewhere): parsing the
# whole PDF again and copying it into a new writer to add them was a fifth of a sheet's rendering.
def _signature_field(c: Canvas, box: FieldBox) -> None:
    x1, y1, x2, y2 = (round(v) for v in box.box)
    w, h = x2 - x1, y2 - y1
    # an appearance stream, however neutral: PDF/A wants one on every widget
    look = _stream(f"q q 0.95 0.95 0.95 rg 0 0 {w} {h} re f Q 0.5 w 0 0 {w} {h} re S Q".encode(), filters=[],
                   Type=pdfdoc.PDFName("XObject"), Subtype=pdfdoc.PDFName("Form"),
                   BBox=pdfdoc.PDFArray([0, 0, w, h]), Resources=pdfdoc.PDFDictionary({}))
    entries = {"FT": pdfdoc.PDFName("Sig"), "T": pdfdoc.PDFString(box.name),
               "TU": pdfdoc.PDFString(f"Подпись: {box.label}"),
               "Type": pdfdoc.PDFName("Annot"), "Subtype": pdfdoc.PDFName("Widget"),
               "F": 132,                                            # printed, locked (PDF/A wants it printed)
               "Rect": pdfdoc.PDFArray([x1, y1, x2, y2]), "P": c._doc.thisPageRef(),
               "AP": pdfdoc.PDFDictionary({"N": c._doc.Reference(look)})}
    if box.name == DIRECTOR_FIELD:
        # signed, the director's field locks every field and the document (pades.DIRECTOR_FIELD's contract)
        entries["Lock"] = c._doc.Reference(pdfdoc.PDFDictionary({
            "Type": pdfdoc.PDFName("SigFieldLock"), "Action": pdfdoc.PDFName("All"), "P": 1}))
    name = f"SignatureField{box.name}"
    c._addAnnotation(pdfdoc.PDFDictionary(entries), name)
    catalog = c._doc.Catalog
    fields = getattr(catalog, "AcroForm", None)
    if fields is None:
        fields = catalog.AcroForm = pdfdoc.PDFDictionary({"Fields": pdfdoc.PDFArray([]), "SigFlags": 1})
    fields["Fields"].sequence.append(c._doc.refAnnotation(name))


def _footer(c: Canvas, sheet: SheetData, number: int, total: int) -> None:
    w = PAGE[0]
    c.setFillColor(colors.black)
    c.setStrokeColor(GRID)
    c.setLineWidth(0.4)
    c.line(MARGIN_X, 30, w - MARGIN_X, 30)
    _text(c, MARGIN_X, 20, f"Документ № {sheet.document_id}", FONT, 7.5)
    mid = f"Сводная ведомость · {sheet.class_name} · {sheet.school_year} · {sheet.school}"
    _text(c, w / 2, 20, mid[:150], FONT, 7.5, "center")
    _text(c, w - MARGIN_X, 20, f"Стр. {number} из {total}", FONT, 7.5, "right")


# ---- PDF/A-3b, written with the document ------------------------------------------------------------------

def title_of(sheet: SheetData) -> str:
    return f"Сводная ведомость успеваемости, {sheet.class_name} класс, {sheet.school_year} учебный год"


def subject_of(sheet: SheetData) -> str:
    return f"{sheet.school}; {sheet.municipality}; {sheet.region}"


def _metadata(sheet: SheetData) -> model.DocumentMetadata:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    meta = model.DocumentMetadata(title=title_of(sheet), author=sheet.school, subject=subject_of(sheet),
                                  creator=CREATOR_TOOL, created=now, last_modified=now)
    # No keywords: pyHanko writes them as pdf:keywords (sic, lower case), not a PDF/A property, so they
    # would need an extension schema. dc:identifier is a standard one.
    ns_dc, ns_pdfaid = model.NS["dc"], model.NS["pdfaid"]
    meta.xmp_extra = [model.XmpStructure.of(
        (model.ExpandedName(ns_pdfaid, "part"), model.XmpValue("3")),
        (model.ExpandedName(ns_pdfaid, "conformance"), model.XmpValue("B")),
        (model.ExpandedName(ns_dc, "identifier"), model.XmpValue(sheet.document_id)),
    )]
    return meta


class _Info(pdfdoc.PDFObject):
    """The Info dictionary as pyHanko writes it for `meta` (reportlab's own would name another producer)."""
    invariant = True

    def __init__(self, meta: model.DocumentMetadata):
        info = generic.DictionaryObject()
        update_info_dict(meta, info)
        self.values = {str(k).lstrip("/"): str(v) for k, v in info.items()}

    def digest(self, md5) -> None:
        md5.update(repr(sorted(self.values.items())).encode())

    def format(self, document) -> bytes:
        return pdfdoc.PDFDictionary({k: pdfdoc.PDFString(v) for k, v in self.values.items()}).format(document)


def _stream(data: bytes, filters=None, **entries) -> pdfdoc.PDFStream:
    return pdfdoc.PDFStream(pdfdoc.PDFDictionary(entries), data, filters=filters)


def _pdfa_catalog(c: Canvas, sheet: SheetData, meta: model.DocumentMetadata) -> None:
    doc = c._doc
    doc.info = _Info(meta)
    xmp = BytesIO()
    xmp_xml.serialise_xmp(xmp_xml.update_xmp_with_meta(meta), xmp)
    catalog = doc.Catalog
    catalog.Metadata = _stream(xmp.getvalue(), filters=[], Type=pdfdoc.PDFName("Metadata"),
                               Subtype=pdfdoc.PDFName("XML"))
    icc = doc.Reference(_icc_stream())
    intent = pdfdoc.PDFDictionary({
        "Type": pdfdoc.PDFName("OutputIntent"), "S": pdfdoc.PDFName("GTS_PDFA1"),
        "OutputConditionIdentifier": pdfdoc.PDFString("sRGB IEC61966-2.1"),
        "RegistryName": pdfdoc.PDFString("http://www.color.org"), "Info": pdfdoc.PDFString("sRGB IEC61966-2.1"),
        "DestOutputProfile": icc})
    catalog.OutputIntents = pdfdoc.PDFArray([doc.Reference(intent)])
    # marks.json as an associated file (a PDF/A-3 feature; PDF 1.7 header kept, as PDF/A-3 requires)
    data = sheet_model.to_json(sheet)
    stamp = pdfdoc.PDFString(generic.pdf_date(meta.created))   # type: ignore[arg-type]
    ef = doc.Reference(_stream(data, Type=pdfdoc.PDFName("EmbeddedFile"),
                               Subtype="/application#2Fjson", filters=[pdfdoc.PDFZCompress],
                               Params=pdfdoc.PDFDictionary({"Size": len(data), "CreationDate": stamp,
                                                            "ModDate": stamp,
                                                            "CheckSum": pdfdoc.PDFString(
                                                                hashlib.md5(data, usedforsecurity=False).digest())})))
    spec = doc.Reference(pdfdoc.PDFDictionary({
        "Type": pdfdoc.PDFName("Filespec"), "F": pdfdoc.PDFString("marks.json"),
        "UF": pdfdoc.PDFString("marks.json"), "EF": pdfdoc.PDFDictionary({"F": ef, "UF": ef}),
        "Desc": pdfdoc.PDFString("Отметки ведомости в машиночитаемом виде (JSON)"),
        "AFRelationship": pdfdoc.PDFName("Data")}))
    catalog.Names = pdfdoc.PDFDictionary({"EmbeddedFiles": pdfdoc.PDFDictionary({
        "Names": pdfdoc.PDFArray([pdfdoc.PDFString("marks.json"), spec])})})
    catalog.AF = pdfdoc.PDFArray([spec])
    # reportlab's catalog writes only the keys it knows: these two are added for this document
    catalog.__NoDefault__ = [*type(catalog).__NoDefault__, "OutputIntents", "AF"]


@functools.cache
def _icc_data() -> bytes:
    return srgb_icc_profile()


def _icc_stream() -> pdfdoc.PDFStream:
    return _stream(_icc_data(), filters=[pdfdoc.PDFZCompress], N=3)


def attached_marks(pdf: bytes) -> dict | None:
    """The marks.json a sheet rendered here carries (as parsed JSON), or None: how a record is rebuilt
    from its archived object when the database no longer has the sheet (archive/reconcile.py)."""
    import json
    try:
        names = PdfFileReader(BytesIO(pdf), strict=False).root["/Names"]["/EmbeddedFiles"]["/Names"]
        for i in range(0, len(names) - 1, 2):     # indexing, not slicing: it resolves the references
            if names[i] == "marks.json":
                data = json.loads(names[i + 1]["/EF"]["/F"].data)
                return data if isinstance(data, dict) else None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return None
