"""Notifications: the in-app inbox and the daily e-mail digest (SMTP, `SMTP_URL`).

The inbox rows are written in the same transaction as the change they tell about. The digest is sent by an
RQ job (assignments.tasks) once per user per day: a `digest_claims` row (user, day) is claimed with
INSERT … ON CONFLICT DO NOTHING before the message goes out, in the job's transaction. A second run of the same
job finds the row and sends nothing; two runs at the same moment serialise on the unique key (the second waits
for the first to commit, then does nothing). If sending fails, the job raises, the claim is rolled back and a
retry sends. (The one window left: the SMTP server accepted the message and the commit then failed — the
retry sends a second copy. Mail cannot be enlisted in the database transaction.)
"""
import datetime as dt
import logging
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import and_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from assignments.models import Assignment, DigestClaim, Notification, Occurrence, OccurrenceStatus
from core.db import execute_count, session, utcnow
from core.mail import send_mail
from ordinances.models.ordinances import PlanItem
from orgs.access import PERMISSIONS
from orgs.models.organisations import Organisation
from orgs.models.users import RoleGrant, User

log = logging.getLogger(__name__)
DIGEST_DAYS_AHEAD = 3
DIGEST_MAX_LINES = 50


def roles_with(action: str) -> list[str]:
    return [r.value for r, actions in PERMISSIONS.items() if action in actions]


def users_with(action: str, org_ids) -> list[int]:
    """Active users holding, directly on one of `org_ids`, a role that grants `action`."""
    org_ids = list(org_ids)
    if not org_ids:
        return []
    return list(session.scalars(
        select(RoleGrant.user_id).join(User, User.id == RoleGrant.user_id)
        .where(RoleGrant.organisation_id.in_(org_ids), RoleGrant.role.in_(roles_with(action)), User.active)
        .distinct().order_by(RoleGrant.user_id)))


def notify(user_ids, kind: str, message: str, *, url: str | None = None, occurrence_id: int | None = None) -> int:
    rows = [{"user_id": uid, "kind": kind, "text": message[:2000], "url": url, "occurrence_id": occurrence_id,
             "created_at": utcnow()} for uid in dict.fromkeys(user_ids) if uid]
    if rows:
        session.execute(insert(Notification), rows)
    return len(rows)


def notify_orgs(org_ids, kind: str, message: str, *, url: str | None = None, action: str = "assignment.submit") -> int:
    """One inbox entry per user holding `action` directly on each organisation (one statement for a whole
    region's schools)."""
    org_ids = list(org_ids)
    if not org_ids:
        return 0
    return execute_count(text("""
        INSERT INTO notifications (user_id, kind, text, url, created_at)
        SELECT DISTINCT g.user_id, :kind, :text, :url, :now
        FROM role_grants g JOIN users u ON u.id = g.user_id
        WHERE g.organisation_id = ANY(CAST(:orgs AS integer[])) AND CAST(g.role AS text) = ANY(CAST(:roles AS text[]))
          AND u.active"""), {"kind": kind, "text": message[:2000], "url": url, "now": utcnow(), "orgs": org_ids,
                             "roles": roles_with(action)})


# asked by every page's menu: built once (see orgs.sessions)
_UNREAD = select(func.count()).select_from(Notification) \
    .where(Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))


def unread_count(user_id: int) -> int:
    return session.scalar(_UNREAD, {"user_id": user_id}) or 0


def inbox(user_id: int, *, limit: int = 200) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.user_id == user_id)
                                .order_by(Notification.id.desc()).limit(limit)))


def mark_read(user_id: int, ids=None) -> int:
    stmt = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    return execute_count(stmt.values(read_at=utcnow()))


# ---- the daily digest ---------------------------------------------------------------------------------------

@dataclass
class DigestLine:
    occurrence_id: int
    org: str
    title: str
    due_date: dt.date


@dataclass
class Digest:
    due_soon: list[DigestLine]
    overdue: list[DigestLine]
    to_review: int
    notices: list[Notification] = field(default_factory=list)   # unread inbox entries of the last day

    @property
    def empty(self) -> bool:
        return not (self.due_soon or self.overdue or self.to_review or self.notices)

    @property
    def size(self) -> int:
        return len(self.due_soon) + len(self.overdue) + self.to_review + len(self.notices)


def digest_recipients(day: dt.date | None = None) -> list[int]:
    """Users with an e-mail address and the digest on who answer for an organisation, review the ones below,
    or have new unread notifications (a sheet to sign, a stage returned, a report form opened)."""
    roles = sorted(set(roles_with("assignment.submit")) | set(roles_with("assignment.accept")))
    wanted = [User.active, User.email.is_not(None), User.email != "", User.email_digest]
    by_role = select(User.id).join(RoleGrant, RoleGrant.user_id == User.id).where(*wanted, RoleGrant.role.in_(roles))
    since = _notices_since(day or dt.date.today())
    by_notice = select(User.id).join(Notification, Notification.user_id == User.id) \
        .where(*wanted, Notification.read_at.is_(None), Notification.created_at >= since)
    return sorted(set(session.scalars(by_role)) | set(session.scalars(by_notice)))


def _notices_since(day: dt.date) -> dt.datetime:
    """The previous daily run: DIGEST_AT of the day before, Moscow time."""
    from core.clock import MOSCOW
    return dt.datetime.combine(day - dt.timedelta(days=1), dt.time(7, 0), tzinfo=MOSCOW)


def build_digest(user: User, day: dt.date, days_ahead: int | None = None) -> Digest:
    """What the user's own organisations must answer in the next `days_ahead` days or have let pass, and how
    many reports from the organisations below wait for the user's review."""
    days_ahead = days_ahead if days_ahead is not None else current_app.config.get("DIGEST_DAYS_AHEAD",
                                                                                  DIGEST_DAYS_AHEAD)
    submit_roles, accept_roles = set(roles_with("assignment.submit")), set(roles_with("assignment.accept"))
    own = [g.organisation_id for g in user.grants if g.role.value in submit_roles]
    above = [g.organisation for g in user.grants if g.role.value in accept_roles]
    due_soon: list = []
    overdue: list = []
    if own:
        rows = session.execute(
            select(Occurrence.id, Organisation, PlanItem.number, PlanItem.title, Occurrence.due_date)
            .join(Organisation, Organisation.id == Occurrence.org_id)
            .join(Assignment, Assignment.id == Occurrence.assignment_id)
            .join(PlanItem, PlanItem.id == Assignment.plan_item_id)
            .where(Occurrence.org_id.in_(own), Occurrence.status.in_(
                [OccurrenceStatus.pending, OccurrenceStatus.returned, OccurrenceStatus.overdue]),
                Occurrence.due_date <= day + dt.timedelta(days=days_ahead))
            .order_by(Occurrence.due_date, Occurrence.id).limit(2 * DIGEST_MAX_LINES)).all()
        for occ_id, org, number, title, due in rows:
            line = DigestLine(occ_id, org.display_name, f"{number + ' ' if number else ''}{title}", due)
            (overdue if due < day else due_soon).append(line)
    to_review = 0
    if above:
        from sqlalchemy import or_
        cond = or_(*[and_(Organisation.path.startswith(o.path, autoescape=True), Organisation.id != o.id)
                     for o in above])
        to_review = session.scalar(select(func.count()).select_from(Occurrence)
                                   .join(Organisation, Organisation.id == Occurrence.org_id)
                                   .where(Occurrence.status == OccurrenceStatus.submitted, cond)) or 0
    notices = list(session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None),
        Notification.created_at >= _notices_since(day)).order_by(Notification.id).limit(DIGEST_MAX_LINES)))
    return Digest(due_soon[:DIGEST_MAX_LINES], overdue[:DIGEST_MAX_LINES], to_review, notices)


def render_digest(user: User, day: dt.date, digest: Digest) -> tuple[str, str]:
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")

    def fmt(line: DigestLine) -> str:
        return (f"  • {line.due_date:%d.%m.%Y} — {line.org}: {line.title[:200]}\n"
                f"    {base}/assignments/occurrences/{line.occurrence_id}")
    parts = [f"Здравствуйте, {user.full_name}!", "", f"Сводка поручений на {day:%d.%m.%Y}."]
    if digest.overdue:
        parts += ["", f"Просрочено ({len(digest.overdue)}):", *map(fmt, digest.overdue)]
    if digest.due_soon:
        parts += ["", f"Срок в ближайшие дни ({len(digest.due_soon)}):", *map(fmt, digest.due_soon)]
    if digest.to_review:
        parts += ["", f"Ждут вашей проверки отчётов: {digest.to_review}.", f"  {base}/assignments/my"]
    if digest.notices:
        parts += ["", f"Новые уведомления ({len(digest.notices)}):",
                  *[f"  • {n.text[:300]}" + (f"\n    {base}{n.url}" if n.url else "") for n in digest.notices]]
    parts += ["", "Письмо отправлено автоматически, отвечать на него не нужно."]
    subject = f"Поручения на {day:%d.%m.%Y}: просрочено {len(digest.overdue)}, срок скоро {len(digest.due_soon)}" + \
        (f", новых уведомлений {len(digest.notices)}" if digest.notices else "")
    return subject, "\n".join(parts)


def send_digest(user_id: int, day: dt.date) -> bool:
    """Send the user's digest for `day` unless it was sent already; True if a message went out."""
    if not current_app.config.get("SMTP_URL"):
        log.warning("SMTP_URL is not set: no digest e-mail")
        return False
    user = session.get(User, user_id)
    if user is None or not user.active or not user.email or not user.email_digest:
        return False
    digest = build_digest(user, day)
    if digest.empty:
        return False
    claimed = session.execute(insert(DigestClaim).values(user_id=user_id, day=day, items=digest.size,
                                                         claimed_at=utcnow())
                              .on_conflict_do_nothing(index_elements=["user_id", "day"])
                              .returning(DigestClaim.user_id)).first()
    if claimed is None:
        log.info("digest for user %s on %s was already sent", user_id, day)
        return False
    subject, body = render_digest(user, day, digest)
    send_mail(user.email, subject, body)       # raises → the job fails, the claim is rolled back, a retry sends
    session.execute(update(DigestClaim).where(DigestClaim.user_id == user_id, DigestClaim.day == day)
                    .values(sent=True))
    log.info("digest sent to user %s for %s (%d items)", user_id, day, digest.size)
    return True
