"""Monitoring reports (004 п. 2.3: monthly by the 30th; 001 п. 2.6: quarterly): forms with a field
schema, one submission per organisation and period, submitted and accepted by the level above.
A form may belong to a transition campaign and an ordinance (by id: reports sit beside transitions).
"""
import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from orgs.models.organisations import Organisation


def _enum(cls, name: str):
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class Periodicity(str, enum.Enum):
    monthly = "monthly"
    quarterly = "quarterly"

    @property
    def label(self) -> str:
        return {"monthly": "Ежемесячно", "quarterly": "Ежеквартально"}[self.value]


class ReportForm(Base):
    """A monitoring report form: its fields (JSON schema), who fills it in, and when it is due."""
    __tablename__ = "report_forms"
    __table_args__ = (CheckConstraint("submitter_kind IN ('school', 'municipality')", name="submitter_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # Who runs the form: the region, or a municipality for its own schools (its figures still roll up into
    # the region's views, which is why region_id stays).
    owner_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("transition_campaigns.id", ondelete="SET NULL"),
                                                    index=True)
    ordinance_id: Mapped[int | None] = mapped_column(ForeignKey("ordinances.id"))
    title: Mapped[str] = mapped_column(Text)
    periodicity: Mapped[Periodicity] = mapped_column(_enum(Periodicity, "report_periodicity"))
    deadline_text: Mapped[str] = mapped_column(Text)            # «до 30 числа отчётного месяца»
    rrule: Mapped[str | None] = mapped_column(String(300))     # parsed from the wording
    submitter_kind: Mapped[str] = mapped_column(String(20))
    fields: Mapped[list] = mapped_column(JSONB, default=list)  # [{key, label, type, required, min, max, ...}]
    active: Mapped[bool] = mapped_column(default=True)
    first_period: Mapped[dt.date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    region: Mapped[Organisation] = relationship(foreign_keys=[region_id])
    owner: Mapped[Organisation] = relationship(foreign_keys=[owner_id])


class ReportStatus(str, enum.Enum):
    draft = "draft"
    submitted = "submitted"
    accepted = "accepted"
    returned = "returned"

    @property
    def label(self) -> str:
        return {"draft": "Черновик", "submitted": "Представлен", "accepted": "Принят",
                "returned": "Возвращён на доработку"}[self.value]


class ReportSubmission(Base):
    """One organisation's report for one period."""
    __tablename__ = "report_submissions"
    __table_args__ = (
        UniqueConstraint("form_id", "organisation_id", "period_start"),
        CheckConstraint("status <> 'accepted' OR decided_by_id IS NOT NULL", name="accepted_has_actor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("report_forms.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[ReportStatus] = mapped_column(_enum(ReportStatus, "report_status"), default=ReportStatus.draft)
    values: Mapped[dict] = mapped_column(JSONB, default=dict)
    submitted_at: Mapped[dt.datetime | None]
    submitted_on: Mapped[dt.date | None] = mapped_column(Date)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    form: Mapped[ReportForm] = relationship()
    organisation: Mapped[Organisation] = relationship()
