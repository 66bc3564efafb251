"""Property-based tests (hypothesis) on the parsers that read what users type or upload.

Each parser either answers or raises its documented exception (a Russian message), whatever the
input, and never returns a wrong date.
"""
import datetime as dt
import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ordinances.parsing.deadlines import Deadline, format_date, occurrences, parse_deadline
from ordinances.parsing.parser import parse_text

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MONTHS_GEN = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
              "ноября", "декабря"]
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31))
# Text built from the pieces deadline wordings are made of, so the parsers' branches are reached.
WORDS = ["до", "не позднее", "ежемесячно", "ежеквартально", "ежегодно", "в течение", "учебного года",
         "постоянно", "по мере необходимости", "числа", "каждого месяца", "года", "г.", "с", "по", "до 25",
         "2025/2026", "2026-2027", "I", "II", "квартал", "полугодие", "четверти", ",", ".", "—", "-", "и"]
wordy = st.lists(st.one_of(st.sampled_from(WORDS + MONTHS_GEN), st.integers(0, 3000).map(str),
                           dates.map(format_date), st.text(max_size=6)), max_size=12).map(" ".join)


def _check_deadline(d: Deadline, text: str):
    assert isinstance(d, Deadline)
    assert d.text == text
    assert d.kind in ("once", "recurring", "continuous", "unparsed")
    for day in d.dates:
        assert isinstance(day, dt.date)
    if d.kind == "unparsed":
        assert d.warnings and not d.dates


@FAST
@given(text=st.one_of(st.text(max_size=300), wordy), ref=st.one_of(st.none(), dates))
def test_parse_deadline_never_raises(text, ref):
    d = parse_deadline(text, ref_date=ref)
    _check_deadline(d, text)
    start = ref or dt.date(2025, 9, 1)
    got = occurrences(d, start, start + dt.timedelta(days=400))
    assert all(start <= x <= start + dt.timedelta(days=400) for x in got)
    assert got == sorted(got)


@FAST
@given(day=dates, prefix=st.sampled_from(["", "до ", "не позднее "]))
def test_a_written_date_is_read_as_that_date(day, prefix):
    for written in (format_date(day), f"{day.day} {MONTHS_GEN[day.month - 1]} {day.year} года"):
        d = parse_deadline(prefix + written, ref_date=None)
        assert d.kind == "once", (prefix + written, d)
        assert d.dates == (day,), (prefix + written, d.dates)


@FAST
@given(year=st.integers(1990, 2099), month=st.integers(1, 12), day=st.integers(1, 99))
def test_an_impossible_date_is_never_a_date(year, month, day):
    try:
        real = dt.date(year, month, day)
    except ValueError:
        real = None
    d = parse_deadline(f"до {day:02d}.{month:02d}.{year}", ref_date=None)
    if real is None:
        assert d.kind == "unparsed" and not d.dates
    else:
        assert d.dates == (real,)


@FAST
@given(text=st.one_of(st.text(max_size=2000), st.lists(wordy, max_size=30).map("\n".join)))
def test_parse_text_never_raises(text):
    result = parse_text(text)
    assert isinstance(result, dict)
    assert isinstance(result.get("warnings", []), list)


def test_parse_text_with_a_seed_and_noise_keeps_the_items():
    from pathlib import Path
    seed = next((Path(__file__).resolve().parents[1] / "data" / "seeds").glob("001_*.txt")).read_text("utf-8")
    clean = parse_text(seed)
    noisy = parse_text(seed.replace("\n", "\r\n") + "\n\x00\ufeff\u202e тест")
    def items(r):
        return [i.get("number") for sec in r["plan"]["sections"] for i in sec.get("items", [])]
    assert items(noisy) == items(clean) and items(clean)
    assert noisy["date"] == clean["date"] and noisy["number"] == clean["number"]


# ---- marks and organisations: only ImportFailed, with a Russian message naming the file --------------------

def _csv_bytes(rows, encoding):
    return "\n".join(";".join(r) for r in rows).encode(encoding, errors="replace")


cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
rows = st.lists(st.lists(cells, min_size=1, max_size=6), max_size=8)
marks_header = st.lists(st.sampled_from(["класс", "ученик", "предмет", "период", "отметка", "Алгебра | Год",
                                         "Русский язык (I четв.)", "пропущено дней", "решение педсовета"]),
                        min_size=1, max_size=6)


@FAST
@given(header=marks_header, body=rows, encoding=st.sampled_from(["utf-8", "cp1251", "utf-16"]),
       raw=st.one_of(st.none(), st.binary(max_size=400)))
def test_import_marks_raises_only_import_failed(header, body, encoding, raw):
    from sheets.marks_import import ClassMarks, MarksImportFailed, import_marks
    data = raw if raw is not None else _csv_bytes([header] + body, encoding)
    try:
        result = import_marks(data, "отметки.csv")
    except MarksImportFailed as exc:
        assert exc.errors and all(e.message for e in exc.errors)
        assert "отметки.csv" in str(exc.errors[0]) or "отметки.csv" in str(exc)
    else:
        assert all(isinstance(v, ClassMarks) for v in result.values())


org_header = st.lists(st.sampled_from(["code", "name", "kind", "parent_code", "inn", "ogrn", "код",
                                       "наименование", "тип", "код родителя"]), min_size=1, max_size=7)


@FAST
@given(header=org_header, body=rows, encoding=st.sampled_from(["utf-8", "cp1251"]),
       raw=st.one_of(st.none(), st.binary(max_size=400)))
def test_import_organisations_raises_only_import_failed(db, header, body, encoding, raw):
    from core.tabular import ImportFailed
    from orgs.importer import import_organisations
    data = raw if raw is not None else _csv_bytes([header] + body, encoding)
    nested = db.begin_nested()
    try:
        import_organisations(data, "орг.csv")
    except ImportFailed as exc:
        assert exc.errors and all(e.message for e in exc.errors)
    finally:
        nested.rollback()


@FAST
@given(raw=st.binary(max_size=2000))
def test_xlsx_named_garbage_is_import_failed(raw):
    from sheets.marks_import import MarksImportFailed, import_marks
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.xml", raw)
        z.writestr("[Content_Types].xml", raw[:50])
    for data in (raw, buf.getvalue()):
        with pytest.raises(MarksImportFailed):
            import_marks(data, "отметки.xlsx")
