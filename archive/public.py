"""The public check of a copy in hand (`/verify/<document id>`, what the QR code on a sheet opens).

The same validation as the archive's verification page (archive/verify.py: every signature's
integrity, chain, revocation, timestamp and coverage; the archive timestamps; the archive's hashes),
then which document the copy is: this sheet or another version of it, this record, or none of ours,
and what has become of it since (superseded, archived, disposed of). The verdict names no pupil and
shows no mark: an anonymous visitor learns only whether the copy is genuine and current.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select

from archive.models import ArchiveRecord, DisposalItem, RecordStatus, RecordVersion
from archive.verify import Verification, fetching_allowed, verify_bytes
from core.db import session
from sheets.models import SheetStatus, SummarySheet


@dataclass
class Document:
    """What a document id names: a sheet version, or an archive record (an order's scan, an act)."""
    document_id: str
    sheet: SummarySheet | None = None
    record: ArchiveRecord | None = None

    @property
    def title(self) -> str:
        if self.sheet is not None:
            return f"Сводная ведомость {self.sheet.label}, {self.sheet.school.display_name}"
        assert self.record is not None
        return f"{self.record.kind.label} «{self.record.title}»"


@dataclass
class Verdict:
    genuine: bool                 # the copy is this document, unaltered, validly signed, and in force
    headline: str                 # one plain Russian sentence
    lines: list[str] = field(default_factory=list)     # what was found, no personal data of pupils
    signatures: list[dict] = field(default_factory=list)


def find(document_id: str) -> Document | None:
    sheet = session.scalar(select(SummarySheet).where(SummarySheet.document_id == document_id))
    if sheet is not None:
        return Document(document_id, sheet=sheet, record=_sheet_record(sheet))
    record = session.scalar(select(ArchiveRecord).where(ArchiveRecord.document_id == document_id)
                            .order_by(ArchiveRecord.id).limit(1))
    return Document(document_id, record=record) if record is not None else None


def _sheet_record(sheet: SummarySheet) -> ArchiveRecord | None:
    return session.scalar(select(ArchiveRecord).where(ArchiveRecord.source_type == "summary_sheet",
                                                      ArchiveRecord.source_id == sheet.id))


def check(doc: Document, data: bytes) -> Verdict:
    v = verify_bytes(data, allow_fetching=fetching_allowed())
    verdict = _classify(doc, v, data)
    verdict.signatures = [{"role": s.role, "signer": s.signer, "time": s.time, "ok": s.ok, "summary": s.summary}
                          for s in v.signatures]
    verdict.lines.insert(0, f"SHA-256 проверенного файла: {v.sha256}")
    return verdict


def _classify(doc: Document, v: Verification, data: bytes) -> Verdict:
    if v.document is not None and v.document.ok is False and not v.signatures:
        return Verdict(False, f"Проверка не пройдена: {v.document.text}.")
    signatures = [s for s in v.signatures if s.kind == "signature"]
    if not signatures:
        return _unsigned(doc, v)
    broken = [s for s in signatures if _failed(s, "Целостность")]
    if broken:
        return Verdict(False, "Экземпляр изменён после подписания: подписанные данные не совпадают с подписью "
                              f"({', '.join(s.role for s in broken)}). Это не подлинник.")
    signed_hash = _signed_revision_sha256(data)
    if doc.sheet is None:
        return _record_verdict(doc, v)
    version = _version_with(doc.sheet, {signed_hash, v.sha256})
    if version is None:
        return Verdict(False, f"Другой документ: подписи в файле не относятся к документу № {doc.document_id} "
                              f"({doc.title}).")
    later_edit = [s for s in signatures if _failed(s, "Охват")]
    if later_edit:
        return Verdict(False, "После подписания в файл внесены изменения, которые не являются данными проверки "
                              "подписей или штампами времени архива. Подписанная часть подлинная, но этот "
                              "экземпляр — не подлинник.")
    untrusted = [s for s in signatures if not s.ok]
    if untrusted:
        return Verdict(False, "Подписи не подтверждены: " + "; ".join(s.summary for s in untrusted) + ".")
    return _sheet_state(doc, version, v)


def _failed(s, label: str) -> bool:
    return any(c.label == label and c.ok is False for c in s.checks)


def _signed_revision_sha256(data: bytes) -> str | None:
    """The hash of the file up to the end of its last signature's revision (the director's, on a
    signed sheet): what the service stored as the signed sheet, before the archive's additions."""
    from pades import quick_read
    try:
        sigs = quick_read.reader(data, strict=False).embedded_regular_signatures
        _, _, start, length = sigs[-1].byte_range
        return hashlib.sha256(data[:start + length]).hexdigest()
    except Exception:       # the integrity check has already said what is wrong with the file
        return None


def _version_with(sheet: SummarySheet, hashes: set) -> SummarySheet | None:
    """The version of this sheet's class whose signed PDF has one of these hashes."""
    return session.scalar(select(SummarySheet).where(
        SummarySheet.school_id == sheet.school_id, SummarySheet.school_year == sheet.school_year,
        SummarySheet.class_name == sheet.class_name, SummarySheet.pdf_sha256.in_(hashes - {None})).limit(1))


def _sheet_state(doc: Document, version: SummarySheet, v: Verification) -> Verdict:
    sheet = doc.sheet
    assert sheet is not None
    record = _sheet_record(version)
    lines = [f"Документ: {doc.title}, версия {version.version}."]
    which = _which_copy(record, v.sha256, version)
    if which:
        lines.append(which)
    if version.id != sheet.id:
        return Verdict(False, f"Подписи подлинные, но это версия {version.version} ведомости, а ссылка — на версию "
                              f"{sheet.version}.{_replaced(version)}", lines)
    disposed = _disposal(record)
    if disposed:
        return Verdict(False, f"Экземпляр подлинный, но документ уничтожен по {disposed}: он больше не хранится "
                              "в архиве и не является действующим документом.", lines)
    if sheet.status is SheetStatus.superseded:
        return Verdict(False, "Экземпляр подлинный, но эта версия ведомости заменена исправленной." + _replaced(sheet),
                       lines)
    if sheet.status is SheetStatus.teacher_signed:
        return Verdict(False, "Подпись классного руководителя подлинная, но ведомость ещё не подписана директором: "
                              "это не окончательный документ.", lines)
    if record is not None and record.status is RecordStatus.archived:
        lines.append(f"Хранится в архиве: запись № {record.id}.")
    return Verdict(True, "Подлинный экземпляр: подписи классного руководителя и директора действительны, "
                         "документ не изменён и действует.", lines)


def _which_copy(record: ArchiveRecord | None, sha256: str, version: SummarySheet) -> str | None:
    if sha256 == version.pdf_sha256:
        return "Экземпляр: подписанный подлинник, как он выдан после подписи директора."
    if record is not None and (record.sha256 == sha256 or _is_record_version(record, sha256)):
        return (f"Экземпляр: архивная копия (запись № {record.id}) — подлинник с добавленными архивом "
                "данными проверки и штампом времени (PAdES B-LTA).")
    return "Экземпляр: подлинник с добавленными позже данными проверки подписей или штампами времени."


def _is_record_version(record: ArchiveRecord, sha256: str) -> bool:
    return session.scalar(select(RecordVersion.id).where(RecordVersion.record_id == record.id,
                                                         RecordVersion.sha256 == sha256).limit(1)) is not None


def _replaced(sheet: SummarySheet) -> str:
    newer = session.scalar(select(SummarySheet).where(SummarySheet.supersedes_id == sheet.id))
    if newer is None:
        return ""
    from core.filters import ru_date
    return f" Действует версия {newer.version} от {ru_date(newer.created_at)}."


def _disposal(record: ArchiveRecord | None) -> str | None:
    if record is None or record.status is not RecordStatus.disposed:
        return None
    item = session.scalar(select(DisposalItem).where(DisposalItem.record_id == record.id,
                                                     DisposalItem.outcome == "disposed").limit(1))
    from core.filters import ru_date
    when = f" от {ru_date(record.disposed_at)}" if record.disposed_at else ""
    return f"акту № {item.act.number}{when}" if item is not None else f"акту{when}"


def _unsigned(doc: Document, v: Verification) -> Verdict:
    """A document accepted without an electronic signature (an order's scan): genuine only as the very
    copy the archive keeps."""
    record = doc.record
    if record is None or doc.sheet is not None:
        return Verdict(False, "В файле нет электронных подписей: это не подлинник подписанного документа.")
    if not (record.sha256 == v.sha256 or record.source_sha256 == v.sha256 or _is_record_version(record, v.sha256)):
        return Verdict(False, f"Файл не совпадает с документом № {doc.document_id} ({doc.title}): "
                              "это другой файл или изменённая копия.")
    return _record_verdict(doc, v)


def _record_verdict(doc: Document, v: Verification) -> Verdict:
    record = doc.record
    if record is None or v.record_id != record.id:
        return Verdict(False, f"Другой документ: файл не совпадает с документом № {doc.document_id}.")
    disposed = _disposal(record)
    if disposed:
        return Verdict(False, f"Копия совпадает с документом архива, но он уничтожен по {disposed}.")
    if record.status is not RecordStatus.archived:
        return Verdict(False, "Документ ещё не принят в архив: проверьте позже.")
    bad = [s for s in v.signatures if not s.ok]
    if bad:
        return Verdict(False, "Проверка не пройдена: " + "; ".join(s.summary for s in bad) + ".")
    return Verdict(True, f"Подлинная копия документа архива (запись № {record.id}): {doc.title}; совпадает "
                         "с хранимым экземпляром, штампы времени архива действительны.",
                   [f"Документ: {doc.title}."])
