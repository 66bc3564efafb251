"""The demo region at work (`flask demo-data`, what `serve` makes on a new instance): made by the service's own
code — the same services the pages call — so that each demo login finds something to do.

- Order № 3116 (docs/samples) registered from its text and put in force; its continuous rows given to the
  municipalities (monthly) and the schools (quarterly) for this school year. The dates already passed get a
  spread of outcomes through the services (answered, accepted, returned, on review, silent); then the answers
  meant to have come in time get their dates moved back (the only thing the services cannot do: the past).
- The transition campaign after the Tambov letter (docs/samples): the recommended list, replies (one in time,
  one late, one missing), evidence for the first stages, some accepted and one returned, a stage due date that
  has passed.
- A monthly report form for the municipalities with a submission in time, one late, one returned.
- Marks of three classes of the demo director's school from a generated journal export (long layout CSV),
  their class teacher assigned, the sheets rendered — waiting for the teacher's signature.
Deterministic: the random generator is seeded; nothing depends on the clock but "today".
"""
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from sqlalchemy import select, text, update

from core import ROOT
from core.clock import today
from core.db import session
from orgs.models.organisations import Organisation, OrgKind
from orgs.models.users import User

SAMPLES = ROOT / "docs" / "samples"
SUBJECTS = ["Русский язык", "Литература", "Алгебра", "Геометрия", "История", "Биология", "Физика", "Английский язык"]
NAMES = ["Алёшин Пётр", "Белова Анна", "Васильев Игорь", "Галиева Алсу", "Денисов Марк", "Ежова Дарья",
         "Жуков Артём", "Зайцева Полина", "Ибрагимов Тимур", "Карпова Софья", "Лебедев Глеб", "Миронова Ева",
         "Николаев Роман", "Орлова Вера", "Павлов Илья", "Родионова Мария"]
PATRONYMICS = ["Сергеевич", "Андреевна", "Олегович", "Ринатовна", "Ильич", "Павловна", "Игоревич", "Юрьевна"]


def _user(login: str) -> User:
    return session.scalars(select(User).where(User.login == login)).one()


def _answerer(org: Organisation) -> User:
    """The demo user who answers for an organisation (its director or МОУО specialist)."""
    from orgs.models.users import RoleGrant
    return session.scalars(select(User).join(RoleGrant, RoleGrant.user_id == User.id)
                           .where(RoleGrant.organisation_id == org.id).order_by(User.id)).first() or _user("admin")


def populate(seed: int = 1, *, render: bool = True, keys: Path | None = None) -> None:
    """`render`: the sheets are rendered too (the PDFs print the verification link: PUBLIC_URL is needed).
    `keys`: the demo PKI's directory (teacher.p12, director.p12, its CA in TRUST_ROOTS): then one sheet is
    certified by the teacher, one signed by both (it goes to the archive) and corrected by a new version."""
    rnd = random.Random(seed)  # nosec B311 # reproducible demo data, not security
    region = session.scalars(select(Organisation).where(Organisation.kind == OrgKind.region)).one()
    munis = list(session.scalars(select(Organisation).where(Organisation.parent_id == region.id,
                                                            Organisation.kind == OrgKind.municipality)
                                 .order_by(Organisation.code)))
    schools = list(session.scalars(select(Organisation).where(Organisation.kind == OrgKind.school)
                                   .order_by(Organisation.code)))
    day = today()
    _orders(region, munis, schools, day, rnd)
    _campaign(region, munis, schools, day, rnd, keys if render else None)
    _report(region, munis, day)
    _sheets(schools[0], day, rnd, render=render, keys=keys)
    _guessed_password("dir-m001-s002")


def _guessed_password(login: str) -> None:
    """Somebody tries passwords on a director's account from several addresses: the administrator is told."""
    from orgs.accounts import FAILED_LOGINS_NOTICE, authenticate
    for n in range(FAILED_LOGINS_NOTICE):
        authenticate(login, f"guess-{n}", ip=f"192.0.2.{40 + n}")   # TEST-NET-1 addresses


# ---- order 3116 and its assignments ----------------------------------------------------------------------------

def _orders(region, munis, schools, day, rnd) -> None:
    from assignments import services as asvc
    from assignments.models import Occurrence, OccurrenceKind
    from ordinances import services as osvc
    from ordinances.models.ordinances import OrdinanceStatus
    from ordinances.parsing.parser import parse_file
    official = _user("region")
    order = osvc.create_from_parsed(parse_file(SAMPLES / "prikaz_3116_tambov_2010.txt"), issuer=region,
                                    actor=official, source_filename="prikaz_3116.txt")
    osvc.set_status(order, OrdinanceStatus.in_force, actor=official)
    assert order.plan is not None, "order 3116 has its plan table"
    items = {i.number: i for i in order.plan.table_items}
    year = asvc.school_year(day)
    given = [asvc.create_assignment(items["2.7"], region, munis, actor=official, rule="monthly", horizon=year),
             asvc.create_assignment(items["2.5"], region, [*schools, *_support_bodies(region)], actor=official,
                                    rule="quarterly", horizon=year)]
    past = list(session.scalars(select(Occurrence).where(
        Occurrence.assignment_id.in_([a.id for a in given]), Occurrence.kind == OccurrenceKind.deadline,
        Occurrence.due_date < day).order_by(Occurrence.id)))
    in_time = []
    for i, occ in enumerate(past):
        fate = rnd.random()
        if fate > 0.85:
            continue                                           # silent: overdue
        org = session.get_one(Organisation, occ.org_id)
        reviewer = _answerer(org.parent) if org.parent and org.parent.kind is not OrgKind.region else official
        asvc.submit(occ, actor=_answerer(org), text=_report_text(rnd))
        if fate < 0.62:
            asvc.accept(occ, actor=reviewer)
            in_time.append(occ.id)
        elif fate < 0.72:
            asvc.accept(occ, actor=reviewer)                   # accepted, late
        elif fate < 0.78:
            asvc.return_(occ, actor=reviewer, comment="Приложите протокол заседания рабочей группы.")
    if in_time:     # the answers meant to have come in time: their dates moved back before the due date
        session.execute(text("""
            UPDATE occurrences SET submitted_at = (due_date - 2) + time '10:00' AT TIME ZONE 'Europe/Moscow',
                                   completed_at = (due_date - 1) + time '12:00' AT TIME ZONE 'Europe/Moscow',
                                   late = false
            WHERE id = ANY(:ids)"""), {"ids": in_time})
    session.flush()


def _support_bodies(region) -> list[Organisation]:
    """The methodical centre of the first municipality: its staff (demo login metod) answer too."""
    return list(session.scalars(select(Organisation).where(Organisation.kind == OrgKind.methodical_centre,
                                                           Organisation.path.startswith(region.path))))


def _report_text(rnd) -> str:
    return rnd.choice(["Электронные журналы ведутся во всех классах, замечаний нет.",
                       "Проведено совещание с классными руководителями, протокол приложен.",
                       "Заполняемость журналов — 98 %, отставание по 2 классам устранено."])


# ---- the transition campaign ----------------------------------------------------------------------------------

def _campaign(region, munis, schools, day, rnd, keys: Path | None) -> None:
    from ordinances import services as osvc
    from ordinances.models.ordinances import OrdinanceStatus
    from ordinances.parsing.parser import parse_file
    from transitions import services as tsvc
    from transitions.models import MunicipalReply
    official = _user("region")
    parsed = parse_file(SAMPLES / "pismo_tambov_2014.txt")
    letter = osvc.create_from_parsed(parsed, issuer=region, actor=official, source_filename="pismo_2014.txt")
    osvc.set_status(letter, OrdinanceStatus.in_force, actor=official)
    target = dt.date(day.year + 1 if day.month >= 6 else day.year, 9, 1)
    reply_deadline = day - dt.timedelta(days=10)
    c = tsvc.create_campaign(region=region, title=f"Безбумажное ведение журналов с {target:%d.%m.%Y}",
                             target_date=target, reply_deadline=reply_deadline, ordinance=letter,
                             actor=official)
    recommended = [s for i, s in enumerate(schools) if i % 3 != 2]
    tsvc.set_recommended(c, recommended, actor=official, source="демо")
    tsvc.publish_list(c, actor=official)
    for i, m in enumerate(munis[:2]):                     # the first in time, the second late, the rest silent
        mine = [s for s in recommended if s.parent_id == m.id]
        out = next((s for s in reversed(mine) if _answerer(s).login not in SIGNING_DIRECTORS), None)
        lines = [{"school_id": s.id, "decision": "included"} for s in mine if s is not out]
        if out is not None:
            lines.append({"school_id": out.id, "decision": "excluded",
                          "reason": "Нет устойчивого доступа в интернет в здании школы."})
        tsvc.save_reply(c, m, lines, submit=True, contact_name=_answerer(m).full_name,
                        contact_phone="8 (85592) 7-12-34", actor=_answerer(m))
        if i == 0:
            session.execute(update(MunicipalReply)             # ORM update: the loaded reply sees it too
                            .where(MunicipalReply.campaign_id == c.id, MunicipalReply.municipality_id == m.id)
                            .values(submitted_at=dt.datetime.combine(reply_deadline - dt.timedelta(days=2),
                                                                     dt.time(9), tzinfo=dt.timezone.utc)))
    stages = {s.code: s for s in c.stages}
    tsvc.update_stage(stages["platform"], title=stages["platform"].title, due_date=day - dt.timedelta(days=5),
                      actor=official)
    final = [s for s in recommended if tsvc.in_final_list(c, s)]
    ready = [s for s in final if _answerer(s).login in SIGNING_DIRECTORS][:2]
    if keys is not None:
        for school in ready:
            _ready(c, school, day, keys)
    for i, school in enumerate(s for s in final if keys is None or s not in ready):
        director, mouo = _answerer(school), _answerer(school.parent)
        order = {"order_number": f"{40 + i}-о", "order_date": (day - dt.timedelta(days=30)).isoformat()}
        tsvc.submit_evidence(c, school, stages["responsible"], order, actor=director)
        state = tsvc.state_for(c, school, stages["responsible"])
        if i % 4 != 3:
            tsvc.decide(state, accept=True, actor=mouo)
        if i % 2 == 0:
            tsvc.submit_evidence(c, school, stages["platform"], {"platform": "dnevnik_ru",
                                                                 "url": f"https://schools.dnevnik.ru/{1000 + i}"},
                                 actor=director)
            if i % 4 == 0:
                tsvc.decide(tsvc.state_for(c, school, stages["platform"]), accept=False, actor=mouo,
                            comment="Ссылка ведёт на вход в систему, а не на страницу школы.")
    session.flush()


# The directors who hold demo keys (web.demo.make_demo_pki): their schools sign readiness statements.
SIGNING_DIRECTORS = ("director", "dir-m001-s002")


def _ready(c, school, day, keys: Path) -> None:
    """Every stage before the confirmation evidenced and accepted, then the director's signed statement."""
    import pades
    from transitions import services as tsvc
    from transitions.models import StageKind, StatementKind
    from web.demo import DEMO_PASSWORD
    director, mouo = _answerer(school), _answerer(school.parent)
    evidence = {StageKind.platform: {"platform": "dnevnik_ru", "url": "https://schools.dnevnik.ru/school/1"},
                StageKind.parents_link: {"url": "https://school.edu.ru/usluga", "section": "Муниципальная услуга"},
                StageKind.trial: {"date_from": (day - dt.timedelta(days=60)).isoformat()}}
    order = {"order_number": "12-о", "order_date": (day - dt.timedelta(days=90)).isoformat()}
    for stage in c.stages:
        if stage.kind in (StageKind.readiness, StageKind.paperless):
            break
        file = ("Положение.pdf", b"%PDF-1.4 demo") if stage.requires_file else None
        tsvc.submit_evidence(c, school, stage, evidence.get(stage.kind, order), file=file, actor=director)
        tsvc.decide(tsvc.state_for(c, school, stage), accept=True, actor=mouo)
    signer = pades.PKCS12Signer((keys / f"{director.login}.p12").read_bytes(), DEMO_PASSWORD)
    tsvc.sign_statement(c, school, kind=StatementKind.confirm, signer=signer, actor=director)


# ---- the monthly report -----------------------------------------------------------------------------------------

def _report(region, munis, day) -> None:
    from reports import services as rsvc
    official = _user("region")
    spec: dict = rsvc.DEFAULT_FORMS["monthly"]
    first = (day.replace(day=1) - dt.timedelta(days=62)).replace(day=1)
    form = rsvc.create_form(owner=region, title=spec["title"], periodicity=spec["periodicity"],
                            deadline_text=spec["deadline_text"], submitter_kind="municipality", fields=spec["fields"],
                            first_period=first, actor=official)
    period = rsvc.period_of(form, first)
    for i, m in enumerate(munis):
        if i == len(munis) - 1 and len(munis) > 2:
            continue                                         # one municipality has not reported
        total = 10 + 3 * i
        sub = rsvc.save_submission(form, m, period, {
            "schools_total": str(total), "schools_electronic": str(total - i), "schools_paperless": str(i + 1),
            "paperless_share": str(round(100 * (i + 1) / total)), "parents_link": "yes" if i else "no"},
            submit=True, actor=_answerer(m))
        if i == 0:
            session.execute(text("UPDATE report_submissions SET submitted_on = :d WHERE id = :id"),
                            {"d": period.due - dt.timedelta(days=1), "id": sub.id})
            rsvc.decide_submission(sub, accept=True, actor=official)
        elif i == 1:
            rsvc.decide_submission(sub, accept=False, actor=official,
                                   comment="Доля не сходится с числом школ: пересчитайте.")
    session.flush()


# ---- marks and sheets -------------------------------------------------------------------------------------------

def marks_export(classes: list[str], rnd) -> bytes:
    """A journal platform's long export (a row per mark) for the given classes."""
    lines = ["Класс;Ученик;Предмет;Период;Оценка;Пропущено уроков;Решение"]     # no value holds ";" or quotes
    for cls in classes:
        pupils = rnd.sample(NAMES, 12)
        for n, pupil in enumerate(pupils):
            name = f"{pupil} {PATRONYMICS[n % len(PATRONYMICS)]}"
            strong, absent = rnd.random(), rnd.randint(0, 30)       # one pupil's figures, on each of their rows
            for subject in SUBJECTS:
                for period in ("I четв.", "II четв.", "III четв.", "IV четв.", "Год"):
                    mark = 5 if strong > 0.7 else rnd.choice([3, 4, 4, 5])
                    lines.append(f"{cls};{name};{subject};{period};{mark};{absent};переведён")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _sheets(school, day, rnd, *, render: bool, keys: Path | None) -> None:
    import pades
    from core.clock import school_year_label
    from sheets import class_teachers, services
    from sheets.marks_import import import_marks
    from web.demo import DEMO_PASSWORD
    director, teacher = _user("director"), _user("teacher")
    year = school_year_label(day)
    classes = import_marks(marks_export(["5 «А»", "7 «Б»", "9 «В»"], rnd), "journal_export.csv")
    sheets = services.import_classes(school, year, classes, actor=director)
    class_teachers.assign_for(sheets, teacher, actor=director)
    for s in sheets if render else []:
        services.render_pdf(s, actor=director)
    if render and keys is not None:
        as_teacher = pades.PKCS12Signer((keys / "teacher.p12").read_bytes(), DEMO_PASSWORD)
        as_director = pades.PKCS12Signer((keys / "director.p12").read_bytes(), DEMO_PASSWORD)
        certified, signed = sheets[0], sheets[1]                 # 9В stays for the teacher to certify
        services.sign(certified, "teacher", as_teacher, actor=teacher)           # waits for the director
        services.sign(signed, "teacher", as_teacher, actor=teacher)
        services.sign(signed, "director", as_director, actor=director)           # handed to the archive
        marks = dict(signed.marks or {})
        marks["pupils"] = [dict(p) for p in marks["pupils"]]
        marks["pupils"][0]["marks"] = {subj: dict.fromkeys(by_period, "5")
                                       for subj, by_period in marks["pupils"][0]["marks"].items()}
        corrected = services.correct(signed, marks, actor=director,
                                     reason="Ошибка переноса годовых отметок первого ученика из журнала.")
        services.render_pdf(corrected, actor=director)
    session.flush()
