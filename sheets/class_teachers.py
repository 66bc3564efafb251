"""Who is the class teacher of which class in a school year, and what that lets them do.

A class teacher's `sheet.view`, `marks.import` and `sheet.sign_teacher` reach only the classes assigned
to them here; `sheet.all_classes` (director, deputy) reaches the whole school. The assignment is made by
whoever holds `class.assign` on the school: one at a time (page, API) or from a staff file (CSV/XLSX:
school code, class, teacher's login). Services flush; they never commit.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import lazyload

from core import audit
from core.db import session, utcnow
from core.tabular import ImportFailed, RowError, cap_errors, display_name, norm_key, read_table
from orgs.access import can, scope_condition
from orgs.models.organisations import Organisation, OrgKind
from orgs.models.users import Role, RoleGrant, User
from sheets.marks_import import normalise_class
from sheets.models import ClassTeacher, SummarySheet

MAX_ROWS = 5000


class AssignmentError(ValueError):
    """The assignment cannot be made; the message (Russian) says why."""


def _of_class(school_id: int, school_year: str, class_name: str):
    return and_(ClassTeacher.school_id == school_id, ClassTeacher.school_year == school_year,
                ClassTeacher.class_name == class_name)


def assignment(school_id: int, school_year: str, class_name: str) -> ClassTeacher | None:
    return session.scalar(select(ClassTeacher).where(_of_class(school_id, school_year, class_name)))


def teacher_of(sheet: SummarySheet) -> User | None:
    """The class teacher assigned now to the sheet's class and year (None: nobody); one query, and not the
    teacher's grants, which a User brings along by default."""
    return session.scalar(select(User).options(lazyload(User.grants))
                          .join(ClassTeacher, ClassTeacher.user_id == User.id)
                          .where(_of_class(sheet.school_id, sheet.school_year, sheet.class_name)))


def teachers_of(sheets: list[SummarySheet]) -> dict[int, User | None]:
    """`teacher_of` for many sheets in one query (a batch's chunk): sheet id -> its class teacher now."""
    classes = {(s.school_id, s.school_year, s.class_name) for s in sheets}
    if not classes:
        return {}
    rows = session.execute(select(ClassTeacher.school_id, ClassTeacher.school_year, ClassTeacher.class_name, User)
                           .options(lazyload(User.grants)).join(User, User.id == ClassTeacher.user_id)
                           .where(or_(*(_of_class(*c) for c in classes))))
    found = {(school_id, year, name): user for school_id, year, name, user in rows}
    return {s.id: found.get((s.school_id, s.school_year, s.class_name)) for s in sheets}


def is_teacher_of(user: User | None, sheet: SummarySheet) -> bool:
    found = assignment(sheet.school_id, sheet.school_year, sheet.class_name)
    return user is not None and found is not None and found.user_id == user.id


def may(user: User | None, action: str, sheet: SummarySheet) -> bool:
    """`action` on this sheet: the role on the school, and — unless it covers all classes — the class."""
    if not can(user, action, sheet.school):
        return False
    return can(user, "sheet.all_classes", sheet.school) or is_teacher_of(user, sheet)


def may_import_class(user: User | None, school: Organisation, school_year: str, class_name: str) -> bool:
    if not can(user, "marks.import", school):
        return False
    if can(user, "sheet.all_classes", school):
        return True
    found = assignment(school.id, school_year, class_name)
    return user is not None and found is not None and found.user_id == user.id


def visible_condition(user: User | None, action: str = "sheet.view"):
    """SQL condition on SummarySheet (joined with Organisation): the sheets `user` may `action`."""
    own_class = exists().where(ClassTeacher.school_id == SummarySheet.school_id,
                               ClassTeacher.school_year == SummarySheet.school_year,
                               ClassTeacher.class_name == SummarySheet.class_name,
                               ClassTeacher.user_id == (user.id if user else None))
    return and_(scope_condition(user, action),
                or_(scope_condition(user, "sheet.all_classes"), own_class))


def teachers(school: Organisation) -> list[User]:
    """Who can be made a class teacher here: active accounts with the class teacher's role on the school."""
    return list(session.scalars(select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(
        RoleGrant.organisation_id == school.id, RoleGrant.role == Role.class_teacher, User.active)
        .order_by(User.full_name)))


def classes(school: Organisation, school_year: str) -> list[dict]:
    """Every class of the year known from its sheets or its assignments, with its teacher."""
    named = {c.class_name: c for c in session.scalars(select(ClassTeacher).where(
        ClassTeacher.school_id == school.id, ClassTeacher.school_year == school_year))}
    labels: dict[str, str] = {}
    for name, label in session.execute(select(SummarySheet.class_name, SummarySheet.class_label).where(
            SummarySheet.school_id == school.id, SummarySheet.school_year == school_year)):
        labels.setdefault(name, label)
    rows = [{"class_name": n, "class_label": labels.get(n) or (normalise_class(n) or (n, n))[1],
             "teacher": named[n].user if n in named else None,
             "assigned_at": named[n].assigned_at if n in named else None}
            for n in set(named) | set(labels)]
    return sorted(rows, key=lambda r: class_sort_key(r["class_name"]))


def class_sort_key(name: str):
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def assign(school: Organisation, school_year: str, class_text: str, teacher: User | None, *,
           actor) -> ClassTeacher | None:
    """Make `teacher` the class teacher (None: remove the assignment). Audited with the previous one;
    a sheet already certified keeps who certified it."""
    if school.kind is not OrgKind.school:
        raise AssignmentError("Классных руководителей назначают в школе: выберите школу.")
    parsed = normalise_class(class_text or "")
    if parsed is None:
        raise AssignmentError(f"«{class_text}» — не название класса (например 7А или 7 «А»).")
    class_name = parsed[0]
    if teacher is not None and teacher.id not in {t.id for t in teachers(school)}:
        raise AssignmentError(f"{teacher.full_name} ({teacher.login}) не классный руководитель школы "
                              f"{school.display_name}: сначала выдайте ему эту роль в школе.")
    current = assignment(school.id, school_year, class_name)
    before = current.user_id if current else None
    if before == (teacher.id if teacher else None):
        return current
    certified = session.scalars(select(SummarySheet.id).where(
        SummarySheet.school_id == school.id, SummarySheet.school_year == school_year,
        SummarySheet.class_name == class_name, SummarySheet.teacher_signed_at.is_not(None))).all()
    if teacher is None:
        if current is not None:
            session.delete(current)
    elif current is None:
        current = ClassTeacher(school_id=school.id, school_year=school_year, class_name=class_name,
                               user_id=teacher.id, assigned_by_id=actor.id)
        session.add(current)
    else:
        current.user_id, current.assigned_by_id, current.assigned_at = teacher.id, actor.id, utcnow()
    session.flush()
    audit.record("class_teacher.assign", school, actor=actor, school_year=school_year, class_name=class_name,
                 previous_user_id=before, user_id=teacher.id if teacher else None,
                 certified_sheet_ids=list(certified))
    return None if teacher is None else current


# ---- from a staff file --------------------------------------------------------------------------------------

COLUMNS = {
    "school_code": ("school_code", "код_школы", "код_организации", "код", "code"),
    "class_name": ("class", "class_name", "класс"),
    "login": ("login", "логин", "логин_учителя", "логин_классного_руководителя"),
    "school_year": ("school_year", "учебный_год", "год"),
}
REQUIRED = ("school_code", "class_name", "login")
LABELS = {"school_code": "код школы", "class_name": "класс", "login": "логин", "school_year": "учебный год"}


@dataclass
class ImportSummary:
    assigned: int
    unchanged: int


def import_file(data: bytes, filename: str, school_year: str, *, actor) -> ImportSummary:
    """Assign class teachers from a CSV/XLSX staff file. Every row is checked first; one bad row and
    nothing is written, and every problem is reported with its file, row and column."""
    name = display_name(filename)
    table = read_table(data, name, MAX_ROWS)
    errors = list(table.errors)
    header = {norm_key(h): h for h in (table.header or []) if h}
    columns: dict[str, str] = {}
    for field, aliases in COLUMNS.items():
        found = next((header[a] for a in aliases if a in header), None)
        if found:
            columns[field] = found
    missing = [LABELS[f] for f in REQUIRED if f not in columns]
    if missing:
        raise ImportFailed([RowError(name, table.header_row or 1, None, None,
                                     f"нет столбцов: {', '.join(missing)} (ожидаются «код_школы», «класс», «логин»)")])
    planned: list[tuple[Organisation, str, str, User]] = []
    seen: dict[tuple, int] = {}
    schools: dict[str, Organisation | None] = {}
    staff: dict[int, dict[str, User]] = {}       # school id → its class teachers by login, read once
    for rowno, values in table.rows:
        def err(field: str, message: str) -> None:
            errors.append(RowError(name, rowno, field, values.get(columns.get(field, ""), ""), message,
                                   column=columns.get(field)))
        code = values.get(columns["school_code"], "")
        if code not in schools:
            schools[code] = session.scalar(select(Organisation).where(Organisation.code == code))
        school = schools[code]
        if school is None or school.kind is not OrgKind.school:
            err("school_code", "нет школы с таким кодом")
            continue
        if not can(actor, "class.assign", school):
            err("school_code", "нет права назначать классных руководителей в этой школе")
            continue
        year = values.get(columns.get("school_year", ""), "") or school_year
        parsed = normalise_class(values.get(columns["class_name"], ""))
        if parsed is None:
            err("class_name", "не название класса (например 7А или 7 «А»)")
            continue
        login = values.get(columns["login"], "").strip().lower()
        if school.id not in staff:
            staff[school.id] = {t.login: t for t in teachers(school)}
        teacher = staff[school.id].get(login)
        if teacher is None:
            err("login", f"нет классного руководителя с таким логином в школе {school.display_name}")
            continue
        key = (school.id, year, parsed[0])
        if key in seen:
            err("class_name", f"класс уже назначен в строке {seen[key]}")
            continue
        seen[key] = rowno
        planned.append((school, year, parsed[0], teacher))
    if errors:
        raise ImportFailed(cap_errors(errors, name))
    changed = 0
    for school, year, class_name, teacher in planned:
        before = assignment(school.id, year, class_name)
        if before is None or before.user_id != teacher.id:
            assign(school, year, class_name, teacher, actor=actor)
            changed += 1
    return ImportSummary(assigned=changed, unchanged=len(planned) - changed)


def assign_for(sheets: list[SummarySheet], teacher: User, *, actor) -> list[SummarySheet]:
    """Make `teacher` the class teacher of each sheet's class (demo data, benchmarks, tests)."""
    for s in sheets:
        assign(s.school, s.school_year, s.class_name, teacher, actor=actor)
    return sheets


def to_json(row: dict) -> dict:
    teacher = row["teacher"]
    return {"class_name": row["class_name"], "class_label": row["class_label"],
            "teacher": {"id": teacher.id, "login": teacher.login, "full_name": teacher.full_name} if teacher else None,
            "assigned_at": row["assigned_at"].isoformat() if row["assigned_at"] else None}
