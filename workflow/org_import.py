"""Load the organisation tree from a CSV or XLSX file (загрузка справочника организаций).

The whole file is read and checked before anything is written: if one row is bad,
nothing is stored and the caller gets every problem found (up to MAX_ERRORS), each
naming the file, the row as the user sees it in Excel or a text editor, the column
and the value. Then parents are created before children, existing organisations get
their descriptive fields (name, short name, INN, OGRN) updated, and one "org.import"
audit entry records the counts. Like every service here it flushes and never commits.

Columns (header row; case does not matter, Russian names accepted):
code, name, kind, parent_code, short_name, inn, ogrn.
A column that is absent leaves that field of existing organisations alone; an empty
cell in a column that is present clears it.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import logging
import re
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import PurePath

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import audit
from app.db import session
from workflow.models import KIND_LABELS, Organisation, OrgKind
from workflow.org_services import check_parent, create_org, update_org

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 20000          # app config ORG_IMPORT_MAX_ROWS overrides
MAX_ERRORS = 200                  # errors reported per file; a final note says how many more
XLSX_MAX_UNPACKED = 256 * 1024 * 1024   # sum of the unpacked sizes of an XLSX's parts (zip bombs)
CSV_SUFFIXES = (".csv", ".txt")
XLSX_SUFFIXES = (".xlsx",)
DELIMITERS = (";", ",", "\t")

FIELDS = ("code", "name", "kind", "parent_code", "short_name", "inn", "ogrn")
REQUIRED_COLUMNS = ("code", "name", "kind")
DESCRIPTIVE = ("name", "short_name", "inn", "ogrn")     # what an import may change on an existing org
FIELD_ORDER = {f: i for i, f in enumerate(FIELDS)}

HEADER_ALIASES = {
    "code": ("code", "код", "код_организации"),
    "name": ("name", "наименование", "название", "полное_наименование", "полное_название"),
    "kind": ("kind", "type", "тип", "вид", "тип_организации"),
    "parent_code": ("parent_code", "parent", "код_родителя", "вышестоящая", "вышестоящая_организация",
                    "код_вышестоящей", "код_вышестоящей_организации", "родитель"),
    "short_name": ("short_name", "краткое_наименование", "краткое_название", "сокращенное_наименование",
                   "сокращенное_название"),
    "inn": ("inn", "инн"),
    "ogrn": ("ogrn", "огрн"),
}
COLUMN_HINTS = {"code": "код", "name": "наименование", "kind": "тип", "parent_code": "код_родителя",
                "short_name": "краткое_наименование", "inn": "инн", "ogrn": "огрн"}

KIND_ALIASES = {
    OrgKind.region: ("регион", "субъект рф", "субъект"),
    OrgKind.municipality: ("муниципалитет", "муниципальный район", "муниципальный округ", "городской округ",
                           "муниципальное образование", "моуо", "муо"),
    OrgKind.school: ("школа", "оу", "оо", "общеобразовательная организация", "общеобразовательное учреждение",
                     "образовательная организация", "образовательное учреждение"),
    OrgKind.institute: ("институт", "институт развития образования", "институт повышения квалификации"),
    OrgKind.computer_centre: ("вычислительный центр", "ивц", "вц", "информационно-вычислительный центр",
                              "computer center"),
    OrgKind.methodical_centre: ("методический центр", "имц", "информационно-методический центр",
                                "methodical center"),
}

_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _max_len(column: str) -> int:
    return Organisation.__table__.c[column].type.length


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
                where += f" («{_shorten(self.value)}»)"
        return f"{where}: {self.message}"


class ImportFailed(Exception):
    """The file was rejected; nothing was written. `errors` lists every problem found."""

    def __init__(self, errors: list[RowError]):
        self.errors = list(errors)
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit - 1] + "…"


def _cap(errors: list[RowError], filename: str) -> list[RowError]:
    if len(errors) <= MAX_ERRORS:
        return errors
    return errors[:MAX_ERRORS] + [RowError(
        filename, 0, None, None,
        f"показаны первые {MAX_ERRORS} ошибок из {len(errors)}; исправьте их и загрузите файл снова")]


def _fail(filename: str, message: str, row: int = 0) -> ImportFailed:
    return ImportFailed([RowError(filename, row, None, None, message)])


# ---- reading ---------------------------------------------------------------------------------------------

@dataclass
class _Table:
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

    def add(self, rowno: int, cells: list[str]) -> bool:
        """Take one record; True if it became a data row."""
        cells = [_clean_cell(c) for c in cells]
        if self.header is None:
            if any(cells):
                self._set_header(rowno, cells)
            return False
        if not any(cells):
            return False
        if len(self.rows) >= self.max_rows:
            raise _fail(self.filename, f"в файле больше {self.max_rows} строк с данными — "
                                       f"разделите его на несколько файлов")
        values = {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(self.header) if h}
        if self.strict_width and any(cells[len(self.header):]):
            used = max(i for i, c in enumerate(cells) if c) + 1
            delim = {"\t": "табуляция"}.get(self.delimiter, self.delimiter)
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
                raise _fail(self.filename, f"столбец «{name}» встречается в заголовке несколько раз", rowno)
            seen.add(name)
        self.header, self.header_row = cells, rowno


def _clean_cell(value: str) -> str:
    return value.translate(_INVISIBLE).strip()


def _display_name(filename: str) -> str:
    name = "".join(ch for ch in PurePath((filename or "").replace("\\", "/")).name if ch.isprintable())
    return name if name.strip(". ") else "файл"


def _max_rows() -> int:
    if has_app_context():
        return int(current_app.config.get("ORG_IMPORT_MAX_ROWS") or DEFAULT_MAX_ROWS)
    return DEFAULT_MAX_ROWS


def read_rows(data: bytes, filename: str) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a CSV or XLSX file: (row number as the user sees it, header = row 1 if the file
    starts with it, {header as written: value}). Values are strings with surrounding blanks removed;
    blank rows are skipped. Raises ImportFailed for unreadable files, listing every problem."""
    table = _read_table(data, _display_name(filename))
    if table.errors:
        raise ImportFailed(_cap(table.errors, table.filename))
    return table.rows


def _read_table(data: bytes, filename: str) -> _Table:
    suffix = PurePath(filename).suffix.lower()
    if suffix in CSV_SUFFIXES:
        table = _Table(filename, _max_rows(), strict_width=True)
        _read_csv(data, table)
    elif suffix in XLSX_SUFFIXES:
        table = _Table(filename, _max_rows(), strict_width=False)
        _read_xlsx(data, table)
    elif suffix in (".xls", ".ods"):
        raise _fail(filename, f"формат «{suffix}» не поддерживается: сохраните файл как XLSX или CSV")
    else:
        raise _fail(filename, "неподдерживаемый тип файла: нужен CSV (.csv, .txt) или XLSX (.xlsx)")
    if table.header is None:
        raise _fail(filename, "файл пуст")
    return table


# CSV

def _decode(data: bytes, filename: str) -> tuple[str, str]:
    """The text and the name of its encoding: UTF-16 with a BOM, else strict UTF-8, else Windows-1251."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise _fail(filename, "файл повреждён: начало говорит об UTF-16, но содержимое не читается")
    if data.startswith(b"PK\x03\x04"):
        raise _fail(filename, "это не текстовый CSV, а файл XLSX или ZIP — загрузите его с расширением .xlsx")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _fail(filename, "это не текстовый CSV, а файл Excel старого формата (.xls) — "
                              "сохраните его как XLSX или CSV")
    if b"\x00" in data:
        raise _fail(filename, "файл не текстовый (содержит двоичные данные) — нужен CSV")
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError as exc:
        high = len(data) - len(data.translate(None, _HIGH_BYTES))
        in_utf8 = sum(len(m) for m in _UTF8_SEQ.findall(data))
        if in_utf8 * 2 >= high:   # mostly valid UTF-8: a damaged file, not Windows-1251
            line = data.count(b"\n", 0, exc.start) + 1
            raise _fail(filename, "файл в кодировке UTF-8, но в этой строке есть недопустимые байты: файл "
                                  "повреждён или собран из частей в разных кодировках — сохраните его "
                                  "заново в UTF-8", line)
    try:
        return data.decode("cp1251"), "Windows-1251"
    except UnicodeDecodeError:
        raise _fail(filename, "не удалось определить кодировку: файл не в UTF-8 и не в Windows-1251 "
                              "(или вовсе не текстовый)")


class _Lines:
    """Physical lines of a text (\\n, \\r\\n or \\r), counting how many have been read."""

    def __init__(self, text: str):
        self._it = iter(io.StringIO(text, newline=""))
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self._it)
        self.count += 1
        return line


def _detect_delimiter(line: str) -> str:
    outside_quotes = re.sub(r'"[^"]*"', "", line)
    counts = {d: outside_quotes.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])   # ties go to the first: ";" then ","
    return best if counts[best] else ";"


def _csv_message(exc: csv.Error, delimiter: str) -> str:
    text = str(exc)
    if "unexpected end of data" in text or "EOF" in text:
        return "кавычка, открытая в этой строке, не закрыта до конца файла"
    if "expected after" in text:
        return (f"после закрывающей кавычки должен идти разделитель «{delimiter}»: кавычки внутри "
                f"значения в кавычках нужно удваивать (\"\")")
    if "field larger than field limit" in text:
        return "слишком длинное значение — возможно, не закрыта кавычка"
    return f"ошибка разбора CSV ({text})"


def _read_csv(data: bytes, table: _Table) -> None:
    text, table.encoding = _decode(data, table.filename)
    text = text.rstrip("\x1a")   # DOS end-of-file mark
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise _fail(table.filename, "файл содержит двоичные данные (управляющие символы) — нужен текстовый CSV",
                    line)
    lines = _Lines(text)
    first = next((ln for ln in io.StringIO(text, newline="") if ln.strip()), "")
    sep = re.fullmatch(r'\s*"?sep=(.)"?\s*', first)
    if sep:   # Excel's "sep=;" line
        if sep.group(1) not in DELIMITERS:
            raise _fail(table.filename, f"разделитель «{sep.group(1)}» не поддерживается: используйте «;» или «,»")
        table.delimiter = sep.group(1)
        for ln in lines:
            if ln.strip():
                break
    else:
        table.delimiter = _detect_delimiter(first)

    def reader():
        return csv.reader(lines, delimiter=table.delimiter, quotechar='"', doublequote=True, strict=True)

    records = reader()
    while True:
        start = lines.count + 1
        try:
            record = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            table.errors.append(RowError(table.filename, start, None, None, _csv_message(exc, table.delimiter)))
            if lines.count < start:     # nothing left to read
                break
            records = reader()          # go on with the next line
            continue
        table.add(start, record)


# XLSX

def _cell_text(value) -> str:
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


def _read_xlsx(data: bytes, table: _Table) -> None:
    filename = table.filename
    corrupt = "файл повреждён или не является XLSX"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _fail(filename, corrupt + " (похоже на файл старого формата .xls или файл Excel, защищённый "
                                        "паролем: сохраните его как XLSX без пароля)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise _fail(filename, corrupt)
    if unpacked > XLSX_MAX_UNPACKED:
        raise _fail(filename, "файл XLSX слишком большой в распакованном виде — разделите его на части")

    import openpyxl
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")    # openpyxl warns about styles and odd extensions
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                if not book.worksheets:
                    raise _fail(filename, "в файле нет листов с данными")
                sheet = book.worksheets[0]
                sheet.reset_dimensions()       # the stored dimensions may be wrong; read what is there
                for rowno, cells in enumerate(sheet.iter_rows(min_row=1, min_col=1), start=1):
                    texts = [_cell_text(c.value) for c in cells]
                    if table.add(rowno, texts):
                        for i, cell in enumerate(cells):
                            if getattr(cell, "data_type", None) == "e" and i < len(table.header) \
                                    and table.header[i]:
                                table.errors.append(RowError(
                                    filename, rowno, table.header[i], texts[i],
                                    "в ячейке ошибка формулы Excel — исправьте формулу или вставьте значение"))
                                table.bad_rows.add(rowno)
            finally:
                book.close()
    except ImportFailed:
        raise
    except Exception as exc:    # any failure to parse an uploaded workbook is the file's fault
        log.warning("unreadable XLSX upload %s: %s", filename, type(exc).__name__)
        raise _fail(filename, corrupt)


# ---- checking --------------------------------------------------------------------------------------------

def _norm_key(text: str) -> str:
    text = text.lower().replace("ё", "е")
    text = re.sub(r"[«»\"'*:()]", "", text)
    return re.sub(r"[\s\-.]+", "_", text.strip()).strip("_")


def _norm_kind(text: str) -> str:
    text = text.lower().replace("ё", "е")
    text = re.sub(r"[«»\"'.]", "", text)
    return " ".join(re.sub(r"[_\-]", " ", text).split())


_HEADER_LOOKUP = {_norm_key(alias): f for f, aliases in HEADER_ALIASES.items() for alias in aliases}
_KIND_LOOKUP = {}
for _kind in OrgKind:
    for _alias in (_kind.value, KIND_LABELS[_kind], *KIND_ALIASES.get(_kind, ())):
        _KIND_LOOKUP[_norm_kind(_alias)] = _kind
KIND_CHOICES = ", ".join(KIND_LABELS[k].lower() for k in OrgKind)


def parse_kind(text: str) -> OrgKind | None:
    """The OrgKind for an English enum name or a Russian name (регион, МОУО, ОУ, ИВЦ…), or None."""
    return _KIND_LOOKUP.get(_norm_kind(text))


@dataclass
class _Row:
    row: int
    values: dict[str, str]                  # canonical field -> cleaned value, for the columns present
    kind: OrgKind | None = None
    skip: bool = False                      # duplicate or unreadable: no relational checks, not written
    existing: Organisation | None = None
    changes: dict | None = None

    def get(self, field: str) -> str:
        return self.values.get(field, "")


@dataclass(frozen=True)
class _ParentKind:                          # what check_parent needs from a parent that is only in the file
    kind: OrgKind


def _map_header(table: _Table) -> dict[str, str]:
    """{canonical field: header as written}; raises ImportFailed if a column is missing or doubled."""
    columns: dict[str, str] = {}
    errors = []
    for name in table.header:
        field = _HEADER_LOOKUP.get(_norm_key(name)) if name else None
        if field is None:
            continue
        if field in columns:
            errors.append(RowError(table.filename, table.header_row, None, None,
                                   f"столбцы «{columns[field]}» и «{name}» означают одно и то же поле "
                                   f"«{field}» — оставьте один"))
        else:
            columns[field] = name
    missing = [f for f in REQUIRED_COLUMNS if f not in columns]
    if "parent_code" not in columns:
        kind_col = columns.get("kind")
        if kind_col is None or any(parse_kind(v.get(kind_col, "")) is not OrgKind.region for _, v in table.rows):
            missing.append("parent_code")
    if missing:
        named = [h for h in table.header if h]
        found = ", ".join(f"«{_shorten(h, 40)}»" for h in named[:12]) + (", …" if len(named) > 12 else "")
        message = (f"нет обязательных столбцов: {', '.join(f'«{f}» ({COLUMN_HINTS[f]})' for f in missing)}; "
                   f"найдены столбцы: {found}")
        if table.encoding == "Windows-1251":
            message += ". Файл прочитан как Windows-1251 — если заголовок выглядит искажённым, проверьте кодировку"
        if table.delimiter and len([h for h in table.header if h]) == 1:
            message += ". В заголовке один столбец — проверьте разделитель: нужен «;» или «,»"
        errors.append(RowError(table.filename, table.header_row, None, None, message))
    if errors:
        raise ImportFailed(errors)
    return columns


def _check_fields(r: _Row, err) -> None:
    """Checks of one row on its own."""
    for field, value in r.values.items():
        if _CONTROL.search(value):
            err(r, field, value, "значение содержит управляющие символы")
            r.values[field] = value = _CONTROL.sub("", value)
        r.values[field] = " ".join(value.split())
    for field in ("inn", "ogrn"):        # "1655 012345" is still a number
        if field in r.values:
            r.values[field] = r.values[field].replace(" ", "")
    for field in ("code", "name", "kind"):
        if not r.get(field):
            err(r, field, None, "обязательное поле не заполнено")
    for field in ("code", "name", "short_name"):
        value, limit = r.get(field), _max_len(field)
        if len(value) > limit:
            err(r, field, value, f"значение длиннее {limit} символов ({len(value)})")
    if r.get("kind"):
        r.kind = parse_kind(r.get("kind"))
        if r.kind is None:
            err(r, "kind", r.get("kind"), f"неизвестный тип организации; допустимые типы: {KIND_CHOICES}")
    if r.kind is not None and r.kind is not OrgKind.region and not r.get("parent_code"):
        err(r, "parent_code", None, "не указан код вышестоящей организации (он обязателен для всех, кроме региона)")
    inn = r.get("inn")
    if inn and not (inn.isdigit() and inn.isascii() and len(inn) in (10, 12)):
        hint = ""
        if inn.isdigit() and len(inn) in (9, 11):
            hint = " — если Excel отбросил ведущий ноль, задайте столбцу текстовый формат"
        err(r, "inn", inn, f"ИНН должен состоять из 10 или 12 цифр (указано символов: {len(inn)}){hint}")
    ogrn = r.get("ogrn")
    if ogrn and not (ogrn.isdigit() and ogrn.isascii() and len(ogrn) == 13):
        err(r, "ogrn", ogrn, f"ОГРН должен состоять из 13 цифр (указано символов: {len(ogrn)})")


def _load_existing(codes: set[str]) -> dict[str, Organisation]:
    found: dict[str, Organisation] = {}
    ordered = sorted(c for c in codes if c)
    for i in range(0, len(ordered), 1000):
        query = (select(Organisation).options(selectinload(Organisation.parent))
                 .where(Organisation.code.in_(ordered[i:i + 1000])))
        found.update((o.code, o) for o in session.scalars(query))
    return found


def _find_cycles(first: dict[str, _Row]) -> list[list[str]]:
    """Cycles in the file's own parent links, each as the list of codes in order."""
    state: dict[str, bool] = {}
    cycles = []
    for start in first:
        path, pos = [], {}
        code = start
        while code is not None and code not in state:
            state[code] = True
            pos[code] = len(path)
            path.append(code)
            parent = first[code].get("parent_code")
            code = parent if parent in first else None
        if code is not None and code in pos:
            cycles.append(path[pos[code]:])
    return cycles


def _validate(table: _Table, actor) -> tuple[list[_Row], dict[str, _Row], dict[str, Organisation], list[RowError]]:
    filename = table.filename
    columns = _map_header(table)
    errors: list[RowError] = []
    for e in table.errors:      # name read errors by field, like the rest
        field = next((f for f, h in columns.items() if h == e.field), None)
        errors.append(dataclasses.replace(e, field=field, column=e.field) if field else e)

    def err(r: _Row, field: str | None, value: str | None, message: str) -> None:
        errors.append(RowError(filename, r.row, field, value or None, message, column=columns.get(field)))

    rows = [_Row(n, {f: values.get(h, "") for f, h in columns.items()}, skip=n in table.bad_rows)
            for n, values in table.rows]
    if not rows:
        raise _fail(filename, "в файле нет строк с организациями (только заголовок)")

    # -- each row on its own
    mentioned = set()       # codes in rows that could not be read: no "parent not found" because of them
    for r in rows:
        if r.skip:
            mentioned.add(" ".join(r.get("code").split()))
            continue
        _check_fields(r, err)

    # -- the file as a whole
    first: dict[str, _Row] = {}
    for r in rows:
        code = r.get("code")
        if r.skip or not code:
            continue
        if code in first:
            err(r, "code", code, f"код «{code}» повторяется: он уже указан в строке {first[code].row}")
            r.skip = True
        else:
            first[code] = r
    in_cycle = set()
    for cycle in _find_cycles(first):
        chain = " → ".join(cycle + cycle[:1])
        for code in cycle:
            in_cycle.add(code)
            err(first[code], "parent_code", first[code].get("parent_code"), f"циклическая ссылка: {chain}")

    db = _load_existing(set(first) | {r.get("parent_code") for r in first.values()})
    if actor is not None:
        from app.auth.access import can
    for code, r in first.items():
        kind, parent_code = r.kind, r.get("parent_code")
        existing = db.get(code)
        if existing is not None:
            r.existing = existing
            if kind is None:
                continue
            if existing.kind is not kind:
                err(r, "kind", r.get("kind"), f"организация с кодом «{code}» уже есть в базе с типом "
                                              f"«{existing.kind.label}»; менять тип загрузкой нельзя")
                continue
            current = existing.parent.code if existing.parent is not None else ""
            if parent_code != current and (parent_code or kind is OrgKind.region):
                where = f"входит в «{current}»" if current else "является корнем дерева"
                err(r, "parent_code", parent_code, f"организация с кодом «{code}» уже есть в базе и {where}; "
                                                   f"перемещать организации загрузкой нельзя")
                continue
            r.changes = {f: (r.get(f) or None) for f in DESCRIPTIVE
                         if f in columns and getattr(existing, f) != (r.get(f) or None)}
            if r.changes and actor is not None and not can(actor, "org.manage", existing):
                err(r, "code", code, f"нет прав на изменение организации «{existing.display_name}»")
            continue
        if code in in_cycle or not parent_code:
            if kind is OrgKind.region and actor is not None:
                err(r, "code", code, "нет прав на создание нового региона (новый регион загружается "
                                     "командой «flask orgs import»)")
            continue
        if kind is OrgKind.region:
            err(r, "parent_code", parent_code, check_parent(kind, _ParentKind(OrgKind.municipality)))
            continue
        parent_in_db = db.get(parent_code)     # the database's word on an existing parent, even if listed
        if parent_in_db is not None:
            parent_kind = parent_in_db.kind
        elif parent_code in first:
            parent_kind = first[parent_code].kind
        elif parent_code in mentioned:
            continue
        else:
            err(r, "parent_code", parent_code,
                f"вышестоящая организация с кодом «{parent_code}» не найдена ни в файле, ни в базе")
            continue
        if kind is not None and parent_kind is not None:
            message = check_parent(kind, _ParentKind(parent_kind))
            if message:
                err(r, "parent_code", parent_code, message)
                continue
        if parent_in_db is not None and actor is not None and not can(actor, "org.manage", parent_in_db):
            err(r, "parent_code", parent_code,
                f"нет прав на добавление организаций в «{parent_in_db.display_name}»")
    errors.sort(key=lambda e: (e.row, FIELD_ORDER.get(e.field, -1)))
    return rows, first, db, errors


# ---- writing ---------------------------------------------------------------------------------------------

def _parents_first(first: dict[str, _Row]) -> list[_Row]:
    depth: dict[str, int] = {}
    for start in first:
        chain, code = [], start
        while code is not None and code not in depth:
            chain.append(code)
            parent = first[code].get("parent_code")
            code = parent if parent in first else None
        level = depth[code] if code is not None else -1
        for code in reversed(chain):
            level += 1
            depth[code] = level
    return sorted(first.values(), key=lambda r: (depth[r.get("code")], r.row))


def import_organisations(data: bytes, filename: str, *, actor=None) -> ImportSummary:
    """Create and update organisations from a CSV/XLSX file; all or nothing. Flushes, never commits.

    Raises ImportFailed listing every problem found (nothing written then)."""
    table = _read_table(data, _display_name(filename))
    filename = table.filename
    rows, first, db, errors = _validate(table, actor)
    if errors:
        log.info("organisation import from %s rejected: %d rows, %d errors", filename, len(rows), len(errors))
        raise ImportFailed(_cap(errors, filename))

    summary = ImportSummary()
    created: dict[str, Organisation] = {}
    for r in _parents_first(first):
        if r.existing is not None:
            if r.changes:
                update_org(r.existing, r.changes, actor=actor)
                summary.updated += 1
            else:
                summary.unchanged += 1
            continue
        parent_code = r.get("parent_code")
        parent = None
        if parent_code:
            in_file = first.get(parent_code)
            parent = (in_file.existing or created[parent_code]) if in_file is not None else db[parent_code]
        created[r.get("code")] = create_org(
            kind=r.kind, code=r.get("code"), name=r.get("name"), parent=parent,
            short_name=r.get("short_name") or None, inn=r.get("inn") or None, ogrn=r.get("ogrn") or None,
            actor=actor)
        summary.created += 1
    audit.record("org.import", object_type="Organisation", actor=actor, filename=filename, rows=len(rows),
                 created=summary.created, updated=summary.updated, unchanged=summary.unchanged)
    log.info("organisations imported from %s: %d rows, %d created, %d updated, %d unchanged",
             filename, len(rows), summary.created, summary.updated, summary.unchanged)
    return summary
