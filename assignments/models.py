"""Assignments (поручения): a plan item given to organisations, and its occurrences — one per due date per
organisation — with their workflow, evidence, history; plus the in-app inbox, the daily digest claims and the
per-user calendar feed tokens.

The dashboards count occurrences with one GROUP BY over a covering index: every occurrence carries its
organisation's municipality and region (denormalised when it is generated; organisations do not move between
municipalities), its effective due date, status and whether it was completed late.
"""
import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.files import StoredFile
from ordinances.models.ordinances import Ordinance, PlanItem
from orgs.models.organisations import Organisation


class OccurrenceStatus(str, enum.Enum):
    pending = "pending"        # ждёт исполнения
    submitted = "submitted"    # отчёт представлен, ждёт проверки вышестоящим
    accepted = "accepted"      # принято
    returned = "returned"      # возвращено на доработку
    overdue = "overdue"        # срок прошёл без ответа (ставится ежедневным заданием; панели считают и без него)

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES


STATUS_LABELS = {
    OccurrenceStatus.pending: "Ожидает исполнения",
    OccurrenceStatus.submitted: "На проверке",
    OccurrenceStatus.accepted: "Принято",
    OccurrenceStatus.returned: "Возвращено на доработку",
    OccurrenceStatus.overdue: "Просрочено",
}
# Waiting for the organisation to answer (an overdue one may still be answered, late).
OPEN_STATUSES = (OccurrenceStatus.pending, OccurrenceStatus.returned, OccurrenceStatus.overdue)


class OccurrenceKind(str, enum.Enum):
    appointment = "appointment"   # назначение ответственного (приказ по организации как подтверждение)
    deadline = "deadline"         # срок по плану или подтверждение постоянного мероприятия

    @property
    def label(self) -> str:
        return {"appointment": "Назначение ответственного", "deadline": "Срок исполнения"}[self.value]


# How the due dates of an assignment are made (the assigner's choice, stored with its rule).
RULE_CHOICES = ("plan", "weekly", "monthly", "quarterly", "none", "dates")


class Assignment(Base):
    """A plan item given by an organisation (region or municipality) to a set of organisations below it.

    The rule is copied from the plan item when the assignment is made («как в плане») or chosen by the
    assigner (confirmations of a «Постоянно» item: monthly, quarterly, none); due dates are generated from it
    over the horizon (one school year by default). A municipality may pass its part on to its schools: that
    is a child assignment (`parent_id`; its assigner is the municipality) with the same rule.
    """
    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint("rule_choice IN ('plan', 'weekly', 'monthly', 'quarterly', 'none', 'dates')",
                        name="rule_choice"),
        CheckConstraint("horizon_start <= horizon_end", name="horizon_order"),
        # A municipality passes its part of an assignment on once: the child's assigner is the parent's target.
        UniqueConstraint("parent_id", "assigner_id", name="uq_assignments_one_cascade_per_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_items.id"), index=True)
    ordinance_id: Mapped[int] = mapped_column(ForeignKey("ordinances.id"), index=True)
    assigner_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), index=True)
    rule_choice: Mapped[str] = mapped_column(String(20), default="plan")
    rule_text: Mapped[str] = mapped_column(Text)          # shown to people: «Ежеквартально (подтверждение)»
    rrule: Mapped[str | None] = mapped_column(String(300))
    dtstart: Mapped[dt.date | None] = mapped_column(Date)
    until: Mapped[dt.date | None] = mapped_column(Date)
    dates: Mapped[list[dt.date]] = mapped_column(ARRAY(Date), default=list)
    horizon_start: Mapped[dt.date] = mapped_column(Date)
    horizon_end: Mapped[dt.date] = mapped_column(Date)
    appointment_due: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    plan_item: Mapped[PlanItem] = relationship()
    ordinance: Mapped[Ordinance] = relationship()
    assigner: Mapped[Organisation] = relationship()
    parent: Mapped["Assignment | None"] = relationship(remote_side=[id], foreign_keys=[parent_id],
                                                       back_populates="children")
    children: Mapped[list["Assignment"]] = relationship(foreign_keys=[parent_id], back_populates="parent")
    targets: Mapped[list["AssignmentTarget"]] = relationship(
        back_populates="assignment", foreign_keys="AssignmentTarget.assignment_id",
        order_by="AssignmentTarget.id", cascade="all, delete-orphan")

    @property
    def title(self) -> str:
        item = self.plan_item
        return f"{item.number + ' ' if item.number else ''}{item.title}"

    @property
    def active_targets(self) -> list["AssignmentTarget"]:
        return [t for t in self.targets if t.active]


class AssignmentTarget(Base):
    """One organisation an assignment is given to, with its responsible person.

    The responsible person is named by the organisation itself through the appointment occurrence (its order
    as evidence) or by the assigner. A removed target stays (inactive) so its submitted work is kept.
    """
    __tablename__ = "assignment_targets"
    __table_args__ = (UniqueConstraint("assignment_id", "org_id", name="uq_assignment_targets_one_per_org"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    responsible_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    responsible_name: Mapped[str | None] = mapped_column(String(300))
    responsible_position: Mapped[str | None] = mapped_column(String(300))
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[dt.datetime | None]

    assignment: Mapped[Assignment] = relationship(back_populates="targets", foreign_keys=[assignment_id])
    org: Mapped[Organisation] = relationship()


class Occurrence(Base):
    """One due date of an assignment for one organisation, with its workflow:
    pending → submitted → accepted | returned (→ submitted again); pending/returned → overdue once the due
    date has passed unanswered; an extension moves the due date (planned_date keeps the rule's date).
    """
    __tablename__ = "occurrences"
    __table_args__ = (
        UniqueConstraint("assignment_id", "org_id", "kind", "planned_date", name="uq_occurrences_one_per_date"),
        CheckConstraint("status <> 'accepted' OR (accepted_by_id IS NOT NULL AND completed_at IS NOT NULL "
                        "AND late IS NOT NULL)", name="accepted_has_actor"),
        CheckConstraint("status NOT IN ('submitted', 'accepted') OR submitted_at IS NOT NULL",
                        name="submitted_has_time"),
        # The region dashboard: one GROUP BY municipality_id over an index-only scan of a date range.
        Index("ix_occurrences_region_dash", "region_id", "due_date",
              postgresql_include=["municipality_id", "status", "late", "assignment_id"]),
        # The municipality drill-down: GROUP BY org_id.
        Index("ix_occurrences_municipality_dash", "municipality_id", "due_date",
              postgresql_include=["org_id", "status", "late", "assignment_id"]),
        # One organisation's list, "my tasks", the calendar and the feed.
        Index("ix_occurrences_org_due", "org_id", "due_date", postgresql_include=["status"]),
        # No index for the daily overdue sweep: once a day it reads the region index (PostgreSQL 18 skips
        # through its few region ids), and every generated row would otherwise pay for one more index.
        Index("ix_occurrences_parent", "parent_id", postgresql_where=text("parent_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("assignment_targets.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # Copies of the organisation's place in the tree, for the dashboards' GROUP BY. Derived data, written only
    # by generation from the organisation's path (organisations are never deleted and never change parent),
    # so they carry no foreign key: two fewer checks per row when a region's occurrences are generated.
    municipality_id: Mapped[int | None] = mapped_column(Integer)
    region_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[OccurrenceKind] = mapped_column(Enum(OccurrenceKind, name="occurrence_kind"),
                                                 default=OccurrenceKind.deadline)
    planned_date: Mapped[dt.date] = mapped_column(Date)     # from the rule; the key of regeneration
    due_date: Mapped[dt.date] = mapped_column(Date)         # in force, after extensions
    status: Mapped[OccurrenceStatus] = mapped_column(Enum(OccurrenceStatus, name="occurrence_status"),
                                                     default=OccurrenceStatus.pending)
    late: Mapped[bool | None] = mapped_column(Boolean)       # set on acceptance: completed after the due date
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("occurrences.id", ondelete="SET NULL"))
    submitted_at: Mapped[dt.datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[dt.datetime | None]                 # the accepted submission's time
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_reason: Mapped[str | None] = mapped_column(Text)   # a cascade closed before all schools were done
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    assignment: Mapped[Assignment] = relationship()
    target: Mapped[AssignmentTarget] = relationship()
    org: Mapped[Organisation] = relationship(foreign_keys=[org_id])
    parent: Mapped["Occurrence | None"] = relationship(remote_side=[id], foreign_keys=[parent_id])
    events: Mapped[list["OccurrenceEvent"]] = relationship(order_by="OccurrenceEvent.id", back_populates="occurrence",
                                                           cascade="all, delete-orphan", passive_deletes=True)
    evidence: Mapped[list["OccurrenceEvidence"]] = relationship(order_by="OccurrenceEvidence.id",
                                                                back_populates="occurrence")

    def effective_status(self, today: dt.date) -> OccurrenceStatus:
        return status_as_of(self.status, self.due_date, today)


def status_as_of(status: OccurrenceStatus, due_date: dt.date, today: dt.date) -> OccurrenceStatus:
    """The status as of `today`: a pending or returned occurrence past its due date is overdue even before the
    daily job has marked it."""
    if status in (OccurrenceStatus.pending, OccurrenceStatus.returned) and due_date < today:
        return OccurrenceStatus.overdue
    return status


EVENT_KINDS = ("submit", "auto_submit", "accept", "return", "extend", "overdue", "appoint")


class OccurrenceEvent(Base):
    """The history of one occurrence: submissions (text, link, files), acceptance, returns with a comment,
    extensions with their reason and who granted them."""
    __tablename__ = "occurrence_events"
    __table_args__ = (
        CheckConstraint("kind IN ('submit', 'auto_submit', 'accept', 'return', 'extend', 'overdue', 'appoint')",
                        name="event_kind"),
        CheckConstraint("kind <> 'extend' OR (new_due IS NOT NULL AND text IS NOT NULL)", name="extension_has_reason"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrences.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1000))
    old_due: Mapped[dt.date | None] = mapped_column(Date)
    new_due: Mapped[dt.date | None] = mapped_column(Date)

    occurrence: Mapped[Occurrence] = relationship(back_populates="events")
    actor = relationship("User", foreign_keys=[actor_id])
    files: Mapped[list["OccurrenceEvidence"]] = relationship(order_by="OccurrenceEvidence.id", viewonly=True)


class OccurrenceEvidence(StoredFile, Base):
    """A file submitted as evidence, kept in the ordinary "files" store under a key derived from its SHA-256.

    The row says which store and key hold the bytes (core.files). If the transaction that made this row rolls
    back after the object was written, a retry writes the same key, so the object is reused, not duplicated.
    """
    __tablename__ = "occurrence_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("occurrences.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("occurrence_events.id", ondelete="SET NULL"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    occurrence: Mapped[Occurrence] = relationship(back_populates="evidence")


class Notification(Base):
    """An entry in a user's in-app inbox."""
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "id", postgresql_where=text("read_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(500))
    occurrence_id: Mapped[int | None] = mapped_column(ForeignKey("occurrences.id", ondelete="SET NULL"))
    read_at: Mapped[dt.datetime | None]


class DigestClaim(Base):
    """One row per (user, day): claimed with INSERT … ON CONFLICT DO NOTHING before the digest is sent, so a
    digest job that runs twice sends once."""
    __tablename__ = "digest_claims"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    claimed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    items: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[bool] = mapped_column(Boolean, default=False)


class FeedToken(Base):
    """The secret of a user's iCalendar feed URL; only its SHA-256 is stored."""
    __tablename__ = "calendar_feed_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
