"""Each school's transition to paperless journals (переход на безбумажное ведение журналов).

A region runs a *campaign* (e.g. «безбумажное ведение с 01.09.2014», letter 000) with a list of
*stage definitions* (editable per campaign). The region publishes a recommended list of schools
(Перечень, Приложение 1); each municipality answers on the reply form (Приложение 2) per school:
included, excluded with a reason, or added. The schools of the resulting final list go through
the stages: each stage has a checklist state per school with evidence, submitted by the school and
accepted (or returned) by the municipality; every move is kept as an event. The director confirms
readiness with a signed statement kept in the archive; only a new signed statement withdraws it.
"""
import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.files import StoredFile
from orgs.models.organisations import Organisation


def _enum(cls, name: str):
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


# ---- campaign and its stages -------------------------------------------------------------------------------

class Campaign(Base):
    """A transition programme, linked to the letter/order that started it: a region's, or a municipality's for
    its own schools (002 is a district's order, 004 a city's). `owner` runs it; `region` is where it rolls up."""
    __tablename__ = "transition_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    ordinance_id: Mapped[int | None] = mapped_column(ForeignKey("ordinances.id"), index=True)
    title: Mapped[str] = mapped_column(Text)
    target_date: Mapped[dt.date] = mapped_column(Date)               # paperless from (01.09.2014)
    reply_deadline: Mapped[dt.date | None] = mapped_column(Date)     # municipal replies due (03.06.14)
    platform: Mapped[str | None] = mapped_column(String(40))         # named by the order (001 п. 1.1: Дневник.ру)
    list_published_at: Mapped[dt.datetime | None]
    list_published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    region: Mapped[Organisation] = relationship(foreign_keys=[region_id])
    owner: Mapped[Organisation] = relationship(foreign_keys=[owner_id])
    ordinance = relationship("Ordinance")
    stages: Mapped[list["StageDef"]] = relationship(back_populates="campaign", order_by="StageDef.position",
                                                    cascade="all, delete-orphan")

    @property
    def list_published(self) -> bool:
        return self.list_published_at is not None


class StageKind(str, enum.Enum):
    """What a stage asks for, and so how its evidence is checked."""
    document = "document"          # a school order / local act: order number and date, and/or a file
    platform = "platform"          # the platform chosen and activated
    parents_link = "parents_link"  # the parents' link in the «Муниципальная услуга» section of the site (004 п. 3.4)
    trial = "trial"                # journals kept electronically for a trial period
    readiness = "readiness"        # confirmed by the director's signed statement, not by evidence
    paperless = "paperless"        # paperless from a date

    @property
    def label(self) -> str:
        return {"document": "Документ", "platform": "Платформа", "parents_link": "Ссылка для родителей",
                "trial": "Апробация", "readiness": "Подтверждение директора",
                "paperless": "Дата перехода"}[self.value]


class StageDef(Base):
    """A stage of a campaign, in order; each school has one checklist state per stage."""
    __tablename__ = "transition_stage_defs"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("transition_campaigns.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(40))
    kind: Mapped[StageKind] = mapped_column(_enum(StageKind, "transition_stage_kind"))
    title: Mapped[str] = mapped_column(Text)
    basis: Mapped[str | None] = mapped_column(Text)            # «Приказ № 271, п. 3.4»
    hint: Mapped[str | None] = mapped_column(Text)             # what evidence is expected
    requires_order: Mapped[bool] = mapped_column(default=False)
    requires_file: Mapped[bool] = mapped_column(default=False)
    due_date: Mapped[dt.date | None] = mapped_column(Date)     # schools must have it accepted by then
    due_by_municipality: Mapped[list["StageDue"]] = relationship(cascade="all, delete-orphan",
                                                                 order_by="StageDue.municipality_id")

    campaign: Mapped[Campaign] = relationship(back_populates="stages")

    def due_for(self, municipality_id: int) -> dt.date | None:
        """A municipality's own due date for this stage, else the campaign's."""
        return next((d.due_date for d in self.due_by_municipality if d.municipality_id == municipality_id),
                    self.due_date)


class StageDue(Base):
    """A stage's due date for one municipality's schools, where it differs from the campaign's."""
    __tablename__ = "transition_stage_dues"
    __table_args__ = (UniqueConstraint("stage_id", "municipality_id", name="one_due_per_municipality"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("transition_stage_defs.id", ondelete="CASCADE"))
    municipality_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    due_date: Mapped[dt.date] = mapped_column(Date)

    municipality: Mapped[Organisation] = relationship()


class StageStatus(str, enum.Enum):
    pending = "pending"
    submitted = "submitted"
    accepted = "accepted"
    returned = "returned"

    @property
    def label(self) -> str:
        return {"pending": "Не начат", "submitted": "На проверке", "accepted": "Принят",
                "returned": "Возвращён"}[self.value]


class SchoolStage(Base):
    """One school's checklist item for one stage: its status and the evidence now in force."""
    __tablename__ = "transition_school_stages"
    __table_args__ = (
        UniqueConstraint("school_id", "stage_id"),
        CheckConstraint("status <> 'accepted' OR decided_at IS NOT NULL", name="accepted_has_decision"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("transition_campaigns.id", ondelete="CASCADE"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("transition_stage_defs.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[StageStatus] = mapped_column(_enum(StageStatus, "transition_stage_status"),
                                                default=StageStatus.pending)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    comment: Mapped[str | None] = mapped_column(Text)           # why it was returned
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    stage: Mapped[StageDef] = relationship()
    school: Mapped[Organisation] = relationship()
    evidences: Mapped[list["Evidence"]] = relationship(order_by="Evidence.id", cascade="all, delete-orphan")
    events: Mapped[list["StageEvent"]] = relationship(order_by="StageEvent.id", back_populates="state",
                                                      cascade="all, delete-orphan")

    @property
    def evidence(self) -> "Evidence | None":
        """The evidence now in force: the latest submission."""
        return self.evidences[-1] if self.evidences else None


class Evidence(StoredFile, Base):
    """What the school submitted for a stage. Never changed: a new submission is a new row. Its document
    file, if any, is in the ordinary files store (core.files: store, key and hash)."""
    __tablename__ = "transition_evidence"
    __stored_file_optional__ = True        # a link or an order's number may be all there is

    id: Mapped[int] = mapped_column(primary_key=True)
    state_id: Mapped[int] = mapped_column(ForeignKey("transition_school_stages.id", ondelete="CASCADE"), index=True)
    order_number: Mapped[str | None] = mapped_column(String(100))
    order_date: Mapped[dt.date | None] = mapped_column(Date)
    url: Mapped[str | None] = mapped_column(String(1000))
    section: Mapped[str | None] = mapped_column(String(300))      # site section holding the parents' link
    platform: Mapped[str | None] = mapped_column(String(40))      # PLATFORMS key
    platform_other: Mapped[str | None] = mapped_column(String(300))
    date_from: Mapped[dt.date | None] = mapped_column(Date)       # trial start / paperless from
    date_to: Mapped[dt.date | None] = mapped_column(Date)         # trial end
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    created_by = relationship("User", foreign_keys=[created_by_id])


class StageEvent(Base):
    """The history of a school's stage: every submission, acceptance, return, confirmation."""
    __tablename__ = "transition_stage_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    state_id: Mapped[int] = mapped_column(ForeignKey("transition_school_stages.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(30))      # submitted / accepted / returned / confirmed / withdrawn
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("transition_evidence.id"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("transition_readiness_statements.id"))

    state: Mapped[SchoolStage] = relationship(back_populates="events")
    actor = relationship("User", foreign_keys=[actor_id])


# ---- recommended list and municipal replies ---------------------------------------------------------------

class RecommendedSchool(Base):
    """A school on the region's recommended list (Перечень, Приложение 1)."""
    __tablename__ = "transition_recommended"
    __table_args__ = (UniqueConstraint("campaign_id", "school_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("transition_campaigns.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    note: Mapped[str | None] = mapped_column(Text)

    school: Mapped[Organisation] = relationship()


class ReplyDecision(str, enum.Enum):
    included = "included"
    excluded = "excluded"
    added = "added"

    @property
    def label(self) -> str:
        return {"included": "Включена", "excluded": "Исключена", "added": "Добавлена"}[self.value]


class MunicipalReply(Base):
    """A municipality's answer on the reply form (Приложение 2)."""
    __tablename__ = "transition_replies"
    __table_args__ = (UniqueConstraint("campaign_id", "municipality_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("transition_campaigns.id", ondelete="CASCADE"), index=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(300))
    contact_phone: Mapped[str | None] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)
    first_submitted_at: Mapped[dt.datetime | None]
    submitted_at: Mapped[dt.datetime | None]
    submitted_on: Mapped[dt.date | None] = mapped_column(Date)   # "today" (Moscow) when last submitted
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    municipality: Mapped[Organisation] = relationship()
    submitted_by = relationship("User", foreign_keys=[submitted_by_id])
    lines: Mapped[list["ReplyLine"]] = relationship(back_populates="reply", cascade="all, delete-orphan",
                                                    order_by="ReplyLine.id")


class ReplyLine(Base):
    __tablename__ = "transition_reply_lines"
    __table_args__ = (
        UniqueConstraint("reply_id", "school_id"),
        CheckConstraint("decision <> 'excluded' OR coalesce(btrim(reason), '') <> ''", name="excluded_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("transition_replies.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    decision: Mapped[ReplyDecision] = mapped_column(_enum(ReplyDecision, "transition_reply_decision"))
    reason: Mapped[str | None] = mapped_column(Text)

    reply: Mapped[MunicipalReply] = relationship(back_populates="lines")
    school: Mapped[Organisation] = relationship()


# ---- the director's readiness statement -------------------------------------------------------------------

class StatementKind(str, enum.Enum):
    confirm = "confirm"
    withdraw = "withdraw"

    @property
    def label(self) -> str:
        return {"confirm": "Подтверждение готовности", "withdraw": "Отзыв подтверждения"}[self.value]


class ReadinessStatement(StoredFile, Base):
    """A signed statement by the director: readiness confirmed, or a confirmation withdrawn.

    The signed PDF is in the archive's store (5 years); the row keeps its store, key and hash (core.files)."""
    __tablename__ = "transition_readiness_statements"
    __stored_file_optional__ = True        # the row exists (for its id) a moment before its PDF is stored
    __table_args__ = (
        CheckConstraint("kind <> 'withdraw' OR coalesce(btrim(reason), '') <> ''", name="withdraw_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("transition_campaigns.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[StatementKind] = mapped_column(_enum(StatementKind, "transition_statement_kind"))
    reason: Mapped[str | None] = mapped_column(Text)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("transition_readiness_statements.id"))
    paperless_from: Mapped[dt.date | None] = mapped_column(Date)
    signed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    signature_kind: Mapped[str] = mapped_column(String(20))          # "pades"
    signer_name: Mapped[str | None] = mapped_column(String(300))     # certificate owner
    cert_serial: Mapped[str | None] = mapped_column(String(100))
    retain_until: Mapped[dt.date | None] = mapped_column(Date)

    school: Mapped[Organisation] = relationship()
    signed_by = relationship("User", foreign_keys=[signed_by_id])
