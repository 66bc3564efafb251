"""Batch jobs over sheets: render, sign as class teacher, sign as director.

A batch commits after every sheet, so its counters drive the progress bars and a killed
worker's batch can simply run again: sheets already past the step are counted as done, never
signed twice, and a sheet is either committed with its new signature or not at all.
"""
import logging

from sqlalchemy import select

import pades
from core import db, keyvault
from core.db import session, utcnow
from core.jobs import job
from orgs.models.users import User
from orgs.signers import check_signer
from sheets import services
from sheets.models import BatchKind, BatchStatus, SheetBatch, SheetStatus, SummarySheet

log = logging.getLogger(__name__)

DONE_AFTER = {BatchKind.render: (SheetStatus.rendered, SheetStatus.teacher_signed, SheetStatus.signed),
              BatchKind.sign_teacher: (SheetStatus.teacher_signed, SheetStatus.signed),
              BatchKind.sign_director: (SheetStatus.signed,)}


@job
def run_batch(batch_id: int) -> dict:
    return process_batch(batch_id)


def process_batch(batch_id: int, on_progress=None, signer=None) -> dict:
    """Run (or resume) a batch; `on_progress(progress_dict)` is called after each sheet (CLI progress bar).
    `signer`: a key the caller holds (the CLI's PKCS#11 token) instead of the batch's stored key."""
    batch = session.get(SheetBatch, batch_id)
    if batch is None or batch.status in (BatchStatus.done, BatchStatus.failed):
        return batch.progress if batch else {}
    actor = session.get_one(User, batch.requested_by_id)
    batch.status = BatchStatus.running
    db.commit()
    if batch.kind is not BatchKind.render and signer is None:
        try:
            p12, passphrase = keyvault.get(batch.id)
            signer = pades.PKCS12Signer(p12, passphrase)
        except (keyvault.KeyMaterialGone, pades.SigningError) as exc:
            return _finish(batch, BatchStatus.failed, message=str(exc))
    if batch.kind is not BatchKind.render:
        try:   # once per run: trusted, not revoked, a signature key, the requester's own
            check_signer(signer.certificate, actor, other_certs=signer.other_certs)
        except pades.SigningError as exc:
            return _finish(batch, BatchStatus.failed, message=str(exc))
    finished = set(batch.done_ids) | {e["sheet_id"] for e in batch.errors}
    for sheet_id in batch.sheet_ids:
        if sheet_id in finished:
            continue
        # SKIP LOCKED: a second worker running the same batch after a requeue leaves this sheet alone.
        sheet = session.scalar(select(SummarySheet).where(SummarySheet.id == sheet_id)
                               .with_for_update(skip_locked=True))
        if sheet is None:
            continue
        try:
            if sheet.status not in DONE_AFTER[batch.kind]:
                _step(batch.kind, sheet, signer, actor)
            elif batch.kind is BatchKind.sign_director:
                # Signed by an earlier run that died before its archive job was queued (that is sent
                # only after the commit): hand it over again; the archive ignores what it already has.
                services.on_final(sheet)
            batch.done_ids = [*batch.done_ids, sheet_id]
        except (services.SheetFlowError, pades.SigningError) as exc:
            db.rollback()
            batch = session.get_one(SheetBatch, batch_id)
            batch.errors = [*batch.errors, {"sheet_id": sheet_id, "message": str(exc)}]
            if "штампов времени" in str(exc):   # the TSA is down: the rest would fail the same way
                return _finish(batch, BatchStatus.failed, message=str(exc))
        db.commit()
        if on_progress:
            on_progress(batch.progress)
    return _finish(batch, BatchStatus.done)


INTERRUPTED = ("Пакет прерван: обработка остановилась (сбой или остановка рабочего процесса). Готовые ведомости "
               "сохранены — запустите пакет снова, они будут пропущены.")


def batch_job_failed(rq_job, connection, exc_type, exc_value, traceback) -> None:
    """RQ's failure callback of a batch job: an exception escaped it, or RQ found it abandoned (its worker
    was killed). The batch says so instead of "running" for ever; its key material is dropped."""
    from core.jobs import in_app_context
    in_app_context(_mark_interrupted, rq_job.args[0], getattr(exc_type, "__name__", "?"))


def _mark_interrupted(batch_id: int, reason: str) -> None:
    db.rollback()
    batch = session.get(SheetBatch, batch_id)
    if batch is None or batch.status not in (BatchStatus.queued, BatchStatus.running):
        return
    log.warning("batch %s interrupted (%s)", batch_id, reason)
    _finish(batch, BatchStatus.failed, message=INTERRUPTED)


def _step(kind: BatchKind, sheet: SummarySheet, signer, actor) -> None:
    if kind is BatchKind.render:
        services.render_pdf(sheet, actor=actor)
    else:
        services.sign(sheet, "teacher" if kind is BatchKind.sign_teacher else "director", signer, actor=actor,
                      signer_checked=True)


def _finish(batch: SheetBatch, status: BatchStatus, *, message: str | None = None) -> dict:
    batch.status, batch.finished_at = status, utcnow()
    if message:
        batch.errors = [*batch.errors, {"sheet_id": None, "message": message}]
    if status is BatchStatus.failed:
        services.batch_failed(batch)
    if batch.kind is not BatchKind.render:
        keyvault.drop(batch.id)
    db.commit()
    return batch.progress
