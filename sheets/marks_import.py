"""Marks import (импорт отметок) from the electronic journal platforms' exports, for the summary sheet.

A CSV (UTF-8 or Windows-1251, ";" or ","), XLSX or XLS (Excel 97–2003) file in one of two layouts:

- long: a row per mark — class, pupil, subject, period, mark;
- wide: a row per pupil — class, pupil, then a column per subject × period written
  "Предмет | период", "Предмет (период)" or "Предмет: период" ("Алгебра | Год",
  "Иностранный язык (английский) (I четв.)").

Either layout may carry the per-pupil columns (пропущено дней, пропущено уроков, из них по
болезни, решение педсовета) and the class's council columns (дата педсовета, протокол). Header
names are matched case-insensitively, Russian or English (see HEADER_ALIASES).

The file is read with orgs.importer's reader (encoding, delimiter, XLSX cells, row
numbers as the user sees them) and then checked whole: if any row is bad, nothing is returned
and MarksImportFailed (an ImportFailed) lists every problem, each naming the file, the row, the
column as written in the file and the cell's value. Like org_import, at most its MAX_ERRORS
(200) problems are listed, followed by a note with the total.

Pupils' names are personal data. They may appear on the user's screen (`str()` of one error,
the value of a bad «ученик» cell), never in logs: the module logs counts only, an error's
`repr()` gives only file, row and field, and `str()`/`repr()` of the exception give the file, the
number of errors and their rows. Show `exc.errors` to the user, log `exc`.

Pure: no database, no Flask beyond reading the optional MARKS_IMPORT_MAX_ROWS setting.
"""
from __future__ import annotations

import functools
import logging
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import PurePath
from typing import Any, Literal

from flask import current_app, has_app_context

from core.tabular import (
    CSV_SUFFIXES,
    XLSX_SUFFIXES,
    ImportFailed,
    RowError,
    Table,
    cap_errors,
    cell_text,
    display_name,
    norm_key,
    read_csv,
    read_table,
    read_xlsx,
)
from sheets.sheet_data import DECISIONS, HALF_YEARS, QUARTERS, PupilRow

log = logging.getLogger(__name__)

Layout = Literal["long", "wide"]

DEFAULT_MAX_ROWS = 200_000        # a whole school in the long layout; app config MARKS_IMPORT_MAX_ROWS overrides
MAX_NAME = 200                    # characters in a pupil's name
MAX_SUBJECT = 200
MAX_DAYS = 366

HEADER_ALIASES = {
    "class": ("class", "class_name", "класс", "наименование_класса", "класс_группа"),
    "pupil": ("pupil", "student", "pupil_name", "student_name", "ученик", "учащийся", "обучающийся",
              "фио", "фио_ученика", "фио_учащегося", "фио_обучающегося", "ученик_фио"),
    "subject": ("subject", "предмет", "учебный_предмет", "дисциплина"),
    "period": ("period", "период", "период_аттестации", "учебный_период"),
    "mark": ("mark", "grade", "оценка", "отметка"),
    "absences_days": ("absences_days", "пропущено_дней", "пропущено_дней_всего", "пропуски_дней", "дней_пропущено"),
    "absences_lessons": ("absences_lessons", "пропущено_уроков", "пропущено_уроков_всего", "пропуски_уроков",
                         "уроков_пропущено"),
    "absences_illness": ("absences_illness", "по_болезни", "из_них_по_болезни", "пропущено_по_болезни",
                         "уроков_по_болезни", "пропущено_уроков_по_болезни"),
    "decision": ("decision", "решение", "решение_педсовета", "решение_педагогического_совета"),
    "council_date": ("council_date", "дата_педсовета", "дата_педагогического_совета", "дата_решения"),
    "council_protocol": ("council_protocol", "protocol", "протокол", "протокол_№", "№_протокола",
                         "номер_протокола", "протокол_педсовета"),
}
COLUMN_HINTS = {"class": "класс", "pupil": "ученик", "subject": "предмет", "period": "период",
                "mark": "оценка"}
LONG_REQUIRED = ("class", "pupil", "subject", "period", "mark")
WIDE_REQUIRED = ("class", "pupil")
COUNT_FIELDS = ("absences_days", "absences_lessons", "absences_illness")
PUPIL_FIELDS = (*COUNT_FIELDS, "decision")
CLASS_FIELDS = ("council_date", "council_protocol")
_LETTER = re.compile(r"[^\W\d_]")                  # a pupil's name must hold at least one letter
# Columns a wide export may carry that hold no marks; any other unrecognised column is an error there
# (it is most likely a mark column whose header lacks the period).
WIDE_IGNORED = {"№", "n", "no", "nn", "номер", "№_п/п", "п/п", "id", "дата_рождения", "пол", "примечание",
                "комментарий", "средний_балл"}

_HEADER_LOOKUP = {norm_key(alias): f for f, aliases in HEADER_ALIASES.items() for alias in aliases}

QUARTER_LABELS = QUARTERS[:4]                     # "I четв." … "IV четв."
HALF_LABELS = HALF_YEARS[:2]                      # "I полуг.", "II полуг."
FINAL_LABELS = QUARTERS[4:]                       # "Год", "Экз.", "Итог"
PERIOD_ORDER = [*QUARTER_LABELS, *HALF_LABELS, *FINAL_LABELS]
MARK_CHOICES = "5, 4, 3, 2, зач, незач, н/а, осв (или пустая ячейка)"
PERIOD_CHOICES = "I–IV четверть, I–II полугодие, годовая, экзаменационная, итоговая"
DECISION_CHOICES = ", ".join(DECISIONS)


# ---- results and errors ------------------------------------------------------------------------------------

@dataclass(repr=False)
class ClassMarks:
    """The marks of one class of one school year, ready for SheetData (see `sheet_fields`)."""
    class_name: str                     # normalised: "7А"
    periods: list[str]                  # canonical labels of signing.sheet_model, in QUARTERS/HALF_YEARS order
    subjects: list[str]                 # as first written in the file, in first-seen order
    pupils: list[PupilRow]              # in file order (the sheet sorts them)
    council_date: date | None = None
    council_protocol: str = ""
    display_name: str = ""              # for the sheet: "7 «А»"

    def sheet_fields(self) -> dict:
        """The SheetData keyword arguments this import provides."""
        return {"class_name": self.display_name or self.class_name, "periods": list(self.periods),
                "subjects": list(self.subjects), "pupils": list(self.pupils),
                "council_date": self.council_date, "council_protocol": self.council_protocol}

    def __repr__(self) -> str:          # no pupils' names
        return (f"ClassMarks(class_name={self.class_name!r}, periods={self.periods!r}, "
                f"subjects={len(self.subjects)}, pupils={len(self.pupils)}, council_date={self.council_date!r})")


class MarkError(RowError):
    """A RowError whose repr() is safe for logs: str() is the message for the user's screen and may
    quote a pupil's name; repr() gives only the file, the row and the canonical field (the value, the
    column and the message may all quote cells, e.g. of a file that lacks its header row)."""

    def __repr__(self) -> str:
        return f"MarkError(filename={self.filename!r}, row={self.row}, field={self.field!r})"


class MarksImportFailed(ImportFailed):
    """The marks file was rejected. `errors` (MarkError) are for the user; str()/repr() for logs
    name only the file, the number of errors and their rows."""

    def __str__(self) -> str:
        filename = self.errors[0].filename if self.errors else "файл"
        rows = sorted({e.row for e in self.errors if e.row})
        shown = ", ".join(map(str, rows[:20])) + (", …" if len(rows) > 20 else "")
        return f"{filename}: отметки не загружены, ошибок: {len(self.errors)}" + (f" (строки {shown})" if rows else "")

    def __repr__(self) -> str:
        return f"MarksImportFailed({str(self)!r})"


def _failed(errors: Iterable[RowError], filename: str) -> MarksImportFailed:
    return MarksImportFailed([e if isinstance(e, MarkError) else
                              MarkError(e.filename, e.row, e.field, e.value, e.message, column=e.column)
                              for e in cap_errors(list(errors), filename)])


# ---- cell parsers (public: the API endpoint may take the same values) ---------------------------------------
# Pure functions of a cell's text returning immutable values; a journal export repeats the same few values
# (periods, marks, classes, dates) over tens of thousands of rows, so each is memoised (issue 20: the import
# was an eighth of the year-end day's cost, most of it these regular expressions).
_memo = functools.lru_cache(maxsize=4096)

def _fold(text: str) -> str:
    return " ".join(text.split()).casefold().replace("ё", "е")


_LATIN_LOOKALIKE = str.maketrans("aceopxyABCEHKMOPTXY", "асеорхуАВСЕНКМОРТХУ")


@_memo
def parse_period(text: str) -> str | None:
    """The canonical period label for "1 четверть", "I четв.", "I", "1ч", "2-е полугодие", "годовая",
    "экз", "итоговая"…; None if it is not a period."""
    t = _fold(text).replace("ё", "е")
    t = re.sub(r"[.,;:]", " ", t)
    t = re.sub(r"(\d)\s*-\s*(?:я|е|ая|ое|ый|й)\b", r"\1", t)      # "1-я", "2-е"
    t = " ".join(t.split())
    if not t:
        return None
    t = re.sub(r"^за\s+", "", t)
    t = re.sub(r"\s+(?:отметка|оценка|отметки|оценки|аттестация)$", "", t)
    for prefix, label in (("год", "Год"), ("экз", "Экз."), ("итог", "Итог"), ("year", "Год"), ("annual", "Год"),
                          ("exam", "Экз."), ("final", "Итог")):
        if t.startswith(prefix):
            return label
    words = {"перв": 1, "втор": 2, "трет": 3, "четверт": 4}
    number = r"(?P<n>iv|iii|ii|i|[1-4]|(?:перв|втор)(?:ая|ое|ый|ой)|трет(?:ья|ье|ий)|четверт(?:ая|ое|ый))"
    kind = r"(?P<k>ч|четв|четверть|q|quarter|term|t|п|пг|полуг|полугодие|h|half|s|semester)"
    m = (re.fullmatch(number + r"\s*" + kind + "?", t) or re.fullmatch(kind + r"\s*" + number, t))
    if not m:
        return None
    n = m.group("n")
    n = {"i": 1, "ii": 2, "iii": 3, "iv": 4}.get(n) or (int(n) if n.isdigit() else
                                                       next(v for w, v in words.items() if n.startswith(w)))
    k = m.group("k") or ""
    if k.startswith("п") or k in ("h", "half", "s", "semester"):
        return HALF_LABELS[n - 1] if n <= 2 else None
    return QUARTER_LABELS[n - 1]


def period_kind(label: str) -> str | None:
    """"quarter", "half" or None (year, exam, final) for a canonical label."""
    return "quarter" if label in QUARTER_LABELS else "half" if label in HALF_LABELS else None


_MARK_ALIASES = {
    "отл": "5", "отлично": "5", "хор": "4", "хорошо": "4", "уд": "3", "удовл": "3", "удовлетворительно": "3",
    "неуд": "2", "неудовлетворительно": "2",
    "зач": "зач", "зачет": "зач", "зачтено": "зач",
    "незач": "незач", "незачет": "незач", "не зач": "незач", "не зачет": "незач", "не зачтено": "незач",
    "н/а": "н/а", "на": "н/а", "н\\а": "н/а", "н.а": "н/а", "н-а": "н/а", "не аттестован": "н/а",
    "не аттестована": "н/а", "неаттестован": "н/а", "неаттестована": "н/а",
    "осв": "осв", "освоб": "осв", "освобожден": "осв", "освобождена": "осв",
}


@_memo
def parse_mark(text: str) -> str | None:
    """The mark as in sheets.sheet_data.MARKS ("" for an empty cell), or None if it is not a mark.
    Accepts "5.0" (Excel numbers), зачёт/зачтено, незачёт, на / н\\а, освобождён…"""
    t = _fold(text)
    if not t:
        return ""
    t = t.translate(_LATIN_LOOKALIKE).casefold()
    t = re.sub(r"\s*([/\\.\-])\s*", r"\1", t).rstrip(".")
    if re.fullmatch(r"[2-5](?:[.,]0+)?", t):
        return t[0]
    return _MARK_ALIASES.get(t)


@_memo
def parse_decision(text: str) -> str | None:
    """One of DECISIONS for "переведён", "переведена", "условно переведён", "оставлен на повторное
    обучение", "выпущена"…; None if not recognised."""
    words = re.sub(r"[^\w\s]", " ", _fold(text)).split()
    if not words:
        return None
    if words[0] == "условно" and len(words) > 1 and words[1].startswith("перевед") \
            or words[0].startswith("перевед") and len(words) > 1 and words[1] == "условно":
        return "условно переведён"
    for stem, decision in (("перевед", "переведён"), ("оставл", "оставлен"), ("выпущ", "выпущен")):
        if words[0].startswith(stem):
            return decision
    return None


_MONTHS = {"января": 1, "февраля": 2, "марта": 3, "апреля": 4, "мая": 5, "июня": 6, "июля": 7,
           "августа": 8, "сентября": 9, "октября": 10, "ноября": 11, "декабря": 12}
_EXCEL_EPOCH = date(1899, 12, 30)


@_memo
def parse_date(text: str) -> date | None:
    """dd.mm.yyyy (also dd.mm.yy, dd/mm/yyyy, "28 мая 2026 г."), ISO (XLSX dates arrive so) or an
    Excel serial day number; None if not a plausible date."""
    t = _fold(text)
    t = re.sub(r"\s*(?:г\.?|года)$", "", t).rstrip(".")
    try:
        if m := re.fullmatch(r"(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})", t):
            d, mo, y = (int(g) for g in m.groups())
            result = date(y + 2000 if len(m.group(3)) == 2 else y, mo, d)
        elif m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", t):
            result = date(*(int(g) for g in m.groups()))
        elif m := re.fullmatch(r"(\d{1,2})\s+([а-я]+)\s+(\d{4})", t):
            if m.group(2) not in _MONTHS:
                return None
            result = date(int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)))
        elif m := re.fullmatch(r"(\d{5})(?:[.,]0+)?", t):
            result = _EXCEL_EPOCH + timedelta(days=int(m.group(1)))
        else:
            return None
    except ValueError:
        return None
    return result if 1990 <= result.year <= 2100 else None


@_memo
def parse_count(text: str) -> int | None:
    """A non-negative whole number ("12", Excel's "12.0"); None if it is not one."""
    t = "".join(text.split())
    m = re.fullmatch(r"(\d+)(?:[.,]0+)?", t)
    return int(m.group(1)) if m else None


_CLASS_RE = re.compile(r"(?P<grade>\d{1,2})\s*[-–—/]?\s*[«\"'“„]?\s*(?P<letter>[^\W\d_]{0,3})\s*[»\"'”“]?")


@_memo
def normalise_class(text: str) -> tuple[str, str] | None:
    """("7А", "7 «А»") for "7 А", "7-а", "7 «А»", "7a" (a Latin look-alike letter), "7А класс";
    ("11", "11") for a class without a letter; None if not a class name."""
    t = " ".join(text.split())
    t = re.sub(r"\s*(?:класс|кл\.?)$", "", t, flags=re.IGNORECASE)
    m = _CLASS_RE.fullmatch(t)
    if not m:
        return None
    grade, letter = int(m.group("grade")), m.group("letter").upper()
    if not 1 <= grade <= 12:
        return None
    if len(m.group("letter")) == 1:            # a Latin look-alike typed for the Cyrillic letter
        letter = m.group("letter").translate(_LATIN_LOOKALIKE).upper()
    if letter and not re.fullmatch(r"[А-ЯЁ]+", letter):
        return None
    return (f"{grade}{letter}", f"{grade} «{letter}»" if letter else str(grade))


def split_mark_column(header: str) -> tuple[str, str] | None:
    """(subject, period as written) for "Математика | Год", "Русский язык (I четв.)", "Алгебра: Год";
    None if the header has no such form. The last "(…)" is the period, so "Иностранный язык
    (английский) (Год)" keeps its subject whole."""
    t = " ".join(header.split())
    if "|" in t:
        subject, period = t.rsplit("|", 1)
    elif t.endswith(")") and "(" in t:
        i = t.rfind("(")
        subject, period = t[:i], t[i + 1:-1]
    elif ":" in t:
        subject, period = t.rsplit(":", 1)
    else:
        return None
    subject, period = subject.strip(), period.strip()
    return (subject, period) if subject and period else None


def _header_field(header: str) -> str | None:
    return _HEADER_LOOKUP.get(norm_key(header)) if header else None


def detect_layout(headers: Iterable[str]) -> Layout:
    """"long" when the header has a subject, period or mark column, else "wide"."""
    fields = {_header_field(h) for h in headers}
    return "long" if fields & {"subject", "period", "mark"} else "wide"


# ---- reading ----------------------------------------------------------------------------------------------

def _max_rows() -> int:
    if has_app_context():
        return int(current_app.config.get("MARKS_IMPORT_MAX_ROWS") or DEFAULT_MAX_ROWS)
    return DEFAULT_MAX_ROWS


def _read(data: bytes, filename: str) -> Table:
    """org_import's reader, with a row limit fit for marks (a long file of a school is big)."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in CSV_SUFFIXES:
        table = Table(filename, _max_rows(), strict_width=True)
        read_csv(data, table)
    elif suffix in XLSX_SUFFIXES:
        table = Table(filename, _max_rows(), strict_width=False)
        read_xlsx(data, table)
    else:
        return read_table(data, filename, _max_rows())      # raises the reader's message for other file types
    if table.header is None:
        raise ImportFailed([RowError(filename, 0, None, None, "файл пуст")])
    return table


# ---- checking and assembling -------------------------------------------------------------------------------

@dataclass(eq=False)
class _Pupil:
    name: str
    row: int
    values: dict[str, tuple[Any, int, str]] = field(default_factory=dict)      # field -> (parsed, row, raw)
    marks: dict[tuple[str, str], str] = field(default_factory=dict)            # (subject key, period) -> mark
    seen: dict[tuple[str, str], int] = field(default_factory=dict)             # (subject key, period) -> row
    checked_cells: tuple[str, ...] | None = None     # its last row's pupil and class cells, if they were fine


@dataclass(eq=False)
class _Class:
    name: str
    display: str
    row: int
    pupils: dict[str, _Pupil] = field(default_factory=dict)                   # folded name -> pupil
    subjects: dict[str, str] = field(default_factory=dict)                    # subject key -> as written first
    periods: set[str] = field(default_factory=set)
    kinds: dict[str, tuple[int, str]] = field(default_factory=dict)           # quarter/half -> (row, column)
    mixed: bool = False
    council: dict[str, tuple[Any, int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class _MarkColumn:
    header: str
    subject: str
    subject_key: str
    period: str


@_memo
def _squeezed(text: str) -> str:
    return " ".join(text.split())


@_memo
def _subject_key(subject: str) -> str:
    return _fold(subject)


class _Importer:
    def __init__(self, table: Table):
        self.table = table
        self.filename = table.filename
        self.errors: list[MarkError] = []
        self.columns: dict[str, str] = {}        # field -> header as written
        self.mark_columns: list[_MarkColumn] = []
        self.classes: dict[str, _Class] = {}
        self.position = {h: i for i, h in enumerate(table.header or []) if h}

    def err(self, row: int, field_: str | None, value: str | None, message: str, column: str | None = None) -> None:
        self.errors.append(MarkError(self.filename, row, field_, value or None, message,
                                     column=column or (self.columns.get(field_) if field_ else None)))

    # header

    def map_header(self) -> Layout:
        header_row = self.table.header_row
        headers = [h for h in self.table.header or [] if h]
        layout = detect_layout(headers)
        unknown = []
        for h in headers:
            f = _header_field(h)
            if f is None:
                unknown.append(h)
            elif f in self.columns:
                self.err(header_row, None, None, f"столбцы «{self.columns[f]}» и «{h}» означают одно и то же "
                                                 f"поле «{f}» — оставьте один")
            else:
                self.columns[f] = h
        required = LONG_REQUIRED if layout == "long" else WIDE_REQUIRED
        missing = [f for f in required if f not in self.columns]
        if layout == "wide" and len(headers) > 1:      # one column: a wrong delimiter, said below
            before = len(self.errors)
            self._map_mark_columns(unknown)
            if not self.mark_columns and len(missing) == len(required):
                del self.errors[before:]                # no header at all: one message, not one per cell
            elif not self.mark_columns and not missing and not any(e.row == header_row for e in self.errors):
                self.err(header_row, None, None,
                         "не найдены столбцы с отметками: нужен либо длинный формат (столбцы «класс», «ученик», "
                         "«предмет», «период», «оценка»), либо широкий — столбцы «класс», «ученик» и по столбцу "
                         "на предмет и период, например «Алгебра | Год» или «Русский язык (I четв.)»"
                         + self._hints())
        else:
            for h in unknown:
                if (split := split_mark_column(h)) and parse_period(split[1]):
                    self.err(header_row, None, None,
                             f"в файле есть и столбец «{self.columns.get('mark', 'оценка')}» (длинный формат), и "
                             f"столбец «{h}» (широкий формат) — оставьте один формат")
                    break
        if missing:
            found = ", ".join(f"«{h}»" for h in headers[:12]) + (", …" if len(headers) > 12 else "")
            message = (f"нет обязательных столбцов: {', '.join(f'«{COLUMN_HINTS[f]}»' for f in missing)}; "
                       f"найдены столбцы: {found}")
            if not self.columns and not self.mark_columns:
                message += (". Первая строка файла должна быть заголовком с названиями столбцов: «класс», "
                            "«ученик», затем «предмет», «период», «оценка» или столбцы вида «Алгебра | Год»")
            self.err(header_row, None, None, message + self._hints())
        return layout

    def _hints(self) -> str:
        hint = ""
        if self.table.encoding == "Windows-1251":
            hint += ". Файл прочитан как Windows-1251 — если заголовок выглядит искажённым, проверьте кодировку"
        if self.table.delimiter and len([h for h in self.table.header or [] if h]) == 1:
            hint += ". В заголовке один столбец — проверьте разделитель: нужен «;» или «,»"
        return hint

    def _map_mark_columns(self, unknown: list[str]) -> None:
        header_row = self.table.header_row
        seen: dict[tuple[str, str], str] = {}
        for h in unknown:
            split = split_mark_column(h)
            if split is None:
                if norm_key(h) not in WIDE_IGNORED:
                    self.err(header_row, None, h,
                             "столбец не распознан: столбец с отметками называется «Предмет | период» (например, "
                             "«Алгебра | Год»); если столбец не нужен, удалите его", column=h)
                continue
            subject, period_text = split
            period = parse_period(period_text)
            if period is None:
                self.err(header_row, "period", period_text,
                         f"неизвестный период в заголовке столбца; допустимы: {PERIOD_CHOICES} "
                         f"(например, «Алгебра | I четв.» или «Алгебра | Год»)", column=h)
                continue
            if len(subject) > MAX_SUBJECT:
                self.err(header_row, "subject", subject, f"название предмета длиннее {MAX_SUBJECT} символов",
                         column=h)
                continue
            key = (_subject_key(subject), period)
            if key in seen:
                self.err(header_row, None, None, f"столбцы «{seen[key]}» и «{h}» — это один и тот же предмет и "
                                                 f"период; оставьте один", column=h)
                continue
            seen[key] = h
            self.mark_columns.append(_MarkColumn(h, subject, key[0], period))

    # rows

    def read_errors(self) -> None:
        for e in self.table.errors:            # read errors; an XLSX formula error names its header in `field`
            header = e.field
            f = _header_field(header) if header else None
            if header and f is None and any(c.header == header for c in self.mark_columns):
                f = "mark"
            self.errors.append(MarkError(e.filename, e.row, f, e.value, e.message, column=header or e.column))

    def run(self) -> dict[str, ClassMarks]:
        for rowno, values in self.table.rows:
            if rowno in self.table.bad_rows:
                continue
            if self.layout == "long":
                self.long_row(rowno, values)
            else:
                self.wide_row(rowno, values)
        self.finish()
        return self.result()

    def value(self, values: Mapping[str, str], field_: str) -> str:
        header = self.columns.get(field_)
        return values.get(header, "") if header else ""

    def row_class(self, rowno: int, values: Mapping[str, str]) -> _Class | None:
        raw = self.value(values, "class")
        if not raw:
            self.err(rowno, "class", None, "не указан класс")
            return None
        parsed = normalise_class(raw)
        if parsed is None:
            self.err(rowno, "class", raw, "класс не распознан: нужны номер (1–11) и буква, например «7А» или "
                                          "«7 «А»»")
            return None
        name, display = parsed
        return self.classes.setdefault(name, _Class(name, display, rowno))

    def row_pupil(self, rowno: int, values: Mapping[str, str], cls: _Class | None, *, unique: bool) -> _Pupil | None:
        raw = self.value(values, "pupil")
        name = " ".join(raw.split())
        known = cls.pupils.get(name.casefold()) if cls is not None else None
        if known is not None and not unique:
            return known                        # checked at its first row
        if not name:
            self.err(rowno, "pupil", None, "не указаны фамилия и имя ученика")
            return None
        if len(name) > MAX_NAME:
            self.err(rowno, "pupil", None, f"ФИО ученика длиннее {MAX_NAME} символов")
            return None
        if not _LETTER.search(name):
            self.err(rowno, "pupil", name, "в ФИО ученика нет букв")
            return None
        if cls is None:
            return None
        key = name.casefold()
        pupil = cls.pupils.get(key)
        if pupil is None:
            pupil = cls.pupils[key] = _Pupil(name, rowno)
        elif unique:
            self.err(rowno, "pupil", name,
                     f"ученик с такими же ФИО уже есть в строке {pupil.row} класса «{cls.display}»: непонятно, "
                     f"чьи это отметки. Если это один ученик, объедините строки; если разные — различите их в "
                     f"файле (например, добавьте к ФИО дату рождения)")
            return None
        return pupil

    def row_fields(self, rowno: int, values: Mapping[str, str], cls: _Class | None, pupil: _Pupil | None) -> None:
        """The per-pupil and per-class columns of one row, checked and compared with earlier rows. The long
        layout repeats them on each of a pupil's rows: cells the same as the pupil's last row that raised no
        error are not looked at again."""
        cells = self.field_cells(values)
        if pupil is not None and pupil.checked_cells == cells:
            return
        errors = len(self.errors)
        self.check_fields(rowno, values, cls, pupil)
        if pupil is not None:
            pupil.checked_cells = cells if len(self.errors) == errors else None

    last_who: tuple[str, str] | None = None
    last_found: tuple[_Class, _Pupil]

    @functools.cached_property
    def long_cells(self) -> Callable[[Mapping[str, str]], tuple[str, str, str, str, str]]:
        """A long row's class, pupil, subject, period and mark cells (all required: map_header said so)."""
        return operator.itemgetter(*(self.columns[f] for f in LONG_REQUIRED))

    @functools.cached_property
    def field_headers(self) -> tuple[str, ...]:
        return tuple(h for f in PUPIL_FIELDS + CLASS_FIELDS if (h := self.columns.get(f)))

    @functools.cached_property
    def field_cells(self) -> Callable[[Mapping[str, str]], tuple[str, ...]]:
        """A row's per-pupil and per-class cells, as a tuple (every row has every named column)."""
        headers = self.field_headers
        if len(headers) > 1:
            return operator.itemgetter(*headers)
        return lambda values: tuple(values[h] for h in headers)

    def check_fields(self, rowno: int, values: Mapping[str, str], cls: _Class | None, pupil: _Pupil | None) -> None:
        for f in PUPIL_FIELDS + CLASS_FIELDS:
            raw = " ".join(self.value(values, f).split())
            if not raw:
                continue
            if f in PUPIL_FIELDS:
                target = pupil.values if pupil is not None else None
            else:
                target = cls.council if cls is not None else None
            if target is not None and f in target and target[f][2] == raw:
                continue        # the pupil's (class's) value again, as on every row of the long layout
            parsed = self.parse_field(rowno, f, raw)
            if parsed is None or target is None:
                continue
            if f in target:
                first, first_row, first_raw = target[f]
                if first != parsed:
                    whose = "этого ученика" if f in PUPIL_FIELDS or cls is None else f"класса «{cls.display}»"
                    self.err(rowno, f, raw, f"для {whose} в строке {first_row} указано «{first_raw}»: значения "
                                            f"должны совпадать")
            else:
                target[f] = (parsed, rowno, raw)

    def parse_field(self, rowno: int, f: str, raw: str) -> Any:
        if f in COUNT_FIELDS:
            n = parse_count(raw)
            if n is None:
                self.err(rowno, f, raw, "число пропусков должно быть целым неотрицательным числом")
            elif f == "absences_days" and n > MAX_DAYS:
                self.err(rowno, f, raw, f"пропущено больше дней, чем есть в году ({MAX_DAYS})")
                return None
            return n
        if f == "decision":
            d = parse_decision(raw)
            if d is None:
                self.err(rowno, f, raw, f"неизвестное решение педсовета; допустимы: {DECISION_CHOICES}")
            return d
        if f == "council_date":
            day = parse_date(raw)
            if day is None:
                self.err(rowno, f, raw, "дата педсовета не распознана: укажите её как ДД.ММ.ГГГГ (например, "
                                        "28.05.2026)")
            return day
        protocol = re.sub(r"^(?:№|no\.?|n)\s*", "", raw, flags=re.IGNORECASE).strip()
        if len(protocol) > 50:
            self.err(rowno, f, raw, "номер протокола длиннее 50 символов")
            return None
        return protocol or None

    def add_mark(self, rowno: int, cls: _Class | None, pupil: _Pupil | None, subject: str, subject_key: str,
                 period: str, mark: str, *, field_: str, column: str, cell: str) -> None:
        if cls is None or pupil is None:
            return
        key = (subject_key, period)
        if key in pupil.seen:
            self.err(rowno, field_, cell, f"отметка ученика по предмету «{subject}» за период «{period}» уже "
                                          f"указана в строке {pupil.seen[key]} (если в классе два ученика с "
                                          f"одинаковыми ФИО, различите их в файле)", column=column)
            return
        pupil.seen[key] = rowno
        if not mark:
            return
        pupil.marks[key] = mark
        kind = period_kind(period)
        if kind is not None and not cls.mixed:
            other = "half" if kind == "quarter" else "quarter"
            if other in cls.kinds:
                first_row, first_column = cls.kinds[other]
                here, there = ("полугодие", "четверти") if kind == "half" else ("четверть", "полугодия")
                self.err(rowno, field_, cell,
                         f"в классе «{cls.display}» уже есть отметки за {there} (строка {first_row}, столбец "
                         f"«{first_column}»), а здесь — за {here}: в одном классе нельзя смешивать четверти и "
                         f"полугодия", column=column)
                cls.mixed = True
            cls.kinds.setdefault(kind, (rowno, column))
        cls.subjects.setdefault(subject_key, subject)
        cls.periods.add(period)

    def long_row(self, rowno: int, values: Mapping[str, str]) -> None:
        class_raw, pupil_raw, subject_raw, period_raw, mark_raw = self.long_cells(values)
        who = (class_raw, pupil_raw)
        cls: _Class | None
        pupil: _Pupil | None
        if who == self.last_who:        # a pupil's rows follow each other: found, without errors, on the first
            cls, pupil = self.last_found
        else:
            cls = self.row_class(rowno, values)
            pupil = self.row_pupil(rowno, values, cls, unique=False)
            if cls is not None and pupil is not None:
                self.last_who, self.last_found = who, (cls, pupil)
        self.row_fields(rowno, values, cls, pupil)
        subject = _squeezed(subject_raw)
        if not (subject or period_raw or mark_raw):
            return                              # a row with only the pupil's absences or decision
        ok = True
        if not subject:
            self.err(rowno, "subject", None, "не указан предмет")
            ok = False
        elif len(subject) > MAX_SUBJECT:
            self.err(rowno, "subject", None, f"название предмета длиннее {MAX_SUBJECT} символов")
            ok = False
        period = parse_period(period_raw)
        if not period_raw:
            self.err(rowno, "period", None, f"не указан период; допустимы: {PERIOD_CHOICES}")
            ok = False
        elif period is None:
            self.err(rowno, "period", period_raw, f"неизвестный период; допустимы: {PERIOD_CHOICES}")
            ok = False
        mark = parse_mark(mark_raw)
        if mark is None:
            self.err(rowno, "mark", mark_raw, f"недопустимая отметка; допустимы: {MARK_CHOICES}")
            ok = False
        if ok and period is not None and mark is not None:
            self.add_mark(rowno, cls, pupil, subject, _subject_key(subject), period, mark,
                          field_="period", column=self.columns["period"], cell=period_raw)

    def wide_row(self, rowno: int, values: Mapping[str, str]) -> None:
        cls = self.row_class(rowno, values)
        pupil = self.row_pupil(rowno, values, cls, unique=True)
        self.row_fields(rowno, values, cls, pupil)
        for col in self.mark_columns:
            raw = values.get(col.header, "")
            mark = parse_mark(raw)
            if mark is None:
                self.err(rowno, "mark", raw, f"недопустимая отметка; допустимы: {MARK_CHOICES}", column=col.header)
            elif mark:
                self.add_mark(rowno, cls, pupil, col.subject, col.subject_key, col.period, mark,
                              field_="mark", column=col.header, cell=raw)

    def finish(self) -> None:
        for cls in self.classes.values():
            for pupil in cls.pupils.values():
                illness = pupil.values.get("absences_illness")
                if illness is None:
                    continue
                lessons = pupil.values.get("absences_lessons", (0, 0, ""))[0]
                if illness[0] > lessons:
                    self.err(illness[1], "absences_illness", illness[2],
                             f"пропущено по болезни ({illness[0]}) больше, чем всего пропущено уроков ({lessons})")

    def result(self) -> dict[str, ClassMarks]:
        out = {}
        for cls in self.classes.values():
            pupils = []
            for p in cls.pupils.values():
                extra = {f: p.values[f][0] for f in PUPIL_FIELDS if f in p.values}
                marks = {(cls.subjects[s], period): m for (s, period), m in p.marks.items()}
                pupils.append(PupilRow(name=p.name, marks=marks, **extra))
            council_date = cls.council.get("council_date")
            protocol = cls.council.get("council_protocol")
            out[cls.name] = ClassMarks(
                class_name=cls.name, display_name=cls.display,
                periods=[p for p in PERIOD_ORDER if p in cls.periods], subjects=list(cls.subjects.values()),
                pupils=pupils, council_date=council_date[0] if council_date else None,
                council_protocol=protocol[0] if protocol else "")
        return out

    def check(self) -> dict[str, ClassMarks]:
        self.layout = self.map_header()
        header_wrong = bool(self.errors)
        self.read_errors()
        if header_wrong:                        # a wrong header makes every row wrong: say it once
            return {}
        return self.run()


def _sort_errors(errors: list[MarkError], position: dict[str, int]) -> list[MarkError]:
    return sorted(errors, key=lambda e: (e.row, position.get(e.column, -1) if e.column else -1))


def _import_table(table: Table) -> dict[str, ClassMarks]:
    importer = _Importer(table)
    result = importer.check()
    if importer.errors:
        log.info("marks import from %s rejected: %d rows, %d errors", table.filename, len(table.rows),
                 len(importer.errors))
        raise _failed(_sort_errors(importer.errors, importer.position), table.filename)
    log.info("marks imported from %s (%s layout): %d rows, %d classes, %d pupils, %d marks", table.filename,
             importer.layout, len(table.rows), len(result), sum(len(c.pupils) for c in result.values()),
             sum(len(p.marks) for c in result.values() for p in c.pupils))
    return result


def import_marks(data: bytes, filename: str) -> dict[str, ClassMarks]:
    """The marks of a CSV/XLSX export, by normalised class name ("7А"). All or nothing: raises
    MarksImportFailed (an ImportFailed) listing every problem found; show `exc.errors` to the user."""
    name = display_name(filename)
    try:
        table = _read(data, name)
    except ImportFailed as exc:
        log.info("marks import from %s rejected: unreadable file", name)
        raise _failed(exc.errors, name) from None
    return _import_table(table)


def import_marks_records(records: Iterable[Mapping[str, object]], source: str = "API") -> dict[str, ClassMarks]:
    """The same checks for records that came as JSON (an API upload): each record is a mapping of
    column -> value in either layout, record N reported as row N. Numbers and dates are taken as
    an XLSX cell would be."""
    table = Table(source, _max_rows(), strict_width=False)
    records = list(records)
    header: dict[str, None] = {}
    for r in records:
        if not isinstance(r, Mapping):
            raise _failed([RowError(source, 0, None, None, "каждая запись должна быть объектом «столбец: значение»")],
                          source)
        header.update(dict.fromkeys(str(k) for k in r))
    if not header:
        raise _failed([RowError(source, 0, None, None, "нет ни одной записи")], source)
    table.header, table.header_row = list(header), 0
    for n, r in enumerate(records, 1):
        values = {str(k): cell_text(v) for k, v in r.items()}
        if len(table.rows) >= table.max_rows:
            raise _failed([RowError(source, 0, None, None, f"больше {table.max_rows} записей — разделите их")],
                          source)
        table.rows.append((n, {h: values.get(h, "").strip() for h in header}))
    return _import_table(table)
