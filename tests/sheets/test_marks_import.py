"""Marks import: both layouts, both encodings and delimiters, XLSX, every bad cell named by file/row/column/value,
all or nothing, a full class (28 pupils × 16 subjects × 7 periods), and pupils' names kept out of logs."""
import csv
import io
import logging
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from core.tabular import MAX_ERRORS, ImportFailed, RowError
from sheets.marks_import import (
    ClassMarks,
    MarkError,
    MarksImportFailed,
    detect_layout,
    import_marks,
    import_marks_records,
    normalise_class,
    parse_date,
    parse_decision,
    parse_mark,
    parse_period,
    split_mark_column,
)
from sheets.sheet_data import HALF_YEARS, QUARTERS, PupilRow, SheetData, to_json
from tests.sheets.sample import make_sheet

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
LONG_HEADER = ["Класс", "Ученик", "Предмет", "Период", "Оценка"]
SEVEN_A = ["Алёшин Пётр Сергеевич", "Ёлкина Софья Дмитриевна", "Орлов Матвей Денисович", "Тихонов Лев Константинович"]


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def csv_bytes(header, *rows, delimiter=";", encoding="utf-8") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(header, *rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def convert(data: bytes, encoding: str, delimiter: str, *, to_encoding: str, to_delimiter: str) -> bytes:
    rows = list(csv.reader(io.StringIO(data.decode(encoding)), delimiter=delimiter))
    return csv_bytes(rows[0], *rows[1:], delimiter=to_delimiter, encoding=to_encoding)


def errors_of(data: bytes, filename: str = "marks.csv") -> list[MarkError]:
    with pytest.raises(ImportFailed) as exc:
        import_marks(data, filename)
    assert isinstance(exc.value, MarksImportFailed)
    assert exc.value.errors and all(isinstance(e, MarkError) for e in exc.value.errors)
    return exc.value.errors


def one_error(data: bytes, filename: str = "marks.csv") -> MarkError:
    errors = errors_of(data, filename)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def long_file(*rows, header=LONG_HEADER, **kwargs) -> bytes:
    return csv_bytes(header, *rows, **kwargs)


GOOD = ["7А", "Иванов Иван", "Алгебра", "Год", "5"]          # row 2 of a long file


# ---- the sample files ------------------------------------------------------------------------------------------

def test_long_sample_utf8_semicolon():
    data = sample("marks_long.csv")
    assert data.decode("utf-8").splitlines()[0].count(";") == 10
    result = import_marks(data, "marks_long.csv")
    assert list(result) == ["7А", "10Б"]

    seven = result["7А"]
    assert isinstance(seven, ClassMarks)
    assert (seven.class_name, seven.display_name) == ("7А", "7 «А»")
    assert seven.periods == QUARTERS
    assert seven.subjects == ["Русский язык", "Алгебра", "Физическая культура"]
    assert [p.name for p in seven.pupils] == SEVEN_A                   # ё kept, file order
    assert (seven.council_date, seven.council_protocol) == (date(2026, 5, 29), "7")
    aleshin, elkina, orlov, tikhonov = seven.pupils
    assert aleshin.marks[("Русский язык", "III четв.")] == "4" and aleshin.mark("Алгебра", "Экз.") == ""
    assert aleshin.mark("Физическая культура", "Итог") == "зач"
    assert elkina.mark("Физическая культура", "Год") == "осв"
    assert orlov.mark("Алгебра", "Итог") == "2" and orlov.mark("Физическая культура", "III четв.") == "незач"
    assert tikhonov.mark("Русский язык", "II четв.") == "н/а"
    assert len(aleshin.marks) == 3 * 6 + 1                             # an exam in Russian only
    assert (aleshin.absences_days, aleshin.absences_lessons, aleshin.absences_illness) == (4, 22, 18)
    assert [p.decision for p in seven.pupils] == ["переведён", "переведён", "оставлен", "условно переведён"]

    ten = result["10Б"]
    assert ten.display_name == "10 «Б»" and ten.periods == ["I полуг.", "II полуг.", "Год", "Итог"]
    assert ten.subjects == ["Литература", "Физика"]
    assert [p.name for p in ten.pupils] == ["Семёнов Даниил Евгеньевич", "Фёдорова Алёна Игоревна"]
    assert (ten.council_date, ten.council_protocol) == (date(2026, 5, 28), "12")   # ISO date, "№ 12"

    # the import maps onto the sheet model: a valid sheet can be built from it
    sheet = SheetData(region="Р", municipality="М", school="Ш", school_year="2025/2026", class_teacher="У",
                      director="Д", document_id="SV-1", verify_url="https://example.ru/v/SV-1",
                      **seven.sheet_fields())
    assert sheet.class_name == "7 «А»" and sheet.pupils[1].name == "Ёлкина Софья Дмитриевна"
    assert all(p in HALF_YEARS for p in ten.periods)


def test_wide_sample_cp1251_comma():
    data = sample("marks_wide_cp1251.csv")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("cp1251").splitlines()[0].startswith("№,Класс,ФИО обучающегося,Русский язык | I четв.,")
    [(name, nine)] = import_marks(data, "marks_wide_cp1251.csv").items()
    assert name == "9Б" and nine.display_name == "9 «Б»"
    assert nine.subjects == ["Русский язык", "Алгебра", "История", "Иностранный язык (английский)"]
    assert nine.periods == QUARTERS
    assert [p.name for p in nine.pupils] == ["Абдуллина Алсу Ринатовна", "Киселёв Глеб Романович",
                                             "Киселева Вероника Игоревна"]        # ё and е are different pupils
    first, kiselev, _ = nine.pupils
    assert first.mark("Алгебра", "I четв.") == "4" and first.mark("История", "Экз.") == ""
    assert first.mark("Иностранный язык (английский)", "Итог") == "5"
    assert len(first.marks) == 4 * 7 - 2
    assert (kiselev.absences_days, kiselev.absences_lessons, kiselev.absences_illness) == (3, 18, 12)
    assert first.decision == "переведён"                               # «переведена» is the same decision
    assert (nine.council_date, nine.council_protocol) == (date(2026, 5, 30), "15")


@pytest.mark.parametrize("name, encoding, delimiter", [("marks_long.csv", "utf-8", ";"),
                                                        ("marks_wide_cp1251.csv", "cp1251", ",")])
@pytest.mark.parametrize("to_encoding, to_delimiter", [("utf-8", ";"), ("utf-8", ","), ("cp1251", ";"),
                                                       ("cp1251", ","), ("utf-8-sig", ",")])
def test_every_encoding_and_delimiter_gives_the_same_marks(name, encoding, delimiter, to_encoding, to_delimiter):
    expected = import_marks(sample(name), name)
    data = convert(sample(name), encoding, delimiter, to_encoding=to_encoding, to_delimiter=to_delimiter)
    assert import_marks(data, "converted.csv") == expected


# ---- XLSX ------------------------------------------------------------------------------------------------------

def test_xlsx_wide_with_numeric_marks_and_excel_dates():
    data = xlsx_bytes(
        ["Класс", "ФИО", "Алгебра | I четв.", "Алгебра | Год", "Физика (Год)", "Химия: Год", "Пропущено уроков",
         "По болезни", "Дата педсовета", "Протокол"],
        ["8А", "Пётр Алёшин", 5, 5.0, 4, "зачёт", 12, 3.0, datetime(2026, 5, 27), 3],
        ["8А", "Анна Ёжикова", 4.0, 4, 3, None, None, None, datetime(2026, 5, 27), "3"],
        ["8Б", "Олег Орлов", 3, 3, "н\\а", "незачёт", 0, 0, 46169, "4"],       # an Excel serial day number
    )
    result = import_marks(data, "Оценки.xlsx")
    a, b = result["8А"], result["8Б"]
    assert a.subjects == ["Алгебра", "Физика", "Химия"] and a.periods == ["I четв.", "Год"]
    assert a.pupils[0].marks == {("Алгебра", "I четв."): "5", ("Алгебра", "Год"): "5", ("Физика", "Год"): "4",
                                 ("Химия", "Год"): "зач"}
    assert a.pupils[1].name == "Анна Ёжикова" and a.pupils[1].mark("Алгебра", "I четв.") == "4"
    assert (a.pupils[0].absences_lessons, a.pupils[0].absences_illness) == (12, 3)
    assert a.council_date == date(2026, 5, 27) and a.council_protocol == "3"
    assert b.pupils[0].mark("Физика", "Год") == "н/а" and b.pupils[0].mark("Химия", "Год") == "незач"
    assert b.council_date == date(2026, 5, 27)


def test_xlsx_long_layout_with_english_headers():
    data = xlsx_bytes(["class", "pupil", "subject", "period", "mark", "decision"],
                      ["5 «В»", "Иванов Иван", "Математика", "1 полугодие", 4.0, "переведен"],
                      ["5 «В»", "Иванов Иван", "Математика", "годовая", 5, None])
    [five] = import_marks(data, "export.xlsx").values()
    assert five.class_name == "5В" and five.periods == ["I полуг.", "Год"]
    assert five.pupils[0].marks == {("Математика", "I полуг."): "4", ("Математика", "Год"): "5"}


def test_xlsx_formula_error_is_named():
    book = openpyxl.Workbook()
    book.active.append(["Класс", "Ученик", "Алгебра | Год"])
    book.active.append(["7А", "Иванов Иван", "=1/0"])
    out = io.BytesIO()
    book.save(out)
    # openpyxl does not compute formulas: set the cached value to an error the way Excel leaves it
    data = out.getvalue()
    src, dst = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(dst, "w") as z:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b"<f>1/0</f><v></v>", b"<f>1/0</f><v>#DIV/0!</v>").replace(
                    b'<c r="C2"', b'<c r="C2" t="e"', 1)
            z.writestr(item, content)
    err = one_error(dst.getvalue(), "m.xlsx")
    assert (err.row, err.column, err.field) == (2, "Алгебра | Год", "mark")
    assert "ошибка формулы" in err.message


# ---- layouts and values ----------------------------------------------------------------------------------------

def test_detect_layout():
    assert detect_layout(["Класс", "ФИО", "Предмет", "Период", "Оценка"]) == "long"
    assert detect_layout(["CLASS", "Pupil", "Subject", "Period", "Mark"]) == "long"
    assert detect_layout(["Класс", "Ученик", "Математика | Год", "Решение"]) == "wide"
    assert detect_layout(["Класс", "Ученик", "Русский язык (I четв.)"]) == "wide"


def test_wide_header_forms():
    data = csv_bytes(["класс", "ученик", "Математика | Год", "Русский язык (I четв.)", "Литература: итоговая",
                      "Иностранный язык (английский) (Год)", "Родной язык (татарский) | 2 четверть"],
                     ["6А", "Иванов Иван", "5", "4", "3", "зач", "5"])
    [six] = import_marks(data, "w.csv").values()
    assert six.subjects == ["Математика", "Русский язык", "Литература", "Иностранный язык (английский)",
                            "Родной язык (татарский)"]
    assert six.periods == ["I четв.", "II четв.", "Год", "Итог"]
    assert six.pupils[0].mark("Иностранный язык (английский)", "Год") == "зач"
    assert split_mark_column("Родной язык (татарский)") == ("Родной язык", "татарский")
    assert split_mark_column("Решение") is None


@pytest.mark.parametrize("text, label", [
    ("1 четверть", "I четв."), ("I четв.", "I четв."), ("I", "I четв."), ("1ч", "I четв."),
    ("2-я четверть", "II четв."),
    ("III четверть", "III четв."), ("4", "IV четв."), ("Четвёртая четверть", "IV четв."), ("Q3", "III четв."),
    ("1 полугодие", "I полуг."), ("I полуг.", "I полуг."), ("2-е полугодие", "II полуг."), ("II пг", "II полуг."),
    ("год", "Год"), ("Годовая", "Год"), ("годовая отметка", "Год"), ("за год", "Год"),
    ("экз", "Экз."), ("Экзаменационная", "Экз."), ("Экз.", "Экз."),
    ("итог", "Итог"), ("Итоговая", "Итог"), ("ИТОГ", "Итог"),
])
def test_period_aliases(text, label):
    assert parse_period(text) == label
    [cls] = import_marks(long_file(["7А", "Иванов Иван", "Алгебра", text, "5"]), "p.csv").values()
    assert cls.periods == [label]


@pytest.mark.parametrize("text", ["5 четверть", "III полугодие", "четверть", "триместр", "0", "зима"])
def test_unknown_period(text):
    assert parse_period(text) is None


@pytest.mark.parametrize("text, mark", [
    ("5", "5"), ("4", "4"), ("3", "3"), ("2", "2"), ("5.0", "5"), ("4,0", "4"), (" 3 ", "3"),
    ("зач", "зач"), ("Зачёт", "зач"), ("зачтено", "зач"), ("незач", "незач"), ("незачёт", "незач"),
    ("не зачтено", "незач"), ("н/а", "н/а"), ("Н/А", "н/а"), ("на", "н/а"), ("н\\а", "н/а"), ("н/a", "н/а"),
    ("осв", "осв"), ("осв.", "осв"), ("освобождён", "осв"), ("Освобождена", "осв"), ("", ""),
])
def test_mark_aliases(text, mark):
    assert parse_mark(text) == mark


@pytest.mark.parametrize("text", ["1", "6", "0", "4.5", "5+", "4-", "отлично!", "н", "x", "55"])
def test_not_a_mark(text):
    assert parse_mark(text) is None


def test_class_spellings_are_one_class():
    data = long_file(["7 А", "Иванов Иван", "Алгебра", "I четв.", "5"],
                     ["7-а", "Иванов Иван", "Алгебра", "II четв.", "4"],
                     ["7 «А»", "Иванов Иван", "Алгебра", "Год", "5"],
                     ["7a", "Иванов Иван", "Геометрия", "Год", "4"],               # Latin «a»
                     ['7 "А"', "Петров Пётр", "Алгебра", "Год", "3"],
                     ["7А класс", "Петров Пётр", "Геометрия", "Год", "3"])
    [(name, cls)] = import_marks(data, "c.csv").items()
    assert (name, cls.class_name, cls.display_name) == ("7А", "7А", "7 «А»")
    assert [p.name for p in cls.pupils] == ["Иванов Иван", "Петров Пётр"]
    assert cls.subjects == ["Алгебра", "Геометрия"] and len(cls.pupils[0].marks) == 4
    assert normalise_class("11") == ("11", "11")
    assert normalise_class("10 ФМ") == ("10ФМ", "10 «ФМ»")
    assert normalise_class("0А") is None and normalise_class("7b") is None and normalise_class("А7") is None


def test_per_pupil_columns_long_layout_and_defaults():
    header = LONG_HEADER + ["пропущено_дней", "пропущено_уроков", "по_болезни", "решение", "дата_педсовета",
                            "протокол"]
    data = long_file(["9А", "Иванов Иван", "Алгебра", "Год", "5", "3", "20", "8", "выпущен", "30.05.2026", "9"],
                     ["9А", "Иванов Иван", "Алгебра", "Итог", "5", "", "", "", "", "", ""],
                     ["9А", "Иванов Иван", "", "", "", "3", "20", "8", "Выпущен", "2026-05-30", "№9"],   # info only
                     ["9А", "Петров Пётр", "Алгебра", "Год", "4", "", "", "", "", "", ""],
                     header=header)
    [nine] = import_marks(data, "l.csv").values()
    ivanov, petrov = nine.pupils
    assert (ivanov.absences_days, ivanov.absences_lessons, ivanov.absences_illness, ivanov.decision) == (
        3, 20, 8, "выпущен")
    assert (petrov.absences_days, petrov.absences_lessons, petrov.absences_illness, petrov.decision) == (
        0, 0, 0, "переведён")                         # PupilRow's defaults when the file says nothing
    assert nine.council_date == date(2026, 5, 30) and nine.council_protocol == "9"
    assert ivanov.marks == {("Алгебра", "Год"): "5", ("Алгебра", "Итог"): "5"}


def test_empty_marks_make_no_subject_or_period():
    data = long_file(["7А", "Иванов Иван", "Алгебра", "Год", "5"], ["7А", "Иванов Иван", "Черчение", "Экз.", ""])
    [cls] = import_marks(data, "e.csv").values()
    assert cls.subjects == ["Алгебра"] and cls.periods == ["Год"] and cls.pupils[0].marks == {("Алгебра", "Год"): "5"}


@pytest.mark.parametrize("text, decision", [("переведён", "переведён"), ("Переведена", "переведён"),
                                            ("условно переведён", "условно переведён"),
                                            ("переведен условно", "условно переведён"),
                                            ("оставлен на повторное обучение", "оставлен"),
                                            ("оставлена", "оставлен"), ("выпущена", "выпущен")])
def test_decisions(text, decision):
    assert parse_decision(text) == decision


def test_dates():
    assert parse_date("29.05.2026") == parse_date("2026-05-29") == parse_date("29.05.26") == date(2026, 5, 29)
    assert parse_date("29 мая 2026 г.") == parse_date("46171") == parse_date("2026-05-29 00:00:00") == date(2026, 5, 29)
    assert parse_date("31.02.2026") is None and parse_date("вчера") is None and parse_date("29.05.0026") is None


def test_unknown_long_columns_are_ignored_wide_ones_are_not():
    data = long_file(["7А", "Иванов Иван", "Алгебра", "Год", "5", "Сидорова М. П."], header=LONG_HEADER + ["Учитель"])
    assert import_marks(data, "l.csv")["7А"].pupils[0].marks == {("Алгебра", "Год"): "5"}
    err = one_error(csv_bytes(["Класс", "Ученик", "Алгебра | Год", "Геометрия"], ["7А", "Иванов Иван", "5", "4"]))
    assert (err.row, err.column, err.value) == (1, "Геометрия", "Геометрия")
    assert "«Предмет | период»" in err.message


def test_records_from_an_api_upload():
    result = import_marks_records([
        {"class": "7А", "pupil": "Иванов Иван", "subject": "Алгебра", "period": "Год", "mark": 5},
        {"class": "7А", "pupil": "Иванов Иван", "subject": "Алгебра", "period": "Итог", "mark": 5.0,
         "council_date": "2026-05-29"},
    ])
    assert result["7А"].pupils[0].marks == {("Алгебра", "Год"): "5", ("Алгебра", "Итог"): "5"}
    assert result["7А"].council_date == date(2026, 5, 29)
    with pytest.raises(MarksImportFailed) as exc:
        import_marks_records([{"class": "7А", "pupil": "Иванов Иван", "subject": "Алгебра", "period": "Год",
                               "mark": 7}], "api")
    [err] = exc.value.errors
    assert (err.filename, err.row, err.column, err.value) == ("api", 1, "mark", "7")


# ---- a whole class ---------------------------------------------------------------------------------------------

def _expected_marks(pupil: PupilRow) -> dict:
    return {k: v for k, v in pupil.marks.items() if v}


def _assert_round_trip(result: dict[str, ClassMarks], original: SheetData) -> None:
    [cls] = result.values()
    assert len(cls.pupils) == 28 and len(cls.subjects) == 16 and len(cls.periods) == 7
    assert cls.subjects == original.subjects and cls.periods == QUARTERS
    assert sum(len(p.marks) for p in cls.pupils) == sum(len(_expected_marks(p)) for p in original.pupils)
    by_name = {p.name: p for p in original.pupils}
    for pupil in cls.pupils:
        source = by_name[pupil.name]
        assert pupil.marks == _expected_marks(source), pupil.name
        assert (pupil.absences_days, pupil.absences_lessons, pupil.absences_illness, pupil.decision) == (
            source.absences_days, source.absences_lessons, source.absences_illness, source.decision)
    fields = {k: getattr(original, k) for k in ("region", "municipality", "school", "school_year", "class_teacher",
                                                "director", "document_id", "verify_url")}
    assert to_json(SheetData(**fields, **cls.sheet_fields())) == to_json(original)


def test_full_class_long_layout_28_pupils_16_subjects_7_periods():
    original = make_sheet()
    header = LONG_HEADER + ["Пропущено дней", "Пропущено уроков", "По болезни", "Решение", "Дата педсовета", "Протокол"]
    rows = [["7 «А»", p.name, s, per, p.mark(s, per), p.absences_days, p.absences_lessons, p.absences_illness,
             p.decision, "29.05.2026", "7"]
            for p in original.pupils for s in original.subjects for per in original.periods]
    assert len(rows) == 28 * 16 * 7
    _assert_round_trip(import_marks(long_file(*rows, header=header), "7a.csv"), original)


def test_full_class_wide_xlsx_28_pupils_16_subjects_7_periods():
    original = make_sheet()
    columns = [(s, per) for s in original.subjects for per in original.periods]
    header = ["Класс", "ФИО", *[f"{s} | {per}" for s, per in columns], "Пропущено дней", "Пропущено уроков",
              "По болезни", "Решение", "Дата педсовета", "Протокол"]

    def number(mark):                 # Excel keeps digits as numbers
        return int(mark) if mark.isdigit() else (mark or None)
    rows = [["7 «А»", p.name, *[number(p.mark(s, per)) for s, per in columns], p.absences_days, p.absences_lessons,
             p.absences_illness, p.decision, datetime(2026, 5, 29), 7] for p in original.pupils]
    _assert_round_trip(import_marks(xlsx_bytes(header, *rows), "7a.xlsx"), original)


# ---- errors: each names file, row, column and value --------------------------------------------------------------

def test_bad_mark_long_and_wide():
    err = one_error(long_file(GOOD, ["7А", "Иванов Иван", "Алгебра", "Итог", "6"]))
    assert (err.filename, err.row, err.field, err.column, err.value) == ("marks.csv", 3, "mark", "Оценка", "6")
    assert str(err).startswith("marks.csv, строка 3, поле «Оценка» («6»): недопустимая отметка")
    err = one_error(csv_bytes(["Класс", "Ученик", "Алгебра | Год"], ["7А", "Иванов Иван", "отл+"]), "wide.csv")
    assert (err.filename, err.row, err.column, err.value) == ("wide.csv", 2, "Алгебра | Год", "отл+")


def test_duplicate_mark_in_long_layout():
    err = one_error(long_file(GOOD, ["7А", "Петров Пётр", "Алгебра", "Год", "4"], ["7 А", "иванов  иван", "алгебра",
                                                                                  "годовая", "4"]))
    assert (err.row, err.column, err.value) == (4, "Период", "годовая")
    assert "«алгебра» за период «Год» уже указана в строке 2" in err.message


def test_unknown_period_long_and_in_a_wide_header():
    err = one_error(long_file(GOOD, ["7А", "Иванов Иван", "Алгебра", "5 четверть", "5"]))
    assert (err.row, err.column, err.value) == (3, "Период", "5 четверть")
    assert "неизвестный период" in err.message
    err = one_error(csv_bytes(["Класс", "Ученик", "Алгебра | Год", "Алгебра | III полугодие"],
                              ["7А", "Иванов Иван", "5", "4"]))
    assert (err.row, err.column, err.value) == (1, "Алгебра | III полугодие", "III полугодие")
    err = one_error(long_file(["7А", "Иванов Иван", "Алгебра", "", "5"]))
    assert (err.row, err.column, err.value) == (2, "Период", None) and "не указан период" in err.message


def test_bad_decision():
    err = one_error(long_file(GOOD + ["отчислен"], header=LONG_HEADER + ["Решение педсовета"]))
    assert (err.row, err.column, err.value) == (2, "Решение педсовета", "отчислен")
    assert "переведён, оставлен, условно переведён, выпущен" in err.message


@pytest.mark.parametrize("value", ["31.02.2026", "вчера", "2026/13/01", "29.05"])
def test_council_date_not_a_date(value):
    err = one_error(long_file(GOOD + [value], header=LONG_HEADER + ["Дата педсовета"]))
    assert (err.row, err.column, err.value) == (2, "Дата педсовета", value)
    assert "ДД.ММ.ГГГГ" in err.message


@pytest.mark.parametrize("value", ["-1", "два", "1.5", "3 дня", "400"])
def test_absences_not_a_count(value):
    err = one_error(long_file(GOOD + [value], header=LONG_HEADER + ["Пропущено дней"]))
    assert (err.row, err.column, err.value) == (2, "Пропущено дней", value)


def test_illness_more_than_lessons():
    header = ["Класс", "Ученик", "Алгебра | Год", "Пропущено уроков", "По болезни"]
    err = one_error(csv_bytes(header, ["7А", "Иванов Иван", "5", "10", "10"], ["7А", "Петров Пётр", "4", "10", "12"]))
    assert (err.row, err.column, err.value) == (3, "По болезни", "12")
    assert "(12) больше, чем всего пропущено уроков (10)" in err.message
    err = one_error(csv_bytes(["Класс", "Ученик", "Алгебра | Год", "По болезни"], ["7А", "Иванов Иван", "5", "2"]))
    assert (err.row, err.column) == (2, "По болезни")


def test_same_pupil_twice_in_a_wide_class_is_ambiguous():
    header = ["Класс", "Ученик", "Алгебра | Год"]
    data = csv_bytes(header, ["7А", "Иванов Иван Иванович", "5"], ["7Б", "Иванов Иван Иванович", "4"],
                     ["7 А", "Иванов  Иван Иванович", "3"])
    err = one_error(data)
    assert (err.row, err.field, err.column, err.value) == (4, "pupil", "Ученик", "Иванов Иван Иванович")
    assert "уже есть в строке 2 класса «7 «А»»" in err.message and "непонятно, чьи это отметки" in err.message


def test_conflicting_council_date_and_protocol_in_one_class():
    header = ["Класс", "Ученик", "Алгебра | Год", "Дата педсовета", "Протокол"]
    errors = errors_of(csv_bytes(header, ["7А", "Иванов Иван", "5", "29.05.2026", "7"],
                                 ["7А", "Петров Пётр", "4", "2026-05-29", "№ 7"],          # the same, written otherwise
                                 ["7Б", "Сидоров Олег", "4", "30.05.2026", "8"],           # another class may differ
                                 ["7А", "Смирнова Ольга", "4", "30.05.2026", "8"]))
    assert [(e.row, e.column, e.value) for e in errors] == [(5, "Дата педсовета", "30.05.2026"), (5, "Протокол", "8")]
    assert "для класса «7 «А»» в строке 2 указано «29.05.2026»" in errors[0].message


def test_conflicting_per_pupil_values_in_long_rows():
    header = LONG_HEADER + ["Решение"]
    err = one_error(long_file(GOOD + ["переведён"], ["7А", "Иванов Иван", "Алгебра", "Итог", "5", "оставлен"],
                              header=header))
    assert (err.row, err.column, err.value) == (3, "Решение", "оставлен")
    assert "в строке 2 указано «переведён»" in err.message
    # a pupil's repeated cells are looked at again after a row that had an error: each such row is named
    errors = errors_of(long_file(GOOD + ["переведён"], ["7А", "Иванов Иван", "Алгебра", "Итог", "5", "оставлен"],
                                 ["7А", "Иванов Иван", "Геометрия", "Год", "5", "оставлен"],
                                 ["7А", "Иванов Иван", "Геометрия", "Итог", "5", "переведён"], header=header))
    assert [(e.row, e.value) for e in errors] == [(3, "оставлен"), (4, "оставлен")]


def test_quarters_and_half_years_in_one_class():
    err = one_error(long_file(["7А", "Иванов Иван", "Алгебра", "I четв.", "5"],
                              ["7Б", "Петров Пётр", "Алгебра", "I полугодие", "5"],     # another class: fine
                              ["7А", "Иванов Иван", "Геометрия", "I полугодие", "4"]))
    assert (err.row, err.column, err.value) == (4, "Период", "I полугодие")
    assert "уже есть отметки за четверти (строка 2" in err.message
    err = one_error(csv_bytes(["Класс", "Ученик", "Алгебра | I четв.", "Алгебра | 2 полугодие"],
                              ["7А", "Иванов Иван", "5", ""], ["7А", "Петров Пётр", "", "4"]))
    assert (err.row, err.column, err.value) == (3, "Алгебра | 2 полугодие", "4")


def test_class_and_pupil_errors():
    errors = errors_of(long_file(["", "Иванов Иван", "Алгебра", "Год", "5"],
                                 ["седьмой", "Иванов Иван", "Алгебра", "Год", "5"],
                                 ["7А", "", "Алгебра", "Год", "5"], ["7А", "Иванов Иван", "", "Год", "5"]))
    assert [(e.row, e.column, e.value) for e in errors] == [
        (2, "Класс", None), (3, "Класс", "седьмой"), (4, "Ученик", None), (5, "Предмет", None)]


def test_missing_and_doubled_columns():
    err = one_error(csv_bytes(["Класс", "ФИО", "Предмет", "Оценка"], ["7А", "Иванов Иван", "Алгебра", "5"]))
    assert err.row == 1 and "нет обязательных столбцов: «период»" in err.message
    err = one_error(csv_bytes(["Класс", "Class", "ФИО", "Алгебра | Год"], ["7А", "7А", "Иванов Иван", "5"]))
    assert err.row == 1 and "«Класс» и «Class»" in err.message
    err = one_error(csv_bytes(["Класс", "ФИО", "Номер"], ["7А", "Иванов Иван", "1"]))
    assert err.row == 1 and "не найдены столбцы с отметками" in err.message
    err = one_error("Класс,Ученик,Предмет,Период,Оценка\n".encode("cp1251").replace(b",", b"|"), "x.csv")
    assert err.row == 1 and "проверьте разделитель" in err.message


def test_long_and_wide_columns_in_one_file():
    err = one_error(long_file(GOOD + ["4"], header=LONG_HEADER + ["Алгебра | Итог"]))
    assert err.row == 1 and "оставьте один формат" in err.message


def test_a_file_without_its_header_row():
    name = "Секретная Алёна Ивановна"
    err = one_error(csv_bytes(["7А", name, "5", "4"], ["7А", "Петров Пётр", "4", "4"]))
    assert err.row == 1 and "Первая строка файла должна быть заголовком" in err.message
    assert name in str(err) and name not in repr(err)


def test_one_bad_row_returns_nothing_and_all_errors_are_listed():
    rows = [["7А", f"Ученик {n}", "Алгебра", "Год", "5"] for n in range(1, 30)]
    rows[9][4] = "7"
    rows[20][3] = "лето"
    with pytest.raises(ImportFailed) as exc:
        import_marks(long_file(*rows), "class.csv")
    assert [(e.row, e.column, e.value) for e in exc.value.errors] == [(11, "Оценка", "7"), (22, "Период", "лето")]


def test_errors_are_capped_like_the_organisation_import():
    rows = [["7А", f"Ученик {n}", "Алгебра", "Год", "9"] for n in range(MAX_ERRORS + 50)]
    errors = errors_of(long_file(*rows))
    assert len(errors) == MAX_ERRORS + 1 and f"из {MAX_ERRORS + 50}" in errors[-1].message


def test_unreadable_files():
    err = one_error(b"", "marks.csv")
    assert (err.row, err.message) == (0, "файл пуст")
    err = one_error(b"\xd0\xcf\x11\xe0old excel", "marks.xls")
    assert "не является XLS" in err.message                    # read since issue 18; this one is broken
    err = one_error(b"PK\x03\x04 an ods", "marks.ods")
    assert "не поддерживается" in err.message
    err = one_error(long_file(GOOD) + "7А;Петров; Пётр;Алгебра;Год;5\n".encode(), "marks.csv")
    assert err.row == 3 and "не заключено в кавычки" in err.message


# ---- pupils' names stay out of logs ------------------------------------------------------------------------------

def test_names_are_not_logged_nor_in_reprs(caplog):
    caplog.set_level(logging.DEBUG)
    name = "Секретная Алёна Ивановна"
    header = ["Класс", "Ученик", "Алгебра | Год"]
    with pytest.raises(ImportFailed) as exc:
        import_marks(csv_bytes(header, ["7А", name, "5"], ["7А", name, "6"]), "m.csv")
    assert any(name in str(e) for e in exc.value.errors)           # the user sees which pupil
    logged = [str(exc.value), repr(exc.value), repr(exc.value.errors), repr(exc.value.args), caplog.text]
    assert not any(name in text for text in logged)
    assert "m.csv: отметки не загружены, ошибок: 2 (строки 3)" == str(exc.value)
    result = import_marks(csv_bytes(header, ["7А", name, "5"]), "m.csv")
    assert name not in caplog.text and name not in repr(result)
    assert "1 pupils" in caplog.text
    assert isinstance(exc.value.errors[0], RowError)


def xls_bytes(header, *rows) -> bytes:
    """An Excel 97–2003 workbook, as Дневник.ру's journal export and Сетевой город's Excel export give."""
    import xlwt
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Отметки")
    dates = xlwt.easyxf(num_format_str="DD.MM.YYYY")
    for r, row in enumerate([header, *rows]):
        for c, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write(r, c, value, dates)
            elif value is not None:
                sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xls_excel_97_export_reads_as_the_xlsx_one():
    header = ["Класс", "ФИО", "Алгебра | I четв.", "Алгебра | Год", "Физика (Год)", "Пропущено уроков",
              "Дата педсовета", "Протокол"]
    rows = [["8А", "Пётр Алёшин", 5, 5.0, 4, 12, datetime(2026, 5, 27), 3],
            ["8А", "Анна Ёжикова", 4.0, 4, 3, None, datetime(2026, 5, 27), "3"]]
    from_xls = import_marks(xls_bytes(header, *rows), "Журнал 8А.xls")["8А"]
    from_xlsx = import_marks(xlsx_bytes(header, *rows), "Журнал 8А.xlsx")["8А"]
    assert from_xls.pupils[0].marks == from_xlsx.pupils[0].marks == {
        ("Алгебра", "I четв."): "5", ("Алгебра", "Год"): "5", ("Физика", "Год"): "4"}
    assert [p.name for p in from_xls.pupils] == ["Пётр Алёшин", "Анна Ёжикова"]
    assert from_xls.council_date == date(2026, 5, 27) and from_xls.council_protocol == "3"


def test_a_broken_or_misnamed_xls_is_named():
    for data, message in ((b"\xd0\xcf\x11\xe0" + b"\x00" * 600, "не является XLS (Excel 97–2003)"),
                          (xlsx_bytes(["Класс", "ФИО"], ["8А", "Пётр"]), "это файл XLSX, а не XLS")):
        with pytest.raises(MarksImportFailed) as exc:
            import_marks(data, "Журнал.xls")
        (error,) = exc.value.errors
        assert error.filename == "Журнал.xls" and message in str(error)
