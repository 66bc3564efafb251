"""Archivist search over the records in the user's scope: region, municipality, school, year, class,
document class, signer and pupil surname, newest first, paged by LIMIT/OFFSET with a look-ahead row
(no COUNT over hundreds of thousands of rows on every page).

Names use PostgreSQL full text with the 'russian' configuration, plus the other gender's form of a
surname: the Snowball stemmer makes «Иванов» 'иван' but «Иванова» 'иванов', so on its own it would
not find one from the other. Each word of the query matches itself or its counterpart.
"""
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from archive.models import ArchiveRecord, RecordKind, RecordStatus
from archive.services import scope_condition
from core.db import session

PAGE_SIZE = 50


@dataclass
class Query:
    region_id: int | None = None
    municipality_id: int | None = None
    school_id: int | None = None
    school_year: str | None = None
    class_name: str | None = None
    kind: RecordKind | None = None
    status: RecordStatus | None = None
    signer: str | None = None
    pupil: str | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "Query":
        def num(name):
            value = args.get(name, type=int)
            return value if value and value > 0 else None

        def text(name, limit=200):
            value = (args.get(name) or "").strip()
            return value[:limit] or None
        kind = args.get("kind")
        status = args.get("status")
        return cls(region_id=num("region"), municipality_id=num("municipality"), school_id=num("school"),
                   school_year=text("year", 9), class_name=_normalise_class(text("class", 20)),
                   kind=RecordKind(kind) if kind in RecordKind.__members__ else None,
                   status=RecordStatus(status) if status in RecordStatus.__members__ else None,
                   signer=text("signer"), pupil=text("pupil"), page=max(1, args.get("page", 1, type=int) or 1))

    def args(self, **change) -> dict:
        """Query-string arguments (for paging links)."""
        values = {"region": self.region_id, "municipality": self.municipality_id, "school": self.school_id,
                  "year": self.school_year, "class": self.class_name, "kind": self.kind.value if self.kind else None,
                  "status": self.status.value if self.status else None, "signer": self.signer, "pupil": self.pupil,
                  "page": self.page}
        values.update(change)
        return {k: v for k, v in values.items() if v not in (None, "", 1) or (k == "page" and v != 1)}

    @property
    def empty(self) -> bool:
        return not any([self.region_id, self.municipality_id, self.school_id, self.school_year, self.class_name,
                        self.kind, self.status, self.signer, self.pupil])


def _normalise_class(value: str | None) -> str | None:
    """"7 «А»", "7-а", "7а" → "7А", as the sheets store it."""
    if not value:
        return None
    return "".join(ch for ch in value.upper() if ch.isalnum())


@dataclass
class Page:
    rows: list[ArchiveRecord]
    page: int
    has_next: bool
    query: Query = field(repr=False)


def statement(user, q: Query):
    stmt = select(ArchiveRecord).where(scope_condition(user, "archive.view"))
    if q.region_id:
        stmt = stmt.where(ArchiveRecord.region_id == q.region_id)
    if q.municipality_id:
        stmt = stmt.where(ArchiveRecord.municipality_id == q.municipality_id)
    if q.school_id:
        stmt = stmt.where(ArchiveRecord.school_id == q.school_id)
    if q.school_year:
        stmt = stmt.where(ArchiveRecord.school_year == q.school_year)
    if q.class_name:
        stmt = stmt.where(ArchiveRecord.class_name == q.class_name)
    if q.kind:
        stmt = stmt.where(ArchiveRecord.kind == q.kind)
    if q.status:
        stmt = stmt.where(ArchiveRecord.status == q.status)
    if q.pupil and (tsq := name_query(q.pupil)) is not None:
        stmt = stmt.where(ArchiveRecord.search.op("@@")(tsq))
    if q.signer and (tsq := name_query(q.signer)) is not None:
        stmt = stmt.where(ArchiveRecord.signer_search.op("@@")(tsq))
    return stmt


# feminine ↔ masculine endings of Russian surnames (and the -ая/-ий adjectival ones)
_PAIRS = [("ова", "ов"), ("ева", "ев"), ("ёва", "ёв"), ("ина", "ин"), ("ына", "ын"), ("ская", "ский"),
          ("цкая", "цкий"), ("ая", "ой")]


def surname_forms(word: str) -> list[str]:
    """The word and its other-gender form: Иванова → [Иванова, Иванов]; Сафин → [Сафин, Сафина]."""
    low = word.lower()
    forms = [word]
    for fem, masc in _PAIRS:
        if low.endswith(fem) and len(low) > len(fem) + 1:
            forms.append(word[: -len(fem)] + masc)
            break
        if low.endswith(masc) and len(low) > len(masc) + 1:
            forms.append(word + fem[len(masc):] if fem.startswith(masc) else word[: -len(masc)] + fem)
            break
    return forms


def name_query(text: str):
    """A tsquery: every word (in any of its forms) must match."""
    words = re.findall(r"[^\W\d_]+|\d+", text)[:8]
    if not words:
        return None
    query: Any = None
    for w in words:
        alt: Any = None
        for form in surname_forms(w):
            part = func.plainto_tsquery("russian", form)
            alt = part if alt is None else alt.op("||")(part)
        query = alt if query is None else query.op("&&")(alt)
    return query


def search(user, q: Query, page_size: int = PAGE_SIZE) -> Page:
    stmt = statement(user, q).order_by(ArchiveRecord.id.desc()).offset((q.page - 1) * page_size).limit(page_size + 1)
    rows = list(session.scalars(stmt))
    return Page(rows=rows[:page_size], page=q.page, has_next=len(rows) > page_size, query=q)
