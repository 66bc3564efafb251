"""Batch jobs over sheets: render, sign as class teacher, sign as director.

A batch works through its sheets in chunks (SHEET_BATCH_CHUNK, 25): one transaction per chunk, its audit
entries appended in one statement, its counters updated once — they drive the progress bars. Within a chunk
the signatures are made by a small thread pool (SIGN_THREADS), so one sheet's TSA round trip overlaps the
next sheet's hashing and signing; the checks before and the bookkeeping after stay in this thread, with the
database. A killed worker loses at most its current chunk, which was never committed: the batch simply runs
again, sheets already past the step are counted as done and are never signed twice.
"""
import functools
import logging
from concurrent.futures import ThreadPoolExecutor

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import undefer

import pades
from core import audit, db, keyvault
from core.db import session, utcnow
from core.jobs import job
from orgs.models.users import User
from orgs.signers import check_signer
from sheets import class_teachers, services
from sheets.models import BatchKind, BatchStatus, SheetBatch, SheetStatus, SummarySheet

log = logging.getLogger(__name__)

DONE_AFTER = {BatchKind.render: (SheetStatus.rendered, SheetStatus.teacher_signed, SheetStatus.signed),
              BatchKind.sign_teacher: (SheetStatus.teacher_signed, SheetStatus.signed),
              BatchKind.sign_director: (SheetStatus.signed,)}
CHUNK = 25
SIGN_THREADS = 4
TSA_DOWN = "штампов времени"        # in the message of a SigningError when the TSA did not answer


@job
def run_batch(batch_id: int) -> dict:
    return process_batch(batch_id)


def process_batch(batch_id: int, on_progress=None, signer=None) -> dict:
    """Run (or resume) a batch; `on_progress(progress_dict)` is called after each chunk (CLI progress bar).
    `signer`: a key the caller holds (the CLI's PKCS#11 token) instead of the batch's stored key."""
    batch = session.get(SheetBatch, batch_id)
    if batch is None or batch.status in (BatchStatus.done, BatchStatus.failed):
        return batch.progress if batch else {}
    actor = session.get_one(User, batch.requested_by_id)
    batch.status = BatchStatus.running
    db.commit()
    if batch.kind is not BatchKind.render and signer is None:
        try:
            material = keyvault.get(batch.id)
            signer = pades.PKCS12Signer.from_unlocked(material.unlocked) if material.unlocked is not None else \
                pades.PKCS12Signer(material.pkcs12 or b"", material.passphrase)
        except (keyvault.KeyMaterialGone, pades.SigningError) as exc:
            return _finish(batch, BatchStatus.failed, message=str(exc))
    if batch.kind is not BatchKind.render:
        try:   # once per run: trusted, not revoked, a signature key, the requester's own
            check_signer(signer.certificate, actor, other_certs=signer.other_certs)
        except pades.SigningError as exc:
            return _finish(batch, BatchStatus.failed, message=str(exc))
    if batch.kind is BatchKind.sign_director and batch.done_ids:
        _hand_over_again(batch.done_ids)
    finished = set(batch.done_ids) | {e["sheet_id"] for e in batch.errors}
    todo = [i for i in batch.sheet_ids if i not in finished]
    size = max(1, int(current_app.config.get("SHEET_BATCH_CHUNK", CHUNK)))
    threads = int(current_app.config.get("SIGN_THREADS", SIGN_THREADS)) if getattr(signer, "concurrent", False) else 1
    pool = signing_pool(max(1, threads))
    for start in range(0, len(todo), size):
        done, errors = _chunk(batch.kind, todo[start:start + size], signer, actor, pool)
        batch = session.get_one(SheetBatch, batch_id)
        batch.done_ids = [*batch.done_ids, *done]
        batch.errors = [*batch.errors, *errors]
        db.commit()
        if on_progress:
            on_progress(batch.progress)
        tsa_down = next((e["message"] for e in errors if TSA_DOWN in e["message"]), None)
        if tsa_down:                       # the TSA is down: the rest would fail the same way
            return _finish(batch, BatchStatus.failed, message=tsa_down)
    return _finish(batch, BatchStatus.done)


@functools.cache
def signing_pool(threads: int) -> ThreadPoolExecutor:
    """Kept for the worker's life, not made per batch: its threads keep what each parsed once (the stamp's
    font, pades' per-thread faces) from one batch to the next."""
    return ThreadPoolExecutor(threads, thread_name_prefix="sign")


def _chunk(kind: BatchKind, ids: list[int], signer, actor, pool) -> tuple[list[int], list[dict]]:
    """One chunk, in the current transaction: the sheets done and the errors (per sheet, rolled back to that
    sheet's savepoint). SKIP LOCKED: a second worker running the same batch after a requeue leaves the
    sheets this one holds alone."""
    query = select(SummarySheet).where(SummarySheet.id.in_(ids)).with_for_update(skip_locked=True)
    # what each sheet's step reads comes with the chunk's rows, not in a query a sheet: the marks to render,
    # the working PDF to sign
    query = query.options(undefer(SummarySheet.marks if kind is BatchKind.render else SummarySheet.pdf))
    rows = session.scalars(query).all()
    by_id = {s.id: s for s in rows}
    sheets = [by_id[i] for i in ids if i in by_id]
    done: list[int] = []
    errors: list[dict] = []
    with audit.gathered() as entries:
        def step(sheet: SummarySheet, work) -> None:
            mark, savepoint = len(entries), session.begin_nested()
            try:
                work()
                savepoint.commit()
                done.append(sheet.id)
            except (services.SheetFlowError, pades.SigningError) as exc:
                savepoint.rollback()
                del entries[mark:]
                errors.append({"sheet_id": sheet.id, "message": str(exc)})
        if kind is BatchKind.render:
            heading = functools.cache(services.school_heading)      # a chunk's sheets share their school
            teacher_of = _teachers_read_once(sheets)
            for sheet in sheets:
                step(sheet, lambda sheet=sheet: _render(sheet, actor, heading, teacher_of))
            return done, errors
        role = "teacher" if kind is BatchKind.sign_teacher else "director"
        teacher_of = _teachers_read_once(sheets) if kind is BatchKind.sign_teacher else class_teachers.teacher_of
        jobs = {}
        for sheet in sheets:
            if sheet.status in DONE_AFTER[kind]:
                if kind is BatchKind.sign_director:
                    # Signed by an earlier run that died before its archive job was queued (that is sent
                    # only after the commit): hand it over again; the archive ignores what it already has.
                    services.on_final(sheet)
                done.append(sheet.id)
                continue
            try:
                jobs[sheet.id] = services.begin_signing(sheet, role, actor, teacher_of=teacher_of)
            except services.SheetFlowError as exc:
                errors.append({"sheet_id": sheet.id, "message": str(exc)})
        signed = {sheet_id: pool.submit(j.sign, signer) for sheet_id, j in jobs.items()}
        for sheet in sheets:
            if sheet.id in signed:
                future = signed[sheet.id]
                step(sheet, lambda sheet=sheet, future=future:
                     services.finish_signing(sheet, role, signer, future.result(), actor=actor))
    return done, errors


def _hand_over_again(sheet_ids: list[int]) -> None:
    """A run again of a director's batch: the sheets an earlier run signed go to the archive again. Their
    archive jobs are sent after each chunk's commit, so a worker killed in between left their records pending
    for the archive's 15-minute sweep. Idempotent: an archived record, or one whose job waits or runs, is left
    alone (archive.services.requeue)."""
    for sheet in session.scalars(select(SummarySheet).where(SummarySheet.id.in_(sheet_ids))):
        services.on_final(sheet)
    db.commit()


def _teachers_read_once(sheets: list[SummarySheet]):
    """The chunk's class teachers in one query, as `teacher_of` finds them one sheet at a time."""
    found = class_teachers.teachers_of(sheets)
    return lambda sheet: found[sheet.id]


def _render(sheet: SummarySheet, actor, heading, teacher_of) -> None:
    if sheet.status not in DONE_AFTER[BatchKind.render]:
        services.render_pdf(sheet, actor=actor, heading=heading, teacher_of=teacher_of)


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
