"""Ordinances (приказ, письмо, решение, распоряжение), their clauses, controllers, approval sheet and plans."""
import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from orgs.models.organisations import Organisation


class OrdinanceKind(str, enum.Enum):
    prikaz = "приказ"
    pismo = "письмо"
    reshenie = "решение"
    rasporyazhenie = "распоряжение"


class OrdinanceStatus(str, enum.Enum):
    draft = "draft"
    in_force = "in_force"
    executed = "executed"
    repealed = "repealed"

    @property
    def label(self) -> str:
        return {"draft": "Черновик", "in_force": "Действует", "executed": "Исполнен",
                "repealed": "Отменён"}[self.value]


class DeadlineKind(str, enum.Enum):
    once = "once"
    recurring = "recurring"
    continuous = "continuous"
    unparsed = "unparsed"


class Ordinance(Base):
    __tablename__ = "ordinances"
    __table_args__ = (
        Index("ix_ordinances_search", "search", postgresql_using="gin"),
        CheckConstraint("status = 'draft' OR status_changed_by_id IS NOT NULL", name="status_has_actor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrdinanceKind] = mapped_column(Enum(OrdinanceKind, name="ordinance_kind",
                                                     values_callable=lambda e: [m.value for m in e]))
    issuer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    issuer_text: Mapped[str | None] = mapped_column(Text)        # the letterhead as written
    number: Mapped[str | None] = mapped_column(String(100))
    date: Mapped[dt.date | None] = mapped_column(Date, index=True)
    place: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    preamble: Mapped[str | None] = mapped_column(Text)
    body: Mapped[list] = mapped_column(JSONB, default=list)      # a letter's paragraphs
    basis: Mapped[list] = mapped_column(JSONB, default=list)     # [{text, kind, number, date, ...}]
    signatory_name: Mapped[str | None] = mapped_column(String(300))
    signatory_position: Mapped[str | None] = mapped_column(Text)
    distribution: Mapped[list] = mapped_column(JSONB, default=list)
    status: Mapped[OrdinanceStatus] = mapped_column(Enum(OrdinanceStatus, name="ordinance_status"),
                                                    default=OrdinanceStatus.draft)
    status_changed_at: Mapped[dt.datetime | None]
    status_changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("ordinances.id"), index=True)
    source_filename: Mapped[str | None] = mapped_column(String(300))
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    warnings: Mapped[list] = mapped_column(JSONB, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    search = mapped_column(TSVECTOR, Computed(
        "to_tsvector('russian', coalesce(number, '') || ' ' || title || ' ' || coalesce(preamble, ''))",
        persisted=True))

    issuer: Mapped[Organisation] = relationship()
    amends: Mapped["Ordinance | None"] = relationship(remote_side=[id])
    clauses: Mapped[list["Clause"]] = relationship(back_populates="ordinance", order_by="Clause.position",
                                                   cascade="all, delete-orphan")
    controllers: Mapped[list["Controller"]] = relationship(order_by="Controller.position",
                                                           cascade="all, delete-orphan")
    approvals: Mapped[list["ApprovalEntry"]] = relationship(order_by="ApprovalEntry.position",
                                                            cascade="all, delete-orphan")
    attachments: Mapped[list["Attachment"]] = relationship(order_by="Attachment.position",
                                                           cascade="all, delete-orphan")
    plan: Mapped["Plan | None"] = relationship(back_populates="ordinance", cascade="all, delete-orphan",
                                               uselist=False)

    @property
    def editable(self) -> bool:
        """Only a draft is edited; an ordinance in force changes only by a new one that amends it."""
        return self.status is OrdinanceStatus.draft

    @property
    def label(self) -> str:
        parts = [self.kind.value.capitalize()]
        if self.date:
            parts.append(f"от {self.date:%d.%m.%Y}")
        if self.number:
            parts.append(f"№ {self.number}")
        return " ".join(parts)


class Clause(Base):
    """A clause with its numbering kept as written ("2", "2.1"); `parent_number` gives the nesting."""
    __tablename__ = "ordinance_clauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    ordinance_id: Mapped[int] = mapped_column(ForeignKey("ordinances.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(30))
    parent_number: Mapped[str | None] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)

    ordinance: Mapped[Ordinance] = relationship(back_populates="clauses")
    # The duty this clause gives (its executors and deadline), kept as a plan item so that it is assigned,
    # tracked and counted exactly as a plan row is.
    duty: Mapped["PlanItem | None"] = relationship(back_populates="clause", uselist=False, viewonly=True)

    @property
    def depth(self) -> int:
        return (self.number or "").count(".")


class Controller(Base):
    """Who controls execution, optionally of one part only (Краснодар п. 5)."""
    __tablename__ = "ordinance_controllers"

    id: Mapped[int] = mapped_column(primary_key=True)
    ordinance_id: Mapped[int] = mapped_column(ForeignKey("ordinances.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    job_title: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ApprovalEntry(Base):
    """The approval sheet: its author (составитель) and those who agreed (согласовано)."""
    __tablename__ = "ordinance_approvals"
    __table_args__ = (CheckConstraint("role IN ('author', 'agreed')", name="approval_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ordinance_id: Mapped[int] = mapped_column(ForeignKey("ordinances.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(300))
    job_title: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(50))      # the author's («Исп. …, тел. …»)


class Attachment(Base):
    __tablename__ = "ordinance_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ordinance_id: Mapped[int] = mapped_column(ForeignKey("ordinances.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    ordinance_id: Mapped[int] = mapped_column(ForeignKey("ordinances.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(Text)

    ordinance: Mapped[Ordinance] = relationship(back_populates="plan")
    sections: Mapped[list["PlanSection"]] = relationship(order_by="PlanSection.position",
                                                         cascade="all, delete-orphan")

    @property
    def items(self) -> list["PlanItem"]:
        return [item for s in self.sections for item in s.items]

    @property
    def table_items(self) -> list["PlanItem"]:
        """The rows of the plan table, without the duties made from the clauses."""
        return [item for s in self.sections if not s.from_clauses for item in s.items]


class PlanSection(Base):
    __tablename__ = "plan_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(30))
    title: Mapped[str | None] = mapped_column(Text)
    # The duties of the order's clauses (not a section of a plan table): made from the clauses on save.
    from_clauses: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    items: Mapped[list["PlanItem"]] = relationship(back_populates="section", order_by="PlanItem.position",
                                                   cascade="all, delete-orphan")


class PlanItem(Base):
    """A plan row: Мероприятие, Ответственный, Срок (wording kept, rule parsed), Результат."""
    __tablename__ = "plan_items"
    __table_args__ = (
        CheckConstraint("deadline_kind <> 'recurring' OR rrule IS NOT NULL", name="recurring_has_rule"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("plan_sections.id", ondelete="CASCADE"), index=True)
    clause_id: Mapped[int | None] = mapped_column(ForeignKey("ordinance_clauses.id", ondelete="CASCADE"),
                                                  unique=True)
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str | None] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(Text)
    executors_text: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    deadline_text: Mapped[str | None] = mapped_column(Text)
    deadline_kind: Mapped[DeadlineKind] = mapped_column(Enum(DeadlineKind, name="deadline_kind"))
    rrule: Mapped[str | None] = mapped_column(String(300))
    dtstart: Mapped[dt.date | None] = mapped_column(Date)
    until: Mapped[dt.date | None] = mapped_column(Date)
    dates: Mapped[list[dt.date]] = mapped_column(ARRAY(Date), default=list)
    warnings: Mapped[list] = mapped_column(JSONB, default=list)

    section: Mapped[PlanSection] = relationship(back_populates="items")
    clause: Mapped[Clause | None] = relationship(back_populates="duty")
    executors: Mapped[list["Executor"]] = relationship(order_by="Executor.position", cascade="all, delete-orphan")


class ExecutorKind(str, enum.Enum):
    person = "person"              # «Шешерина Г.А.» → a user
    organisation = "organisation"  # «ТОГУ "Компьютерный центр"» → an organisation
    group = "group"                # «Руководители и специалисты МОУО и ОУ» → a role over a set of organisations
    unmatched = "unmatched"        # shown to the user to pick


class Executor(Base):
    __tablename__ = "plan_item_executors"
    __table_args__ = (UniqueConstraint("item_id", "position", name="executor_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("plan_items.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)                     # as written
    kind: Mapped[ExecutorKind] = mapped_column(Enum(ExecutorKind, name="executor_kind"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    group_roles: Mapped[list[str]] = mapped_column(ARRAY(String(40)),
                                                   default=list)   # e.g. director, municipal_official
    group_kinds: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)   # e.g. school, municipality
