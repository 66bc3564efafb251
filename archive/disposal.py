"""Disposal (выделение к уничтожению): when retention has passed and no hold is set, an archivist
drafts an act listing the records; the act is signed, archived itself, and only then are the
records' objects deleted. The act and the records' rows (metadata, no personal data) remain.

Deletion goes through the storage, which on S3 refuses (Object Lock, COMPLIANCE) anything still
under retention or a legal hold, whatever the database says.
"""
import logging

from sqlalchemy import func, select

from archive.models import (
    PERMANENT_YEARS,
    ArchiveRecord,
    DisposalAct,
    DisposalItem,
    DisposalStatus,
    RecordKind,
    RecordStatus,
)
from archive.services import ArchiveError, object_keys, register_document, scope_condition
from core import audit, db
from core.db import present, session, utcnow

log = logging.getLogger(__name__)

MAX_ITEMS = 5000


def _in_open_act():
    return select(DisposalItem.record_id).join(DisposalAct).where(DisposalAct.status != DisposalStatus.executed)


def eligible_statement(user):
    today = utcnow().date()
    return select(ArchiveRecord).where(
        scope_condition(user, "archive.dispose"), ArchiveRecord.status == RecordStatus.archived,
        ArchiveRecord.kind != RecordKind.disposal_act, ArchiveRecord.retention_until <= today,
        func.coalesce(ArchiveRecord.retention_years, 0) < PERMANENT_YEARS,
        ArchiveRecord.legal_hold.is_(False), ArchiveRecord.id.not_in(_in_open_act()))


def why_not(record: ArchiveRecord) -> str | None:
    """Why this record may not be disposed of now (None: it may)."""
    if record.kind is RecordKind.disposal_act:
        return "акты о выделении к уничтожению хранятся постоянно"
    if (record.retention_years or 0) >= PERMANENT_YEARS:
        return "документ хранится постоянно"
    if record.status is not RecordStatus.archived:
        return f"состояние «{record.status.label}»"
    if record.legal_hold or any(h.active for h in record.holds):
        return "установлен запрет на уничтожение (legal hold)"
    if not record.retention_passed:
        return f"срок хранения истекает {record.retention_until:%d.%m.%Y}"
    return None


def draft(records: list[ArchiveRecord], basis: str, *, actor, organisation) -> DisposalAct:
    basis = (basis or "").strip()
    if not basis:
        raise ArchiveError("Укажите основание (например, истечение сроков хранения по перечню).")
    if not records:
        raise ArchiveError("Выберите документы для акта.")
    if len(records) > MAX_ITEMS:
        raise ArchiveError(f"В одном акте не более {MAX_ITEMS} документов.")
    busy = set(session.scalars(_in_open_act().where(DisposalItem.record_id.in_([r.id for r in records]))))
    problems = [f"№ {r.id} «{r.title}»: {why_not(r) or 'уже включён в другой акт'}" for r in records
                if why_not(r) or r.id in busy]
    if problems:
        raise ArchiveError("Не могут быть уничтожены: " + "; ".join(problems[:20]))
    year = utcnow().year
    count = session.scalar(select(func.count(DisposalAct.id)).where(DisposalAct.number.like(f"{year}-%"))) or 0
    act = DisposalAct(number=f"{year}-{count + 1}", basis=basis, organisation_id=organisation.id,
                      created_by_id=actor.id, created_at=utcnow())
    session.add(act)
    session.flush()
    session.add_all([DisposalItem(act_id=act.id, record_id=r.id) for r in records])
    session.flush()
    session.refresh(act, ["items"])
    act.pdf = render(act, records, actor)
    act.pdf_sha256 = _sha(act.pdf)
    session.flush()
    audit.record("archive.disposal_draft", act, actor=actor, records=[r.id for r in records])
    return act


def _sha(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


def render(act: DisposalAct, records: list[ArchiveRecord], actor) -> bytes:
    from archive.documents import render_table
    from core.filters import ru_date_long
    rows = [[str(i), f"№ {r.id}. {r.title}", r.kind.label, r.school_year or "—",
             f"{r.retention_years} лет, до {r.retention_until:%d.%m.%Y}", (r.sha256 or "")[:16] + "…"]
            for i, r in enumerate(sorted(records, key=lambda r: r.id), 1)]
    return render_table(
        f"АКТ № {act.number}\nо выделении к уничтожению документов, не подлежащих хранению",
        [f"Организация: {act.organisation.name}", f"Дата составления: {ru_date_long(act.created_at.date())}",
         f"Основание: {act.basis}",
         "На основании перечня документов с указанием сроков их хранения отобраны к уничтожению как не имеющие "
         "научно-исторической ценности и утратившие практическое значение документы:"],
        ["№", "Документ (архивная запись)", "Класс", "Учебный год", "Срок хранения", "SHA-256"],
        rows, [4, 34, 16, 10, 16, 14],
        [f"Итого документов: {len(rows)}.",
         "Документы уничтожаются удалением архивных объектов после подписания этого акта и передачи его в архив. "
         "Сведения о документах (без персональных данных) сохраняются.",
         f"Составил: {actor.full_name}" + (f", {actor.position}" if actor.position else "")],
        subject=f"Акт о выделении к уничтожению № {act.number}")


def sign(act: DisposalAct, signer, *, actor) -> ArchiveRecord:
    """The archivist signs the act; the act then goes to the archive itself (the records are deleted
    only once it is archived: archive.ingest._after_archived → execute)."""
    from flask import current_app

    from archive.documents import sign_pdf
    if act.status is not DisposalStatus.draft:
        raise ArchiveError(f"Акт № {act.number} уже подписан.")
    problems = [f"№ {i.record.id}: {why_not(i.record)}" for i in act.items if why_not(i.record)]
    if problems:
        raise ArchiveError("С момента составления акта изменилось: " + "; ".join(problems[:20]) +
                           ". Составьте новый акт.")
    act.pdf = sign_pdf(present(act.pdf, "the act's PDF"), signer, field_name="Archivist",
                       reason=f"Акт № {act.number} о выделении к уничтожению",
                       tsa_url=current_app.config.get("TSA_URL"))
    act.pdf_sha256 = _sha(act.pdf)
    act.status, act.signed_by_id, act.signed_at = DisposalStatus.signed, actor.id, utcnow()
    record = register_document(RecordKind.disposal_act, act.pdf, source_type="disposal_act", source_id=act.id,
                               organisation=act.organisation, title=f"Акт № {act.number} о выделении к уничтожению")
    act.record_id = record.id
    session.flush()
    audit.record("archive.disposal_sign", act, actor=actor, sha256=act.pdf_sha256, record_id=record.id)
    return record


def execute(act_id: int) -> dict | None:
    """Delete the records of a signed act whose own record is archived. Commits per record: a deleted
    object is gone whatever happens next, so its row must say so at once."""
    from core.storage import ObjectLocked, ObjectMissing, StorageError, get_storage
    act = session.get(DisposalAct, act_id)
    if act is None or act.status is not DisposalStatus.signed:
        return None
    if act.record is None or act.record.status is not RecordStatus.archived:
        raise ArchiveError(f"Акт № {act.number} ещё не передан в архив: документы не уничтожаются.")
    storage = get_storage()
    result = {"disposed": 0, "kept": 0}
    for item in act.items:
        if item.outcome != "listed":
            continue
        record = item.record
        reason = why_not(record)
        if reason:
            item.outcome, item.message = "kept", reason
            result["kept"] += 1
            db.commit()
            continue
        try:
            for key in object_keys(record):
                try:
                    storage.delete(key)
                except ObjectMissing:
                    pass
        except ObjectLocked as e:
            item.outcome, item.message = "kept", f"хранилище отказало в удалении: {e}"
            result["kept"] += 1
            db.commit()
            continue
        except StorageError:
            db.rollback()
            raise                       # storage down: the job retries; done items are not redone
        _forget(record)
        item.outcome, item.message = "disposed", None
        result["disposed"] += 1
        audit.record("archive.dispose", record, act_id=act.id, act_number=act.number)
        db.commit()
    act.status, act.executed_at = DisposalStatus.executed, utcnow()
    audit.record("archive.disposal_execute", act, disposed=result["disposed"], kept=result["kept"])
    log.info("archive: act %s executed: %s", act.number, result)
    from archive.tasks import anchor_audit
    from core.jobs import enqueue_after_commit
    enqueue_after_commit(anchor_audit, "disposal", queue_name="archive")   # the chain's head, out of reach
    return result


def _forget(record: ArchiveRecord) -> None:
    """The record's row stays as the trace of what was destroyed; the personal data goes: the surname
    index, and the working copy and marks of the summary sheet."""
    record.status, record.disposed_at = RecordStatus.disposed, utcnow()
    record.search, record.staged_pdf = None, None
    if record.source_type == "summary_sheet" and record.source_id is not None:
        from sheets.models import SummarySheet
        sheet = session.get(SummarySheet, record.source_id)
        if sheet is not None:
            sheet.pdf, sheet.marks, sheet.detached_sig = None, None, None
    session.flush()
