"""Deadline wordings (графа «Срок») parsed into RFC 5545 rules.

An ordinance states its deadlines in free Russian wording: «до 11.11.10 г.»,
«Постоянно», «Ежеквартально», «Апрель, сентябрь», «ежемесячно до 30 числа
отчётного месяца», «с 1 сентября 2014 года». :func:`parse_deadline` turns one
such wording into a :class:`Deadline`; the original text is always kept and
anything not understood becomes ``kind="unparsed"`` with a Russian warning —
a wrong date is never guessed.

Kinds:

``once``
    One due date, in ``dates``; ``rrule`` and ``dtstart`` are None.
``recurring``
    An RRULE (``rrule``) anchored at ``dtstart`` (the ordinance date unless the
    wording gives a start); ``dates`` holds the occurrences in the first year
    ``[dtstart, dtstart + 1 year)``; :func:`occurrences` gives any horizon.
``continuous``
    Work without a due date («Постоянно», «с 1 сентября 2014 года», «в течение
    учебного года»): ``dtstart`` is when it begins, ``until`` when it ends (or
    None), ``dates`` is empty.
``unparsed``
    Not understood; see ``warnings``.

Choices made where the wording leaves the due day open (each is "the last day
of the period", so nothing falls due before the period is over):

* «Ежемесячно» → last day of the month (``BYMONTHDAY=-1``);
* «Ежеквартально» → last day of each calendar quarter;
* «Ежегодно» → 31 December;
* «Еженедельно» → Friday, the last working day of the week;
* «Ежедневно» → every calendar day;
* a month name without a year («Апрель, сентябрь») → every year, last day of
  that month;
* a month with a year («май 2014 г.») → once, last day of that month;
* «до N числа» with N of 29–31 → ``BYMONTHDAY=28,…,N;BYSETPOS=-1``: the N-th,
  or the month's last day when the month is shorter (30 February is
  impossible, so «до 30 числа» falls on 28/29 February). This is plain RFC 5545
  and survives an iCalendar export, unlike a post-processing step would;
* «до 25.04.2011» → 25.04.2011 itself (the date as written, not the day before);
* «в течение учебного года» → continuous from the ordinance date to 31 August,
  the formal end of the school year (1 September – 31 August) it falls in.
"""
from __future__ import annotations

import datetime as dt
import re
from calendar import monthrange
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrulestr

__all__ = [
    "Deadline",
    "parse_deadline",
    "occurrences",
    "parse_date",
    "find_deadline_phrases",
    "month_number",
    "format_date",
]

KINDS = ("once", "recurring", "continuous", "unparsed")


@dataclass(frozen=True)
class Deadline:
    """A parsed deadline wording; see the module docstring for the kinds."""

    text: str
    kind: str
    rrule: str | None = None
    dtstart: dt.date | None = None
    dates: tuple[dt.date, ...] = ()
    warnings: tuple[str, ...] = ()
    until: dt.date | None = field(default=None)

    def to_dict(self) -> dict:
        """JSON-able form: dates as ISO strings."""
        return {
            "text": self.text,
            "kind": self.kind,
            "rrule": self.rrule,
            "dtstart": self.dtstart.isoformat() if self.dtstart else None,
            "until": self.until.isoformat() if self.until else None,
            "dates": [d.isoformat() for d in self.dates],
            "warnings": list(self.warnings),
        }


class _BadWording(ValueError):
    """Raised inside the parsers when the wording looks like a date but is not one."""


# --------------------------------------------------------------------------- dates

_MONTH_PATTERNS = (
    (1, r"январ(?:ь|я|е|ю|ем)|янв"),
    (2, r"феврал(?:ь|я|е|ю|ем)|февр?"),
    (3, r"март(?:а|е|у|ом)?|мар"),
    (4, r"апрел(?:ь|я|е|ю|ем)|апр"),
    (5, r"ма(?:й|я|е|ю|ем)"),
    (6, r"июн(?:ь|я|е|ю|ем)?"),
    (7, r"июл(?:ь|я|е|ю|ем)?"),
    (8, r"август(?:а|е|у|ом)?|авг"),
    (9, r"сентябр(?:ь|я|е|ю|ем)|сент?"),
    (10, r"октябр(?:ь|я|е|ю|ем)|окт"),
    (11, r"ноябр(?:ь|я|е|ю|ем)|нояб?"),
    (12, r"декабр(?:ь|я|е|ю|ем)|дек"),
)
_MONTH_RES = tuple((n, re.compile(rf"(?:{p})\.?", re.I)) for n, p in _MONTH_PATTERNS)
# Any word that may be a month; month_number() decides.
_MONTH_WORD = r"[а-яё]{3,9}\.?"

_DOT_DATE = r"(?P<d>\d{1,2})\s?\.\s?(?P<m>\d{1,2})\s?\.\s?(?P<y>\d{4}|\d{2})(?!\d)"
_TXT_DATE = rf"(?P<td>\d{{1,2}})\s+(?P<tm>{_MONTH_WORD})\s+(?P<ty>\d{{4}})(?!\d)"


def month_number(word: str) -> int | None:
    """Month 1–12 for a Russian month name in any case or abbreviation, else None."""
    w = word.strip().lower().replace("ё", "е")
    for number, rx in _MONTH_RES:
        if rx.fullmatch(w):
            return number
    return None


def _year(text: str) -> int:
    """Four-digit year; two digits mean 20xx below 70 and 19xx from 70 (10 → 2010)."""
    y = int(text)
    if len(text) == 2:
        y += 2000 if y < 70 else 1900
    return y


def format_date(d: dt.date) -> str:
    """The Russian way of writing a date: 25.04.2011."""
    return d.strftime("%d.%m.%Y")


def _make_date(year: int, month: int, day: int, written: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise _BadWording(f"Недопустимая дата «{written}»") from None


def parse_date(text: str) -> dt.date | None:
    """One date written as «25.04.2011», «11.11.10», «07 ноября 2012г.» or «07 ОКТ 2010».

    Leading «от» and a trailing «г.»/«года» are allowed. Returns None when the
    text is not a date; raises ValueError (with a Russian message) when it is
    shaped like a date but does not exist («31.02.2011»).
    """
    s = _normalize(text)
    s = re.sub(r"^от\s+", "", s)
    m = re.fullmatch(_DOT_DATE, s)
    if m:
        return _make_date(_year(m["y"]), int(m["m"]), int(m["d"]), m.group(0))
    m = re.fullmatch(_TXT_DATE, s)
    if m and (month := month_number(m["tm"])):
        return _make_date(int(m["ty"]), month, int(m["td"]), m.group(0))
    return None


def _last_day(year: int, month: int) -> dt.date:
    return dt.date(year, month, monthrange(year, month)[1])


# --------------------------------------------------------------------- normalising

def _normalize(text: str) -> str:
    """Lower case, «ё»→«е», one space, no «г.»/«года» after a year, no edge punctuation."""
    s = (text or "").replace("\u00a0", " ").replace("*", "")
    s = s.lower().replace("ё", "е")
    s = re.sub(r"[–—−]", "-", s)
    # "2014 г.", "10 г", "2012г.", "2014 года" → the bare year
    s = re.sub(r"(\d)\s*(?:года|году|год|гг|г)\.?(?![а-я])", r"\1", s)
    s = re.sub(r"\s+", " ", s).strip(" .,;:")
    s = re.sub(r"\s*,\s*", ", ", s)
    return s


# ------------------------------------------------------------------------ parsers

_PERIODIC = {
    "ежедневно": "FREQ=DAILY",
    "еженедельно": "FREQ=WEEKLY;BYDAY=FR",
    "ежемесячно": "FREQ=MONTHLY;BYMONTHDAY=-1",
    "ежеквартально": "FREQ=YEARLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1",
    "ежегодно": "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=31",
}
_CONTINUOUS_WORDS = ("постоянно", "в течение всего периода", "систематически", "регулярно")
_ONCE_PREFIX = r"(?:(?:в\s)?срок(?:и)?\s)?(?:(?:до|к|не позднее|не позже|по)\s)?"


def _monthday_rule(day: int, written: str) -> str:
    """BYMONTHDAY part for «до N числа», pulling 29–31 back to the month's last day."""
    if not 1 <= day <= 31:
        raise _BadWording(f"Недопустимое число месяца «{written}»")
    if day <= 28:
        return f"BYMONTHDAY={day}"
    if day == 31:
        return "BYMONTHDAY=-1"
    return "BYMONTHDAY=" + ",".join(str(d) for d in range(28, day + 1)) + ";BYSETPOS=-1"


def _yearday_rule(month: int, day: int, written: str) -> str:
    """BYMONTH/BYMONTHDAY for «ежегодно до 25 мая»; 29 February falls back to the 28th."""
    longest = 29 if month == 2 else monthrange(2001, month)[1]
    if not 1 <= day <= longest:
        raise _BadWording(f"Недопустимая дата «{written}»")
    if month == 2 and day == 29:
        return "BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1"
    return f"BYMONTH={month};BYMONTHDAY={day}"


def _school_year(ref: dt.date) -> tuple[dt.date, dt.date]:
    """1 September – 31 August of the school year containing ``ref``."""
    first = ref.year if ref.month >= 9 else ref.year - 1
    return dt.date(first, 9, 1), dt.date(first + 1, 8, 31)


def _p_empty(s, text, ref):
    if not s:
        return _unparsed(text, "Срок не указан")
    return None


def _p_continuous(s, text, ref):
    if s in _CONTINUOUS_WORDS:
        return _continuous(text, ref, None, ref is None)
    return None


def _p_school_year(s, text, ref):
    m = re.fullmatch(r"(?:в )?течение (?:(?P<a>\d{4}) ?[/-] ?(?P<b>\d{4}) )?учебного года", s)
    if not m:
        return None
    if m["a"]:
        a, b = int(m["a"]), int(m["b"])
        if b != a + 1:
            raise _BadWording(f"Неверный учебный год «{m['a']}/{m['b']}»")
        return _continuous(text, dt.date(a, 9, 1), dt.date(b, 8, 31))
    if ref is None:
        return _unparsed(text, "Учебный год не определён: нет даты документа")
    start, end = _school_year(ref)
    return _continuous(text, max(start, ref), end)


def _p_during_year(s, text, ref):
    m = re.fullmatch(r"(?:в )?течение (?P<y>\d{4})", s)
    if not m:
        return None
    y = int(m["y"])
    start = dt.date(y, 1, 1)
    if ref is not None and ref.year == y:
        start = max(start, ref)
    return _continuous(text, start, dt.date(y, 12, 31))


def _p_from(s, text, ref):
    m = re.fullmatch(r"(?:начиная )?с (?P<rest>.+)", s)
    if not m:
        return None
    rest = m["rest"]
    sy = re.fullmatch(r"(?:нового )?(?P<a>\d{4}) ?[/-] ?(?P<b>\d{4}) учебного года", rest)
    if sy:
        a, b = int(sy["a"]), int(sy["b"])
        if b != a + 1:
            raise _BadWording(f"Неверный учебный год «{sy['a']}/{sy['b']}»")
        return _continuous(text, dt.date(a, 9, 1), None)
    start = parse_date(rest)
    if start is None:
        return None
    return _continuous(text, start, None)


def _p_once(s, text, ref):
    m = re.fullmatch(_ONCE_PREFIX + r"(?P<rest>\d.*)", s)
    if not m:
        return None
    rest = m["rest"]
    d = parse_date(rest)
    if d is not None:
        return _once(text, d, ref)
    if re.fullmatch(r"\d{1,2} ?\. ?\d{1,2} ?\. ?\d{1,4}", rest):
        raise _BadWording(f"Недопустимая дата «{rest}»")
    if re.fullmatch(r"\d+ ?\. ?\d+\.?", rest):
        raise _BadWording(f"Неполная дата «{rest}»: не указан год")
    # «до 25 мая» — a day and a month without a year
    dm = re.fullmatch(rf"(?P<d>\d{{1,2}}) (?P<m>{_MONTH_WORD})", rest)
    if dm and month_number(dm["m"]):
        month, day = month_number(dm["m"]), int(dm["d"])
        if ref is None:
            return _unparsed(text, "Год не указан, а даты документа нет")
        for year in (ref.year, ref.year + 1):
            try:
                d = dt.date(year, month, day)
            except ValueError:
                continue
            if d >= ref:
                return _once(text, d, ref, (f"Год не указан, принят {year}",))
        raise _BadWording(f"Недопустимая дата «{rest}»")
    return None


def _p_month_year(s, text, ref):
    """«май 2014», «в мае 2014», «до конца мая 2014» → last day of that month."""
    m = re.fullmatch(
        rf"(?:(?:в|в течение|до конца|не позднее конца|конец) )?(?P<m>{_MONTH_WORD}) (?P<y>\d{{4}})", s)
    if not m or not month_number(m["m"]):
        return None
    return _once(text, _last_day(int(m["y"]), month_number(m["m"])), ref)


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}


def _p_quarter(s, text, ref):
    """«I квартал 2014», «во II квартале 2014», «до конца III квартала 2014»."""
    m = re.fullmatch(
        r"(?:(?:во?|в течение|до конца) )?(?P<q>iv|i{1,3}|[1-4])(?:-?й)? квартал(?:а|е)? (?P<y>\d{4})", s)
    if not m:
        return None
    q = _ROMAN[m["q"]]
    return _once(text, _last_day(int(m["y"]), q * 3), ref)


def _p_end_of_year(s, text, ref):
    m = re.fullmatch(r"(?:до конца|в течение|в|конец) (?P<y>\d{4})", s)
    if not m:
        return None
    return _once(text, dt.date(int(m["y"]), 12, 31), ref)


_DAY_OF_MONTH = (
    r"до (?P<day>\d{1,2})(?:-?го)? числа"
    r"(?: (?:каждого|отчетного|текущего) месяца| месяца(?:, следующего за отчетным(?: месяцем| периодом)?)?)?"
)


def _p_periodic(s, text, ref):
    """«Ежемесячно», «ежемесячно до 30 числа отчетного месяца», «ежегодно до 25 мая»…"""
    m = re.fullmatch(r"(?P<adv>ежедневно|еженедельно|ежемесячно|ежеквартально|ежегодно)(?:,? (?P<rest>.+))?", s)
    if not m:
        # «до 30 числа отчетного месяца» alone is monthly too
        if re.fullmatch(_DAY_OF_MONTH, s) and ("месяц" in s):
            return _p_periodic("ежемесячно " + s, text, ref)
        return None
    adv, rest = m["adv"], m["rest"]
    if not rest:
        return _recurring(text, _PERIODIC[adv], ref)
    since = re.fullmatch(r"(?:начиная )?с (?P<d>.+)", rest)
    if since and parse_date(since["d"]):
        # «ежемесячно с 01.09.2014»: the wording gives the start
        return _recurring(text, _PERIODIC[adv], parse_date(since["d"]))
    if adv == "ежемесячно":
        dm = re.fullmatch(_DAY_OF_MONTH, rest)
        if dm:
            return _recurring(text, "FREQ=MONTHLY;" + _monthday_rule(int(dm["day"]), rest), ref)
    if adv == "ежеквартально":
        dq = re.fullmatch(
            r"до (?P<day>\d{1,2})(?:-?го)? числа месяца,? следующего за отчетным(?: кварталом| периодом)?", rest)
        if dq:
            day = int(dq["day"])
            if not 1 <= day <= 30:
                raise _BadWording(f"Недопустимое число месяца «{rest}»")
            return _recurring(text, f"FREQ=YEARLY;BYMONTH=1,4,7,10;BYMONTHDAY={day}", ref)
    if adv == "ежегодно":
        dy = re.fullmatch(rf"(?:до |к |не позднее )?(?P<d>\d{{1,2}}) (?P<m>{_MONTH_WORD})", rest)
        if dy and month_number(dy["m"]):
            rule = _yearday_rule(month_number(dy["m"]), int(dy["d"]), rest)
            return _recurring(text, "FREQ=YEARLY;" + rule, ref)
        months = _month_list(re.sub(r"^(?:в|во) ", "", rest))
        if months:
            return _recurring(text, _months_rule(months), ref)
    return None


def _month_list(s: str) -> list[int] | None:
    """«апрель, сентябрь» / «апрель и сентябрь» → [4, 9]; None if any word is not a month."""
    words = [w for w in re.split(r"\s*(?:,|;|\sи\s)\s*", s) if w]
    if not words:
        return None
    months = [month_number(w) for w in words]
    found = [m for m in months if m is not None]
    if len(found) != len(months):
        return None
    return sorted(set(found))


def _months_rule(months: list[int]) -> str:
    return "FREQ=YEARLY;BYMONTH=" + ",".join(map(str, months)) + ";BYMONTHDAY=-1"


def _p_months(s, text, ref):
    """«Апрель, сентябрь» → every year, on the last day of each named month."""
    months = _month_list(s)
    if not months:
        return None
    return _recurring(text, _months_rule(months), ref)


_PARSERS = (
    _p_empty,
    _p_continuous,
    _p_school_year,
    _p_during_year,
    _p_from,
    _p_periodic,
    _p_once,
    _p_month_year,
    _p_quarter,
    _p_end_of_year,
    _p_months,
)


# ----------------------------------------------------------------------- builders

def _unparsed(text: str, warning: str) -> Deadline:
    return Deadline(text=text, kind="unparsed", warnings=(warning,))


def _once(text: str, due: dt.date, ref: dt.date | None, warnings: tuple[str, ...] = ()) -> Deadline:
    if ref is not None and due < ref:
        warnings += (f"Срок {format_date(due)} раньше даты документа {format_date(ref)}",)
    return Deadline(text=text, kind="once", dates=(due,), warnings=warnings)


def _continuous(text: str, start: dt.date | None, until: dt.date | None, no_start: bool = False) -> Deadline:
    warnings = ("Дата начала не определена: нет даты документа",) if no_start else ()
    return Deadline(text=text, kind="continuous", dtstart=start, until=until, warnings=warnings)


def _recurring(text: str, rule: str, ref: dt.date | None) -> Deadline:
    if ref is None:
        return Deadline(text=text, kind="recurring", rrule=rule,
                        warnings=("Дата начала не определена: нет даты документа",))
    deadline = Deadline(text=text, kind="recurring", rrule=rule, dtstart=ref)
    year_end = ref + relativedelta(years=1) - dt.timedelta(days=1)
    return Deadline(text=text, kind="recurring", rrule=rule, dtstart=ref,
                    dates=tuple(occurrences(deadline, ref, year_end)))


# ---------------------------------------------------------------------------- API

def parse_deadline(text: str, *, ref_date: dt.date | None) -> Deadline:
    """Parse one «Срок» wording; ``ref_date`` is the ordinance's date (None if unknown).

    Never raises on bad input: what cannot be read is ``kind="unparsed"`` with a
    warning, and the original ``text`` is kept unchanged in every case.
    """
    text = "" if text is None else str(text)
    s = _normalize(text)
    try:
        for parser in _PARSERS:
            result = parser(s, text, ref_date)
            if result is not None:
                return result
    except _BadWording as exc:
        return _unparsed(text, str(exc))
    return _unparsed(text, f"Не удалось разобрать срок «{text.strip()}»")


def occurrences(deadline: Deadline, start: dt.date, end: dt.date) -> list[dt.date]:
    """Due dates of ``deadline`` within ``[start, end]`` (both inclusive).

    A continuous or unparsed deadline has no due dates; a recurring one without
    ``dtstart`` (no ordinance date) has none either.
    """
    if deadline.kind == "once":
        return [d for d in deadline.dates if start <= d <= end]
    if deadline.kind != "recurring" or deadline.dtstart is None or start > end:
        return []
    first = dt.datetime.combine(deadline.dtstart, dt.time())
    rule = rrulestr(deadline.rrule, dtstart=first)
    lo = dt.datetime.combine(max(start, deadline.dtstart), dt.time())
    hi = dt.datetime.combine(end, dt.time())
    return [x.date() for x in rule.between(lo, hi, inc=True)]


# ------------------------------------------------------- deadlines in running text

_RX_DOT = r"\d{1,2}\s?\.\s?\d{1,2}\s?\.\s?(?:\d{4}|\d{2})(?!\d)"
_RX_MONTH = (r"(?:январ[а-яё]*|феврал[а-яё]*|март[а-яё]*|апрел[а-яё]*|ма[йяе]|июн[а-яё]*|июл[а-яё]*"
             r"|август[а-яё]*|сентябр[а-яё]*|октябр[а-яё]*|ноябр[а-яё]*|декабр[а-яё]*)")
_RX_TXT = rf"\d{{1,2}}\s+{_RX_MONTH}(?:\s+\d{{4}})?"
_RX_YEAR_WORD = r"(?:\s*(?:г\.|года|г(?![а-яё])))?"
_RX_ADVERB = r"(?<![а-яё])(?P<adv>ежедневно|еженедельно|ежемесячно|ежеквартально|ежегодно|постоянно)(?![а-яё])"
_RX_PHRASES = re.compile(
    r"(?<![а-яё])(?:"
    rf"(?:в\s+срок\s+)?(?:до|к|не\s+позднее)\s+(?:{_RX_DOT}|{_RX_TXT}){_RX_YEAR_WORD}"
    rf"|с\s+(?:{_RX_DOT}|{_RX_TXT}){_RX_YEAR_WORD}"
    r"|с\s+(?:нового\s+)?\d{4}\s*/\s*\d{4}\s+учебного\s+года"
    r"|в\s+течение\s+(?:\d{4}\s*/\s*\d{4}\s+)?учебного\s+года"
    r"|до\s+\d{1,2}(?:-?го)?\s+числа(?:\s+(?:каждого|отч[её]тного|текущего)\s+месяца"
    r"|\s+месяца(?:,?\s+следующего\s+за\s+отч[её]тным(?:\s+(?:месяцем|кварталом|периодом))?)?)?"
    r")",
    re.I,
)


def find_deadline_phrases(text: str) -> list[str]:
    """Deadline wordings inside a clause's running text, in order of appearance.

    A periodic adverb and a date phrase of the same clause are put together —
    «Представлять ежемесячно отчёт … до 30 числа отчётного месяца» gives
    «ежемесячно до 30 числа отчётного месяца». Dates after «от» are document
    references, not deadlines, and are not returned.
    """
    phrases = [re.sub(r"\s+", " ", m.group(0)).rstrip(" ,") for m in _RX_PHRASES.finditer(text)]
    adverbs = [m["adv"] for m in re.finditer(_RX_ADVERB, text, re.I)]
    periodic = [a for a in adverbs if a.lower() != "постоянно"]
    if periodic:
        adv = periodic[0]
        if phrases:
            return [f"{adv} {phrases[0]}"] + phrases[1:]
        return [adv]
    return phrases
