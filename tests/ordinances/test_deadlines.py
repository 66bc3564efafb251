"""Deadline wordings («Срок») → kind, RRULE and dates, checked exactly."""
import dataclasses
import datetime as dt

import pytest
from icalendar import vRecur

from ordinances.parsing.deadlines import (
    Deadline,
    find_deadline_phrases,
    month_number,
    occurrences,
    parse_date,
    parse_deadline,
)

D = dt.date
TAMBOV = D(2010, 11, 8)       # order №3116 (seed 001)
KRASNODAR = D(2011, 4, 26)    # order №271 (seed 004)
CHELYABINSK = D(2010, 10, 7)  # letter 01/4817 (seed 003)

MONTH_ENDS_FROM_KRASNODAR = [
    D(2011, 4, 30), D(2011, 5, 31), D(2011, 6, 30), D(2011, 7, 31), D(2011, 8, 31), D(2011, 9, 30),
    D(2011, 10, 31), D(2011, 11, 30), D(2011, 12, 31), D(2012, 1, 31), D(2012, 2, 29), D(2012, 3, 31),
]
THIRTIETHS_FROM_KRASNODAR = [
    D(2011, 4, 30), D(2011, 5, 30), D(2011, 6, 30), D(2011, 7, 30), D(2011, 8, 30), D(2011, 9, 30),
    D(2011, 10, 30), D(2011, 11, 30), D(2011, 12, 30), D(2012, 1, 30), D(2012, 2, 29), D(2012, 3, 30),
]
MONTHLY_30 = "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1"

# text, ref_date, kind, rrule, dtstart, until, dates, warnings
CASES = [
    # --- wordings of the seeds -------------------------------------------------------------
    ("до 11.11.10 г.", TAMBOV, "once", None, None, None, [D(2010, 11, 11)], []),
    ("до 15.11.10 г", TAMBOV, "once", None, None, None, [D(2010, 11, 15)], []),
    ("до 20.11.10 г", TAMBOV, "once", None, None, None, [D(2010, 11, 20)], []),
    ("Постоянно", TAMBOV, "continuous", None, TAMBOV, None, [], []),
    ("Ежеквартально", TAMBOV, "recurring", "FREQ=YEARLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1", TAMBOV, None,
     [D(2010, 12, 31), D(2011, 3, 31), D(2011, 6, 30), D(2011, 9, 30)], []),
    ("Апрель, сентябрь", TAMBOV, "recurring", "FREQ=YEARLY;BYMONTH=4,9;BYMONTHDAY=-1", TAMBOV, None,
     [D(2011, 4, 30), D(2011, 9, 30)], []),
    ("до 25.04.2011", KRASNODAR, "once", None, None, None, [D(2011, 4, 25)],
     ["Срок 25.04.2011 раньше даты документа 26.04.2011"]),
    ("ежемесячно до 30 числа отчетного месяца", KRASNODAR, "recurring", MONTHLY_30, KRASNODAR, None,
     THIRTIETHS_FROM_KRASNODAR, []),
    ("Ежемесячно", KRASNODAR, "recurring", "FREQ=MONTHLY;BYMONTHDAY=-1", KRASNODAR, None,
     MONTH_ENDS_FROM_KRASNODAR, []),
    ("к 1 января 2014 года", CHELYABINSK, "once", None, None, None, [D(2014, 1, 1)], []),
    ("в срок до 03.06.14 г.", None, "once", None, None, None, [D(2014, 6, 3)], []),
    ("с 1 сентября 2014 года", None, "continuous", None, D(2014, 9, 1), None, [], []),
    ("с нового 2014/2015 учебного года", None, "continuous", None, D(2014, 9, 1), None, [], []),
    # --- other wordings from the brief -----------------------------------------------------
    ("ежемесячно до 30 числа отчётного месяца", KRASNODAR, "recurring", MONTHLY_30, KRASNODAR, None,
     THIRTIETHS_FROM_KRASNODAR, []),
    ("Ежемесячно до 30 числа отчетного месяца", KRASNODAR, "recurring", MONTHLY_30, KRASNODAR, None,
     THIRTIETHS_FROM_KRASNODAR, []),
    ("до 30 числа отчётного месяца", KRASNODAR, "recurring", MONTHLY_30, KRASNODAR, None,
     THIRTIETHS_FROM_KRASNODAR, []),
    ("ежемесячно до 5 числа месяца, следующего за отчетным", D(2011, 1, 10), "recurring",
     "FREQ=MONTHLY;BYMONTHDAY=5", D(2011, 1, 10), None,
     [D(2011, m, 5) for m in range(2, 13)] + [D(2012, 1, 5)], []),
    ("ежемесячно до 31 числа", D(2011, 10, 1), "recurring", "FREQ=MONTHLY;BYMONTHDAY=-1", D(2011, 10, 1), None,
     [D(2011, 10, 31), D(2011, 11, 30), D(2011, 12, 31), D(2012, 1, 31), D(2012, 2, 29), D(2012, 3, 31),
      D(2012, 4, 30), D(2012, 5, 31), D(2012, 6, 30), D(2012, 7, 31), D(2012, 8, 31), D(2012, 9, 30)], []),
    ("Еженедельно", D(2011, 1, 1), "recurring", "FREQ=WEEKLY;BYDAY=FR", D(2011, 1, 1), None,
     [D(2011, 1, 7) + dt.timedelta(weeks=w) for w in range(52)], []),
    ("  ПОСТОЯННО ", TAMBOV, "continuous", None, TAMBOV, None, [], []),
    ("в течение учебного года", TAMBOV, "continuous", None, TAMBOV, D(2011, 8, 31), [], []),
    ("В течение учебного года", D(2014, 3, 1), "continuous", None, D(2014, 3, 1), D(2014, 8, 31), [], []),
    ("в течение 2014/2015 учебного года", TAMBOV, "continuous", None, D(2014, 9, 1), D(2015, 8, 31), [], []),
    ("С 01.09.2014", TAMBOV, "continuous", None, D(2014, 9, 1), None, [], []),
    ("до 1 января 2014 года", CHELYABINSK, "once", None, None, None, [D(2014, 1, 1)], []),
    ("май 2014 г.", D(2014, 2, 20), "once", None, None, None, [D(2014, 5, 31)], []),
    ("Май 2014", D(2014, 2, 20), "once", None, None, None, [D(2014, 5, 31)], []),
    ("в мае 2014 года", D(2014, 2, 20), "once", None, None, None, [D(2014, 5, 31)], []),
    ("февраль 2012 г.", D(2012, 1, 1), "once", None, None, None, [D(2012, 2, 29)], []),
    ("ежегодно до 25 мая", TAMBOV, "recurring", "FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=25", TAMBOV, None,
     [D(2011, 5, 25)], []),
    ("Ежегодно до 29 февраля", TAMBOV, "recurring", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1",
     TAMBOV, None, [D(2011, 2, 28)], []),
    ("Ежегодно", TAMBOV, "recurring", "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=31", TAMBOV, None,
     [D(2010, 12, 31)], []),
    ("ежегодно в апреле", TAMBOV, "recurring", "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=-1", TAMBOV, None,
     [D(2011, 4, 30)], []),
    ("апрель и сентябрь", TAMBOV, "recurring", "FREQ=YEARLY;BYMONTH=4,9;BYMONTHDAY=-1", TAMBOV, None,
     [D(2011, 4, 30), D(2011, 9, 30)], []),
    ("Ежеквартально до 5 числа месяца, следующего за отчётным кварталом", TAMBOV, "recurring",
     "FREQ=YEARLY;BYMONTH=1,4,7,10;BYMONTHDAY=5", TAMBOV, None,
     [D(2011, 1, 5), D(2011, 4, 5), D(2011, 7, 5), D(2011, 10, 5)], []),
    ("Ежемесячно с 01.09.2014", TAMBOV, "recurring", "FREQ=MONTHLY;BYMONTHDAY=-1", D(2014, 9, 1), None,
     [D(2014, 9, 30), D(2014, 10, 31), D(2014, 11, 30), D(2014, 12, 31), D(2015, 1, 31), D(2015, 2, 28),
      D(2015, 3, 31), D(2015, 4, 30), D(2015, 5, 31), D(2015, 6, 30), D(2015, 7, 31), D(2015, 8, 31)], []),
    ("в  срок   до 03.06.14г.", D(2014, 5, 1), "once", None, None, None, [D(2014, 6, 3)], []),
    ("до 7 ОКТЯБРЯ 2010 г.", D(2010, 10, 1), "once", None, None, None, [D(2010, 10, 7)], []),
    ("не позднее 07 окт. 2010", D(2010, 10, 1), "once", None, None, None, [D(2010, 10, 7)], []),
    ("25.04.2011", KRASNODAR, "once", None, None, None, [D(2011, 4, 25)],
     ["Срок 25.04.2011 раньше даты документа 26.04.2011"]),
    ("до 25 мая", TAMBOV, "once", None, None, None, [D(2011, 5, 25)], ["Год не указан, принят 2011"]),
    ("I квартал 2014", TAMBOV, "once", None, None, None, [D(2014, 3, 31)], []),
    ("до конца 2014 года", TAMBOV, "once", None, None, None, [D(2014, 12, 31)], []),
    # --- what must not be read ---------------------------------------------------------------
    ("", TAMBOV, "unparsed", None, None, None, [], ["Срок не указан"]),
    ("   ", TAMBOV, "unparsed", None, None, None, [], ["Срок не указан"]),
    ("абракадабра", TAMBOV, "unparsed", None, None, None, [], ["Не удалось разобрать срок «абракадабра»"]),
    ("до 32.13.10", TAMBOV, "unparsed", None, None, None, [], ["Недопустимая дата «32.13.10»"]),
    ("31.02.2011", TAMBOV, "unparsed", None, None, None, [], ["Недопустимая дата «31.02.2011»"]),
    ("до 00.11.10", TAMBOV, "unparsed", None, None, None, [], ["Недопустимая дата «00.11.10»"]),
    ("до 31 апреля 2011", TAMBOV, "unparsed", None, None, None, [], ["Недопустимая дата «31 апреля 2011»"]),
    ("до 15.11", TAMBOV, "unparsed", None, None, None, [], ["Неполная дата «15.11»: не указан год"]),
    ("до 11.11.1", TAMBOV, "unparsed", None, None, None, [], ["Недопустимая дата «11.11.1»"]),
    ("ежемесячно до 35 числа", TAMBOV, "unparsed", None, None, None, [],
     ["Недопустимое число месяца «до 35 числа»"]),
    ("ежегодно до 30 февраля", TAMBOV, "unparsed", None, None, None, [], ["Недопустимая дата «до 30 февраля»"]),
    ("в течение 2014/2016 учебного года", TAMBOV, "unparsed", None, None, None, [],
     ["Неверный учебный год «2014/2016»"]),
    ("Апрель, сентяб", TAMBOV, "unparsed", None, None, None, [], ["Не удалось разобрать срок «Апрель, сентяб»"]),
    ("Ежедневно до 10.10.10", TAMBOV, "unparsed", None, None, None, [],
     ["Не удалось разобрать срок «Ежедневно до 10.10.10»"]),
    ("до 11.11.10 г. и далее ежемесячно", TAMBOV, "unparsed", None, None, None, [],
     ["Не удалось разобрать срок «до 11.11.10 г. и далее ежемесячно»"]),
    ("в течение учебного года", None, "unparsed", None, None, None, [],
     ["Учебный год не определён: нет даты документа"]),
    ("до 25 мая", None, "unparsed", None, None, None, [], ["Год не указан, а даты документа нет"]),
]


@pytest.mark.parametrize("text, ref, kind, rrule, dtstart, until, dates, warnings", CASES,
                         ids=[f"{i:02d}-{c[0] or 'empty'}" for i, c in enumerate(CASES)])
def test_parse_deadline(text, ref, kind, rrule, dtstart, until, dates, warnings):
    d = parse_deadline(text, ref_date=ref)
    assert d.text == text
    assert d.kind == kind
    assert d.rrule == rrule
    assert d.dtstart == dtstart
    assert d.until == until
    assert list(d.dates) == dates
    assert list(d.warnings) == warnings


def test_daily_covers_one_year_from_the_order_date():
    d = parse_deadline("Ежедневно", ref_date=TAMBOV)
    assert (d.kind, d.rrule, d.dtstart) == ("recurring", "FREQ=DAILY", TAMBOV)
    assert len(d.dates) == 365
    assert (d.dates[0], d.dates[-1]) == (D(2010, 11, 8), D(2011, 11, 7))


def test_recurring_without_a_document_date_has_no_dates_but_a_warning():
    d = parse_deadline("Ежеквартально", ref_date=None)
    assert (d.kind, d.rrule, d.dtstart, d.dates) == ("recurring", "FREQ=YEARLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1",
                                                     None, ())
    assert d.warnings == ("Дата начала не определена: нет даты документа",)
    assert occurrences(d, D(2011, 1, 1), D(2011, 12, 31)) == []


def test_thirtieth_falls_on_the_last_day_of_february_in_any_year():
    d = parse_deadline("ежемесячно до 30 числа отчётного месяца", ref_date=KRASNODAR)
    assert occurrences(d, D(2013, 2, 1), D(2013, 3, 31)) == [D(2013, 2, 28), D(2013, 3, 30)]
    assert occurrences(d, D(2016, 2, 1), D(2016, 2, 29)) == [D(2016, 2, 29)]


def test_occurrences_for_any_horizon():
    monthly = parse_deadline("Ежемесячно", ref_date=KRASNODAR)
    assert occurrences(monthly, D(2020, 1, 1), D(2020, 3, 31)) == [D(2020, 1, 31), D(2020, 2, 29), D(2020, 3, 31)]
    # nothing before dtstart, even if the horizon starts earlier
    assert occurrences(monthly, D(2011, 1, 1), D(2011, 5, 31)) == [D(2011, 4, 30), D(2011, 5, 31)]
    once = parse_deadline("до 11.11.10 г.", ref_date=TAMBOV)
    assert occurrences(once, D(2010, 11, 11), D(2010, 11, 11)) == [D(2010, 11, 11)]
    assert occurrences(once, D(2010, 11, 12), D(2011, 1, 1)) == []
    assert occurrences(parse_deadline("Постоянно", ref_date=TAMBOV), D(2010, 1, 1), D(2030, 1, 1)) == []
    assert occurrences(parse_deadline("???", ref_date=TAMBOV), D(2010, 1, 1), D(2030, 1, 1)) == []
    assert occurrences(monthly, D(2012, 1, 1), D(2011, 1, 1)) == []


def test_rules_are_valid_icalendar_recurrences():
    for case in CASES:
        if case[3]:
            recur = vRecur.from_ical(case[3])
            assert recur["FREQ"]
            assert vRecur(recur).to_ical().decode()


def test_to_dict_is_json_shaped():
    d = parse_deadline("до 25.04.2011", ref_date=KRASNODAR)
    assert d.to_dict() == {
        "text": "до 25.04.2011", "kind": "once", "rrule": None, "dtstart": None, "until": None,
        "dates": ["2011-04-25"], "warnings": ["Срок 25.04.2011 раньше даты документа 26.04.2011"],
    }
    r = parse_deadline("Апрель, сентябрь", ref_date=TAMBOV).to_dict()
    assert r["dtstart"] == "2010-11-08" and r["dates"] == ["2011-04-30", "2011-09-30"]


def test_deadline_is_frozen():
    d = parse_deadline("Постоянно", ref_date=TAMBOV)
    assert isinstance(d, Deadline)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.kind = "once"


@pytest.mark.parametrize("word, number", [
    ("январь", 1), ("января", 1), ("январе", 1), ("Февраля", 2), ("марта", 3), ("апреле", 4),
    ("Май", 5), ("мая", 5), ("мае", 5), ("июнь", 6), ("июля", 7), ("августа", 8), ("сентябрь", 9),
    ("СЕНТЯБРЯ", 9), ("октябре", 10), ("ОКТ", 10), ("окт.", 10), ("ноября", 11), ("декабрь", 12),
    ("маяк", None), ("март2", None), ("", None),
])
def test_month_number(word, number):
    assert month_number(word) == number


def test_parse_date():
    assert parse_date("от 26.04.2011") == D(2011, 4, 26)
    assert parse_date("от   07 ноября  2012г.") == D(2012, 11, 7)
    assert parse_date("07 ОКТ 2010") == D(2010, 10, 7)
    assert parse_date("08.11.10") == D(2010, 11, 8)
    assert parse_date("г. Краснодар") is None
    with pytest.raises(ValueError, match="31.02.2011"):
        parse_date("31.02.2011")


@pytest.mark.parametrize("text, phrases", [
    ("Представлять ежемесячно отчет об итогах апробации до 30 числа отчетного месяца по форме (приложение № 2).",
     ["ежемесячно до 30 числа отчетного месяца"]),
    ("Представить до 25.04.2011 сводный график внедрения.", ["до 25.04.2011"]),
    ("Ежемесячно проводить мониторинг апробации.", ["Ежемесячно"]),
    ("Осуществлять постоянный контроль за наполнением.", []),
    ("решения коллегии от 20.02.2014 г., Вам необходимо организовать работу с 1 сентября 2014 года.",
     ["с 1 сентября 2014 года"]),
    ("проинформировать управление  в срок  до 03.06.14 г. по e-mail", ["в срок до 03.06.14 г."]),
    ("планируется к 1 января 2014 года обеспечить", ["к 1 января 2014 года"]),
    ("Рекомендуем Вам с нового 2014/2015 учебного года перевести школы", ["с нового 2014/2015 учебного года"]),
    ("в соответствии с распоряжением от 17 декабря 2009 года № 1993-р", []),
])
def test_find_deadline_phrases(text, phrases):
    assert find_deadline_phrases(text) == phrases
