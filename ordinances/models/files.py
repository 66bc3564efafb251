"""An ordinance's documents as files: the signed order itself (PDF of the приказ as signed or scanned) and
the file of each attachment (приложение № N).

Where the bytes are, over a file's life (exactly one place at a time):

- the ordinance is a draft: in `content` here (replaceable, removable);
- the ordinance was put in force (or the file came after that): handed to the legal archive in the same
  transaction: the archive record's staged bytes while it is pending, then the write-once object. `content`
  is cleared in that transaction, so a record disposed of under an act leaves no copy behind here, and a
  transaction that fails leaves neither a record nor an object (the ingest job is queued after the commit).

The CHECK `bytes_somewhere` states it: a row without bytes of its own always points at its archive record.
"""
import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from core.db import Base, utcnow

ROLE_ORDER = "order"            # the order (приказ) itself, one per ordinance
ROLE_ATTACHMENT = "attachment"  # приложение № N, one per number


class OrdinanceFile(Base):
    __tablename__ = "ordinance_files"
    __table_args__ = (
        CheckConstraint("role IN ('order', 'attachment')", name="file_role"),
        CheckConstraint("(role = 'attachment') = (attachment_number IS NOT NULL)", name="attachment_has_number"),
        CheckConstraint("content IS NOT NULL OR archive_record_id IS NOT NULL", name="bytes_somewhere"),
        # One order file per ordinance, one file per attachment number (NULL numbers compare equal).
        UniqueConstraint("ordinance_id", "role", "attachment_number", name="one_file_per_slot",
                         postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ordinance_id: Mapped[int] = mapped_column(ForeignKey("ordinances.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # Linked to the ordinance's Attachment row by its number (the rows are rebuilt when a draft is edited).
    attachment_number: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(Text)                 # the attachment's title when uploaded
    filename: Mapped[str] = mapped_column(String(300))              # the uploader's name, sanitised
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    archive_record_id: Mapped[int | None] = mapped_column(ForeignKey("archive_records.id"), index=True, unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    archive_record = relationship("ArchiveRecord", foreign_keys=[archive_record_id])

    @property
    def is_order(self) -> bool:
        return self.role == ROLE_ORDER

    @property
    def source_type(self) -> str:
        return "ordinance_document" if self.is_order else "ordinance_attachment"
