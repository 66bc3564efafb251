"""The legal archive: records, their object versions, holds, validation reports, the access log,
disposal acts, fixity runs and the retention table.

An `ArchiveRecord` is one signed document (a summary sheet version, a readiness statement, an
order, a disposal act) kept in write-once storage. Its row is created *pending* in the same
transaction as the event that makes the document final, and says *archived* only after the
object and its manifest were stored and read back with matching SHA-256 (archive/ingest.py).

Personal data: pupils' names are in the PDF and, as lexemes, in `search` (the surname search);
never in the manifest, the audit log or the access log. Disposal clears `search`.
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
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from core.db import Base, utcnow
from orgs.models.organisations import Organisation


class RecordKind(str, enum.Enum):
    """Document class (класс документа): decides the retention period."""
    summary_sheet = "summary_sheet"
    readiness_statement = "readiness_statement"
    order = "order"
    attachment = "attachment"
    disposal_act = "disposal_act"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    RecordKind.summary_sheet: "Сводная ведомость успеваемости",
    RecordKind.readiness_statement: "Заявление о готовности",
    RecordKind.order: "Приказ, распоряжение",
    RecordKind.attachment: "Приложение к приказу",
    RecordKind.disposal_act: "Акт о выделении к уничтожению",
}

# Retention by document class, in years, counted from 1 January of the year after the document
# was archived (as archival practice counts it). Rows in `archive_retention_rules` override these;
# the migration seeds the table with the same values. «Постоянно» is PERMANENT_YEARS: the object lock
# cannot say "for ever", so it says 100 years, and nothing ever disposes of a permanent record.
# Orders of an authority's main activity (with their attachments) are kept permanently by the list of
# standard archival documents (Перечень типовых управленческих архивных документов, приказ Росархива
# от 20.12.2019 № 236, ст. 19а); summary sheets of marks 25 years; acts of disposal permanently.
PERMANENT_YEARS = 100
DEFAULT_RETENTION_YEARS = {
    RecordKind.summary_sheet: 25,
    RecordKind.readiness_statement: 5,
    RecordKind.order: PERMANENT_YEARS,
    RecordKind.attachment: PERMANENT_YEARS,
    RecordKind.disposal_act: PERMANENT_YEARS,
}


class RecordStatus(str, enum.Enum):
    pending = "pending"        # waiting to be stored (or retrying: storage down)
    archived = "archived"      # stored and read back with the same SHA-256
    disposed = "disposed"      # deleted under a signed disposal act; the row (metadata) stays

    @property
    def label(self) -> str:
        return {"pending": "Ожидает передачи в архив", "archived": "В архиве",
                "disposed": "Уничтожен по акту"}[self.value]


class RetentionRule(Base):
    """The configurable retention table (administrator)."""
    __tablename__ = "archive_retention_rules"
    __table_args__ = (CheckConstraint("years BETWEEN 1 AND 100", name="years_in_range"),)

    kind: Mapped[RecordKind] = mapped_column(Enum(RecordKind, name="archive_record_kind"), primary_key=True)
    years: Mapped[int] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ArchiveRecord(Base):
    __tablename__ = "archive_records"
    __table_args__ = (
        UniqueConstraint("source_type", "source_id", name="one_record_per_source"),
        CheckConstraint("status <> 'archived' OR (key IS NOT NULL AND sha256 IS NOT NULL AND archived_at IS NOT NULL)",
                        name="archived_is_stored"),
        CheckConstraint("status <> 'disposed' OR disposed_at IS NOT NULL", name="disposed_has_date"),
        Index("ix_archive_records_org_path", "org_path", postgresql_ops={"org_path": "text_pattern_ops"}),
        Index("ix_archive_records_search", "search", postgresql_using="gin"),
        Index("ix_archive_records_signer_search", "signer_search", postgresql_using="gin"),
        Index("ix_archive_records_year_class", "school_year", "class_name"),
        Index("ix_archive_records_fixity", "status", "last_fixity_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[RecordKind] = mapped_column(Enum(RecordKind, name="archive_record_kind"), index=True)
    status: Mapped[RecordStatus] = mapped_column(Enum(RecordStatus, name="archive_record_status"),
                                                 default=RecordStatus.pending, index=True)
    source_type: Mapped[str] = mapped_column(String(40))           # "summary_sheet", "disposal_act", ...
    source_id: Mapped[int | None] = mapped_column(Integer)
    document_id: Mapped[str | None] = mapped_column(String(36), index=True)
    title: Mapped[str] = mapped_column(String(500))
    # Where it belongs. org_path copies the owner's materialised path: the scope filter is one
    # indexed prefix match, without a join, over hundreds of thousands of records.
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    org_path: Mapped[str] = mapped_column(String(400))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    school_year: Mapped[str | None] = mapped_column(String(9))
    class_name: Mapped[str | None] = mapped_column(String(20))
    class_label: Mapped[str | None] = mapped_column(String(40))
    signers: Mapped[list] = mapped_column(JSONB, default=list)       # [{role, name, serial, signed_at}]
    # Full text, 'russian' configuration: pupils' names + class + school («Иванова» finds «Иванов»).
    search = deferred(mapped_column(TSVECTOR, nullable=True))
    signer_search = deferred(mapped_column(TSVECTOR, nullable=True))
    # The stored object (current version) and its manifest.
    backend: Mapped[str | None] = mapped_column(String(20))
    key: Mapped[str | None] = mapped_column(String(1024))
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    version_id: Mapped[str | None] = mapped_column(String(200))
    # the signer's detached CAdES over the document as signed (.sig), kept beside it
    detached_sig_key: Mapped[str | None] = mapped_column(String(1024))
    detached_sig_sha256: Mapped[str | None] = mapped_column(String(64))
    # the document as signed, before the archive timestamp
    source_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    manifest_key: Mapped[str | None] = mapped_column(String(1024))
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    manifest: Mapped[dict | None] = deferred(mapped_column(JSONB))
    # The bytes being written: kept from the first attempt so a retry writes the very same object.
    staged_pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    prepared_at: Mapped[dt.datetime | None]
    retention_years: Mapped[int | None] = mapped_column(Integer)
    retention_until: Mapped[dt.date | None] = mapped_column(Date, index=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    timestamp_at: Mapped[dt.datetime | None]                    # the latest archive (document) timestamp
    timestamp_expires_at: Mapped[dt.datetime | None] = mapped_column(index=True)   # its TSA certificate's end
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[dt.datetime | None]
    disposed_at: Mapped[dt.datetime | None]
    last_fixity_at: Mapped[dt.datetime | None]
    fixity_ok: Mapped[bool | None]
    fixity_message: Mapped[str | None] = mapped_column(Text)

    organisation: Mapped[Organisation] = relationship(foreign_keys=[organisation_id])
    school: Mapped[Organisation | None] = relationship(foreign_keys=[school_id])
    municipality: Mapped[Organisation | None] = relationship(foreign_keys=[municipality_id])
    region: Mapped[Organisation | None] = relationship(foreign_keys=[region_id])
    versions: Mapped[list["RecordVersion"]] = relationship(back_populates="record", order_by="RecordVersion.number")
    holds: Mapped[list["Hold"]] = relationship(back_populates="record", order_by="Hold.placed_at")

    def __repr__(self) -> str:
        return f"<ArchiveRecord {self.id} {self.kind.value} {self.status.value}>"

    @property
    def retention_passed(self) -> bool:
        return self.retention_until is not None and self.retention_until <= utcnow().date()


class RecordVersion(Base):
    """One stored object of a record: the ingest, then each B-LTA renewal (a new document timestamp
    makes new bytes, so a new key). Old versions are never removed before disposal."""
    __tablename__ = "archive_record_versions"
    __table_args__ = (UniqueConstraint("record_id", "number", name="one_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("archive_records.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(40))              # "ingest" | "lta_renewal"
    backend: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    version_id: Mapped[str | None] = mapped_column(String(200))
    manifest_key: Mapped[str | None] = mapped_column(String(1024))
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    timestamp_at: Mapped[dt.datetime | None]
    timestamp_expires_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    record: Mapped[ArchiveRecord] = relationship(back_populates="versions")


class AccessLog(Base):
    """Who read what, when and why. Append-only: a trigger refuses UPDATE and DELETE."""
    __tablename__ = "archive_access_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    user_label: Mapped[str] = mapped_column(String(300))
    record_id: Mapped[int] = mapped_column(ForeignKey("archive_records.id"), index=True)
    action: Mapped[str] = mapped_column(String(40))              # download | export | verify
    purpose: Mapped[str] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSONB, default=dict)   # sha256, export id — no personal data


class ValidationReport(Base):
    """A verification of a file (uploaded, checked from the CLI, or the stored copy), kept as made."""
    __tablename__ = "archive_validation_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("archive_records.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(20))              # ingest | upload | cli | stored | renewal
    filename: Mapped[str | None] = mapped_column(String(300))
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[str] = mapped_column(Text)
    report: Mapped[dict] = mapped_column(JSONB)


class Hold(Base):
    """A legal hold (placed and lifted by an archivist, each with a reason). While one is active the
    record cannot be disposed of, and on S3 the objects carry a legal hold the server enforces."""
    __tablename__ = "archive_holds"
    __table_args__ = (
        CheckConstraint("(lifted_at IS NULL) = (lifted_by_id IS NULL)", name="lift_has_actor"),
        CheckConstraint("lifted_at IS NULL OR lift_reason IS NOT NULL", name="lift_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("archive_records.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lifted_at: Mapped[dt.datetime | None]
    lift_reason: Mapped[str | None] = mapped_column(Text)

    record: Mapped[ArchiveRecord] = relationship(back_populates="holds")

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class DisposalStatus(str, enum.Enum):
    draft = "draft"            # listed, not signed
    signed = "signed"          # signed by the archivist; being archived itself
    executed = "executed"      # the act is archived and the records were deleted

    @property
    def label(self) -> str:
        return {"draft": "Проект", "signed": "Подписан, передаётся в архив",
                "executed": "Исполнен"}[self.value]


class DisposalAct(Base):
    """Акт о выделении к уничтожению документов, не подлежащих хранению. Signed, archived itself
    (as a record of class disposal_act), and only then are its records deleted. The act remains."""
    __tablename__ = "archive_disposal_acts"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[DisposalStatus] = mapped_column(Enum(DisposalStatus, name="archive_disposal_status"),
                                                   default=DisposalStatus.draft)
    basis: Mapped[str] = mapped_column(Text)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[dt.datetime | None]
    record_id: Mapped[int | None] = mapped_column(ForeignKey("archive_records.id"))   # the act's own record
    executed_at: Mapped[dt.datetime | None]

    organisation: Mapped[Organisation] = relationship()
    items: Mapped[list["DisposalItem"]] = relationship(back_populates="act", order_by="DisposalItem.record_id")
    record: Mapped[ArchiveRecord | None] = relationship(foreign_keys=[record_id])


class DisposalItem(Base):
    __tablename__ = "archive_disposal_items"

    act_id: Mapped[int] = mapped_column(ForeignKey("archive_disposal_acts.id"), primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("archive_records.id"), primary_key=True, index=True)
    outcome: Mapped[str] = mapped_column(String(20), default="listed")   # listed | disposed | kept
    message: Mapped[str | None] = mapped_column(Text)

    act: Mapped[DisposalAct] = relationship(back_populates="items")
    record: Mapped[ArchiveRecord] = relationship()


class FixityRun(Base):
    """One pass of the fixity check: counts, and the problems found (record ids and keys only)."""
    __tablename__ = "archive_fixity_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]
    checked: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list] = mapped_column(JSONB, default=list)     # [{record_id, key, problem, message}]
    trigger: Mapped[str] = mapped_column(String(20), default="schedule")   # schedule | cli | restore


class EvidenceTree(Base):
    """One RFC 4998 hash tree and its timestamp (archive/evidence.py): over the archived objects of a batch
    (`purpose` "seal"), or over the timestamps of earlier trees about to expire ("renewal")."""
    __tablename__ = "archive_evidence_trees"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))            # "seal" | "renewal"
    root: Mapped[str] = mapped_column(String(64))               # hex SHA-256, the token's imprint
    leaves: Mapped[int] = mapped_column(Integer)
    token: Mapped[bytes] = mapped_column(LargeBinary)           # the RFC 3161 TimeStampToken (DER ContentInfo)
    timestamp_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None] = mapped_column(index=True)   # the TSA certificate's end
    renewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("archive_evidence_trees.id"), index=True)
    renewal_path: Mapped[bytes | None] = mapped_column(LargeBinary)   # DER reduced hash tree in renewed_by
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RecordEvidence(Base):
    """A record's evidence record: the tree that first sealed its object and its path in it; later
    ArchiveTimeStamps follow the trees' `renewed_by`. `key`: the newest .ers object in the WORM bucket."""
    __tablename__ = "archive_record_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("archive_records.id"), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))            # the object it covers (hex)
    sealed_by_id: Mapped[int] = mapped_column(ForeignKey("archive_evidence_trees.id"))
    path: Mapped[bytes] = mapped_column(LargeBinary)           # DER reduced hash tree in the sealing tree
    current_tree_id: Mapped[int] = mapped_column(ForeignKey("archive_evidence_trees.id"), index=True)
    key: Mapped[str | None] = mapped_column(String(1024))      # None until the .ers for current_tree is stored
    ers_sha256: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
