"""Operations on the organisation tree. They flush; they never commit."""
from typing import Protocol

from sqlalchemy import select

from core import audit
from core.db import session
from orgs.models.organisations import ALLOWED_PARENTS, Organisation, OrgKind


class OrgError(ValueError):
    pass



class HasKind(Protocol):
    """What check_parent needs of a parent: its kind (an organisation, or a row of an import file)."""
    @property
    def kind(self) -> OrgKind: ...


def check_parent(kind: OrgKind, parent: HasKind | None) -> str | None:
    """A Russian message if `kind` may not sit under `parent`, else None."""
    allowed = ALLOWED_PARENTS[kind]
    parent_kind = parent.kind if parent is not None else None
    if parent_kind in allowed:
        return None
    if parent is None:
        return f"«{kind.label}» должна входить в вышестоящую организацию."
    if None in allowed:
        return f"«{kind.label}» — корень дерева и не может входить в другую организацию."
    names = ", ".join(k.label for k in allowed if k is not None)
    return f"«{kind.label}» может входить только в: {names} (указано: {parent.kind.label})."


def create_org(*, kind: OrgKind, code: str, name: str, parent: Organisation | None = None,
               short_name: str | None = None, inn: str | None = None, ogrn: str | None = None,
               actor=None, audited: bool = True) -> Organisation:
    error = check_parent(kind, parent)
    if error:
        raise OrgError(error)
    org = Organisation(kind=kind, code=code, name=name, short_name=short_name, inn=inn, ogrn=ogrn,
                       parent=parent, path="/")
    session.add(org)
    session.flush()
    org.path = f"{parent.path if parent else '/'}{org.id}/"
    session.flush()
    if audited:
        audit.record("org.create", org, actor=actor, after={"code": code, "name": name, "kind": kind.value})
    return org


def by_code(code: str) -> Organisation | None:
    return session.scalar(select(Organisation).where(Organisation.code == code))


def regions() -> list[Organisation]:
    return list(session.scalars(select(Organisation).where(Organisation.parent_id.is_(None))
                                .order_by(Organisation.name)))


EDITABLE_FIELDS = {"name": 500, "short_name": 200, "inn": 12, "ogrn": 15}


def update_org(org: Organisation, changes: dict, *, actor=None) -> bool:
    """Change an organisation's descriptive fields (not its place in the tree). True if anything changed."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise OrgError(f"Нельзя изменить поля: {', '.join(sorted(unknown))}.")
    before, after = {}, {}
    for field, value in changes.items():
        value = (str(value).strip() or None) if value is not None else None
        if field == "name" and not value:
            raise OrgError("Наименование не может быть пустым.")
        if value is not None and len(value) > EDITABLE_FIELDS[field]:
            raise OrgError(f"Поле «{field}» длиннее {EDITABLE_FIELDS[field]} символов.")
        if field in ("inn", "ogrn") and value and not value.isdigit():
            raise OrgError(f"Поле «{field}» должно состоять из цифр.")
        if getattr(org, field) != value:
            before[field], after[field] = getattr(org, field), value
            setattr(org, field, value)
    if after:
        session.flush()
        audit.record("org.update", org, actor=actor, before=before, after=after)
    return bool(after)


KIND_ORDER = {k: i for i, k in enumerate(OrgKind)}


def tree_order(orgs: list[Organisation]) -> list[Organisation]:
    """Depth-first order: each organisation followed by its children, support bodies after the reporting units,
    then by name.

    The materialised path sorts as text ("/1/10/" before "/1/4/"), so the order is built here instead.
    """
    by_parent: dict[int | None, list[Organisation]] = {}
    present = {o.id for o in orgs}
    for o in orgs:
        by_parent.setdefault(o.parent_id if o.parent_id in present else None, []).append(o)
    out: list[Organisation] = []

    def walk(parent_id):
        for o in sorted(by_parent.get(parent_id, []),
                        key=lambda o: (o.kind is OrgKind.school, KIND_ORDER[o.kind], o.name.replace("ё", "е"))):
            out.append(o)
            walk(o.id)
    walk(None)
    return out
