"""Loading ordinances with the caller's rights checked (404 if missing, 403 if out of scope): one copy
for the pages, the API and the domains above (assignments, transitions)."""
from flask import abort, g
from sqlalchemy import literal, or_, select

from core.db import session
from ordinances.models.ordinances import Ordinance, OrdinanceStatus
from orgs.access import can, scopes
from orgs.models.organisations import Organisation, subtree


def visible_condition(user):
    """Ordinances issued inside the user's scope, or above it (a school reads its region's orders)."""
    conds = []
    for org in scopes(user, "ordinance.view"):
        conds += [subtree(org), literal(org.path).startswith(Organisation.path)]
    return or_(*conds) if conds else literal(False)


def draft_condition(user):
    """A draft is seen only by those who may edit its issuer's documents (not by every school below)."""
    conds = [subtree(org) for org in scopes(user, "ordinance.edit")]
    return or_(Ordinance.status != OrdinanceStatus.draft, *conds)


def get_visible(ordinance_id: int) -> Ordinance:
    o = session.get(Ordinance, ordinance_id) or abort(404)
    if not session.scalar(select(Organisation.id).where(Organisation.id == o.issuer_id,
                                                         visible_condition(g.user))):
        abort(403)
    if o.status is OrdinanceStatus.draft and not can(g.user, "ordinance.edit", o.issuer):
        abort(404)
    return o


def issuers_for(user) -> list[Organisation]:
    """Organisations the user may register documents for."""
    roots = scopes(user, "ordinance.edit")
    if not roots:
        return []
    return list(session.scalars(select(Organisation).where(or_(*[subtree(r) for r in roots]),
                                                           Organisation.kind.in_(["region", "municipality"]))
                                .order_by(Organisation.path)))


def decode_upload(raw: bytes, filename: str) -> str:
    for enc in ("utf-8-sig", "cp1251"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"Файл {filename}: неизвестная кодировка (нужна UTF-8 или Windows-1251).")
