"""The service's one clock: Moscow time (the region's working day), read from Python so tests can freeze it."""
import datetime as dt
from zoneinfo import ZoneInfo

MOSCOW = ZoneInfo("Europe/Moscow")


def today() -> dt.date:
    """Today in Moscow, from Python's clock (freezable with freezegun; never SQL now())."""
    return dt.datetime.now(MOSCOW).date()


def school_year_label(day: dt.date) -> str:
    """The school year a day falls in, as sheets name it: 1 September starts «2025/2026»."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}/{start + 1}"


def add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:          # 29 February
        return d.replace(year=d.year + years, day=28)
