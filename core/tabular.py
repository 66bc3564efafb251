"""Tables in and out: reading uploaded CSV/XLSX files row by row with errors that name the file, row and
field, and writing XLSX exports safe to open in Excel (text that looks like a formula stays text).

Every import of the service (organisations, marks, recommended schools) reads through `read_table`.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import logging
import re
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import PurePath

from flask import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

log = logging.getLogger(__name__)

MAX_ERRORS = 200                  # errors reported per file; a final note says how many more
XLSX_MAX_UNPACKED = 256 * 1024 * 1024   # sum of the unpacked sizes of an XLSX's parts (zip bombs)
CSV_SUFFIXES = (".csv", ".txt")
XLSX_SUFFIXES = (".xlsx",)
XLS_SUFFIXES = (".xls",)           # Excel 97–2003: what Дневник.ру's journal export and Сетевой город give
DELIMITERS = (";", ",", "\t")
_INVISIBLE_CHARS = "\ufeff\u200b\u200c\u200d\u2060"     # BOM, zero-width space / non-joiner / joiner, word joiner
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS))
_HAS_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


# ---- results and errors ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    """One problem in an uploaded file. row 0 means the file as a whole; the header is row 1."""
    filename: str
    row: int
    field: str | None        # the canonical field ("kind"), or None for the whole row/file
    value: str | None
    message: str             # Russian, starts in lower case
    column: str | None = dataclasses.field(default=None, compare=False)   # the header as written in the file

    def __str__(self) -> str:
        where = self.filename
        if self.row:
            where += f", строка {self.row}"
        label = self.column or self.field
        if label:
            where += f", поле «{label}»"
            if self.value:
                where += f" («{shorten(self.value)}»)"
        return f"{where}: {self.message}"


class ImportFailed(Exception):
    """The file was rejected; nothing was written. `errors` lists every problem found."""

    def __init__(self, errors: list[RowError]):
        self.errors = list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit - 1] + "…"


def cap_errors(errors: list[RowError], filename: str) -> list[RowError]:
    if len(errors) <= MAX_ERRORS:
        return errors
    return errors[:MAX_ERRORS] + [RowError(
        filename, 0, None, None,
        f"показаны первые {MAX_ERRORS} ошибок из {len(errors)}; исправьте их и загрузите файл снова")]


def file_error(filename: str, message: str, row: int = 0) -> ImportFailed:
    return ImportFailed([RowError(filename, row, None, None, message)])


# ---- reading ---------------------------------------------------------------------------------------------

@dataclass
class Table:
    filename: str
    max_rows: int
    strict_width: bool                  # CSV: values beyond the header mean a delimiter that was not quoted
    delimiter: str | None = None
    encoding: str | None = None
    header: list[str] | None = None     # cleaned header cells; "" for a column without a name
    header_row: int = 0
    rows: list[tuple[int, dict[str, str]]] = dataclasses.field(default_factory=list)
    errors: list[RowError] = dataclasses.field(default_factory=list)
    bad_rows: set[int] = dataclasses.field(default_factory=set)   # rows whose values cannot be trusted
    named: bool = False                 # every header cell has a name
    invisible: bool = True              # the file may hold invisible characters (a CSV is searched once)

    def add(self, rowno: int, cells: list[str]) -> bool:
        """Take one record; True if it became a data row."""
        cells = list(map(clean_cell if self.invisible else str.strip, cells))
        if self.header is None:
            if any(cells):
                self._set_header(rowno, cells)
            return False
        if not any(cells):
            return False
        if len(self.rows) >= self.max_rows:
            raise file_error(self.filename, f"в файле больше {self.max_rows} строк с данными — "
                                       f"разделите его на несколько файлов")
        width = len(self.header)
        if self.named and len(cells) >= width:     # the usual row: a name for every value
            values = dict(zip(self.header, cells))
        else:
            values = {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(self.header) if h}
        if self.strict_width and len(cells) > width and any(cells[width:]):
            used = max(i for i, c in enumerate(cells) if c) + 1
            delim = "табуляция" if self.delimiter == "\t" else self.delimiter
            self.errors.append(RowError(
                self.filename, rowno, None, None,
                f"в строке {used} значений, а в заголовке {len(self.header)} столбцов: вероятно, значение "
                f"с разделителем «{delim}» не заключено в кавычки"))
            self.bad_rows.add(rowno)
        self.rows.append((rowno, values))
        return True

    def _set_header(self, rowno: int, cells: list[str]) -> None:
        while cells and not cells[-1]:
            cells.pop()
        seen = set()
        for name in cells:
            if name and name in seen:
                raise file_error(self.filename, f"столбец «{name}» встречается в заголовке несколько раз", rowno)
            seen.add(name)
        self.header, self.header_row = cells, rowno
        self.named = all(cells)


def clean_cell(value: str) -> str:
    # called for every cell of a file: most hold none of the invisible characters, and a search is cheaper
    # than translating a Cyrillic string
    if value.isascii() or not _HAS_INVISIBLE.search(value):
        return value.strip()
    return value.translate(_INVISIBLE).strip()


def display_name(filename: str) -> str:
    name = "".join(ch for ch in PurePath((filename or "").replace("\\", "/")).name if ch.isprintable())
    return name if name.strip(". ") else "файл"


def read_table(data: bytes, filename: str, max_rows: int) -> Table:
    suffix = PurePath(filename).suffix.lower()
    if suffix in CSV_SUFFIXES:
        table = Table(filename, max_rows, strict_width=True)
        read_csv(data, table)
    elif suffix in XLSX_SUFFIXES:
        table = Table(filename, max_rows, strict_width=False)
        read_xlsx(data, table)
    elif suffix in XLS_SUFFIXES:
        table = Table(filename, max_rows, strict_width=False)
        read_xls(data, table)
    elif suffix == ".ods":
        raise file_error(filename, f"формат «{suffix}» не поддерживается: сохраните файл как XLSX, XLS или CSV")
    else:
        raise file_error(filename, "неподдерживаемый тип файла: нужен CSV (.csv, .txt), XLSX (.xlsx) или XLS (.xls)")
    if table.header is None:
        raise file_error(filename, "файл пуст")
    return table


# CSV

def decode_text(data: bytes, filename: str) -> tuple[str, str]:
    """The text and the name of its encoding: UTF-16 with a BOM, else strict UTF-8, else Windows-1251."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise file_error(filename, "файл повреждён: начало говорит об UTF-16, но содержимое не читается")
    if data.startswith(b"PK\x03\x04"):
        raise file_error(filename, "это не текстовый CSV, а файл XLSX или ZIP — загрузите его с расширением .xlsx")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise file_error(filename, "это не текстовый CSV, а файл Excel старого формата (.xls) — "
                              "сохраните его как XLSX или CSV")
    if b"\x00" in data:
        raise file_error(filename, "файл не текстовый (содержит двоичные данные) — нужен CSV")
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError as exc:
        high = len(data) - len(data.translate(None, _HIGH_BYTES))
        in_utf8 = sum(len(m) for m in _UTF8_SEQ.findall(data))
        if in_utf8 * 2 >= high:   # mostly valid UTF-8: a damaged file, not Windows-1251
            line = data.count(b"\n", 0, exc.start) + 1
            raise file_error(filename, "файл в кодировке UTF-8, но в этой строке есть недопустимые байты: файл "
                                  "повреждён или собран из частей в разных кодировках — сохраните его "
                                  "заново в UTF-8", line)
    try:
        return data.decode("cp1251"), "Windows-1251"
    except UnicodeDecodeError:
        raise file_error(filename, "не удалось определить кодировку: файл не в UTF-8 и не в Windows-1251 "
                              "(или вовсе не текстовый)")


def detect_delimiter(line: str) -> str:
    outside_quotes = re.sub(r'"[^"]*"', "", line)
    counts = {d: outside_quotes.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])   # ties go to the first: ";" then ","
    return best if counts[best] else ";"


def csv_message(exc: csv.Error, delimiter: str) -> str:
    text = str(exc)
    if "unexpected end of data" in text or "EOF" in text:
        return "кавычка, открытая в этой строке, не закрыта до конца файла"
    if "expected after" in text:
        return (f"после закрывающей кавычки должен идти разделитель «{delimiter}»: кавычки внутри "
                f"значения в кавычках нужно удваивать (\"\")")
    if "field larger than field limit" in text:
        return "слишком длинное значение — возможно, не закрыта кавычка"
    return f"ошибка разбора CSV ({text})"


def read_csv(data: bytes, table: Table) -> None:
    text, table.encoding = decode_text(data, table.filename)
    text = text.rstrip("\x1a")   # DOS end-of-file mark
    bad = CONTROL_CHARS.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise file_error(table.filename, "файл содержит двоичные данные (управляющие символы) — нужен текстовый CSV",
                    line)
    table.invisible = _HAS_INVISIBLE.search(text) is not None
    lines = iter(io.StringIO(text, newline=""))      # physical lines: \n, \r\n or \r
    first = next((ln for ln in io.StringIO(text, newline="") if ln.strip()), "")
    sep = re.fullmatch(r'\s*"?sep=(.)"?\s*', first)
    read = 0                                    # lines read before the current reader
    if sep:   # Excel's "sep=;" line
        if sep.group(1) not in DELIMITERS:
            raise file_error(table.filename, f"разделитель «{sep.group(1)}» не поддерживается: используйте «;» или «,»")
        table.delimiter = sep.group(1)
        for ln in lines:
            read += 1
            if ln.strip():
                break
    else:
        table.delimiter = detect_delimiter(first)

    def reader():
        return csv.reader(lines, delimiter=table.delimiter, quotechar='"', doublequote=True, strict=True)

    records = reader()
    while True:
        start = read + records.line_num + 1
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            table.errors.append(RowError(table.filename, start, None, None, csv_message(exc, table.delimiter)))
            read += records.line_num
            if read < start:            # nothing left to read
                break
            records = reader()          # go on with the next line
            continue
        table.add(start, record)


# XLSX

def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ИСТИНА" if value else "ЛОЖЬ"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):     # INN/OGRN that Excel keeps as numbers
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def read_xlsx(data: bytes, table: Table) -> None:
    filename = table.filename
    corrupt = "файл повреждён или не является XLSX"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise file_error(filename, corrupt + " (похоже на файл старого формата .xls или файл Excel, защищённый "
                                        "паролем: сохраните его как XLSX без пароля)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise file_error(filename, corrupt)
    if unpacked > XLSX_MAX_UNPACKED:
        raise file_error(filename, "файл XLSX слишком большой в распакованном виде — разделите его на части")

    import openpyxl
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")    # openpyxl warns about styles and odd extensions
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                if not book.worksheets:
                    raise file_error(filename, "в файле нет листов с данными")
                sheet = book.worksheets[0]
                sheet.reset_dimensions()       # the stored dimensions may be wrong; read what is there
                for rowno, cells in enumerate(sheet.iter_rows(min_row=1, min_col=1), start=1):
                    texts = [cell_text(c.value) for c in cells]
                    if table.add(rowno, texts):
                        header = table.header or []
                        for i, cell in enumerate(cells):
                            if getattr(cell, "data_type", None) == "e" and i < len(header) and header[i]:
                                table.errors.append(RowError(
                                    filename, rowno, header[i], texts[i],
                                    "в ячейке ошибка формулы Excel — исправьте формулу или вставьте значение"))
                                table.bad_rows.add(rowno)
            finally:
                book.close()
    except ImportFailed:
        raise
    except Exception as exc:    # any failure to parse an uploaded workbook is the file's fault
        log.warning("unreadable XLSX upload %s: %s", filename, type(exc).__name__)
        raise file_error(filename, corrupt)




def read_xls(data: bytes, table: Table) -> None:
    """Excel 97–2003 (.xls) through xlrd: the first sheet, dates as dates, whole numbers without «.0»."""
    import xlrd
    filename = table.filename
    if data.startswith(b"PK\x03\x04"):
        raise file_error(filename, "это файл XLSX, а не XLS — загрузите его с расширением .xlsx")
    if not data.startswith(b"\xd0\xcf\x11\xe0"):
        raise file_error(filename, "файл повреждён или не является XLS (Excel 97–2003)")
    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except Exception as exc:    # encrypted, truncated, not a workbook: the file's fault
        log.warning("unreadable XLS upload %s: %s", filename, type(exc).__name__)
        raise file_error(filename, "файл повреждён или не является XLS (Excel 97–2003); если он защищён паролем, "
                                   "сохраните его без пароля")
    try:
        if not book.nsheets:
            raise file_error(filename, "в файле нет листов с данными")
        sheet = book.sheet_by_index(0)
        for r in range(sheet.nrows):
            cells = sheet.row(r)
            values, errors = [], []
            for i, cell in enumerate(cells):
                if cell.ctype == xlrd.XL_CELL_DATE:
                    values.append(cell_text(xlrd.xldate_as_datetime(cell.value, book.datemode)))
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    values.append(cell_text(bool(cell.value)))
                elif cell.ctype == xlrd.XL_CELL_ERROR:
                    values.append(xlrd.error_text_from_code.get(cell.value, "#ERR"))
                    errors.append(i)
                else:
                    values.append(cell_text(cell.value))
            if table.add(r + 1, values):
                header = table.header or []
                for i in errors:
                    if i < len(header) and header[i]:
                        table.errors.append(RowError(filename, r + 1, header[i], values[i],
                                                     "в ячейке ошибка формулы Excel — исправьте формулу или вставьте "
                                                     "значение"))
                        table.bad_rows.add(r + 1)
    finally:
        book.release_resources()


def norm_key(text: str) -> str:
    text = text.lower().replace("ё", "е")
    text = re.sub(r"[«»\"'*:()]", "", text)
    return re.sub(r"[\s\-.]+", "_", text.strip()).strip("_")


# ---- writing ------------------------------------------------------------------------------------------

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    """Neutralise spreadsheet formula injection: a leading ' makes Excel treat the cell as text.
    Control characters XLSX cannot hold (pasted from other documents) are dropped, not a failed export."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)   # Excel has no time zones; callers pass local time
    return value


def workbook_bytes(headers: Sequence[str], rows: Iterable[Sequence], *, title: str = "Лист1") -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append([_bold(ws, h) for h in headers])
    for row in rows:
        ws.append([escape_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _bold(ws, text: str):
    from openpyxl.cell import WriteOnlyCell
    cell = WriteOnlyCell(ws, value=escape_cell(text))
    cell.font = Font(bold=True)
    return cell


def xlsx_response(filename: str, headers: Sequence[str], rows: Iterable[Sequence], *, title: str = "Лист1"):
    from urllib.parse import quote
    body = workbook_bytes(headers, rows, title=title)
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


__all__ = ["escape_cell", "workbook_bytes", "xlsx_response"]
