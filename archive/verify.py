"""Verification of any PDF: the upload form, `flask archive verify FILE`, and the stored copies.

For each signature: integrity, signer, certificate chain to the configured trust roots
(TRUST_ROOTS; without it the instance's demo CA), revocation, timestamp and coverage; for each
archive (document) timestamp: integrity, trust and coverage, and then the long-term (PAdES B-LTA)
validation as of the oldest archive timestamp; and whether the file equals an archived record, by
SHA-256. A file that is not a PDF, is broken, or was not made here gets a plain Russian answer.

Validation is as of now, fetching revocation data from the certificates' OCSP/CRL addresses when
`allow_fetching` (otherwise only what the file's DSS holds is used).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime

from asn1crypto import x509
from flask import current_app

# TRUST_ROOTS, or the instance's demo CA by default: one definition, in signing/trust.py.
from core.trust import trust_roots as configured_trust_roots

log = logging.getLogger(__name__)

MAX_FILE = 60 * 1024 * 1024
GOOD_LEVELS = {None, "NONE", "LTA_UPDATES", "FORM_FILLING"}


# ---- the report ---------------------------------------------------------------------------------------------------

@dataclass
class Check:
    label: str
    ok: bool | None                   # None: not applicable / not checked (shown, does not fail)
    text: str


@dataclass
class SignatureResult:
    kind: str                         # signature | archive_timestamp
    field: str
    role: str
    signer: str
    serial: str
    time: str | None
    ok: bool
    summary: str
    checks: list[Check] = dataclasses.field(default_factory=list)


@dataclass
class Verification:
    filename: str | None
    sha256: str
    size: int
    checked_at: str
    ok: bool = False
    summary: str = ""
    document: Check | None = None
    signatures: list[SignatureResult] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    record_id: int | None = None
    record_title: str | None = None
    trust_roots: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=1)

    def lines_ru(self) -> list[str]:
        out = [f"Файл: {self.filename or '—'} ({self.size} байт)", f"SHA-256: {self.sha256}",
               f"Проверено: {self.checked_at}",
               f"Доверенные корневые УЦ: {', '.join(self.trust_roots) or 'не настроены'}"]
        if self.document is not None:
            out.append(f"{_mark(self.document.ok)} {self.document.label}: {self.document.text}")
        for s in self.signatures:
            out.append(f"{_mark(s.ok)} {s.summary}")
            out += [f"    {_mark(c.ok)} {c.label}: {c.text}" for c in s.checks]
        out += [f"{_mark(c.ok)} {c.label}: {c.text}" for c in self.checks]
        out.append(("ИТОГ: ПРОВЕРКА ПРОЙДЕНА — " if self.ok else "ИТОГ: ПРОВЕРКА НЕ ПРОЙДЕНА — ") + self.summary)
        return out


def _mark(ok: bool | None) -> str:
    return {True: "[да]", False: "[НЕТ]", None: "[—]"}[ok]


def _now() -> str:
    from core.db import utcnow
    from core.filters import ru_datetime
    return ru_datetime(utcnow()) + " (МСК)"


# ---- verification -------------------------------------------------------------------------------------------------

def verify_bytes(data: bytes, *, filename: str | None = None, allow_fetching: bool = True,
                 trust_roots: tuple | list | None = None, match_archive: bool = True) -> Verification:
    """Check `data`; never raises for bad input (the report says what is wrong)."""
    roots = tuple(configured_trust_roots() if trust_roots is None else trust_roots)
    v = Verification(filename=filename, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                     checked_at=_now(), trust_roots=[_cn(c) for c in roots])
    if b"%PDF-" not in data[:1024]:
        v.document = Check("Документ", False, "файл не является PDF")
        v.summary = "файл не является PDF."
        return v
    from pyhanko.pdf_utils.misc import PdfError, PdfReadError

    from pades import quick_read
    try:
        reader = quick_read.reader(data, strict=False)
        regular, stamps = reader.embedded_regular_signatures, reader.embedded_timestamp_signatures
    except (PdfReadError, PdfError, ValueError, KeyError, TypeError, AttributeError) as e:
        v.document = Check("Документ", False, f"PDF повреждён и не читается ({type(e).__name__})")
        v.summary = "файл повреждён."
        return v

    from pades.pdfa import is_ours
    ours = is_ours(data)
    record = _match_record(v) if match_archive else None
    v.document = Check("Документ", ours or record is not None or None,
                       "сводная ведомость, выпущенная этой системой" if ours else
                       ("документ архива" if record is not None else "выпущен не этой системой"))
    from pades import ReviewedOnce
    reviewed = ReviewedOnce()        # each signature's later revisions are reviewed once, for all the checks
    if not regular:
        v.checks.append(_no_signatures(record))
    else:
        _check_signatures(v, data, reader, roots, allow_fetching, reviewed)
    if stamps:
        _check_archive_timestamps(v, reader, stamps, roots, allow_fetching, reviewed)
    if record is not None:
        _check_evidence_record(v, data, record, roots)
    summarise(v)
    return v


def _check_evidence_record(v: Verification, data: bytes, record, roots) -> None:
    """The record's evidence record (RFC 4998), as kept in the WORM bucket, over exactly these bytes."""
    from sqlalchemy import select

    from archive import evidence_store
    from archive.models import RecordEvidence
    from core.db import session
    ev = session.scalar(select(RecordEvidence).where(RecordEvidence.record_id == record.id))
    if ev is None or ev.sha256 != v.sha256:
        return          # not sealed yet, or another version of the record: its signatures say the rest
    ers = _stored_evidence(ev) or evidence_store.encode(ev)
    v.checks.append(evidence_check(evidence_store.verify_bytes(data, ers, roots)))


def _stored_evidence(ev) -> bytes | None:
    if not ev.key:
        return None
    from core.storage import get_storage
    return get_storage().get(ev.key)


def evidence_check(result) -> Check:
    if result.ok:
        last = result.steps[-1]
        return Check("Доказательство сохранности", True,
                     f"RFC 4998: {len(result.steps)} штамп(а) времени, последний {last.at:%d.%m.%Y} — документ не "
                     "менялся с первого штампа")
    return Check("Доказательство сохранности", False, f"RFC 4998: {result.problem}")


# Document classes the archive accepts without an electronic signature (an order signed on paper and
# scanned, its attachments): for them the proof is the archive's hash and its own timestamp.
UNSIGNED_KINDS = {"order", "attachment"}
UNSIGNED = "электронных подписей нет: документ принят в архив без подписи (например, скан бумажного подлинника)"


def _no_signatures(record) -> Check:
    if record is not None and record.kind.value in UNSIGNED_KINDS:
        return Check("Подписи", None, UNSIGNED)
    return Check("Подписи", False, "в документе нет электронных подписей")


def summarise(v: Verification) -> None:
    """The verdict and its one-line reason, from the checks."""
    failed: list[SignatureResult | Check] = [c for c in v.checks if c.ok is False] + \
        [s for s in v.signatures if not s.ok]
    in_archive = any(c.label == "Архив" and c.ok for c in v.checks)
    if v.document is not None and v.document.ok is None and v.record_id is None and not in_archive:
        failed.append(v.document)
    signatures = [s for s in v.signatures if s.kind == "signature"]
    matched = next((c for c in v.checks if c.label == "Архив" and c.ok), None)
    # An unsigned scan passes only as the very copy the archive holds.
    unsigned = matched is not None and any(c.label == "Подписи" and c.text == UNSIGNED for c in v.checks)
    v.ok = not failed and (bool(signatures) or unsigned)
    if v.ok and not signatures:
        stamps = [s for s in v.signatures if s.kind == "archive_timestamp"]
        v.summary = (f"электронных подписей нет (документ без подписи); {matched.text if matched else ''}"
                     + (f"; штампов времени архива: {len(stamps)}, все действительны" if stamps else "") + ".")
    elif v.ok:
        v.summary = f"подписей: {len(signatures)}, все действительны" + (
            f"; {matched.text}" if matched else "") + "."
    else:
        v.summary = "; ".join(_reason(x) for x in failed) + "."


def hide_record(v: Verification) -> None:
    """The file matched a record the user may not see: keep the verdict, name no record."""
    v.record_id = v.record_title = None
    for c in v.checks:
        if c.label == "Архив":
            c.text = ("совпадает с архивной записью вне вашей области доступа" if c.ok else
                      "совпадает с записью вне вашей области доступа, которая не в архиве")
    summarise(v)


def _reason(x) -> str:
    if isinstance(x, SignatureResult):
        return x.summary
    return f"{x.label}: {x.text}"


def _cn(cert: x509.Certificate) -> str:
    return cert.subject.native.get("common_name", cert.subject.human_friendly)


def _match_record(v: Verification):
    """The archived record whose object (any version) or signed original has this hash."""
    try:
        from sqlalchemy import or_, select

        from archive.models import ArchiveRecord, RecordStatus, RecordVersion
        from core.db import session
        record = session.scalar(select(ArchiveRecord).where(or_(
            ArchiveRecord.sha256 == v.sha256, ArchiveRecord.source_sha256 == v.sha256,
            ArchiveRecord.id.in_(select(RecordVersion.record_id).where(RecordVersion.sha256 == v.sha256))))
            .order_by(ArchiveRecord.id).limit(1))
    except Exception as e:        # no database configured or reachable: say so, do not fail the signatures
        log.info("verify: archive not consulted (%s)", type(e).__name__)
        v.checks.append(Check("Архив", None, "сверка с архивом не выполнена: база данных недоступна"))
        return None
    if record is None:
        v.checks.append(Check("Архив", False, "файл не совпадает ни с одной архивной записью (по SHA-256)"))
        return None
    v.record_id, v.record_title = record.id, record.title
    if record.status is RecordStatus.archived:
        which = "архивной копией" if record.sha256 == v.sha256 else (
            "подписанным подлинником" if record.source_sha256 == v.sha256 else "прежней версией архивной копии")
        v.checks.append(Check("Архив", True, f"совпадает с {which} записи № {record.id} «{record.title}»"))
    elif record.status is RecordStatus.pending:
        v.checks.append(Check("Архив", False, f"запись № {record.id} ещё не передана в архив"))
    else:
        v.checks.append(Check("Архив", False, f"запись № {record.id} уничтожена по акту"))
    return record


def _fetching(allow_fetching: bool):
    """The archive's fetcher (answers shared between workers) for one validation context, or None."""
    if not allow_fetching:
        return None
    from archive.lta import fetcher_backend
    return fetcher_backend()


def _check_signatures(v: Verification, data: bytes, reader, roots, allow_fetching: bool, reviewed) -> None:
    import pades
    try:
        reports = pades.validate(data, roots, allow_fetching=allow_fetching, require_ours=False, reader=reader,
                                 fetcher_backend=_fetching(allow_fetching), diff_policy=reviewed)
    except Exception as e:        # pyHanko on a strange file: a clear answer, the details in the log
        log.warning("verify: signatures not validated: %r", e)
        v.checks.append(Check("Подписи", False, f"подписи не удалось проверить ({type(e).__name__})"))
        return
    # Fetching is hard-fail: an unreachable OCSP/CRL responder fails the signature. Where that is the
    # only problem, say so and judge the signature without those answers (soft-fail) — a revoked
    # certificate is still caught, a responder that has gone away (a test TSA, a closed CA) is not fatal.
    unreachable = set()
    if allow_fetching and any(not r.bottom_line and r.intact and r.valid for r in reports):
        try:
            soft = {r.field_name: r for r in pades.validate(data, roots, allow_fetching=True, require_ours=False,
                                                            revocation_mode="soft-fail", reader=reader,
                                                            fetcher_backend=_fetching(True), diff_policy=reviewed)}
        except Exception:
            soft = {}
        for i, r in enumerate(reports):
            alt = soft.get(r.field_name)
            if not r.bottom_line and alt is not None and alt.bottom_line and "отозван" not in r.summary_ru:
                reports[i] = alt
                unreachable.add(r.field_name)
    from pades import gost
    certs = {s.field_name: gost.embedded_signer_cert(s) for s in reader.embedded_regular_signatures}
    for r in reports:
        cert = certs.get(r.field_name)
        revocation = _revocation_text(r, cert)
        if r.field_name in unreachable:
            revocation = (None, "сведения об отзыве (подписи или её штампа времени) получить не удалось: "
                                "служба OCSP/CRL недоступна; проверено без них")
        checks = [
            Check("Целостность", r.intact and r.valid,
                  "подписанные данные не изменены, подпись математически верна" if r.intact and r.valid else
                  ("документ изменён после подписания" if not r.intact else "подпись не соответствует документу")),
            Check("Подписант", True, f"{r.signer_cn}, сертификат № {r.serial}"),
            # a revoked certificate fails on the revocation line below, not here
            Check("Цепочка сертификатов", True if r.trusted else (None if revocation[0] is False else False),
                  "до доверенного корневого УЦ построена" if r.trusted else _trust_problem(r)),
            Check("Статус отзыва", revocation[0], revocation[1]),
            Check("Штамп времени подписи", r.timestamp_ok,
                  {True: f"действителен, {_fmt(r.signing_time)}", False: "не прошёл проверку",
                   None: "нет (время подписания указано подписантом)"}[r.timestamp_ok]),
            _coverage(r),
        ]
        ok = bool(r.bottom_line) and all(c.ok is not False for c in checks)
        v.signatures.append(SignatureResult(
            kind="signature", field=r.field_name, role=pades.ROLE_LABELS.get(r.field_name, r.field_name),
            signer=r.signer_cn, serial=r.serial, time=r.signing_time.isoformat() if r.signing_time else None,
            ok=ok, summary=r.summary_ru, checks=checks))


def _fmt(when: datetime | None) -> str:
    from core.filters import ru_datetime
    return ru_datetime(when) + " (МСК)" if when else "—"


def _trust_problem(r) -> str:
    text = r.summary_ru
    return text.split(" — ", 1)[1].split(" (")[0] if " — " in text else "не подтверждена"


def _revocation_text(r, cert) -> tuple[bool | None, str]:
    if "отозван" in r.summary_ru:
        return False, "сертификат отозван"
    if "нет сведений об отзыве" in r.summary_ru:
        return False, "нет сведений об отзыве (служба OCSP/CRL недоступна)"
    has_sources = cert is not None and bool(cert.ocsp_urls or cert.crl_distribution_points)
    if not r.trusted:
        return None, "не проверялся: цепочка сертификатов не подтверждена"
    if not has_sources:
        return None, "у сертификата нет адресов OCSP/CRL"
    return True, "сертификат не отозван"


def _coverage(r) -> Check:
    if r.coverage == "ENTIRE_FILE":
        return Check("Охват", True, "подпись охватывает весь файл")
    if r.coverage == "ENTIRE_REVISION" and r.modification_level in GOOD_LEVELS and r.docmdp_ok is not False:
        after = {"LTA_UPDATES": "после неё добавлены только данные для долгосрочной проверки и штампы архива",
                 "FORM_FILLING": "после неё допустимо добавлены только подписи в подготовленные поля",
                 "NONE": "после неё изменений нет", None: ""}[r.modification_level]
        return Check("Охват", True, f"подпись охватывает свою редакцию; {after}")
    return Check("Охват", False,
                 f"после подписания внесены недопустимые изменения ({r.modification_level or r.coverage})")


def _check_archive_timestamps(v: Verification, reader, stamps, roots, allow_fetching: bool, reviewed) -> None:
    from pyhanko.sign._session_scope import run_and_release
    from pyhanko.sign.validation import async_validate_pdf_timestamp
    from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
    from pyhanko_certvalidator import ValidationContext

    from pades import fetching, gost, run_sync
    kwargs = dict(trust_roots=list(roots), allow_fetching=allow_fetching, revocation_mode="soft-fail",
                  fetcher_backend=_fetching(allow_fetching), signature_validator=gost.SignatureValidator(),
                  time_tolerance=fetching.CLOCK_SKEW)
    try:
        vc = DocumentSecurityStore.read_dss(reader).as_validation_context(kwargs)
    except NoDSSFoundError:
        vc = ValidationContext(**kwargs)

    for ts in stamps:
        gost.prime_digest(ts)                      # a GOST TSA's token (pades/gost.py)

    async def run():
        return [await async_validate_pdf_timestamp(ts, vc, diff_policy=reviewed) for ts in stamps]
    try:
        statuses = run_sync(run_and_release(run(), vc))
    except Exception as e:
        log.warning("verify: archive timestamps not validated: %r", e)
        v.checks.append(Check("Штампы времени архива", False, f"не удалось проверить ({type(e).__name__})"))
        return
    for ts, st in zip(stamps, statuses):
        cert = st.signing_cert
        good = bool(st.intact and st.valid and st.trusted)
        level = st.modification_level.name if st.modification_level is not None else None
        covered = st.coverage.name == "ENTIRE_FILE" or level in ("LTA_UPDATES", "NONE")
        checks = [Check("Целостность", st.intact and st.valid, "не изменено" if st.intact and st.valid else "изменено"),
                  Check("Служба штампов времени", st.trusted, _cn(cert) + ("" if st.trusted else
                                                                          " — не доверенный УЦ")),
                  Check("Охват", covered, "весь файл" if st.coverage.name == "ENTIRE_FILE" else
                        ("далее только данные проверки и новые штампы" if covered else "после штампа изменён"))]
        ok = good and covered
        v.signatures.append(SignatureResult(
            kind="archive_timestamp", field=str(ts.field_name), role="Штамп времени архива", signer=_cn(cert),
            serial=format(cert.serial_number, "X"), time=st.timestamp.isoformat(), ok=ok,
            summary=(f"Штамп времени архива {_fmt(st.timestamp)} — " + ("действителен" if ok else "НЕ ПОДТВЕРЖДЁН")),
            checks=checks))
    _check_lta(v, reader, roots, reviewed)


def _check_lta(v: Verification, reader, roots, reviewed) -> None:
    """PAdES B-LTA: each signature validated as of the archive timestamps, with the validation data
    the file itself holds (nothing fetched): what will still hold when the certificates have expired."""
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko.sign.validation.policy_decl import (
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule
    from pyhanko_certvalidator.registry import SimpleTrustManager

    from pades import gost, run_sync
    rule = RevocationCheckingRule.CHECK_IF_DECLARED
    spec = PdfSignatureValidationSpec(SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=list(roots)),
            signature_validator=gost.SignatureValidator(),
            revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(ee_certificate_rule=rule,
                                                                       intermediate_ca_cert_rule=rule))),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY)), diff_policy=reviewed)

    if not reader.embedded_regular_signatures:
        return                                     # an unsigned scan: its archive timestamps were checked
    async def run():
        for sig in reader.embedded_signatures:     # the archive timestamps too: their TSA may be GOST
            gost.prime_digest(sig)
        return [(sig.field_name, await ades_lta_validation(sig, spec)) for sig in reader.embedded_regular_signatures]
    try:
        results = run_sync(run())
    except Exception as e:
        log.warning("verify: LTA validation failed to run: %r", e)
        v.checks.append(Check("Долгосрочная проверка (PAdES B-LTA)", False, f"не выполнена ({type(e).__name__})"))
        return
    bad = [f"{name}: {res.ades_subindic.name if res.ades_subindic else '?'}" for name, res in results
           if getattr(res.ades_subindic, "status", None) is None or res.ades_subindic.status.name != "PASSED"]
    if bad:
        v.checks.append(Check("Долгосрочная проверка (PAdES B-LTA)", False, "не пройдена: " + ", ".join(bad)))
    else:
        v.checks.append(Check("Долгосрочная проверка (PAdES B-LTA)", True,
                              "пройдена: подписи подтверждаются данными, сохранёнными в файле, "
                              "на момент штампа архива"))


# ---- storing reports -------------------------------------------------------------------------------------------------

def save_report(v: Verification, *, source: str, user=None, record=None):
    """Keep the report (with the record it matched, if any). Flushes."""
    from archive.models import ArchiveRecord, ValidationReport
    from core import audit
    from core.db import session
    if record is None and v.record_id is not None:
        record = session.get(ArchiveRecord, v.record_id)
    rep = ValidationReport(record_id=record.id if record is not None else None, user_id=getattr(user, "id", None),
                           source=source, filename=(v.filename or "")[:300] or None, file_sha256=v.sha256, ok=v.ok,
                           summary=v.summary[:5000], report=v.as_dict())
    session.add(rep)
    session.flush()
    audit.record("archive.verify", object_type="ValidationReport", object_id=rep.id, actor=user,
                 record_id=rep.record_id, sha256=v.sha256, ok=v.ok, source=source)
    return rep


def fetching_allowed() -> bool:
    """ARCHIVE_VERIFY_FETCH: may verification ask the OCSP/CRL servers named in an uploaded file? Off, only
    what the file's DSS holds is used, and an uploaded PDF cannot make the server request its addresses."""
    return bool(current_app.config.get("ARCHIVE_VERIFY_FETCH", True))


def verify_stored(record, *, source: str = "stored", user=None):
    """Verify the archived object as stored (read from the storage) and keep the report."""
    from core.storage import get_storage
    data = get_storage().get(record.key)
    v = verify_bytes(data, filename=record.key.rsplit("/", 1)[-1], allow_fetching=fetching_allowed())
    return save_report(v, source=source, user=user, record=record)
