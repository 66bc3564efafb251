"""The year summary sheet of marks (сводная ведомость успеваемости) as plain data.

Only this sheet is printed, certified and archived (Порядок РТ п. 3.5-3.8, seed 002), so
this module is the one shape every other part agrees on: the renderer draws it, the signer
signs the rendered PDF, and the archive keeps a machine-readable copy of it (`to_json`)
inside the PDF. No database, no Flask: the services layer builds a `SheetData` from the
journal and hands it over.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

# Marks as written in the journal. "" = the subject is not taught to this pupil in that period.
MARKS = ("5", "4", "3", "2", "зач", "незач", "н/а", "осв", "")
DECISIONS = ("переведён", "оставлен", "условно переведён", "выпущен")
QUARTERS = ["I четв.", "II четв.", "III четв.", "IV четв.", "Год", "Экз.", "Итог"]
HALF_YEARS = ["I полуг.", "II полуг.", "Год", "Экз.", "Итог"]
JSON_FORMAT = "journals.summary-sheet/1"


class SheetError(ValueError):
    """Bad sheet data; the message (Russian) names the pupil and the field."""


@dataclass
class PupilRow:
    name: str                                   # "Фамилия Имя Отчество"
    marks: dict[tuple[str, str], str] = field(default_factory=dict)   # (subject, period) -> mark
    absences_days: int = 0
    absences_lessons: int = 0
    absences_illness: int = 0                   # lessons missed for illness (part of absences_lessons)
    decision: str = "переведён"

    def mark(self, subject: str, period: str) -> str:
        return self.marks.get((subject, period), "")


@dataclass
class SheetData:
    region: str
    municipality: str
    school: str
    class_name: str                             # "7 «А»"
    school_year: str                            # "2025/2026"
    class_teacher: str
    director: str
    document_id: str                            # our id, also in XMP (see render.is_ours)
    verify_url: str                             # printed and QR-coded: where to verify this copy
    periods: list[str]
    subjects: list[str]
    pupils: list[PupilRow]
    council_date: date | None = None            # педагогический совет: date and protocol number
    council_protocol: str = ""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Refuse what would print a wrong legal document; every message names the row."""
        if not self.periods or not self.subjects:
            raise SheetError("В ведомости нет предметов или периодов аттестации")
        if len(set(self.subjects)) != len(self.subjects) or len(set(self.periods)) != len(self.periods):
            raise SheetError("Предметы и периоды в ведомости не должны повторяться")
        if not any(p in self.periods for p in ("Год", "Итог")):
            raise SheetError("В ведомости нет годовой («Год») или итоговой («Итог») отметки")
        subjects, periods = set(self.subjects), set(self.periods)
        for n, pupil in enumerate(self.pupils, 1):
            who = f"строка {n} ({pupil.name or 'без имени'})"
            if not pupil.name.strip():
                raise SheetError(f"{who}: не указаны фамилия и имя")
            for (subject, period), mark in pupil.marks.items():
                if subject not in subjects:
                    raise SheetError(f"{who}: предмет «{subject}» не входит в ведомость")
                if period not in periods:
                    raise SheetError(f"{who}, {subject}: период «{period}» не входит в ведомость")
                if mark not in MARKS:
                    raise SheetError(f"{who}, {subject}, {period}: недопустимая отметка «{mark}»")
            for attr in ("absences_days", "absences_lessons", "absences_illness"):
                if not isinstance(getattr(pupil, attr), int) or getattr(pupil, attr) < 0:
                    raise SheetError(f"{who}: число пропусков должно быть целым неотрицательным")
            if pupil.absences_illness > pupil.absences_lessons:
                raise SheetError(f"{who}: пропусков по болезни больше, чем пропущено уроков")
            if pupil.decision not in DECISIONS:
                raise SheetError(f"{who}: недопустимое решение педсовета «{pupil.decision}»")

    @property
    def final_column(self) -> str:
        """The column the totals are counted on: "Итог" when the sheet has it, else "Год"."""
        return "Итог" if "Итог" in self.periods else "Год"


def sort_key(name: str) -> tuple[str, str]:
    """Alphabetical order of Russian names: ё sorts as е (Семёнов with Семенов, Ёлкина among
    the Е), case-insensitive; the raw name breaks ties so the order is total. Code-point order
    puts Ё before А and ё after я, which is what PostgreSQL's C collation does (ENVIRONMENT.md §2)."""
    return name.casefold().replace("ё", "е"), name


def sorted_pupils(pupils: Iterable[PupilRow]) -> list[PupilRow]:
    return sorted(pupils, key=lambda p: sort_key(p.name))


# ---- totals -------------------------------------------------------------------------------------------------

CATEGORY_LABELS = {
    "excellent": "отличники (все «5»)",
    "good": "на «4» и «5»",
    "one_three": "с одной «3»",
    "threes": "с двумя и более «3»",
    "passed": "успевают без числовых отметок",
    "failing": "неуспевающие («2» или «незач»)",
    "not_attested": "не аттестованы (н/а)",
}


def pupil_category(pupil: PupilRow, subjects: Iterable[str], column: str) -> str:
    """One category per pupil, counted on the final (`column`) marks only.

    Exclusive, in this order of precedence: any "2" or "незач" -> failing; else any "н/а" ->
    not_attested; then by the numeric marks: all "5" -> excellent, only "4"/"5" -> good, exactly
    one "3" -> one_three, more -> threes. "зач" counts as passed and "осв" (освобождён) and ""
    (not taught) are not counted, so a pupil with only "зач" is `passed`, not an отличник.
    """
    marks = [pupil.mark(s, column) for s in subjects]
    if any(m in ("2", "незач") for m in marks):
        return "failing"
    if "н/а" in marks:
        return "not_attested"
    numeric = [m for m in marks if m in ("5", "4", "3")]
    if not numeric:
        return "passed"
    threes = numeric.count("3")
    if threes == 0:
        return "excellent" if all(m == "5" for m in numeric) else "good"
    return "one_three" if threes == 1 else "threes"


@dataclass(frozen=True)
class Totals:
    column: str
    total: int
    counts: dict[str, int]                      # category -> number of pupils (keys of CATEGORY_LABELS)

    @property
    def success_pct(self) -> float:
        """Успеваемость: share of pupils neither failing nor unattested."""
        bad = self.counts["failing"] + self.counts["not_attested"]
        return 100.0 * (self.total - bad) / self.total if self.total else 0.0

    @property
    def quality_pct(self) -> float:
        """Качество знаний: share of отличники and «4» и «5»."""
        good = self.counts["excellent"] + self.counts["good"]
        return 100.0 * good / self.total if self.total else 0.0


def totals(sheet: SheetData) -> Totals:
    """Counts per category on the "Итог" column if the sheet has one, else on "Год"."""
    column = sheet.final_column
    counts = dict.fromkeys(CATEGORY_LABELS, 0)
    for pupil in sheet.pupils:
        counts[pupil_category(pupil, sheet.subjects, column)] += 1
    return Totals(column=column, total=len(sheet.pupils), counts=counts)


# ---- the machine-readable copy embedded in the PDF ----------------------------------------------------------

def to_json(sheet: SheetData) -> bytes:
    """marks.json: everything the sheet shows, pupils in printed order, marks as
    {subject: {period: mark}} (empty marks left out). Stable key order, so the same sheet gives
    the same bytes."""
    doc = {
        "format": JSON_FORMAT,
        "document_id": sheet.document_id,
        "region": sheet.region, "municipality": sheet.municipality, "school": sheet.school,
        "class_name": sheet.class_name, "school_year": sheet.school_year,
        "class_teacher": sheet.class_teacher, "director": sheet.director,
        "verify_url": sheet.verify_url,
        "council": {"date": sheet.council_date.isoformat() if sheet.council_date else None,
                    "protocol": sheet.council_protocol},
        "periods": list(sheet.periods),
        "subjects": list(sheet.subjects),
        "pupils": [
            {
                "n": n, "name": p.name,
                "marks": {s: {per: m for per in sheet.periods if (m := p.mark(s, per))}
                          for s in sheet.subjects if any(p.mark(s, per) for per in sheet.periods)},
                "absences": {"days": p.absences_days, "lessons": p.absences_lessons,
                             "illness": p.absences_illness},
                "decision": p.decision,
            }
            for n, p in enumerate(sorted_pupils(sheet.pupils), 1)
        ],
    }
    # compact: json's C encoder only runs without indent (a 28 × 16 sheet: 2 ms instead of 20 ms)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def marks_by_subject(marks: dict[tuple[str, str], str]) -> dict[str, dict[str, str]]:
    """{(subject, period): mark} as {subject: {period: mark}}: the shape the JSON has (here and in the database)."""
    by_subject: dict[str, dict[str, str]] = {}
    for (subject, period), mark in marks.items():
        by_subject.setdefault(subject, {})[period] = mark
    return by_subject


def marks_by_key(by_subject: dict[str, dict[str, str]]) -> dict[tuple[str, str], str]:
    """The inverse of `marks_by_subject`."""
    return {(s, per): m for s, by_period in by_subject.items() for per, m in by_period.items()}


def from_json(data: bytes) -> SheetData:
    """Inverse of `to_json` (pupils come back in printed order)."""
    doc = json.loads(data.decode("utf-8"))
    if doc.get("format") != JSON_FORMAT:
        raise SheetError(f"Неизвестный формат данных ведомости: {doc.get('format')!r}")
    council = doc.get("council") or {}
    return SheetData(
        region=doc["region"], municipality=doc["municipality"], school=doc["school"],
        class_name=doc["class_name"], school_year=doc["school_year"],
        class_teacher=doc["class_teacher"], director=doc["director"],
        document_id=doc["document_id"], verify_url=doc["verify_url"],
        periods=doc["periods"], subjects=doc["subjects"],
        council_date=date.fromisoformat(council["date"]) if council.get("date") else None,
        council_protocol=council.get("protocol", ""),
        pupils=[
            PupilRow(name=p["name"], marks=marks_by_key(p["marks"]),
                     absences_days=p["absences"]["days"], absences_lessons=p["absences"]["lessons"],
                     absences_illness=p["absences"]["illness"], decision=p["decision"])
            for p in doc["pupils"]
        ],
    )
