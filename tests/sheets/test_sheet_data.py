import pytest

from sheets.sheet_data import (
    HALF_YEARS,
    QUARTERS,
    PupilRow,
    SheetError,
    from_json,
    pupil_category,
    sort_key,
    sorted_pupils,
    to_json,
    totals,
)
from tests.sheets.sample import make_sheet


def test_sort_key_puts_yo_with_ye_not_after_ya():
    names = ["Ёлкина Софья", "Яковлева Виктория", "Егоров Артём", "Жукова Полина", "Еремеев Олег",
             "Семёнов Даниил", "Семенова Милана", "Семенов Антон"]
    assert sorted(names, key=sort_key) == [
        "Егоров Артём", "Ёлкина Софья", "Еремеев Олег", "Жукова Полина",
        "Семенов Антон", "Семёнов Даниил", "Семенова Милана", "Яковлева Виктория"]
    # code-point order (and PostgreSQL's C collation) gets both wrong: Ё before А, ё after я
    assert sorted(names)[0].startswith("Ё")
    assert sorted(names).index("Семёнов Даниил") > sorted(names).index("Семенова Милана")


def test_sort_key_is_case_insensitive_and_total():
    assert sort_key("иванов иван") < sort_key("Иванова Анна")       # shorter surname first
    assert sorted(["Б", "а", "А"], key=sort_key) == ["А", "а", "Б"]


def _pupil(marks: dict[str, str]) -> PupilRow:
    return PupilRow(name="Тестов Тест", marks={(s, "Год"): m for s, m in marks.items()})


@pytest.mark.parametrize("marks, category", [
    ({"А": "5", "Б": "5", "В": "зач", "Г": "осв"}, "excellent"),
    ({"А": "5", "Б": "4"}, "good"),
    ({"А": "5", "Б": "3", "В": "4"}, "one_three"),
    ({"А": "3", "Б": "3"}, "threes"),
    ({"А": "5", "Б": "2"}, "failing"),
    ({"А": "5", "Б": "незач"}, "failing"),
    ({"А": "н/а", "Б": "5"}, "not_attested"),
    ({"А": "н/а", "Б": "2"}, "failing"),                   # «2» takes precedence over н/а
    ({"А": "зач", "Б": "осв"}, "passed"),                  # no numeric marks: not an отличник
    ({"А": "5", "Б": ""}, "excellent"),                    # "" = not taught, not counted
])
def test_pupil_category(marks, category):
    assert pupil_category(_pupil(marks), ["А", "Б", "В", "Г"], "Год") == category


def test_totals_count_on_itog_when_present_else_god():
    sheet = make_sheet()
    t = totals(sheet)
    assert t.column == "Итог" and t.total == 28 and sum(t.counts.values()) == 28
    assert t.counts["excellent"] >= 1 and t.counts["failing"] == 2 and t.counts["not_attested"] == 1
    assert 0 < t.quality_pct < t.success_pct < 100

    no_itog = make_sheet(periods=[p for p in QUARTERS if p != "Итог"])
    assert totals(no_itog).column == "Год"


def test_half_year_sheet_is_valid():
    sheet = make_sheet(periods=HALF_YEARS)
    assert totals(sheet).column == "Итог"


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pupils[0].marks.__setitem__((s.subjects[0], "Год"), "6"), "недопустимая отметка «6»"),
    (lambda s: s.pupils[0].marks.__setitem__(("Астрономия", "Год"), "5"), "предмет «Астрономия»"),
    (lambda s: setattr(s.pupils[0], "decision", "отчислен"), "недопустимое решение"),
    (lambda s: setattr(s.pupils[0], "absences_illness", 10**6), "по болезни больше"),
    (lambda s: setattr(s.pupils[0], "name", "  "), "не указаны фамилия"),
])
def test_bad_data_is_refused_naming_the_row(change, message):
    sheet = make_sheet()
    change(sheet)
    with pytest.raises(SheetError, match=message) as err:
        sheet.validate()
    assert "строка 1" in str(err.value)


def test_json_round_trip_keeps_every_mark_in_printed_order():
    sheet = make_sheet()
    back = from_json(to_json(sheet))
    assert [p.name for p in back.pupils] == [p.name for p in sorted_pupils(sheet.pupils)]
    original = {p.name: p for p in sheet.pupils}
    for p in back.pupils:
        o = original[p.name]
        assert p.marks == {k: v for k, v in o.marks.items() if v}
        assert (p.absences_days, p.absences_lessons, p.absences_illness, p.decision) == \
               (o.absences_days, o.absences_lessons, o.absences_illness, o.decision)
    assert (back.council_date, back.council_protocol, back.document_id) == \
           (sheet.council_date, sheet.council_protocol, sheet.document_id)
    assert to_json(back) == to_json(sheet)
