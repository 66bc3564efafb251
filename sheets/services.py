
"""Summary sheets: from imported marks to a PDF signed by the class teacher, then the director.

Services flush; they never commit (batches commit per sheet in the job runner, see tasks.py).
Pupils' names and marks never go to logs or the audit log: entries name the sheet by id.
"""
import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import lazyload

import pades
from core import audit, records
from core.db import present, session, utcnow
from core.signals import detached_signature, notice
from orgs.models.organisations import Organisation, OrgKind, path_ids
from orgs.models.users import Role, RoleGrant, User
from orgs.signers import check_signer
from pades import gost
from pades.layout import CLASS_TEACHER_FIELD, DIRECTOR_FIELD
from sheets import class_teachers
from sheets.models import SheetStatus, SummarySheet
from sheets.render import render
from sheets.sheet_data import PupilRow, SheetData, marks_by_key, marks_by_subject

log = logging.getLogger(__name__)


class SheetFlowError(ValueError):
    """A step that is not allowed now; the message (Russian) says why."""


# ---- marks in, as JSON in the row ---------------------------------------------------------------------------

def marks_to_json(cm) -> dict:
    """A pupil's marks as {subject: {period: mark}}, as the PDF's attached JSON has them (sheet_data.to_json).
    Not a [subject, period, mark] list a mark: that wrote each subject's name once per mark, twice the bytes,
    and its ≈ 2,000 small lists a class cost ten times as much to build and to read back (measured, issue 20)."""
    return {
        "periods": list(cm.periods), "subjects": list(cm.subjects),
        "council_date": cm.council_date.isoformat() if cm.council_date else None,
        "council_protocol": cm.council_protocol or "",
        "pupils": [{"name": p.name, "marks": marks_by_subject(p.marks),
                    "absences_days": p.absences_days, "absences_lessons": p.absences_lessons,
                    "absences_illness": p.absences_illness, "decision": p.decision} for p in cm.pupils],
    }


def _pupils(marks: dict) -> list[PupilRow]:
    return [PupilRow(name=p["name"], marks=marks_by_key(p["marks"]),
                     absences_days=p["absences_days"], absences_lessons=p["absences_lessons"],
                     absences_illness=p["absences_illness"], decision=p["decision"]) for p in marks["pupils"]]


def import_classes(school: Organisation, school_year: str, classes: dict, *, actor) -> list[SummarySheet]:
    """Create or refresh the draft sheet of each imported class. A signed sheet is never touched:
    correcting it takes a new version (`correct`)."""
    if school.kind is not OrgKind.school:
        raise SheetFlowError("Ведомости ведёт школа: выберите школу.")
    others = [cm.class_name for cm in classes.values()
              if not class_teachers.may_import_class(actor, school, school_year, cm.class_name)]
    if others:   # checked for every class before anything is written
        which = (f"класса {others[0]} загружает его классный руководитель" if len(others) == 1 else
                 f"классов {', '.join(others)} загружают их классные руководители")
        raise SheetFlowError(f"Оценки {which} (или директор, заместитель директора): вы не назначены классным "
                             f"руководителем {'этого класса' if len(others) == 1 else 'этих классов'} "
                             f"на {school_year} учебный год. Ничего не загружено.")
    sheets = []
    found = latest_of_classes(school, school_year, [cm.class_name for cm in classes.values()])
    for cm in classes.values():
        current = found.get(cm.class_name)
        if current is not None and current.status in (SheetStatus.teacher_signed, SheetStatus.signed):
            raise SheetFlowError(f"Ведомость {current.label} уже подписана: исправления — только новой версией "
                                 "с указанием причины.")
        sheet = current or SummarySheet(school=school, school_year=school_year, class_name=cm.class_name,
                                        class_label=getattr(cm, "display_name", None) or cm.class_name,
                                        version=1, created_by_id=actor.id)
        sheet.marks, sheet.status, sheet.pdf, sheet.pdf_sha256 = marks_to_json(cm), SheetStatus.draft, None, None
        session.add(sheet)
        sheets.append(sheet)
    session.flush()
    audit.record("sheets.import", school, actor=actor, school_year=school_year, sheet_ids=[s.id for s in sheets])
    return sheets


def latest_of_classes(school: Organisation, school_year: str, class_names: list[str]) -> dict[str, SummarySheet]:
    """The newest version of each class's sheet, in one query: a query a class made each one flush the sheets
    added before it (autoflush), one INSERT at a time instead of one for all."""
    rows = session.scalars(select(SummarySheet).where(
        SummarySheet.school_id == school.id, SummarySheet.school_year == school_year,
        SummarySheet.class_name.in_(class_names))
        .order_by(SummarySheet.class_name, SummarySheet.version.desc()).ext(distinct_on(SummarySheet.class_name)))
    return {s.class_name: s for s in rows}


def _director(school: Organisation) -> User | None:
    return session.scalar(select(User).options(lazyload(User.grants)).join(RoleGrant, RoleGrant.user_id == User.id)
                          .where(RoleGrant.organisation_id == school.id, RoleGrant.role == Role.director)
                          .order_by(User.id).limit(1))


# ---- render and sign ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SchoolHeading:
    """What a sheet prints about its school: the same for every sheet of a school's batch."""
    region: str
    municipality: str
    school: str
    director: str


def school_heading(school: Organisation) -> SchoolHeading:
    chain = school.ancestors()
    municipality = next((o for o in chain if o.kind is OrgKind.municipality), None)
    region = chain[0] if chain else school
    director = _director(school)
    return SchoolHeading(region=region.name, municipality=municipality.name if municipality else "",
                         school=school.name, director=director.full_name if director else "")


def sheet_data(sheet: SummarySheet, heading=school_heading) -> SheetData:
    """`heading`: how to find the school's heading (a batch passes a memo of `school_heading`)."""
    head = heading(sheet.school)
    teacher = session.get(User, sheet.class_teacher_id) if sheet.class_teacher_id else None
    marks = present(sheet.marks, f"sheet {sheet.id}'s marks")
    return SheetData(
        region=head.region, municipality=head.municipality, school=head.school,
        class_name=sheet.class_label, school_year=sheet.school_year,
        class_teacher=teacher.full_name if teacher else "", director=head.director,
        document_id=sheet.document_id, verify_url=verify_url(sheet),
        periods=marks["periods"], subjects=marks["subjects"], pupils=_pupils(marks),
        council_date=date.fromisoformat(marks["council_date"]) if marks.get("council_date") else None,
        council_protocol=marks.get("council_protocol") or "")


def verify_url(sheet: SummarySheet) -> str:
    """Printed and QR-coded on the sheet, for 25 years: from PUBLIC_URL only, never the request's Host."""
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        raise SheetFlowError(f"Ведомость {sheet.label} не сформирована: не задан PUBLIC_URL — внешний адрес "
                             "сервиса, который печатается в ссылке проверки подлинности. Обратитесь к администратору.")
    return f"{base.rstrip('/')}/verify/{sheet.document_id}"


def render_pdf(sheet: SummarySheet, *, actor=None, heading=school_heading,
               teacher_of=class_teachers.teacher_of) -> None:
    """Render the sheet with both signature fields ready. Only unsigned sheets are (re)rendered.
    `heading`, `teacher_of`: how to find the school's heading and the class teacher (a batch passes what it
    read once for its chunk)."""
    if sheet.status not in (SheetStatus.draft, SheetStatus.rendered):
        raise SheetFlowError(f"Ведомость {sheet.label} уже подписана и не формируется заново.")
    # The class teacher assigned now is printed; only they can certify this rendering (_check_step).
    assigned = teacher_of(sheet)
    sheet.class_teacher_id = assigned.id if assigned else None
    rendered = render(sheet_data(sheet, heading))
    _store(sheet, rendered.pdf)                      # with both empty signature fields (sheets/render.py)
    sheet.status = SheetStatus.rendered
    session.flush()
    audit.record("sheet.render", sheet, actor=actor, sha256=sheet.pdf_sha256)
    if sheet.class_teacher_id:
        notice.send(sheet, kind="sheet.sign", user_ids=[sheet.class_teacher_id], url=f"/sheets/{sheet.id}",
                    text=f"Ведомость {sheet.label} сформирована: проверьте и подпишите её как классный руководитель.")


def _store(sheet: SummarySheet, pdf: bytes) -> None:
    sheet.pdf, sheet.pdf_sha256 = pdf, hashlib.sha256(pdf).hexdigest()


STEP = {  # who signs when: the teacher first (certifying), then the director (locking)
    "teacher": (SheetStatus.rendered, CLASS_TEACHER_FIELD, SheetStatus.teacher_signed, "sheet.sign_teacher"),
    "director": (SheetStatus.teacher_signed, DIRECTOR_FIELD, SheetStatus.signed, "sheet.sign_director"),
}


def working_pdf(sheet: SummarySheet) -> bytes:
    """The sheet's PDF as it stands between signing steps."""
    if sheet.pdf is None:
        raise SheetFlowError(f"Ведомость {sheet.label} ещё не сформирована.")
    return sheet.pdf


def sign(sheet: SummarySheet, role: str, signer: pades.Signer, *, actor, signer_checked: bool = False) -> None:
    """Sign as class teacher or director. The key material stays in `signer` (memory only).
    The certificate is checked first (orgs.signers); `signer_checked`: a batch checked it at its start."""
    job = begin_signing(sheet, role, actor)
    if not signer_checked:
        check_signer(signer.certificate, actor, other_certs=signer.other_certs)
    finish_signing(sheet, role, signer, job.sign(signer), actor=actor)


@dataclass(frozen=True)
class SigningJob:
    """What signing one sheet needs once its checks have passed: bytes in, bytes out, no database, so a
    batch can run several at once while their TSA requests are on the wire."""
    pdf: bytes
    field: str
    certify: bool
    tsa: str | None

    def sign(self, signer: pades.Signer) -> bytes:
        return pades.sign(self.pdf, self.field, signer, timestamper_url=self.tsa, certify=self.certify)


def begin_signing(sheet: SummarySheet, role: str, actor, *, teacher_of=class_teachers.teacher_of) -> SigningJob:
    """The checks of one signing step (order, the class's teacher); raises SheetFlowError. `teacher_of`: how
    to find the class teacher (a batch passes what it read once for its chunk)."""
    field = _check_step(sheet, role, actor, teacher_of)
    return SigningJob(working_pdf(sheet), field, role == "teacher", current_app.config.get("TSA_URL"))


def finish_signing(sheet: SummarySheet, role: str, signer: pades.Signer, signed: bytes, *, actor) -> None:
    _signed(sheet, role, signed, actor=actor, serial=pades.serial_of(signer.certificate),
            tsa=bool(current_app.config.get("TSA_URL")))
    if role == "director" and signer.gost_key is not None:     # the .sig Russian tools check, same key
        attach_detached_signature(sheet, signer.gost_key.sign_cades(signed), actor=actor)


def _check_step(sheet: SummarySheet, role: str, actor, teacher_of=class_teachers.teacher_of) -> str:
    needed, field, _, _ = STEP[role]
    if sheet.status is not needed:
        raise SheetFlowError(_order_message(sheet, role))
    if role == "teacher":
        _check_class_teacher(sheet, actor, teacher_of)
    return field


def _check_class_teacher(sheet: SummarySheet, actor, teacher_of) -> None:
    assigned = teacher_of(sheet)
    if assigned is None:
        raise SheetFlowError(f"Классу {sheet.class_label} ({sheet.school_year}) не назначен классный руководитель: "
                             "его назначает директор или заместитель директора в разделе «Классные руководители».")
    if assigned.id != actor.id:
        raise SheetFlowError(f"Ведомость {sheet.label} подписывает классный руководитель класса — "
                             f"{assigned.full_name}.")
    if sheet.class_teacher_id != actor.id:
        raise SheetFlowError(f"Ведомость {sheet.label} сформирована до назначения классного руководителя "
                             f"{assigned.full_name}: сформируйте её заново, чтобы в ней стояло его имя.")


def _signed(sheet: SummarySheet, role: str, pdf: bytes, *, actor, serial: str, tsa: bool) -> None:
    _, _, after, action = STEP[role]
    _store(sheet, pdf)
    sheet.status = after
    if role == "teacher":
        sheet.teacher_signed_at, sheet.class_teacher_id = utcnow(), actor.id
    else:
        sheet.director_signed_at, sheet.director_id = utcnow(), actor.id
    session.flush()
    audit.record(action, sheet, actor=actor, sha256=sheet.pdf_sha256, tsa=tsa, certificate_serial=serial)
    if role == "teacher":
        notice.send(sheet, kind="sheet.sign", org_ids=[sheet.school_id], action="sheet.sign_director",
                    url=f"/sheets/{sheet.id}", text=f"Ведомость {sheet.label} подписана классным руководителем и ждёт "
                                                    "вашей подписи.")
    on_final(sheet)


# The external signer (GOST keys in CryptoPro): the digest goes out, the CMS comes back. The
# prepared document (pupils' names and marks) waits in Redis between the two calls, encrypted (core.keyvault).
EXTERNAL_TTL = 15 * 60


def _external_key(sheet: SummarySheet, role: str) -> str:
    return f"sheet-external:{sheet.id}:{role}"


def begin_external(sheet: SummarySheet, role: str, cert_der: bytes, *, actor, chain: Sequence[bytes] = ()) -> dict:
    """`chain`: DER of intermediate certificates the signer's client sends with its certificate."""
    import base64
    import json

    from asn1crypto import pem, x509

    from core import keyvault
    field = _check_step(sheet, role, actor)
    try:
        if pem.detect(cert_der):
            _, _, cert_der = pem.unarmor(cert_der)
        cert = x509.Certificate.load(cert_der)
        cert.native  # parse now: a broken certificate fails here, not at embedding
        others = [x509.Certificate.load(c) for c in chain]
        for c in others:
            c.native
    except (ValueError, TypeError) as exc:
        raise SheetFlowError(f"Сертификат не читается: {exc}") from None
    check_signer(cert, actor, other_certs=others)
    digest, state = pades.begin_external(working_pdf(sheet), field, cert, certify=role == "teacher")
    doc = {k: (base64.b64encode(v).decode() if isinstance(v, bytes) else v) for k, v in vars(state).items()}
    keyvault.seal(_external_key(sheet, role), json.dumps(doc).encode(), EXTERNAL_TTL)
    audit.record("sheet.external_begin", sheet, actor=actor, role=role, certificate_serial=pades.serial_of(cert))
    return {"digest": base64.b64encode(digest).decode(), "md_algorithm": state.md_algorithm,
            "signed_bytes": base64.b64encode(state.signed_bytes()).decode()}


def finish_external(sheet: SummarySheet, role: str, cms: bytes, *, actor) -> None:
    import base64
    import json

    from asn1crypto import x509

    from core import keyvault
    from core.jobs import redis_connection
    _check_step(sheet, role, actor)
    raw = keyvault.unseal(_external_key(sheet, role))
    if raw is None:
        raise SheetFlowError("Подготовленный документ не найден или устарел (15 минут): начните подпись заново.")
    doc = json.loads(raw)
    fields: dict[str, Any] = {k: (base64.b64decode(v) if k in ("pdf", "document_digest", "signer_cert") else v)
                              for k, v in doc.items()}
    state = pades.ExternalState(**fields)
    if not state.pdf.startswith(working_pdf(sheet)):   # the prepared revision must extend the current document
        raise SheetFlowError("Документ изменился после подготовки подписи: начните заново.")
    tsa = current_app.config.get("TSA_URL")
    signed = pades.finish_external(state, cms, timestamper_url=tsa)
    redis_connection().delete(_external_key(sheet, role))
    _signed(sheet, role, signed, actor=actor, serial=pades.serial_of(x509.Certificate.load(state.signer_cert)),
            tsa=bool(tsa))


def attach_detached_signature(sheet: SummarySheet, cms: bytes, *, actor) -> None:
    """Keep the director's detached CAdES over the final PDF (the .sig Госуслуги and КриптоАРМ check),
    after checking it is over exactly this PDF, by the certificate of the director's PDF signature."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    if sheet.status is not SheetStatus.signed or sheet.pdf is None:
        raise SheetFlowError(f"Ведомость {sheet.label} ещё не подписана директором.")
    if sheet.director_id != actor.id:
        raise SheetFlowError(f"Отдельную подпись к ведомости {sheet.label} добавляет подписавший её директор.")
    director = next(s for s in PdfFileReader(io.BytesIO(sheet.pdf)).embedded_regular_signatures
                    if s.field_name == DIRECTOR_FIELD)
    pades.check_detached_cms(cms, sheet.pdf, gost.embedded_signer_cert(director))
    sheet.detached_sig = cms
    audit.record("sheet.detached_signature", sheet, actor=actor, sha256=hashlib.sha256(cms).hexdigest())
    detached_signature.send(sheet, kind="summary_sheet", cms=cms)


def _order_message(sheet: SummarySheet, role: str) -> str:
    if sheet.status is SheetStatus.draft:
        return f"Ведомость {sheet.label} ещё не сформирована."
    if role == "director" and sheet.status is SheetStatus.rendered:
        return f"Ведомость {sheet.label} сначала подписывает классный руководитель."
    if sheet.status is SheetStatus.superseded:
        return f"Ведомость {sheet.label} заменена новой версией."
    return f"Ведомость {sheet.label} уже подписана ({sheet.status.label.lower()})."


def on_final(sheet: SummarySheet) -> None:
    """A sheet signed by the director goes to the legal archive (a pending record now, ingest after the commit)."""
    if sheet.status is SheetStatus.signed:
        records.keep(sheet, kind="summary_sheet")


def correct(sheet: SummarySheet, classes_or_marks, *, reason: str, actor) -> SummarySheet:
    """A correction of a signed sheet: a new version supersedes it; the old one stays as signed."""
    reason = (reason or "").strip()
    if not reason:
        raise SheetFlowError("Укажите причину исправления.")
    if sheet.status is not SheetStatus.signed:
        raise SheetFlowError("Исправляется подписанная ведомость; неподписанную можно загрузить заново.")
    marks = classes_or_marks if isinstance(classes_or_marks, dict) else marks_to_json(classes_or_marks)
    new = SummarySheet(school=sheet.school, school_year=sheet.school_year, class_name=sheet.class_name,
                       class_label=sheet.class_label, version=sheet.version + 1, supersedes=sheet,
                       correction_reason=reason, marks=marks, class_teacher_id=sheet.class_teacher_id,
                       created_by_id=actor.id, status=SheetStatus.draft)
    sheet.status = SheetStatus.superseded
    session.add(new)
    session.flush()
    audit.record("sheet.correct", new, actor=actor, supersedes=sheet.id, reason=reason)
    _tell_archivists_of_correction(sheet, new)
    return new


def _tell_archivists_of_correction(old: SummarySheet, new: SummarySheet) -> None:
    """The archived copy of `old` stays, but it is no longer the sheet in force: its keepers should know."""
    from urllib.parse import urlencode
    school = old.school
    holders = path_ids(school.path)
    query = urlencode({"school": school.id, "year": old.school_year, "class": old.class_name})
    notice.send(new, kind="sheet.corrected", org_ids=holders, action="archive.hold", url=f"/archive/?{query}",
                text=f"Подписанная ведомость {old.class_label} ({old.school_year}, {school.display_name}) "
                     f"исправляется: версия {old.version} заменяется версией {new.version}. "
                     f"Причина: {(new.correction_reason or '')[:200]}. Архивная запись прежней версии сохраняется, "
                     f"новая поступит после подписи директора.")


def batch_failed(batch) -> None:
    """Tell whoever started a batch that it stopped (the page says why)."""
    notice.send(batch, kind="sheet.batch", user_ids=[batch.requested_by_id], url=f"/sheets/batches/{batch.id}",
                text=f"Пакет № {batch.id} ({batch.kind.label}, {batch.school_year}) прерван: "
                     f"{(batch.errors[-1]['message'] if batch.errors else 'см. страницу пакета')[:300]}")


def to_json(sheet: SummarySheet) -> dict:
    teacher = class_teachers.teacher_of(sheet)
    return {"class_teacher": {"id": teacher.id, "full_name": teacher.full_name} if teacher else None,
            "certified_by_id": sheet.class_teacher_id if sheet.teacher_signed_at else None,
            "id": sheet.id, "document_id": sheet.document_id, "school_id": sheet.school_id,
            "school_year": sheet.school_year, "class_name": sheet.class_name, "class_label": sheet.class_label,
            "version": sheet.version, "supersedes_id": sheet.supersedes_id, "status": sheet.status.value,
            "pdf_sha256": sheet.pdf_sha256,
            "teacher_signed_at": sheet.teacher_signed_at.isoformat() if sheet.teacher_signed_at else None,
            "director_signed_at": sheet.director_signed_at.isoformat() if sheet.director_signed_at else None}


# ---- batches ------------------------------------------------------------------------------------------------

def waiting_ids(kind, org: Organisation, school_year: str, *, actor) -> list[int]:
    """The sheets of `org`'s subtree for `school_year` waiting for this step (a teacher's: their classes)."""
    from orgs.models.organisations import subtree
    from sheets.models import BatchKind, ClassTeacher
    waiting = {BatchKind.render: (SheetStatus.draft, SheetStatus.rendered),
               BatchKind.sign_teacher: (SheetStatus.rendered,),
               BatchKind.sign_director: (SheetStatus.teacher_signed,)}[kind]
    stmt = select(SummarySheet.id).join(Organisation, SummarySheet.school_id == Organisation.id).where(
        subtree(org), SummarySheet.school_year == school_year, SummarySheet.status.in_(waiting))
    if kind is BatchKind.sign_teacher:   # a teacher signs the sheets of their own classes only
        stmt = stmt.join(ClassTeacher, (ClassTeacher.school_id == SummarySheet.school_id)
                         & (ClassTeacher.school_year == SummarySheet.school_year)
                         & (ClassTeacher.class_name == SummarySheet.class_name)).where(ClassTeacher.user_id == actor.id)
    return list(session.scalars(stmt.order_by(SummarySheet.id)))


def start_batch(kind, org: Organisation, school_year: str, *, actor, pkcs12: bytes | None = None,
                passphrase: str | None = None, in_process: bool = False, signer: pades.Signer | None = None):
    """Queue a batch over the sheets of `org`'s subtree for `school_year` waiting for this step.

    The key material (signing batches) is checked here, so a wrong passphrase is refused at
    once, then handed to the worker encrypted (signing/keyvault.py) after the commit.
    `in_process`: the caller runs it itself with a signer it holds (a PKCS#11 token in the CLI);
    nothing is queued and no key material leaves the process."""
    from core import keyvault
    from core.db import on_commit
    from core.jobs import enqueue_after_commit
    from sheets.models import BatchKind, SheetBatch
    from sheets.tasks import run_batch
    ids = waiting_ids(kind, org, school_year, actor=actor)
    if not ids:
        raise SheetFlowError("Нет ведомостей, ожидающих этого шага.")
    if kind is not BatchKind.render and not in_process:
        if pkcs12 is None:
            raise SheetFlowError("Выберите файл ключа (PKCS#12) и введите пароль.")
        signer = pades.PKCS12Signer(pkcs12, passphrase)    # raises SigningError on a wrong passphrase
    if kind is not BatchKind.render and signer is not None:   # before the batch is written
        check_signer(signer.certificate, actor, other_certs=signer.other_certs)
    batch = SheetBatch(kind=kind, organisation_id=org.id, school_year=school_year, sheet_ids=ids,
                       requested_by_id=actor.id)
    session.add(batch)
    session.flush()
    audit.record("sheets.batch", batch, actor=actor, kind=kind.value, organisation_id=org.id, count=len(ids))
    if in_process:
        return batch
    batch_id = batch.id
    if kind is not BatchKind.render and pkcs12 is not None:    # required above for signing batches
        unlocked = signer.unlocked() if isinstance(signer, pades.PKCS12Signer) else None
        material = keyvault.KeyMaterial(unlocked=unlocked) if unlocked is not None else \
            keyvault.KeyMaterial(pkcs12=pkcs12, passphrase=passphrase or "")
        on_commit(lambda: _unqueued_on_error(batch_id, lambda: keyvault.put(batch_id, material)))
    from sheets.tasks import batch_job_failed
    on_commit(lambda: _unqueued_on_error(batch_id, lambda: enqueue_after_commit(
        run_batch, batch_id, queue_name="signing", job_id=f"sheet-batch-{batch_id}", on_failure=batch_job_failed)))
    return batch


def _unqueued_on_error(batch_id: int, send) -> None:
    """After the batch's commit: hand it to the queue, or — Redis unreachable — mark it failed with a
    clear message, so it never waits "queued" forever; its sheets still wait, so it can be started again."""
    from redis.exceptions import RedisError

    from core import db
    from sheets.models import BatchStatus, SheetBatch
    batch = session.get(SheetBatch, batch_id)
    if batch is None or batch.status is not BatchStatus.queued:
        return                                     # an earlier step of this hand-over failed already
    try:
        send()
        db.commit()                                # runs the enqueue that `send` registered, if any
    except RedisError as exc:
        log.warning("batch %s not queued: %s", batch_id, type(exc).__name__)
        db.rollback()
        batch = session.get_one(SheetBatch, batch_id)
        batch.status, batch.finished_at = BatchStatus.failed, utcnow()
        batch.errors = [*batch.errors, {"sheet_id": None, "message":
                        "Очередь заданий недоступна, пакет не запущен. Запустите его ещё раз."}]
        batch_failed(batch)
        db.commit()
