"""Each school's stages: evidence submitted by the school, accepted or returned by the level above.
They flush; they never commit."""
from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import PurePath
from urllib.parse import urlsplit

from sqlalchemy import select

from core import audit
from core import files as file_store
from core.clock import today
from core.db import session, utcnow
from core.files import EVIDENCE_SUFFIXES, MAX_EVIDENCE_FILE
from core.signals import notice
from orgs.models.organisations import Organisation
from transitions.models import (
    Campaign,
    Evidence,
    SchoolStage,
    StageDef,
    StageEvent,
    StageKind,
    StageStatus,
)
from transitions.services.common import PARENTS_SECTION, PLATFORMS, TransitionError, school_label
from transitions.services.lists import in_final_list
from transitions.services.readiness import is_ready


def states_of(c: Campaign, school: Organisation) -> dict[int, SchoolStage]:
    return {s.stage_id: s for s in session.scalars(select(SchoolStage).where(SchoolStage.campaign_id == c.id,
                                                                             SchoolStage.school_id == school.id))}


def state_for(c: Campaign, school: Organisation, stage: StageDef) -> SchoolStage:
    state = session.scalar(select(SchoolStage).where(SchoolStage.school_id == school.id,
                                                     SchoolStage.stage_id == stage.id))
    if state is None:
        state = SchoolStage(campaign_id=c.id, stage=stage, school=school, status=StageStatus.pending)
        session.add(state)
        session.flush()
    return state


def _event(state: SchoolStage, action: str, before: StageStatus, *, actor, comment=None, evidence=None,
           statement=None) -> StageEvent:
    ev = StageEvent(state=state, action=action, from_status=before.value, to_status=state.status.value,
                    actor_id=getattr(actor, "id", None), comment=comment,
                    evidence_id=evidence.id if evidence else None, statement_id=statement.id if statement else None)
    session.add(ev)
    state.updated_at = utcnow()
    return ev


def _parse_date(value, label: str, errors: list[str]) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    errors.append(f"Поле «{label}»: неверная дата «{text}» (нужно ДД.ММ.ГГГГ).")
    return None


def check_url(url: str, label: str = "Адрес") -> str | None:
    """A Russian message if `url` is not an absolute http(s) address with a host, else None."""
    if any(ch.isspace() for ch in url):
        return f"Поле «{label}»: в адресе не должно быть пробелов."
    try:
        parts = urlsplit(url)
        port = parts.port     # raises on a bad port
    except ValueError:
        return f"Поле «{label}»: «{url}» — неверный адрес."
    del port
    if parts.scheme.lower() not in ("http", "https"):
        return f"Поле «{label}»: адрес должен начинаться с http:// или https:// («{url}»)."
    host = parts.hostname or ""
    if not host or "." not in host.strip(".") or not re.fullmatch(r"[\w.-]+", host):
        return f"Поле «{label}»: в адресе «{url}» нет имени сайта."
    return None


def _norm_section(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[«»\"'“”„]", "", text)).strip().lower()


def _check_evidence(stage: StageDef, data: dict, has_file: bool) -> tuple[dict, list[str]]:
    """Validate a submission for `stage`; returns the clean Evidence fields and the errors."""
    errors: list[str] = []
    s = lambda k: (str(data.get(k) or "")).strip() or None   # noqa: E731
    out: dict = {"order_number": s("order_number"), "url": s("url"), "section": s("section"),
           "platform": s("platform"), "platform_other": s("platform_other"), "note": s("note")}
    out["order_date"] = _parse_date(data.get("order_date"), "Дата приказа", errors)
    out["date_from"] = _parse_date(data.get("date_from"), "Дата начала" if stage.kind is StageKind.trial
                                   else "Дата перехода", errors)
    out["date_to"] = _parse_date(data.get("date_to"), "Дата окончания", errors)
    if out["order_number"] and len(out["order_number"]) > 100:
        errors.append("Поле «Номер приказа»: не длиннее 100 символов.")
    if (out["order_number"] is None) != (out["order_date"] is None) and not errors:
        errors.append("Укажите и номер, и дату приказа.")
    if out["order_date"] and out["order_date"] > today():
        errors.append(f"Поле «Дата приказа»: дата {out['order_date']:%d.%m.%Y} ещё не наступила.")
    if out["url"]:
        if len(out["url"]) > 1000:
            errors.append("Поле «Адрес»: не длиннее 1000 символов.")
        elif msg := check_url(out["url"]):
            errors.append(msg)
    kind = stage.kind
    if kind is StageKind.document:
        if stage.requires_order and not (out["order_number"] and out["order_date"]):
            errors.append("Укажите номер и дату приказа (документа).")
        if stage.requires_file and not has_file:
            errors.append("Приложите файл документа.")
        if not (out["order_number"] or has_file or out["url"]):
            errors.append("Укажите реквизиты документа (номер и дату), приложите файл или дайте ссылку.")
    elif kind is StageKind.platform:
        if out["platform"] not in PLATFORMS:
            errors.append("Поле «Платформа»: выберите Дневник.ру, 1С:ХроноГраф Школа, ЭОР РТ или другую.")
        elif out["platform"] == "other" and not out["platform_other"]:
            errors.append("Поле «Другая платформа»: укажите название платформы.")
        if out["platform"] != "other":
            out["platform_other"] = None
    elif kind is StageKind.parents_link:
        if not out["url"]:
            errors.append("Поле «Адрес»: укажите адрес страницы раздела «Муниципальная услуга» на сайте школы.")
        if not out["section"]:
            errors.append("Поле «Раздел сайта»: укажите раздел, где размещена ссылка (должен быть «Муниципальная "
                          "услуга»).")
        elif _norm_section(out["section"]) != _norm_section(PARENTS_SECTION):
            errors.append(f"Поле «Раздел сайта»: ссылка для родителей размещается в разделе «{PARENTS_SECTION}» "
                          f"(приказ № 271, п. 3.4), указано «{out['section']}».")
        else:
            out["section"] = PARENTS_SECTION
    elif kind is StageKind.trial:
        if out["date_from"] is None and not any("Дата начала" in e for e in errors):
            errors.append("Поле «Дата начала»: укажите, с какого числа журналы ведутся в электронном виде.")
        elif out["date_from"] and out["date_from"] > today():
            errors.append(f"Поле «Дата начала»: дата {out['date_from']:%d.%m.%Y} ещё не наступила.")
        if out["date_from"] and out["date_to"] and out["date_to"] < out["date_from"]:
            errors.append("Поле «Дата окончания»: раньше даты начала.")
    elif kind is StageKind.paperless:
        if out["date_from"] is None and not any("Дата перехода" in e for e in errors):
            errors.append("Поле «Дата перехода»: укажите дату, с которой журналы ведутся только в электронном виде.")
    return out, errors


def submit_evidence(c: Campaign, school: Organisation, stage: StageDef, data: dict, *,
                    file: tuple[str, bytes] | None = None, actor=None) -> Evidence:
    """The school's evidence for a stage; the stage goes to the municipality for acceptance."""
    if stage.campaign_id != c.id:
        raise TransitionError("Этап не относится к этой кампании.")
    if stage.kind is StageKind.readiness:
        raise TransitionError("Готовность подтверждается заявлением директора с электронной подписью.")
    if not in_final_list(c, school):
        raise TransitionError(f"Школа {school_label(school)} не входит в итоговый перечень кампании.")
    state = state_for(c, school, stage)
    if state.status is StageStatus.accepted:
        raise TransitionError(f"Этап «{stage.title}» уже принят.")
    if stage.kind is StageKind.paperless and not is_ready(c, school):
        raise TransitionError("Сначала директор подтверждает готовность подписанным заявлением.")
    if file is not None and not file[1]:
        file = None
    fields_, errors = _check_evidence(stage, data, file is not None)
    stored = None
    if file is not None:
        name, raw = file
        name = file_store.safe_filename(name)
        suffix = PurePath(name).suffix.lower()
        if len(raw) > MAX_EVIDENCE_FILE:
            errors.append(f"Файл «{name}» больше {MAX_EVIDENCE_FILE // (1024 * 1024)} МБ.")
        elif suffix not in EVIDENCE_SUFFIXES:
            errors.append(f"Файл «{name}»: тип «{suffix or 'без расширения'}» не принимается (нужен PDF, скан "
                          f"JPG/PNG, DOCX, ODT, XLSX, TXT или ZIP).")
        elif not errors:
            stored = _store_evidence_file(c, school, name, raw, EVIDENCE_SUFFIXES[suffix])
    if errors:
        raise TransitionError(errors)
    ev = Evidence(state_id=state.id, created_by_id=getattr(actor, "id", None), **fields_)
    if stored:
        ev.set_stored(stored)
    state.evidences.append(ev)
    before = state.status
    state.status, state.comment = StageStatus.submitted, None
    state.decided_at, state.decided_by_id = None, None
    session.flush()
    _event(state, "submitted", before, actor=actor, evidence=ev)
    session.flush()
    audit.record("transition.stage.submit", state, actor=actor, before={"status": before.value},
                 after={"status": state.status.value, "evidence_id": ev.id, "stage": stage.code,
                        "file_sha256": ev.sha256},
                 campaign_id=c.id, school_id=school.id)
    return ev


def _store_evidence_file(c: Campaign, school: Organisation, name: str, raw: bytes,
                         content_type: str) -> file_store.Stored:
    """Write the file once into the ordinary files store (content-addressed, so a retry reuses it)."""
    key = file_store.content_key(f"transition-evidence/{c.id}/{school.id}", raw, PurePath(name).suffix.lower())
    try:
        return file_store.put_once("files", key, raw, filename=name, content_type=content_type,
                                   metadata={"kind": "transition-evidence", "campaign": str(c.id),
                                             "school": str(school.id)})
    except file_store.FileStoreError as exc:
        raise TransitionError(str(exc)) from None


def evidence_file(ev: Evidence) -> bytes:
    try:
        return file_store.read_verified(ev)
    except file_store.FileCorrupt as exc:
        raise TransitionError(str(exc)) from None


def decide(state: SchoolStage, *, accept: bool, comment: str | None = None, actor=None) -> None:
    """The municipality accepts the evidence, or returns it with a comment."""
    comment = (comment or "").strip() or None
    if state.stage.kind is StageKind.readiness:
        raise TransitionError("Готовность подтверждает директор подписанным заявлением; принимать её не нужно.")
    if state.status is not StageStatus.submitted:
        raise TransitionError(f"Этап «{state.stage.title}» не ждёт проверки (состояние: {state.status.label}).")
    if not accept and not comment:
        raise TransitionError("Укажите, что исправить: возврат без комментария не допускается.")
    before = state.status
    state.status = StageStatus.accepted if accept else StageStatus.returned
    state.decided_at, state.decided_by_id, state.comment = utcnow(), getattr(actor, "id", None), comment
    session.flush()
    _event(state, "accepted" if accept else "returned", before, actor=actor, comment=comment,
           evidence=state.evidence)
    session.flush()
    audit.record("transition.stage.accept" if accept else "transition.stage.return", state, actor=actor,
                 before={"status": before.value}, after={"status": state.status.value, "comment": comment},
                 campaign_id=state.campaign_id, school_id=state.school_id, stage=state.stage.code)
    if not accept:
        notice.send(state, kind="transition.stage.return", org_ids=[state.school_id], action="transition.submit",
                    text=f"Этап «{state.stage.title}» возвращён на доработку: {comment}",
                    url=f"/transitions/{state.campaign_id}/schools/{state.school_id}")
