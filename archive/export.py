"""Certified export (заверенная выгрузка): a ZIP of the selected records' PDFs as stored, their
manifests, and an inventory (опись) — opis.json with every file's SHA-256, and opis.pdf listing the
same, signed PAdES with the archive's service key. Every record exported is written to the access
log with the purpose given.

    export-<date>-<n>/records/<id>/<sha256>.pdf     the archived object, byte for byte
    export-<date>-<n>/records/<id>/<sha256>.json    its manifest
    export-<date>-<n>/opis.json                     the inventory, machine-readable
    export-<date>-<n>/opis.pdf                      the inventory, signed
"""
import hashlib
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

from flask import current_app

from archive.ingest import software_version
from archive.models import ArchiveRecord, RecordStatus
from archive.services import ArchiveError, log_access
from core import audit
from core.db import present, utcnow

MAX_RECORDS = 200


@dataclass
class Export:
    name: str
    data: bytes
    inventory: dict


def signed_revision(pdf: bytes, sha256: str) -> bytes:
    """The revision of an archived PDF (B-LTA: later revisions appended) whose SHA-256 is `sha256`."""
    end = pdf.find(b"%%EOF")
    while end != -1:
        for cut in (end + 5, end + 6, end + 7):            # the end-of-line after %%EOF, if any
            if hashlib.sha256(pdf[:cut]).hexdigest() == sha256:
                return pdf[:cut]
        end = pdf.find(b"%%EOF", end + 5)
    raise ArchiveError("В архивной копии нет редакции, над которой сделана подпись .sig")


def _read_checked(storage, key: str, sha256: str | None, what: str, record_id: int) -> bytes:
    """A stored file of the record (`what`: how the message names it), checked against its SHA-256."""
    from core.storage import StorageError
    try:
        data = storage.get(key)
    except StorageError as e:
        raise ArchiveError(f"{what} документа № {record_id} не прочитан(а) из хранилища: {e}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ArchiveError(f"Документ № {record_id}: {what.lower()} в хранилище не совпадает с контрольной суммой — "
                           "выгрузка остановлена, нужна проверка целостности.")
    return data


def _read_detached_signature(storage, r: ArchiveRecord) -> bytes:
    return _read_checked(storage, present(r.detached_sig_key, "sig key"), r.detached_sig_sha256, "Подпись .sig", r.id)


def _read_evidence(storage, r: ArchiveRecord) -> bytes | None:
    """The stored .ers of the record's current object, or None when it has none (yet)."""
    from sqlalchemy import select

    from archive.models import RecordEvidence
    from core.db import session
    ev = session.scalar(select(RecordEvidence).where(RecordEvidence.record_id == r.id))
    if ev is None or ev.key is None or ev.sha256 != r.sha256:
        return None
    return _read_checked(storage, ev.key, ev.ers_sha256, "Доказательство сохранности (.ers)", r.id)


def build(records: list[ArchiveRecord], purpose: str, *, user) -> Export:
    from archive.documents import render_table, seal_signer, sign_pdf
    from core.storage import StorageError, get_storage
    if not (purpose or "").strip():
        raise ArchiveError("Укажите цель выгрузки: она записывается в журнал доступа.")
    if not records:
        raise ArchiveError("Выберите документы для выгрузки.")
    if len(records) > MAX_RECORDS:
        raise ArchiveError(f"За один раз выгружается не более {MAX_RECORDS} документов.")
    not_archived = [r.id for r in records if r.status is not RecordStatus.archived]
    if not_archived:
        raise ArchiveError(f"Не в архиве (ожидают передачи или уничтожены): № {', '.join(map(str, not_archived))}.")
    seal = seal_signer()                      # fail before reading anything
    storage = get_storage()
    now = utcnow()
    export_id = uuid.uuid4().hex[:12]
    name = f"export-{now:%Y%m%d}-{export_id}"
    files: dict[str, bytes] = {}
    items: list[dict[str, Any]] = []
    for r in sorted(records, key=lambda r: r.id):
        try:
            pdf, manifest = storage.get(present(r.key, "key")), storage.get(present(r.manifest_key, "manifest key"))
        except StorageError as e:
            raise ArchiveError(f"Документ № {r.id} не прочитан из хранилища: {e}") from None
        if hashlib.sha256(pdf).hexdigest() != r.sha256:
            raise ArchiveError(f"Документ № {r.id}: объект в хранилище не совпадает с контрольной суммой — "
                               "выгрузка остановлена, нужна проверка целостности.")
        pdf_name, man_name = f"records/{r.id}/{r.sha256}.pdf", f"records/{r.id}/{r.sha256}.json"
        files[pdf_name], files[man_name] = pdf, manifest
        listed = [{"name": pdf_name, "sha256": r.sha256, "size": len(pdf)},
                  {"name": man_name, "sha256": hashlib.sha256(manifest).hexdigest(), "size": len(manifest)}]
        if r.detached_sig_key:        # the .sig covers the document as signed: its revision, and the .sig
            sig, signed = _read_detached_signature(storage, r), signed_revision(pdf, present(r.source_sha256, "src"))
            signed_name = f"records/{r.id}/{r.source_sha256}.pdf"
            files[signed_name], files[signed_name + ".sig"] = signed, sig
            listed += [{"name": signed_name, "sha256": r.source_sha256, "size": len(signed)},
                       {"name": signed_name + ".sig", "sha256": r.detached_sig_sha256, "size": len(sig)}]
        ers = _read_evidence(storage, r)
        if ers is not None:            # the evidence record (RFC 4998) over this very PDF, for any ERS validator
            files[pdf_name + ".ers"] = ers
            listed.append({"name": pdf_name + ".ers", "sha256": hashlib.sha256(ers).hexdigest(), "size": len(ers)})
        items.append({"record_id": r.id, "title": r.title, "document_class": r.kind.value,
                      "school_year": r.school_year,
                      "retention_until": present(r.retention_until, "retention").isoformat(), "files": listed})
    inventory = {"format": "journals-archive-export/1", "export_id": export_id, "created_at": now.isoformat(),
                 "created_by": user.login, "purpose": purpose.strip(), "records": items,
                 "software": software_version()}
    opis_json = json.dumps(inventory, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    rows = [[str(i), f"№ {it['record_id']}. {it['title']}", f['name'], f['sha256']]
            for i, it in enumerate(items, 1) for f in it["files"]]
    rows.append([str(len(rows) + 1), "Опись в машиночитаемом виде", "opis.json", hashlib.sha256(opis_json).hexdigest()])
    from core.filters import ru_datetime
    pdf = render_table(
        "ОПИСЬ\nдокументов заверенной выгрузки из электронного архива",
        [f"Выгрузка: {name}", f"Составлена: {ru_datetime(now)} (МСК), пользователь {user.full_name} ({user.login})",
         f"Цель: {purpose.strip()}", f"Документов: {len(items)}, файлов: {len(rows)}"],
        ["№", "Документ", "Файл", "SHA-256"], rows, [4, 34, 30, 32],
        ["Подлинность файлов подтверждается совпадением их SHA-256 с указанными в описи; опись подписана "
         "служебной электронной подписью архива."],
        subject=f"Опись выгрузки {name}")
    signed = sign_pdf(pdf, seal, field_name="ArchiveSeal", reason=f"Опись выгрузки {name}",
                      tsa_url=current_app.config.get("TSA_URL"))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:   # PDFs are compressed already
        for fname, data in files.items():
            z.writestr(f"{name}/{fname}", data)
        z.writestr(f"{name}/opis.json", opis_json)
        z.writestr(f"{name}/opis.pdf", signed)
    for r in records:
        log_access(r, "export", purpose, user=user, export_id=export_id, sha256=r.sha256)
    from archive.tasks import anchor_audit
    from core.jobs import enqueue_after_commit
    audit.record("archive.export", object_type="Export", object_id=export_id, records=len(records))
    enqueue_after_commit(anchor_audit, "export", queue_name="archive")     # the chain's head, out of reach
    return Export(name=name, data=out.getvalue(), inventory=inventory)
