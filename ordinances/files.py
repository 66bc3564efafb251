"""An ordinance's documents as files: the signed order (PDF of the приказ) and the file of each attachment
(приложение № N), and their hand-over to the legal archive. Services flush; they never commit.

Life of a file (see workflow/models/ordinance_files.py for where the bytes are):

- draft ordinance: upload, replace (upload to the same slot) and remove freely; the bytes are in the row;
- put in force (`archive_all`, on the `ordinance_in_force` signal of `services.set_status`,
                same transaction): every file
  goes to the archive with `archive.services.register_document` (RecordKind.order for the order,
  RecordKind.attachment for attachments; retention by document class) and the row's own copy is cleared;
- not a draft any more: a file for an empty slot (an attachment listed in the text, or the order itself) is
  archived at once; replacing or removing is refused — the ordinance changes only by a new one that amends it.

Only PDFs are accepted (the archive copy is a PDF): the bytes are opened with pyHanko's reader, the one the
archive's B-LTA timestamp uses, and an encrypted file is refused. Every change is audited.
"""
import hashlib
from dataclasses import dataclass, field
from io import BytesIO

from flask import current_app
from sqlalchemy import select

from core import audit, records
from core.db import session, utcnow
from ordinances.models.files import ROLE_ATTACHMENT, ROLE_ORDER, OrdinanceFile
from ordinances.models.ordinances import Attachment, Ordinance

DEFAULT_MAX_BYTES = 20 * 1024 * 1024     # app.config["ORDINANCE_FILE_MAX_BYTES"] (app/config.py)
SOURCE_ORDER = "ordinance_document"
SOURCE_ATTACHMENT = "ordinance_attachment"
FROZEN = ("Документ уже введён в действие: его файлы нельзя заменить или удалить — изменения вносятся "
          "новым документом.")


class OrdinanceFileError(ValueError):
    """A Russian message naming the file and what is wrong; nothing has been written when it is raised."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.code = code


class StoredFileCorrupt(RuntimeError):
    """The row's bytes no longer match their SHA-256: an integrity fault, not bad input."""


def max_bytes() -> int:
    return int(current_app.config.get("ORDINANCE_FILE_MAX_BYTES") or DEFAULT_MAX_BYTES)


def size_label(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} МБ" if n >= 1024 * 1024 else f"{max(1, n // 1024)} КБ"


def safe_filename(name: str | None) -> str:
    """The uploader's file name for display and download: no directories (either slash), no control or
    bidi characters, not "." or "..", at most 300 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()[:300]
    return name if name.strip(". ") else "документ.pdf"


def check_pdf(data: bytes, filename: str) -> None:
    """Raise OrdinanceFileError unless `data` is a readable, unencrypted PDF with pages, within the size limit."""
    from pyhanko.pdf_utils.misc import PdfError, PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader
    limit = max_bytes()
    if not data:
        raise OrdinanceFileError(f"Файл «{filename}» пустой.", "empty")
    if len(data) > limit:
        raise OrdinanceFileError(f"Файл «{filename}» слишком большой: допускается не больше {size_label(limit)}.",
                                 "too_large")
    if b"%PDF-" not in data[:1024]:
        raise OrdinanceFileError(f"Файл «{filename}» не является PDF: в архив принимаются только документы "
                                 "в формате PDF (сохраните или отсканируйте документ в PDF).", "not_pdf")
    try:
        reader = PdfFileReader(BytesIO(data))
        encrypted = reader.encrypted
        pages = None if encrypted else int(reader.root["/Pages"]["/Count"])
    except (PdfReadError, PdfError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        raise OrdinanceFileError(f"Файл «{filename}» повреждён: PDF не читается. Сохраните документ в PDF "
                                 "заново и загрузите ещё раз.", "broken") from None
    if encrypted:
        raise OrdinanceFileError(f"Файл «{filename}» защищён паролем (зашифрован): архивная копия должна "
                                 "открываться без пароля. Сохраните PDF без защиты и загрузите снова.",
                                 "encrypted")
    if pages is None or pages < 1:
        raise OrdinanceFileError(f"Файл «{filename}»: в PDF нет ни одной страницы.", "broken")


# ---- reading ------------------------------------------------------------------------------------------------

def files_of(o: Ordinance) -> list[OrdinanceFile]:
    return list(session.scalars(select(OrdinanceFile).where(OrdinanceFile.ordinance_id == o.id)
                                .order_by(OrdinanceFile.role.desc(), OrdinanceFile.id)))


def get_file(o: Ordinance, file_id: int) -> OrdinanceFile | None:
    f = session.get(OrdinanceFile, file_id)
    return f if f is not None and f.ordinance_id == o.id else None


def _slot(o: Ordinance, role: str, number: str | None) -> OrdinanceFile | None:
    return session.scalar(select(OrdinanceFile).where(
        OrdinanceFile.ordinance_id == o.id, OrdinanceFile.role == role,
        OrdinanceFile.attachment_number.is_(None) if number is None else OrdinanceFile.attachment_number == number))


@dataclass
class Slot:
    """A place for a file on the ordinance page: the order itself or one attachment."""
    role: str
    number: str | None
    title: str
    file: OrdinanceFile | None
    in_text: bool = True                    # an attachment row of the ordinance (False: its row was removed)

    @property
    def key(self) -> str:
        return "order" if self.role == ROLE_ORDER else f"attachment:{self.number}"


@dataclass
class Panel:
    slots: list[Slot] = field(default_factory=list)

    @property
    def files(self) -> list[OrdinanceFile]:
        return [s.file for s in self.slots if s.file is not None]

    def empty_slots(self) -> list[Slot]:
        return [s for s in self.slots if s.file is None]


def panel(o: Ordinance) -> Panel:
    """The order, every numbered attachment of the text, and files whose attachment row was edited away."""
    files = files_of(o)
    by_number = {f.attachment_number: f for f in files if f.role == ROLE_ATTACHMENT}
    order = next((f for f in files if f.role == ROLE_ORDER), None)
    p = Panel([Slot(ROLE_ORDER, None, f"{o.kind.value.capitalize()} (подписанный документ)", order)])
    seen = set()
    for a in o.attachments:
        if not a.number or a.number in seen:
            continue
        seen.add(a.number)
        p.slots.append(Slot(ROLE_ATTACHMENT, a.number, attachment_label(a.number, a.title),
                            by_number.get(a.number)))
    for number, f in by_number.items():
        if number not in seen:
            p.slots.append(Slot(ROLE_ATTACHMENT, number, attachment_label(number or "", f.title), f, in_text=False))
    return p


def attachment_label(number: str, title: str | None) -> str:
    return f"Приложение № {number}" + (f" «{title}»" if (title or "").strip() else "")


def archive_title(o: Ordinance, f: OrdinanceFile) -> str:
    """«Приказ № 001 от 12.01.2024 — Приложение № 1 «План мероприятий…»»."""
    head = o.kind.value.capitalize()
    if o.number:
        head += f" № {o.number}"
    if o.date:
        head += f" от {o.date:%d.%m.%Y}"
    if f.role == ROLE_ORDER:
        return f"{head} «{_short(o.title, 300)}»"
    row = next((a for a in o.attachments if a.number == f.attachment_number), None)
    title = (row.title if row is not None and row.title else None) or f.title
    return f"{head} — {attachment_label(f.attachment_number or '', _short(title, 300) if title else None)}"


def _short(text: str, n: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[:n - 1].rstrip() + "…"


def status_of(f: OrdinanceFile) -> str:
    """draft (kept here), pending, archived or disposed (the archive record's state)."""
    if f.archive_record_id is None:
        return "draft"
    return f.archive_record.status.value


# ---- changes ------------------------------------------------------------------------------------------------

def _lock(o: Ordinance) -> None:
    """Serialise with a concurrent status change: the upload sees the status that will be committed, so a file
    is never left in the row of an ordinance that went in force meanwhile (set_status updates this row)."""
    session.refresh(o, with_for_update=True)


def upload(o: Ordinance, *, role: str, data: bytes, filename: str | None, actor, number: str | None = None,
           title: str | None = None) -> tuple[OrdinanceFile, bool]:
    """Store a PDF for the order (`role="order"`) or for attachment `number`; returns (file, replaced).
    A draft may get a new attachment row (number and title) for an attachment the parser did not find."""
    name = safe_filename(filename)
    if role not in (ROLE_ORDER, ROLE_ATTACHMENT):
        raise OrdinanceFileError("Укажите, что это за файл: сам документ или приложение.")
    number = (" ".join((number or "").split()) or None) if role == ROLE_ATTACHMENT else None
    title = " ".join((title or "").split()) or None
    if role == ROLE_ATTACHMENT:
        if number is None:
            raise OrdinanceFileError(f"Файл «{name}»: укажите номер приложения.")
        if len(number) > 20:
            raise OrdinanceFileError(f"Файл «{name}»: номер приложения длиннее 20 символов.")
    check_pdf(data, name)
    _lock(o)
    row = None
    if role == ROLE_ATTACHMENT:
        row = next((a for a in o.attachments if a.number == number), None)
        if row is None:
            if not o.editable:
                raise OrdinanceFileError(f"Приложения № {number} нет в документе, а документ уже введён "
                                         "в действие: новое приложение вносится новым документом.")
            if title is None:
                raise OrdinanceFileError(f"Файл «{name}»: приложения № {number} нет в тексте документа — "
                                         "укажите его название, чтобы добавить приложение.")
            row = Attachment(position=max((a.position for a in o.attachments), default=-1) + 1,
                             number=number, title=title)
            o.attachments.append(row)
            audit.record("ordinance.attachment.add", o, actor=actor, after={"number": number, "title": title})
    sha = hashlib.sha256(data).hexdigest()
    f = _slot(o, role, number)
    replaced = f is not None
    if replaced and not o.editable:
        raise OrdinanceFileError(FROZEN, "frozen")
    before = None
    if f is None:
        f = OrdinanceFile(ordinance_id=o.id, role=role, attachment_number=number)
        session.add(f)
    else:
        before = {"filename": f.filename, "sha256": f.sha256, "size": f.size}
    f.title = row.title if row is not None else None
    f.filename, f.size, f.sha256, f.content = name, len(data), sha, data
    f.uploaded_by_id, f.uploaded_at = getattr(actor, "id", None), utcnow()
    session.flush()
    audit.record("ordinance.file.replace" if replaced else "ordinance.file.upload", f, actor=actor,
                 before=before, after={"filename": name, "sha256": sha, "size": len(data)},
                 ordinance_id=o.id, role=role, attachment_number=number)
    if not o.editable:
        _archive(o, f, actor=actor)
    return f, replaced


def remove(o: Ordinance, f: OrdinanceFile, *, actor) -> None:
    _lock(o)
    if not o.editable or f.archive_record_id is not None:
        raise OrdinanceFileError(FROZEN, "frozen")
    file_id = f.id
    before = {"filename": f.filename, "sha256": f.sha256, "size": f.size, "role": f.role,
              "attachment_number": f.attachment_number}
    session.delete(f)
    session.flush()
    audit.record("ordinance.file.remove", object_type="OrdinanceFile", object_id=file_id, actor=actor,
                 before=before, ordinance_id=o.id)


def archive_all(o: Ordinance, *, actor=None) -> list:
    """The ordinance has come in force (same transaction): hand every file still kept here to the archive."""
    return [_archive(o, f, actor=actor) for f in files_of(o) if f.archive_record_id is None]


def _archive(o: Ordinance, f: OrdinanceFile, *, actor=None):
    if f.archive_record_id is not None:
        return f.archive_record
    data = f.content
    if data is None or hashlib.sha256(data).hexdigest() != f.sha256:
        # Not a user's mistake: fail the whole transaction (500, rolled back), never commit a half hand-over.
        raise StoredFileCorrupt(f"ordinance file {f.id}: stored bytes do not match sha256 {f.sha256}")
    record = records.keep(f, kind="order" if f.is_order else "attachment", pdf=data,
                          source_type=SOURCE_ORDER if f.is_order else SOURCE_ATTACHMENT, source_id=f.id,
                          organisation=o.issuer, title=archive_title(o, f))
    # From here the archive holds the bytes (staged in the record, then the write-once object):
    # no second copy here that would outlive the record's disposal.
    f.archive_record_id, f.content = record.id, None
    session.flush()
    audit.record("ordinance.file.archive", f, actor=actor, ordinance_id=o.id, archive_record_id=record.id,
                 sha256=f.sha256)
    return record


# ---- download -----------------------------------------------------------------------------------------------

def read(o: Ordinance, f: OrdinanceFile, *, user) -> bytes:
    """The file's bytes, access logged: a draft's copy (audit log) or the archive's (its access log).
    The archived copy may carry the archive timestamp (B-LTA), so its SHA-256 is the record's, not the upload's."""
    if f.archive_record_id is None:
        data = f.content
        if data is None or hashlib.sha256(data).hexdigest() != f.sha256:
            raise OrdinanceFileError(f"Файл «{f.filename}» повреждён: контрольная сумма не совпадает.", "broken")
        audit.record("ordinance.file.download", f, actor=user, ordinance_id=o.id, sha256=f.sha256)
        return data
    record = f.archive_record
    if record.status == "disposed":
        raise OrdinanceFileError(f"Файл «{f.filename}» уничтожен по акту после истечения срока хранения.",
                                 "disposed")
    try:
        return records.read_archived(record, user=user, purpose=f"Файл документа «{_short(o.label, 200)}» со страницы "
                                     "документа", via="ordinance", ordinance_id=o.id, file_id=f.id)
    except records.CopyBroken:
        raise OrdinanceFileError(f"Архивная копия файла «{f.filename}» не совпадает с контрольной суммой: "
                                 "документ не выдаётся, сообщите архивисту.", "broken") from None


def to_dict(f: OrdinanceFile, *, archive_link: bool = False) -> dict:
    r = f.archive_record
    return {"id": f.id, "role": f.role, "attachment_number": f.attachment_number, "title": f.title,
            "filename": f.filename, "size": f.size, "sha256": f.sha256,
            "uploaded_at": f.uploaded_at.isoformat() if f.uploaded_at else None,
            "status": status_of(f),
            "archive": None if r is None else {
                "record_id": r.id if archive_link else None, "status": r.status.value,
                "archived_at": r.archived_at.isoformat() if r.archived_at else None,
                "sha256": r.sha256, "retention_until": r.retention_until.isoformat() if r.retention_until else None}}
