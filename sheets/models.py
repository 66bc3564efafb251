"""Year summary sheets (сводные ведомости успеваемости), their versions, and signing batches."""
import datetime as dt
import enum
import uuid

from sqlalchemy import (
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from core.db import Base, utcnow
from orgs.models.organisations import Organisation
from orgs.models.users import User


class SheetStatus(str, enum.Enum):
    draft = "draft"                    # marks imported, not rendered
    rendered = "rendered"              # PDF with empty signature fields
    teacher_signed = "teacher_signed"  # certified by the class teacher
    signed = "signed"                  # director signed last: locked, final
    superseded = "superseded"          # a later version replaced it; kept as it was

    @property
    def label(self) -> str:
        return {"draft": "Оценки загружены", "rendered": "Сформирована",
                "teacher_signed": "Подписана кл. руководителем",
                "signed": "Подписана директором", "superseded": "Заменена новой версией"}[self.value]


class SummarySheet(Base):
    """One version of one class's sheet for one school year. A correction is a new version; the old one stays."""
    __tablename__ = "summary_sheets"
    __table_args__ = (
        UniqueConstraint("school_id", "school_year", "class_name", "version", name="one_version"),
        CheckConstraint("version = 1 OR supersedes_id IS NOT NULL", name="later_versions_supersede"),
        CheckConstraint("status NOT IN ('teacher_signed', 'signed') OR pdf_sha256 IS NOT NULL", name="signed_has_pdf"),
        Index("ix_summary_sheets_school_year", "school_id", "school_year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    school_year: Mapped[str] = mapped_column(String(9))            # "2025/2026"
    class_name: Mapped[str] = mapped_column(String(20))            # normalised, e.g. "7А"
    class_label: Mapped[str] = mapped_column(String(40))           # as printed, e.g. "7 «А»"
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("summary_sheets.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[SheetStatus] = mapped_column(Enum(SheetStatus, name="sheet_status"), default=SheetStatus.draft)
    # The marks as imported: personal data, kept here and in the PDF, never in logs or the audit log.
    marks: Mapped[dict | None] = deferred(mapped_column(JSONB))   # cleared when the record is disposed of
    class_teacher_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    director_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The document as it stands (rendered, then signed by each in turn); the archive keeps its own copy. Stored
    # uncompressed out of line (STORAGE EXTERNAL, migration c2e4a6b8d0f1): a PDF is compressed already.
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    # The director's CAdES-BES over the final PDF, made in the same plug-in session: a copy can then be
    # checked where Russian officials check signatures (Госуслуги, КриптоАРМ) as file + .sig.
    detached_sig: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    teacher_signed_at: Mapped[dt.datetime | None]
    director_signed_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    school: Mapped[Organisation] = relationship()
    supersedes: Mapped["SummarySheet | None"] = relationship(remote_side=[id])

    @property
    def label(self) -> str:
        return f"{self.class_label}, {self.school_year}" + (f" (версия {self.version})" if self.version > 1 else "")


class ClassTeacher(Base):
    """Who is the class teacher of a class in a school year: the one person who may certify its sheet,
    import its marks and read its pupils' marks. Set by the director (or a deputy); the teacher who
    certified a sheet stays on the sheet (`SummarySheet.class_teacher_id`) whatever happens here later."""
    __tablename__ = "class_teachers"
    __table_args__ = (UniqueConstraint("school_id", "school_year", "class_name", name="one_class_teacher"),
                      Index("ix_class_teachers_user", "user_id", "school_year"))

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    school_year: Mapped[str] = mapped_column(String(9))
    class_name: Mapped[str] = mapped_column(String(20))            # normalised, as on the sheet: "7А"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    school: Mapped[Organisation] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class BatchKind(str, enum.Enum):
    render = "render"
    sign_teacher = "sign_teacher"
    sign_director = "sign_director"

    @property
    def label(self) -> str:
        return {"render": "формирование", "sign_teacher": "подпись классного руководителя",
                "sign_director": "подпись директора"}[self.value]


class BatchStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"

    @property
    def label(self) -> str:
        return {"queued": "в очереди", "running": "выполняется", "done": "готово",
                "failed": "прерван"}[self.value]


class SheetBatch(Base):
    """A batch job over many sheets; its counters drive the progress bars (browser and CLI)."""
    __tablename__ = "sheet_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[BatchKind] = mapped_column(Enum(BatchKind, name="sheet_batch_kind"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    school_year: Mapped[str] = mapped_column(String(9))
    sheet_ids: Mapped[list] = mapped_column(JSONB, default=list)
    done_ids: Mapped[list] = mapped_column(JSONB, default=list)
    errors: Mapped[list] = mapped_column(JSONB, default=list)     # [{sheet_id, message}] — no personal data
    status: Mapped[BatchStatus] = mapped_column(Enum(BatchStatus, name="sheet_batch_status"),
                                                default=BatchStatus.queued)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]

    @property
    def progress(self) -> dict:
        total = len(self.sheet_ids)
        return {"id": self.id, "kind": self.kind.value, "status": self.status.value,
                "status_label": self.status.label, "total": total,
                "done": len(self.done_ids), "failed": len(self.errors),
                "percent": round(100 * (len(self.done_ids) + len(self.errors)) / total) if total else 100,
                "errors": self.errors}


class YearEndDeadline(Base):
    """By when the schools under an organisation (a region, a municipality) must have their sheets signed and
    archived for a school year, and the order that set it. The nearest one up the tree applies."""
    __tablename__ = "year_end_deadlines"
    __table_args__ = (UniqueConstraint("organisation_id", "school_year", name="one_deadline"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    school_year: Mapped[str] = mapped_column(String(9))
    due_date: Mapped[dt.date] = mapped_column(Date)
    ordinance_id: Mapped[int | None] = mapped_column(ForeignKey("ordinances.id"))
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship()
