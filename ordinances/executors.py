"""Match the «Ответственный» wording of a plan row to people, organisations or a role over a set."""
import re
from dataclasses import dataclass, field

from sqlalchemy import select

from core.db import session
from ordinances.models.ordinances import ExecutorKind
from orgs.models.organisations import Organisation, OrgKind, path_ids, subtree
from orgs.models.users import RoleGrant, User

_SURNAME = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_PERSON = re.compile(rf"^(?:(?P<i1>[А-ЯЁ])\.\s?(?:(?P<i2>[А-ЯЁ])\.)?\s?(?P<s1>{_SURNAME})"
                     rf"|(?P<s2>{_SURNAME})\s(?P<j1>[А-ЯЁ])\.\s?(?:(?P<j2>[А-ЯЁ])\.)?"
                     rf"|(?P<s3>{_SURNAME})\s(?P<f1>[А-ЯЁ][а-яё]+)\s(?P<f2>[А-ЯЁ][а-яё]+))$")
_QUOTED = re.compile(r"[«\"“]([^»\"”]{3,})[»\"”]")
# Group phrases: who (a role) over which organisations (kinds).
_GROUP_ROLES = (("руководител", {"school": "director", "municipality": "municipal_official"}),
                ("специалист", {"school": "director", "municipality": "municipal_official"}),
                ("ответственн", {"school": "director", "municipality": "municipal_official"}))
_GROUP_KINDS = (("моуо", "municipality"), ("муниципальн", "municipality"), ("оу", "school"),
                ("общеобразовательн", "school"), ("образовательн", "school"), ("школ", "school"))


@dataclass
class Match:
    kind: ExecutorKind
    user_id: int | None = None
    organisation_id: int | None = None
    group_roles: list[str] = field(default_factory=list)
    group_kinds: list[str] = field(default_factory=list)
    label: str = ""


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("ё", "е").replace("Ё", "Е")).strip().casefold()


def match_person(text: str, region: Organisation | None) -> User | None:
    m = _PERSON.match(text.strip())
    if not m:
        return None
    surname = m["s1"] or m["s2"] or m["s3"]
    initials = [x for x in (m["i1"], m["i2"]) if x] or [x for x in (m["j1"], m["j2"]) if x] or \
        [x[0] for x in (m["f1"], m["f2"]) if x]
    stmt = select(User).where(User.full_name.ilike(f"{surname}%"))
    if region is not None:
        stmt = stmt.where(User.id.in_(select(RoleGrant.user_id).join(Organisation).where(subtree(region))))
    for user in session.scalars(stmt):
        parts = user.full_name.replace(".", ". ").split()
        if _norm(parts[0]) != _norm(surname):
            continue
        theirs = [p[0] for p in parts[1:3]]
        if theirs[:len(initials)] == initials:
            return user
    return None


def match_organisation(text: str, region: Organisation | None) -> Organisation | None:
    wanted = [_norm(q) for q in _QUOTED.findall(text)] or [_norm(text)]
    stmt = select(Organisation)
    if region is not None:
        stmt = stmt.where(subtree(region))
    for org in session.scalars(stmt):
        names = (_norm(org.name), _norm(org.short_name or ""))
        if any(w and (w == n or (len(w) > 8 and w in n)) for w in wanted for n in names):
            return org
    return None


def match_group(text: str) -> Match | None:
    t = _norm(text)
    words = set(re.findall(r"[а-яa-z]+", t))
    kinds = []
    for key, kind in _GROUP_KINDS:
        hit = key in words if len(key) <= 4 else key in t
        if hit and kind not in kinds:
            kinds.append(kind)
    roles = []
    for key, by_kind in _GROUP_ROLES:
        if key in t:
            for kind in kinds:
                if by_kind[kind] not in roles:
                    roles.append(by_kind[kind])
    if not kinds or not roles:
        return None
    return Match(ExecutorKind.group, group_roles=roles, group_kinds=kinds)


def match_executor(text: str, region: Organisation | None) -> Match:
    """Person, organisation, group — in that order; unmatched otherwise (the user picks)."""
    if user := match_person(text, region):
        return Match(ExecutorKind.person, user_id=user.id, label=user.full_name)
    if group := match_group(text):
        group.label = ", ".join(group.group_roles) + " / " + ", ".join(group.group_kinds)
        return group
    if org := match_organisation(text, region):
        return Match(ExecutorKind.organisation, organisation_id=org.id, label=org.display_name)
    return Match(ExecutorKind.unmatched)


def region_of(org: Organisation) -> Organisation:
    root_id = path_ids(org.path)[0]
    return org if org.id == root_id else session.get_one(Organisation, root_id)


__all__ = ["Match", "match_executor", "match_group", "match_organisation", "match_person", "region_of", "OrgKind"]
