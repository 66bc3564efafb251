"""Loading assignments and occurrences with the caller's rights checked (404/403): one copy for the pages
and the JSON API."""
from flask import abort, g
from sqlalchemy.orm import joinedload, selectinload

from assignments import services as svc
from assignments.models import Assignment, AssignmentTarget, Occurrence, OccurrenceEvent
from core.db import session
from orgs.access import can
from orgs.models.organisations import Organisation
from orgs.models.users import User


def visible_targets(a: Assignment) -> list[AssignmentTarget]:
    """All targets for the assigner's side; otherwise those the user may see."""
    if can(g.user, "assignment.view", a.assigner):
        return list(a.targets)
    return [t for t in a.targets if can(g.user, "assignment.view", t.org)]


def get_assignment(assignment_id: int) -> Assignment:
    a = session.get(Assignment, assignment_id) or abort(404)
    if not (can(g.user, "assignment.view", a.assigner) or visible_targets(a)):
        abort(403)
    return a


# what the occurrence's page and the access checks read (reviewers are found on the organisation's parent): the
# occurrence in one joined query, its history in two more, instead of lazy loads per event and file
_OCCURRENCE_PAGE = (joinedload(Occurrence.org).joinedload(Organisation.parent), joinedload(Occurrence.target),
                    joinedload(Occurrence.assignment).joinedload(Assignment.plan_item),
                    joinedload(Occurrence.assignment).joinedload(Assignment.assigner),
                    # the authors' names only: not their grants, which a User brings along by default
                    selectinload(Occurrence.events).selectinload(OccurrenceEvent.actor).lazyload(User.grants),
                    selectinload(Occurrence.events).selectinload(OccurrenceEvent.files))


def get_occurrence(occ_id: int, *, for_update: bool = False) -> Occurrence:
    """The occurrence (locked FOR UPDATE when it is about to change), if the user may see it."""
    occ = (svc.lock(occ_id) if for_update else session.get(Occurrence, occ_id, options=_OCCURRENCE_PAGE)) or abort(404)
    if not svc.may_view(g.user, occ):
        abort(403)
    return occ
