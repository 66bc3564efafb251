"""Demo data: a region with municipalities, schools, support bodies, people and users."""
import random

from sqlalchemy import select

from core.db import session
from orgs import accounts as services
from orgs.models.organisations import OrgKind
from orgs.models.users import ROLE_LABELS, Role, User
from orgs.passwords import hash_password
from orgs.services import create_org
from pades.demo_pki import PASSPHRASE

DEMO_PASSWORD = PASSPHRASE  # the published password of the demo users: the demo keys' one, to remember one
MUNICIPALITIES = ["Азнакаевский", "Альметьевский", "Бугульминский", "Елабужский", "Зеленодольский",
                  "Лениногорский", "Мамадышский", "Менделеевский", "Нижнекамский", "Чистопольский",
                  "Арский", "Буинский", "Кукморский", "Лаишевский", "Тетюшский"]
SURNAMES = ["Иванова", "Петрова", "Сафина", "Гарипова", "Смирнова", "Хасанова", "Кузнецова", "Шешерина",
            "Валиева", "Попова", "Юсупова", "Фёдорова", "Морозова", "Галиева", "Ёлкина"]
INITIALS = ["А.А.", "Г.А.", "Е.В.", "Л.Р.", "М.П.", "Н.И.", "О.С.", "Р.Ф.", "Т.Н."]


def make_demo(schools: int = 30, seed: int = 1) -> list[tuple[str, str, str]]:
    """Build the demo region; returns (login, password, role) of the demo users. Flushes, never commits."""
    if session.scalar(select(User.id).where(User.login == "admin")):
        raise ValueError("Демо-данные уже созданы.")
    rnd = random.Random(seed)  # nosec B311 # reproducible demo data, not security
    region = create_org(kind=OrgKind.region, code="R16", name="Демонстрационная область", audited=False)
    create_org(kind=OrgKind.institute, code="R16-IRO", parent=region, audited=False,
               name="ГАОУ ДПО «Институт развития образования»")
    create_org(kind=OrgKind.computer_centre, code="R16-RCMKO", parent=region, audited=False,
               name="ГАУ «Региональный центр мониторинга качества образования»")
    n_mun = max(2, min(len(MUNICIPALITIES) * 10, schools // 10 or 1))
    municipalities = []
    for i in range(n_mun):
        base = MUNICIPALITIES[i % len(MUNICIPALITIES)] + (f"-{i // len(MUNICIPALITIES) + 1}"
                                                          if i >= len(MUNICIPALITIES) else "")
        m = create_org(kind=OrgKind.municipality, code=f"M{i + 1:03d}", parent=region, audited=False,
                       name=f"Управление образования {base} муниципального района",
                       short_name=f"{base} МР")
        municipalities.append(m)
    centre = create_org(kind=OrgKind.methodical_centre, code="M001-MC", parent=municipalities[0], audited=False,
                        name=f"Методический центр {municipalities[0].short_name}")
    school_orgs = []
    for i in range(schools):
        m = municipalities[i % n_mun]
        number = i // n_mun + 1
        school_orgs.append(create_org(
            kind=OrgKind.school, code=f"{m.code}-S{number:03d}", parent=m, audited=False,
            name=f"МБОУ «Средняя общеобразовательная школа № {number}» {m.short_name}",
            short_name=f"СОШ № {number} ({m.short_name})"))

    # One argon2 hash for every demo account: hashing is deliberately slow.
    pw_hash = hash_password(DEMO_PASSWORD)
    people = [("admin", Role.admin, region), ("region", Role.regional_official, region),
              ("mouo", Role.municipal_official, municipalities[0]),
              ("director", Role.director, school_orgs[0] if school_orgs else municipalities[0]),
              ("teacher", Role.class_teacher, school_orgs[0] if school_orgs else municipalities[0]),
              ("archivist", Role.archivist, region), ("metod", Role.executor, centre)]
    logins = []
    for login, role, org in people:
        _demo_user(login, role, org, pw_hash, rnd)
        logins.append((login, DEMO_PASSWORD, f"{ROLE_LABELS[role]} — {org.display_name}"))
    for m in municipalities[1:]:
        _demo_user(f"mouo-{m.code.lower()}", Role.municipal_official, m, pw_hash, rnd)
    for s in school_orgs[1:]:
        _demo_user(f"dir-{s.code.lower()}", Role.director, s, pw_hash, rnd)
    return logins


def _demo_user(login: str, role: Role, org, pw_hash: str, rnd: random.Random) -> User:
    user = User(login=login, full_name=f"{rnd.choice(SURNAMES)} {rnd.choice(INITIALS)}", password_hash=pw_hash,
                position=ROLE_LABELS[role])
    session.add(user)
    session.flush()
    services.grant(user, role, org)
    return user


def make_demo_pki(directory) -> None:
    """Keys for the demo teacher, director and archivist (and the archive's seal), so signing can be tried at
    once (demo only): a CA of its own, which TRUST_ROOTS names on a demo instance."""
    from pades import demo_pki
    people = {u.login: u.full_name for u in session.scalars(select(User).where(
        User.login.in_(["teacher", "director", "dir-m001-s002", "archivist"])))}   # two directors: two statements
    # archive-seal.p12: the archive's service key (export inventories); archivist.p12 signs disposal acts
    demo_pki.make(directory, people, DEMO_PASSWORD, seal="Электронный архив (демо-печать)")
