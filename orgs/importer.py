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

import dataclasses
import logging
import re
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core import audit
from core.db import session
from core.tabular import (
    CONTROL_CHARS,
    ImportFailed,
    RowError,
    Table,
    cap_errors,
    display_name,
    file_error,
    norm_key,
    read_table,
    shorten,
)
from orgs.models.organisations import KIND_LABELS, Organisation, OrgKind
from orgs.services import check_parent, create_org, update_org

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 20000          # app config ORG_IMPORT_MAX_ROWS overrides

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
    OrgKind.district_office: ("отдел образования округа", "районный отдел образования", "отдел образования района",
                              "окружной отдел образования", "district office"),
}



def _max_len(column: str) -> int:
    return int(getattr(Organisation.__table__.c[column].type, "length"))


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _max_rows() -> int:
    if has_app_context():
        return int(current_app.config.get("ORG_IMPORT_MAX_ROWS") or DEFAULT_MAX_ROWS)
    return DEFAULT_MAX_ROWS


def read_rows(data: bytes, filename: str) -> list[tuple[int, dict[str, str]]]:
    """The data rows of a CSV or XLSX file: (row number as the user sees it, header = row 1 if the file
    starts with it, {header as written: value}). Values are strings with surrounding blanks removed;
    blank rows are skipped. Raises ImportFailed for unreadable files, listing every problem."""
    table = read_table(data, display_name(filename), _max_rows())
    if table.errors:
        raise ImportFailed(cap_errors(table.errors, table.filename))
    return table.rows


# ---- checking --------------------------------------------------------------------------------------------

def _norm_kind(text: str) -> str:
    text = text.lower().replace("ё", "е")
    text = re.sub(r"[«»\"'.]", "", text)
    return " ".join(re.sub(r"[_\-]", " ", text).split())


_HEADER_LOOKUP = {norm_key(alias): f for f, aliases in HEADER_ALIASES.items() for alias in aliases}
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


def _map_header(table: Table) -> dict[str, str]:
    """{canonical field: header as written}; raises ImportFailed if a column is missing or doubled."""
    columns: dict[str, str] = {}
    errors = []
    header = table.header or []
    for name in header:
        field = _HEADER_LOOKUP.get(norm_key(name)) if name else None
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
        named = [h for h in header if h]
        found = ", ".join(f"«{shorten(h, 40)}»" for h in named[:12]) + (", …" if len(named) > 12 else "")
        message = (f"нет обязательных столбцов: {', '.join(f'«{f}» ({COLUMN_HINTS[f]})' for f in missing)}; "
                   f"найдены столбцы: {found}")
        if table.encoding == "Windows-1251":
            message += ". Файл прочитан как Windows-1251 — если заголовок выглядит искажённым, проверьте кодировку"
        if table.delimiter and len(named) == 1:
            message += ". В заголовке один столбец — проверьте разделитель: нужен «;» или «,»"
        errors.append(RowError(table.filename, table.header_row, None, None, message))
    if errors:
        raise ImportFailed(errors)
    return columns


def _check_fields(r: _Row, err) -> None:
    """Checks of one row on its own."""
    for field, value in r.values.items():
        if CONTROL_CHARS.search(value):
            err(r, field, value, "значение содержит управляющие символы")
            r.values[field] = value = CONTROL_CHARS.sub("", value)
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
        path: list[str] = []
        pos: dict[str, int] = {}
        code: str | None = start
        while code is not None and code not in state:
            state[code] = True
            pos[code] = len(path)
            path.append(code)
            parent = first[code].get("parent_code")
            code = parent if parent in first else None
        if code is not None and code in pos:
            cycles.append(path[pos[code]:])
    return cycles


def _validate(table: Table, actor) -> tuple[list[_Row], dict[str, _Row], dict[str, Organisation], list[RowError]]:
    filename = table.filename
    columns = _map_header(table)
    errors: list[RowError] = []
    for e in table.errors:      # name read errors by field, like the rest
        field = next((f for f, h in columns.items() if h == e.field), None)
        errors.append(dataclasses.replace(e, field=field, column=e.field) if field else e)

    def err(r: _Row, field: str | None, value: str | None, message: str) -> None:
        errors.append(RowError(filename, r.row, field, value or None, message,
                               column=columns.get(field) if field else None))

    rows = [_Row(n, {f: values.get(h, "") for f, h in columns.items()}, skip=n in table.bad_rows)
            for n, values in table.rows]
    if not rows:
        raise file_error(filename, "в файле нет строк с организациями (только заголовок)")

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
        from orgs.access import can
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
            err(r, "parent_code", parent_code, check_parent(kind, _ParentKind(OrgKind.municipality)) or "")
            continue
        parent_in_db = db.get(parent_code)     # the database's word on an existing parent, even if listed
        parent_kind: OrgKind | None
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
    errors.sort(key=lambda e: (e.row, FIELD_ORDER.get(e.field or "", -1)))
    return rows, first, db, errors


# ---- writing ---------------------------------------------------------------------------------------------

def _parents_first(first: dict[str, _Row]) -> list[_Row]:
    depth: dict[str, int] = {}
    for start in first:
        chain: list[str] = []
        code: str | None = start
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
    table = read_table(data, display_name(filename), _max_rows())
    filename = table.filename
    rows, first, db, errors = _validate(table, actor)
    if errors:
        log.info("organisation import from %s rejected: %d rows, %d errors", filename, len(rows), len(errors))
        raise ImportFailed(cap_errors(errors, filename))

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
        if r.kind is None:                      # _validate reports a row without a kind
            raise RuntimeError(f"row {r.row} passed validation without a kind")
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
