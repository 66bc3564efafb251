"""The one place that decides who may do what where.

A permission is an action on an organisation. A user holds roles on
organisations; a role grants its actions on that organisation's whole subtree.
"""
from flask import abort, g

from orgs.models.organisations import Organisation
from orgs.models.users import Role, User

# Actions, by role. Reading ("view") is implied by any other action on an org.
PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.admin: frozenset({"org.view", "org.manage", "user.manage", "audit.view",
                           "ordinance.view", "ordinance.edit", "assignment.view", "assignment.manage",
                           "archive.view", "archive.manage", "archive.retention"}),
    Role.regional_official: frozenset({"org.view", "ordinance.view", "ordinance.edit", "assignment.view",
                                       "assignment.manage", "assignment.accept", "transition.view",
                                       "transition.accept", "report.view", "sheet.render",
                                       "transition.manage", "report.manage", "report.accept", "sheet.overview"}),
    Role.municipal_official: frozenset({"org.view", "ordinance.view", "ordinance.edit", "assignment.view",
                                        "assignment.manage", "assignment.accept", "assignment.submit",
                                        "transition.view", "transition.accept", "report.view",
                                        "report.submit", "sheet.render", "transition.reply", "report.accept",
                                        "sheet.overview", "report.manage", "transition.manage"}),
    Role.director: frozenset({"org.view", "ordinance.view", "assignment.view", "assignment.submit",
                              "transition.view", "transition.confirm", "sheet.view", "sheet.sign_director",
                              "sheet.render", "marks.import", "transition.submit", "report.view", "report.submit",
                              "sheet.all_classes", "class.assign"}),
    # A deputy (завуч) runs the year end for the director: classes, marks, sheets — but does not sign for the school.
    Role.deputy_director: frozenset({"org.view", "ordinance.view", "assignment.view", "transition.view",
                                     "sheet.view", "sheet.render", "marks.import", "report.view",
                                     "sheet.all_classes", "class.assign"}),
    # sheet.view / marks.import / sheet.sign_teacher of a class teacher reach only the classes assigned to
    # them (sheets.access); "sheet.all_classes" lifts that to the whole school.
    Role.class_teacher: frozenset({"org.view", "sheet.view", "sheet.sign_teacher", "marks.import",
                                   "sheet.render"}),
    # Staff of a support body (the institute, the computer centre, МЦ «Старт»): the tasks given to it.
    Role.executor: frozenset({"org.view", "ordinance.view", "assignment.view", "assignment.submit"}),
    Role.archivist: frozenset({"org.view", "archive.view", "archive.download", "archive.hold",
                               "archive.dispose", "archive.retention", "audit.view"}),
}

ALL_ACTIONS = frozenset().union(*PERMISSIONS.values())


def can(user: User | None, action: str, org: Organisation) -> bool:
    """True if `user` may do `action` on `org` (or something belonging to it)."""
    if action not in ALL_ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if user is None or not user.active:
        return False
    return any(action in PERMISSIONS[grant.role] and org.path.startswith(grant.organisation.path)
               for grant in user.grants)


def scopes(user: User | None, action: str) -> list[Organisation]:
    """The organisations whose subtrees `user` may do `action` in (for filtering lists)."""
    if user is None or not user.active:
        return []
    return [g.organisation for g in user.grants if action in PERMISSIONS[g.role]]


def covers(user: User | None, action: str, path: str) -> bool:
    """True if `user` may do `action` on whatever belongs to the organisation at materialised `path`."""
    return any(path.startswith(o.path) for o in scopes(user, action))


def has_any(user: User | None, action: str) -> bool:
    return bool(scopes(user, action))


def require(action: str, org: Organisation) -> None:
    """Abort with 403 unless the current user may do `action` on `org`."""
    user = g.get("user")
    if user is None:
        abort(401)
    if not can(user, action, org):
        abort(403)


def scope_condition(user: User | None, action: str):
    """A SQL condition on Organisation matching every organisation `user` may do `action` in."""
    from sqlalchemy import false, or_

    from orgs.models.organisations import subtree
    roots = scopes(user, action)
    return or_(*[subtree(o) for o in roots]) if roots else false()
