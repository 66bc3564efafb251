"""The director's signed readiness statement (PAdES), kept in the archive. They flush; they never commit."""
from __future__ import annotations

import hashlib
from datetime import date

from core import audit, records
from core import files as file_store
from core.clock import MOSCOW, add_years, today
from core.db import session, utcnow
from orgs.models.organisations import Organisation, municipality_of
from transitions.models import (
    Campaign,
    Evidence,
    ReadinessStatement,
    StageDef,
    StageKind,
    StageStatus,
    StatementKind,
)
from transitions.services.common import FIXED_KINDS, PLATFORMS, STATEMENT_RETENTION_YEARS, TransitionError, school_label
from transitions.services.lists import in_final_list
from transitions.services.readiness import latest_statement
from transitions.services.stages import _event, state_for, states_of


def readiness_blockers(c: Campaign, school: Organisation) -> list[StageDef]:
    """Stages before the confirmation that are not accepted yet."""
    states = states_of(c, school)
    out = []
    for stage in c.stages:
        if stage.kind in FIXED_KINDS:
            continue
        st = states.get(stage.id)
        if st is None or st.status is not StageStatus.accepted:
            out.append(stage)
    return out


def statement_data(c: Campaign, school: Organisation, *, kind: StatementKind, director, number: int | None,
                   reason: str | None = None, paperless_from: date | None = None):
    from transitions.statement_pdf import StageLine, StatementData
    states = states_of(c, school)
    lines = []
    for i, stage in enumerate(c.stages, 1):
        if stage.kind in FIXED_KINDS:
            continue
        st = states.get(stage.id)
        ev = st.evidence if st else None
        decided = ""
        if st is not None and st.status is StageStatus.accepted and st.decided_at:
            who = _user_name(st.decided_by_id)
            decided = f"принят {st.decided_at.astimezone(MOSCOW):%d.%m.%Y}" + (f", {who}" if who else "")
        lines.append(StageLine(number=i, title=stage.title, status=(st.status.label if st else "Не начат"),
                               evidence=evidence_summary(ev) if ev else "—", decision=decided))
    municipality = municipality_of(school)
    return StatementData(
        kind=kind.value, number=number, school_name=school.name, school_code=school.code,
        municipality_name=municipality.name if municipality else "", region_name=c.region.name,
        campaign_title=c.title, basis=f"{c.ordinance.label} «{c.ordinance.title}»" if c.ordinance else None,
        target_date=c.target_date, paperless_from=paperless_from or c.target_date,
        director_name=getattr(director, "full_name", ""), director_position=getattr(director, "position", None)
        or "Директор", reason=reason, on=today(), stages=lines)


def _user_name(user_id: int | None) -> str | None:
    from orgs.models.users import User
    if user_id is None:
        return None
    u = session.get(User, user_id)
    return u.full_name if u else None


def evidence_summary(ev: Evidence) -> str:
    parts = []
    if ev.platform:
        parts.append(PLATFORMS.get(ev.platform, ev.platform) if ev.platform != "other"
                     else f"{ev.platform_other} (другая платформа)")
    if ev.order_number:
        parts.append(f"приказ № {ev.order_number}" + (f" от {ev.order_date:%d.%m.%Y}" if ev.order_date else ""))
    if ev.section:
        parts.append(f"раздел «{ev.section}»")
    if ev.url:
        parts.append(ev.url)
    if ev.date_from:
        parts.append(f"с {ev.date_from:%d.%m.%Y}" + (f" по {ev.date_to:%d.%m.%Y}" if ev.date_to else ""))
    if ev.has_file:
        parts.append(f"файл «{ev.filename}» (SHA-256 {(ev.sha256 or '')[:12]}…)")
    if ev.note:
        parts.append(ev.note)
    return "; ".join(parts) or "—"


def preview_statement(c: Campaign, school: Organisation, *, kind: StatementKind, director,
                      reason: str | None = None) -> bytes:
    """The statement as it will be signed (without a number and a signature), for reading first."""
    from transitions.statement_pdf import render_statement
    pdf, _ = render_statement(statement_data(c, school, kind=kind, director=director, number=None, reason=reason))
    return pdf


def sign_statement(c: Campaign, school: Organisation, *, kind: StatementKind, signer, actor,
                   reason: str | None = None, paperless_from: date | None = None,
                   timestamper_url: str | None = None) -> ReadinessStatement:
    """The director signs a readiness statement (or its withdrawal) with PAdES; the signed PDF goes
    to the archive (5 years) and only then does the school's readiness change.

    `signer` is a `pades.Signer` made for this signing session (e.g. from the PKCS#12 the
    director uploaded with its passphrase, which is not kept). Its certificate is checked first, as for
    every signature in a person's name (orgs.signers: trusted, not revoked, a signature key, the
    director's own): a refusal is a TransitionError before anything is written. A
    TSA (`timestamper_url`, TSA_URL) makes it PAdES B-T, and a TSA that fails is an error. A
    confirmation is withdrawn only by a new signed statement of kind «withdraw»."""
    import pades
    from pades.layout import DIRECTOR_FIELD, SheetLayout
    from transitions.statement_pdf import render_statement
    reason = (reason or "").strip() or None
    if not in_final_list(c, school):
        raise TransitionError(f"Школа {school_label(school)} не входит в итоговый перечень кампании.")
    last = latest_statement(c, school)
    readiness = next((s for s in c.stages if s.kind is StageKind.readiness), None)
    paperless = next((s for s in c.stages if s.kind is StageKind.paperless), None)
    if kind is StatementKind.confirm:
        if last is not None and last.kind is StatementKind.confirm:
            raise TransitionError("Готовность уже подтверждена. Чтобы изменить решение, подпишите отзыв.")
        blockers = readiness_blockers(c, school)
        if blockers:
            raise TransitionError(["Подтвердить готовность можно, когда приняты все этапы. Не приняты:"]
                                  + [f"«{s.title}»" for s in blockers])
    else:
        if last is None or last.kind is not StatementKind.confirm:
            raise TransitionError("Отзывать нечего: готовность не подтверждена.")
        if not reason:
            raise TransitionError("Поле «Причина отзыва»: укажите причину.")
        if paperless is not None:
            pst = states_of(c, school).get(paperless.id)
            if pst is not None and pst.status is StageStatus.accepted:
                raise TransitionError("Школа уже перешла на безбумажное ведение (этап принят): отзыв невозможен.")
    if kind is StatementKind.confirm and paperless_from is not None and paperless_from < today():
        raise TransitionError(f"Поле «Безбумажно с»: дата {paperless_from:%d.%m.%Y} уже прошла.")
    # The row needs its id (the statement's number, printed in the PDF) before signing; a savepoint
    # takes it away again if the signature or the archive write fails.
    from orgs.signers import check_signer
    try:
        check_signer(signer.certificate, actor, other_certs=signer.other_certs)
    except pades.SigningError as exc:
        raise TransitionError(str(exc)) from None
    nested = session.begin_nested()
    try:
        st = ReadinessStatement(campaign_id=c.id, school_id=school.id, kind=kind, reason=reason,
                                supersedes_id=last.id if last else None, signed_by_id=actor.id,
                                signature_kind="pades",
                                paperless_from=(paperless_from or c.target_date) if kind is StatementKind.confirm
                                else None)
        session.add(st)
        session.flush()
        data = statement_data(c, school, kind=kind, director=actor, number=st.id, reason=reason,
                              paperless_from=st.paperless_from)
        pdf, box = render_statement(data)
        prepared = pades.prepare_fields(pdf, SheetLayout(pages=box.page + 1, fields=(box,)))
        try:
            signed = pades.sign(prepared, DIRECTOR_FIELD, signer, timestamper_url=timestamper_url)
        except pades.SigningError as exc:
            raise TransitionError(str(exc)) from None
        cert = signer.certificate
        st.signer_name = str(cert.subject.native.get("common_name") or cert.subject.human_friendly)[:300]
        st.cert_serial = format(cert.serial_number, "X")
        _archive_statement(st, signed)
        _register_in_archive(st, school, signed)
    except BaseException:
        nested.rollback()
        raise
    nested.commit()
    state = state_for(c, school, readiness) if readiness is not None else None
    if state is not None:
        before = state.status
        if kind is StatementKind.confirm:
            state.status, state.decided_at, state.decided_by_id, state.comment = \
                StageStatus.accepted, utcnow(), actor.id, None
        else:
            state.status, state.decided_at, state.decided_by_id, state.comment = \
                StageStatus.pending, None, None, reason
        session.flush()
        _event(state, "confirmed" if kind is StatementKind.confirm else "withdrawn", before, actor=actor,
               comment=reason, statement=st)
    session.flush()
    audit.record(f"transition.readiness.{kind.value}", st, actor=actor,
                 after={"sha256": st.sha256, "archive_key": st.storage_key, "retain_until": st.retain_until,
                        "signature": "pades", "cert_serial": st.cert_serial, "signer": st.signer_name,
                        "supersedes_id": st.supersedes_id, "paperless_from": st.paperless_from},
                 campaign_id=c.id, school_id=school.id, reason=reason)
    return st


def _archive_statement(st: ReadinessStatement, pdf: bytes) -> None:
    """Write the signed PDF once into the archive's store, read its hash back, and only then record it."""
    from core.storage import object_key
    retain = add_years(today(), STATEMENT_RETENTION_YEARS)
    try:
        stored = file_store.put_once("archive", object_key(f"readiness-{st.id}", hashlib.sha256(pdf).hexdigest()),
                                     pdf, filename=f"readiness-{st.id}.pdf", content_type="application/pdf",
                                     retain_until=retain,
                                     metadata={"kind": "readiness-statement", "statement": str(st.id)})
    except file_store.FileStoreError:
        raise TransitionError("Заявление не сохранено в архиве (контрольная сумма не совпала или хранилище "
                              "недоступно); повторите подписание.") from None
    st.set_stored(stored)
    st.retain_until = retain


def _register_in_archive(st: ReadinessStatement, school: Organisation, pdf: bytes) -> None:
    """Also a record of the legal archive: searchable by archivists, with the archive timestamp
    (B-LTA) and the fixity checks every record gets. Ingested by a job after the commit."""
    kind = "подтверждение" if st.kind is StatementKind.confirm else "отзыв"
    records.keep(st, kind="readiness_statement", pdf=pdf, source_type="readiness_statement", source_id=st.id,
                 organisation=school, title=f"Заявление о готовности ({kind}) № {st.id}, {school.name}")


def statement_pdf(st: ReadinessStatement) -> bytes:
    """The archived copy, its hash checked against the one recorded at signing."""
    try:
        return file_store.read_verified(st)
    except file_store.FileCorrupt:
        raise TransitionError("Архивная копия заявления повреждена: контрольная сумма не совпадает.") from None
