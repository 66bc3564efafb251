"""Monitoring report forms (отчёты о ходе внедрения), their submissions and the region roll-up.

A form has a field schema (JSON list; types number, percentage, yes_no, text, file), a periodicity
(monthly — «до 30 числа отчётного месяца», order 004 п. 2.3; quarterly — «Ежеквартально», order 001,
plan п. 2.6) and the kind of organisation that fills it in (school or municipality). Each
organisation submits one report per period; the level above accepts or returns it. The roll-up sums
and averages the accepted reports per municipality and per period in SQL. Charts are inline SVG made
here, on the server: no JavaScript, nothing fetched from the network.

Services flush; they never commit. "Today" comes from Python (`core.clock.today`).
"""
from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import PurePath

from sqlalchemy import Numeric, case, cast, false, func, or_, select

from core import audit
from core import files as file_store
from core.charts import fmt_number, svg_line_chart, svg_stacked_bars  # noqa: F401  (rep.* in pages)
from core.clock import today
from core.db import session, utcnow
from core.files import EVIDENCE_SUFFIXES, MAX_EVIDENCE_FILE
from core.signals import notice
from ordinances.parsing.deadlines import occurrences, parse_deadline
from orgs.access import scopes
from orgs.models.organisations import Organisation, OrgKind, region_id_of, subtree
from reports.models import Periodicity, ReportForm, ReportStatus, ReportSubmission

FIELD_TYPES = {"number": "Число", "percentage": "Процент", "yes_no": "Да/нет", "text": "Текст", "file": "Файл"}
NUMERIC_TYPES = ("number", "percentage", "yes_no")
FIELD_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
FIELD_ATTRS = {"key", "label", "type", "required", "min", "max", "integer", "max_field", "max_length", "hint"}
TEXT_MAX = 4000
SUBMITTER_KINDS = {"municipality": "Муниципалитет (МОУО)", "school": "Школа"}
MONTHS = ["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь", "ноябрь",
          "декабрь"]
ROMAN = ["I", "II", "III", "IV"]

# Forms from the seed documents; the region adjusts the fields when it creates one.
DEFAULT_FORMS = {
    "monthly": dict(
        title="Отчёт об итогах апробации и внедрения электронных журналов и дневников (по форме приложения № 2 "
              "к приказу № 271)",
        periodicity=Periodicity.monthly, deadline_text="до 30 числа отчётного месяца", submitter_kind="municipality",
        fields=[
            {"key": "schools_total", "label": "Общеобразовательных учреждений, всего", "type": "number",
             "required": True, "min": 0, "integer": True},
            {"key": "schools_electronic", "label": "Из них ведут электронные журналы", "type": "number",
             "required": True, "min": 0, "integer": True, "max_field": "schools_total"},
            {"key": "schools_paperless", "label": "Из них перешли на безбумажное ведение", "type": "number",
             "required": True, "min": 0, "integer": True, "max_field": "schools_electronic"},
            {"key": "paperless_share", "label": "Доля школ на безбумажном ведении, %", "type": "percentage",
             "required": True},
            {"key": "parents_link", "label": "Ссылка для родителей размещена на сайтах всех школ (п. 3.4)",
             "type": "yes_no", "required": True},
            {"key": "problems", "label": "Проблемы и предложения", "type": "text"},
            {"key": "scan", "label": "Отчёт с подписью руководителя (скан)", "type": "file"},
        ]),
    "quarterly": dict(
        title="Отчёт по внедрению электронных дневников и журналов успеваемости (план к приказу № 3116, п. 2.6)",
        periodicity=Periodicity.quarterly, deadline_text="Ежеквартально", submitter_kind="municipality",
        fields=[
            {"key": "schools_total", "label": "Общеобразовательных учреждений, всего", "type": "number",
             "required": True, "min": 0, "integer": True},
            {"key": "schools_active", "label": "Активированы на платформе", "type": "number", "required": True,
             "min": 0, "integer": True, "max_field": "schools_total"},
            {"key": "marks_share", "label": "Доля журналов с текущими оценками, %", "type": "percentage",
             "required": True},
            {"key": "seminars", "label": "Проведены семинары для ответственных", "type": "yes_no"},
            {"key": "notes", "label": "Примечания", "type": "text"},
        ]),
}


class ReportError(ValueError):
    """Russian messages naming the field; `errors` lists them all."""

    def __init__(self, message: str | list[str]):
        self.errors = [message] if isinstance(message, str) else list(message)
        super().__init__("\n".join(self.errors))


# ---- schema ---------------------------------------------------------------------------------------------

def _num(value) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        if text.endswith("%"):
            text = text[:-1]
        if not re.fullmatch(r"[-+]?\d+(\.\d+)?", text):
            return None
        try:
            return Decimal(text)
        except InvalidOperation:
            return None
    return None


def check_schema(fields: list) -> list[dict]:
    """Validate and normalise a field schema; every problem is named by field number and label."""
    if not isinstance(fields, list) or not fields:
        raise ReportError("Схема формы: нужен непустой список полей.")
    errors, out, keys, numbers = [], [], set(), []
    for n, f in enumerate(fields, 1):
        if not isinstance(f, dict):
            errors.append(f"Поле {n}: нужен объект с ключами key, label, type.")
            continue
        label = str(f.get("label") or "").strip()
        where = f"Поле {n}" + (f" («{label}»)" if label else "")
        unknown = set(f) - FIELD_ATTRS
        if unknown:
            errors.append(f"{where}: неизвестные свойства {', '.join(sorted(unknown))}.")
        key = str(f.get("key") or "").strip()
        if not FIELD_KEY.fullmatch(key):
            errors.append(f"{where}: ключ «{key}» — нужны латинские строчные буквы, цифры и _, с буквы.")
        elif key in keys:
            errors.append(f"{where}: ключ «{key}» уже использован.")
        keys.add(key)
        if not label:
            errors.append(f"{where}: не указано название поля.")
        elif len(label) > 300:
            errors.append(f"{where}: название длиннее 300 символов.")
        kind = f.get("type")
        if kind not in FIELD_TYPES:
            errors.append(f"{where}: неизвестный тип «{kind}»; допустимы: {', '.join(FIELD_TYPES)}.")
            continue
        clean = {"key": key, "label": label, "type": kind, "required": bool(f.get("required"))}
        if f.get("hint"):
            clean["hint"] = str(f["hint"])[:500]
        if kind in ("number", "percentage"):
            lo, hi = f.get("min"), f.get("max")
            if kind == "percentage":
                lo = 0 if lo is None else lo
                hi = 100 if hi is None else hi
            for name, v in (("min", lo), ("max", hi)):
                if v is not None and _num(v) is None:
                    errors.append(f"{where}: {name} должно быть числом.")
            n_lo, n_hi = _num(lo), _num(hi)
            if n_lo is not None and n_hi is not None and n_lo > n_hi:
                errors.append(f"{where}: min больше max.")
            if kind == "percentage" and ((n_lo or 0) < 0 or (n_hi or 0) > 100):
                errors.append(f"{where}: процент лежит в пределах 0–100.")
            if n_lo is not None:
                clean["min"] = float(n_lo) if n_lo % 1 else int(n_lo)
            if n_hi is not None:
                clean["max"] = float(n_hi) if n_hi % 1 else int(n_hi)
            if kind == "number" and f.get("integer"):
                clean["integer"] = True
            if f.get("max_field"):
                clean["max_field"] = str(f["max_field"])
        elif kind == "text":
            ml = f.get("max_length", TEXT_MAX)
            if not isinstance(ml, int) or isinstance(ml, bool) or not 1 <= ml <= TEXT_MAX:
                errors.append(f"{where}: max_length — целое от 1 до {TEXT_MAX}.")
            else:
                clean["max_length"] = ml
        for attr in ("min", "max", "integer", "max_field"):
            if attr in f and kind not in ("number", "percentage") and f.get(attr) not in (None, False):
                errors.append(f"{where}: свойство {attr} только для чисел и процентов.")
        out.append(clean)
        numbers.append(n)
    by_key = {f["key"]: f for f in out}
    for n, f in zip(numbers, out):
        ref = f.get("max_field")
        if ref is not None and (ref not in by_key or by_key[ref]["type"] not in ("number", "percentage")
                                or ref == f["key"]):
            errors.append(f"Поле {n} («{f['label']}»): max_field «{ref}» — нет такого числового поля.")
    if errors:
        raise ReportError(errors)
    return out


# ---- periods --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    start: date
    end: date
    due: date
    key: str
    label: str


def _bounds(form: ReportForm, day: date) -> tuple[date, date, str, str]:
    if form.periodicity is Periodicity.monthly:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return start, end, f"{start:%Y-%m}", f"{MONTHS[start.month - 1]} {start.year}"
    q = (day.month - 1) // 3
    start = date(day.year, q * 3 + 1, 1)
    end = (date(day.year, q * 3 + 3, 1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return start, end, f"{start.year}-Q{q + 1}", f"{ROMAN[q]} квартал {start.year}"


def due_date(form: ReportForm, start: date, end: date) -> date:
    """The first due date of the form's rule inside the period (e.g. the 30th, 28/29 in February); else its end."""
    d = parse_deadline(form.deadline_text, ref_date=start)
    found = occurrences(d, start, end) if d.kind == "recurring" else [x for x in d.dates if start <= x <= end]
    return found[0] if found else end


def period_of(form: ReportForm, day: date) -> Period:
    start, end, key, label = _bounds(form, day)
    return Period(start, end, due_date(form, start, end), key, label)


def period_from_key(form: ReportForm, key: str) -> Period:
    m = re.fullmatch(r"(\d{4})-(\d{2})", key or "") if form.periodicity is Periodicity.monthly \
        else re.fullmatch(r"(\d{4})-Q([1-4])", key or "")
    if not m:
        example = "2014-09" if form.periodicity is Periodicity.monthly else "2014-Q3"
        raise ReportError(f"Период «{key}»: нужен вид {example}.")
    year, n = int(m.group(1)), int(m.group(2))
    if form.periodicity is Periodicity.monthly:
        if not 1 <= n <= 12:
            raise ReportError(f"Период «{key}»: нет такого месяца.")
        return period_of(form, date(year, n, 1))
    return period_of(form, date(year, (n - 1) * 3 + 1, 1))


def requested_period(form: ReportForm, key: str | None) -> Period:
    """The period a page or an API call asks for (`?period=2014-09`), the current one when none is
    given; ReportError for a malformed key."""
    return period_from_key(form, key) if key else period_of(form, today())


def periods(form: ReportForm, until: date | None = None, limit: int = 24) -> list[Period]:
    """Periods from the form's first one up to the one containing `until` (today), newest first."""
    until = until or today()
    out: list[Period] = []
    p = period_of(form, form.first_period)
    while p.start <= until and len(out) < 600:
        out.append(p)
        p = period_of(form, p.end + timedelta(days=1))
    return list(reversed(out))[:limit]


# ---- forms ----------------------------------------------------------------------------------------------

def create_form(*, owner: Organisation, title: str, periodicity: Periodicity | str, deadline_text: str,
                submitter_kind: str, fields: list, first_period: date, campaign=None, ordinance=None,
                actor=None) -> ReportForm:
    """A form run by a region for its schools or municipalities, or by a municipality for its schools."""
    errors = []
    title = (title or "").strip()
    if owner.kind not in (OrgKind.region, OrgKind.municipality):
        errors.append("Форму отчёта утверждает регион или муниципалитет.")
    elif owner.kind is OrgKind.municipality and submitter_kind != "school":
        errors.append("Муниципалитет собирает отчёты своих школ: в поле «Кто заполняет» выберите школу.")
    region = owner if owner.kind is OrgKind.region else session.get_one(Organisation, region_id_of(owner))
    if not title:
        errors.append("Поле «Название формы»: не заполнено.")
    chosen: Periodicity | None
    try:
        chosen = Periodicity(periodicity)
    except ValueError:
        errors.append("Поле «Периодичность»: ежемесячно или ежеквартально.")
        chosen = None
    if submitter_kind not in SUBMITTER_KINDS:
        errors.append("Поле «Кто заполняет»: школа или муниципалитет.")
    deadline_text = (deadline_text or "").strip()
    rule = parse_deadline(deadline_text, ref_date=first_period) if deadline_text else None
    if rule is None or rule.kind != "recurring":
        errors.append(f"Поле «Срок»: «{deadline_text}» не распознан как периодический срок "
                      f"(например «до 30 числа отчётного месяца» или «Ежеквартально»).")
    if not isinstance(first_period, date):
        errors.append("Поле «Первый отчётный период»: укажите дату.")
    try:
        clean = check_schema(fields)
    except ReportError as exc:
        errors += exc.errors
    if campaign is not None and campaign.region_id != region.id:
        errors.append("Кампания относится к другому региону.")
    if errors or chosen is None or rule is None:
        raise ReportError(errors)
    form = ReportForm(region=region, owner=owner, title=title, periodicity=chosen, deadline_text=deadline_text,
                      rrule=rule.rrule, submitter_kind=submitter_kind, fields=clean,
                      first_period=_bounds_for(chosen, first_period),
                      campaign_id=campaign.id if campaign else None, ordinance_id=ordinance.id if ordinance else None,
                      created_by_id=getattr(actor, "id", None))
    session.add(form)
    session.flush()
    orgs = expected_orgs(form)
    notice.send(form, kind="report.form", org_ids=[o.id for o in orgs], action="report.submit",
                text=f"Новая форма отчёта «{title}» ({chosen.label.lower()}, {deadline_text}).",
                url=f"/transitions/reports/{form.id}")
    audit.record("report.form.create", form, actor=actor,
                 after={"title": title, "owner_id": owner.id, "periodicity": chosen.value, "deadline": deadline_text,
                        "submitter_kind": submitter_kind, "fields": [f["key"] for f in clean]})
    return form


def _bounds_for(periodicity: Periodicity, day: date) -> date:
    if periodicity is Periodicity.monthly:
        return day.replace(day=1)
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def may_see(user, form: ReportForm) -> bool:
    """A region's forms are seen throughout the region; a municipality's by the region above it and by the
    municipality's own subtree — not by the neighbouring municipalities."""
    if form.owner_id == form.region_id:
        return True
    return any(o.is_within(form.owner) or form.owner.is_within(o) for o in scopes(user, "report.view"))


def forms_for_regions(region_ids: set[int]) -> list[ReportForm]:
    if not region_ids:
        return []
    return list(session.scalars(select(ReportForm).where(ReportForm.region_id.in_(region_ids))
                                .order_by(ReportForm.active.desc(), ReportForm.id.desc())))


def expected_orgs(form: ReportForm, within: list[Organisation] | None = None) -> list[Organisation]:
    """Who must submit: every organisation of the form's kind under its owner (limited to `within` subtrees)."""
    stmt = select(Organisation).where(subtree(form.owner), Organisation.kind == OrgKind(form.submitter_kind))
    if within is not None:
        stmt = stmt.where(or_(*[subtree(o) for o in within]) if within else false())
    return list(session.scalars(stmt.order_by(Organisation.path)))


# ---- submissions ----------------------------------------------------------------------------------------

def submission_for(form: ReportForm, org: Organisation, period: Period) -> ReportSubmission | None:
    return session.scalar(select(ReportSubmission).where(ReportSubmission.form_id == form.id,
                                                         ReportSubmission.organisation_id == org.id,
                                                         ReportSubmission.period_start == period.start))


def submissions_by_org(form: ReportForm, period: Period) -> dict[int, ReportSubmission]:
    """This period's submissions of a form, by organisation id (pages and API alike)."""
    return {s.organisation_id: s for s in session.scalars(select(ReportSubmission).where(
        ReportSubmission.form_id == form.id, ReportSubmission.period_start == period.start))}


def validate_values(form: ReportForm, raw: dict, *, require: bool, files: dict | None = None,
                    existing: dict | None = None) -> tuple[dict, list[str]]:
    """Typed values from form strings or JSON, and the errors, each naming the field by its label.

    Files are not stored here: a file field's value comes from `files` (already stored) or `existing`."""
    files, existing = files or {}, existing or {}
    values, errors = {}, []
    for f in form.fields:
        key, label, kind = f["key"], f["label"], f["type"]
        v = raw.get(key)
        if isinstance(v, str):
            v = v.strip()
        missing = v is None or v == ""
        if kind == "file":
            stored = files.get(key) or existing.get(key)
            if stored:
                values[key] = stored
            elif require and f.get("required"):
                errors.append(f"Поле «{label}»: приложите файл.")
            continue
        if missing:
            if require and f.get("required"):
                errors.append(f"Поле «{label}»: обязательно для заполнения.")
            continue
        if kind in ("number", "percentage"):
            n = _num(v)
            if n is None:
                errors.append(f"Поле «{label}»: «{v}» — не число.")
                continue
            if kind == "number" and f.get("integer") and n != n.to_integral_value():
                errors.append(f"Поле «{label}»: нужно целое число, указано {v}.")
                continue
            lo, hi = f.get("min"), f.get("max")
            if lo is not None and n < Decimal(str(lo)):
                errors.append(f"Поле «{label}»: не меньше {lo}, указано {v}.")
                continue
            if hi is not None and n > Decimal(str(hi)):
                errors.append(f"Поле «{label}»: не больше {hi}, указано {v}.")
                continue
            values[key] = int(n) if n == n.to_integral_value() else float(n)
        elif kind == "yes_no":
            text = str(v).strip().lower() if not isinstance(v, bool) else ("yes" if v else "no")
            if text in ("yes", "да", "true", "1", "on"):
                values[key] = True
            elif text in ("no", "нет", "false", "0"):
                values[key] = False
            else:
                errors.append(f"Поле «{label}»: ответ «да» или «нет», указано «{v}».")
        elif kind == "text":
            text = str(v)
            limit = f.get("max_length", TEXT_MAX)
            if len(text) > limit:
                errors.append(f"Поле «{label}»: не длиннее {limit} символов (сейчас {len(text)}).")
            else:
                values[key] = text
    by_key = {f["key"]: f for f in form.fields}
    for f in form.fields:
        ref = f.get("max_field")
        if ref and f["key"] in values and ref in values and values[f["key"]] > values[ref]:
            errors.append(f"Поле «{f['label']}»: {values[f['key']]} больше, чем в поле «{by_key[ref]['label']}» "
                          f"({values[ref]}).")
    return values, errors


def _store_file(form: ReportForm, org: Organisation, period: Period, label: str, name: str, raw: bytes) -> dict:
    """The attachment in the ordinary files store; the submission's value is the stored file's shape (core.files)."""
    name = file_store.safe_filename(name)
    suffix = PurePath(name).suffix.lower()
    if len(raw) > MAX_EVIDENCE_FILE:
        raise ReportError(f"Поле «{label}»: файл «{name}» больше {MAX_EVIDENCE_FILE // (1024 * 1024)} МБ.")
    if suffix not in EVIDENCE_SUFFIXES:
        raise ReportError(f"Поле «{label}»: файл «{name}» — тип «{suffix or 'без расширения'}» не принимается.")
    key = file_store.content_key(f"report-files/{form.id}/{org.id}/{period.key}", raw, suffix)
    try:
        stored = file_store.put_once("files", key, raw, filename=name, content_type=EVIDENCE_SUFFIXES[suffix],
                                     metadata={"kind": "report-file", "form": str(form.id)})
    except file_store.FileStoreError as exc:
        raise ReportError(f"Поле «{label}»: {exc}") from None
    return dataclasses.asdict(stored)


def save_submission(form: ReportForm, org: Organisation, period: Period, raw: dict, *, submit: bool,
                    files: dict[str, tuple[str, bytes]] | None = None, actor=None) -> ReportSubmission:
    """Save a report as a draft, or submit it (every required field and range checked)."""
    if not form.active:
        raise ReportError("Форма отчёта больше не действует.")
    if org.kind is not OrgKind(form.submitter_kind) or not org.is_within(form.owner):
        raise ReportError(f"«{org.display_name}» не заполняет эту форму (её заполняет "
                          f"{SUBMITTER_KINDS[form.submitter_kind].lower()}).")
    if period.start < form.first_period:
        raise ReportError(f"Период «{period.label}» раньше первого отчётного периода формы.")
    if period.start > today():
        raise ReportError(f"Период «{period.label}» ещё не начался.")
    sub = submission_for(form, org, period)
    if sub is not None and sub.status is ReportStatus.accepted:
        raise ReportError(f"Отчёт за {period.label} принят; изменить его нельзя.")
    existing = dict(sub.values) if sub is not None else {}
    values, errors = validate_values(form, raw, require=submit, existing=existing)
    stored = {}
    if not errors:
        labels = {f["key"]: f["label"] for f in form.fields if f["type"] == "file"}
        for key, (name, data) in (files or {}).items():
            if key in labels and data:
                try:
                    stored[key] = _store_file(form, org, period, labels[key], name, data)
                except ReportError as exc:
                    errors += exc.errors
        if not errors:
            values, errors = validate_values(form, raw, require=submit, files=stored, existing=existing)
    if errors:
        raise ReportError(errors)
    before = None
    if sub is None:
        sub = ReportSubmission(form_id=form.id, organisation_id=org.id, period_start=period.start,
                               period_end=period.end, due_date=period.due)
        session.add(sub)
    else:
        before = {"status": sub.status.value}
    sub.values, sub.updated_at = values, utcnow()
    if submit:
        sub.status, sub.submitted_at, sub.submitted_on = ReportStatus.submitted, utcnow(), today()
        sub.submitted_by_id, sub.comment = getattr(actor, "id", None), None
    elif sub.status is not ReportStatus.returned:
        sub.status = ReportStatus.draft          # a submitted report saved as a draft is taken back for editing
    session.flush()
    audit.record("report.submit" if submit else "report.save", sub, actor=actor, before=before,
                 after={"status": sub.status.value, "fields": sorted(values)},
                 form_id=form.id, organisation_id=org.id, period=period.key,
                 late_days=max(0, (sub.submitted_on - sub.due_date).days) if submit and sub.submitted_on else None)
    return sub


def decide_submission(sub: ReportSubmission, *, accept: bool, comment: str | None = None, actor=None) -> None:
    comment = (comment or "").strip() or None
    if sub.status is not ReportStatus.submitted:
        raise ReportError(f"Отчёт не ждёт проверки (состояние: {sub.status.label}).")
    if not accept and not comment:
        raise ReportError("Укажите, что исправить: возврат без комментария не допускается.")
    before = sub.status
    sub.status = ReportStatus.accepted if accept else ReportStatus.returned
    sub.decided_at, sub.decided_by_id, sub.comment = utcnow(), getattr(actor, "id", None), comment
    session.flush()
    audit.record("report.accept" if accept else "report.return", sub, actor=actor, before={"status": before.value},
                 after={"status": sub.status.value, "comment": comment}, form_id=sub.form_id)
    if not accept:
        form = session.get_one(ReportForm, sub.form_id)
        notice.send(sub, kind="report.return", org_ids=[sub.organisation_id], action="report.submit",
                    text=f"Отчёт «{form.title}» за период с {sub.period_start:%d.%m.%Y} возвращён: {comment}",
                    url=f"/transitions/reports/{form.id}/{sub.organisation_id}/{period_of(form, sub.period_start).key}")


@dataclass
class SubmissionState:
    code: str        # accepted / submitted / late / returned / draft / overdue / waiting
    label: str
    overdue: bool


def submission_state(sub: ReportSubmission | None, period: Period) -> SubmissionState:
    submitted_on = sub.submitted_on if sub is not None else None
    late = submitted_on is not None and submitted_on > period.due
    late_note = f", с опозданием на {(submitted_on - period.due).days} дн." if submitted_on and late else ""
    if sub is not None and sub.status is ReportStatus.accepted:
        return SubmissionState("accepted", f"принят{late_note}", False)
    if sub is not None and sub.status is ReportStatus.submitted:
        return SubmissionState("late" if late else "submitted",
                               f"представлен {sub.submitted_on:%d.%m.%Y}{late_note}", late)
    overdue = today() > period.due
    prefix = {ReportStatus.returned: "возвращён на доработку", ReportStatus.draft: "черновик"}.get(
        sub.status) if sub is not None else None
    if overdue:
        return SubmissionState("overdue", (prefix + ", " if prefix else "не представлен, ")
                               + f"просрочен (срок {period.due:%d.%m.%Y})", True)
    return SubmissionState(sub.status.value if sub is not None else "waiting",
                           (prefix + ", " if prefix else "") + f"ожидается до {period.due:%d.%m.%Y}", False)


def file_value(sub: ReportSubmission, key: str) -> tuple[str, bytes]:
    value = (sub.values or {}).get(key)
    if not isinstance(value, dict) or "storage_key" not in value:
        raise ReportError("Файла нет.")
    stored = file_store.Stored(**{f: value[f] for f in file_store.Stored.__dataclass_fields__ if f in value})
    try:
        return stored.filename, file_store.read_verified(stored)
    except file_store.FileCorrupt as exc:
        raise ReportError(str(exc)) from None


# ---- roll-up --------------------------------------------------------------------------------------------

@dataclass
class RollupRow:
    municipality_id: int | None       # None: the region total
    municipality: str
    period: Period
    count: int
    sums: dict[str, float | None] = field(default_factory=dict)
    avgs: dict[str, float | None] = field(default_factory=dict)


def numeric_fields(form: ReportForm) -> list[dict]:
    return [f for f in form.fields if f["type"] in NUMERIC_TYPES]


def _value_expr(f: dict):
    v = ReportSubmission.values[f["key"]].astext
    if f["type"] == "yes_no":
        return case((v == "true", 1), (v == "false", 0), else_=None)
    return cast(v, Numeric)


def rollup(form: ReportForm, *, statuses=(ReportStatus.accepted,), municipalities: list[Organisation] | None = None,
           totals: bool = True) -> list[RollupRow]:
    """SUM and AVG of each numeric field per municipality and period (yes/no: count of «да» and share), in SQL.

    A school's report counts for its municipality; `municipalities` limits the rows (a municipal
    official sees only its own). The region total per period follows each period's rows."""
    muni = case((Organisation.kind == OrgKind.school, Organisation.parent_id), else_=Organisation.id).label("muni")
    num = numeric_fields(form)
    cols: list = [func.count(ReportSubmission.id)]
    for f in num:
        cols += [func.sum(_value_expr(f)), func.avg(_value_expr(f))]
    base = (select(*cols).select_from(ReportSubmission)
            .join(Organisation, ReportSubmission.organisation_id == Organisation.id)
            .where(ReportSubmission.form_id == form.id, ReportSubmission.status.in_(list(statuses))))
    if municipalities is not None:
        ids = [m.id for m in municipalities]
        base = base.where(muni.in_(ids) if ids else false())
    per_muni = session.execute(base.add_columns(muni, ReportSubmission.period_start)
                               .group_by(muni, ReportSubmission.period_start)).all()
    region = session.execute(base.add_columns(ReportSubmission.period_start)
                             .group_by(ReportSubmission.period_start)).all() if totals else []
    names = {o.id: o.display_name for o in session.scalars(select(Organisation).where(
        Organisation.id.in_({r[-2] for r in per_muni} or {0})))}

    def row(r, muni_id, name, start):
        out = RollupRow(muni_id, name, period_of(form, start), r[0])
        for i, f in enumerate(num):
            s, a = r[1 + 2 * i], r[2 + 2 * i]
            out.sums[f["key"]] = float(s) if s is not None else None
            out.avgs[f["key"]] = float(round(a * (100 if f["type"] == "yes_no" else 1), 2)) if a is not None else None
        return out
    rows = [row(r, r[-2], names.get(r[-2], "—"), r[-1]) for r in per_muni]
    rows += [row(r, None, "Итого по региону", r[-1]) for r in region]
    rows.sort(key=lambda x: (x.period.start, x.municipality_id is None, x.municipality))
    return rows


def rollup_table(form: ReportForm, rows: list[RollupRow]) -> tuple[list[str], list[list]]:
    """Headers and rows for the page and the XLSX export."""
    headers = ["Период", "Муниципалитет", "Отчётов"]
    for f in numeric_fields(form):
        if f["type"] == "number":
            headers += [f"{f['label']} — сумма", f"{f['label']} — среднее"]
        elif f["type"] == "percentage":
            headers += [f"{f['label']} — среднее"]
        else:
            headers += [f"{f['label']} — «да», число", f"{f['label']} — «да», %"]
    out = []
    for r in rows:
        line = [r.period.label, r.municipality, r.count]
        for f in numeric_fields(form):
            if f["type"] == "percentage":
                line.append(r.avgs[f["key"]])
            else:
                line += [r.sums[f["key"]], r.avgs[f["key"]]]
        out.append(line)
    return headers, out


def chart_series(form: ReportForm, rows: list[RollupRow], key: str) -> tuple[list[str], dict[str, list]]:
    """Per municipality, the value of field `key` per period (AVG for percentages, SUM for numbers)."""
    f = next((f for f in form.fields if f["key"] == key), None)
    if f is None or f["type"] not in NUMERIC_TYPES:
        raise ReportError(f"Поле «{key}»: нет такого числового поля.")
    starts = sorted({r.period.start for r in rows})
    labels = [period_of(form, s).label for s in starts]
    series: dict[str, list] = defaultdict(lambda: [None] * len(starts))
    use_avg = f["type"] in ("percentage", "yes_no")
    for r in rows:
        series[r.municipality][starts.index(r.period.start)] = r.avgs[key] if use_avg else r.sums[key]
    return labels, dict(series)
