"""Realistic sample sheets for tests and benchmarks: a 7th form of 28 pupils, 16 subjects, quarters.

Deterministic (seeded), with ё names placed where code-point order would sort them wrongly,
one pupil held back with a «2», one not attested, one with a «незач», one exempt from PE.
"""
import random
from datetime import date

from sheets.sheet_data import QUARTERS, PupilRow, SheetData

SUBJECTS = [
    "Русский язык", "Литература", "Родной язык (татарский)", "Родная литература", "Иностранный язык (английский)",
    "Алгебра", "Геометрия", "Вероятность и статистика", "Информатика", "История", "Обществознание",
    "География", "Биология", "Физика", "Изобразительное искусство", "Физическая культура",
]

NAMES = [
    "Абдуллина Алсу Ринатовна", "Алёшин Пётр Сергеевич", "Алексеев Иван Андреевич", "Алехина Дарья Олеговна",
    "Борисов Никита Ильич", "Валиев Тимур Айдарович", "Гарипова Элина Маратовна", "Ёлкина Софья Дмитриевна",
    "Егоров Артём Викторович", "Жукова Полина Алексеевна", "Закиров Амир Рустемович", "Иванова Анна Павловна",
    "Иванов Кирилл Максимович", "Киселёва Вероника Игоревна", "Киселев Глеб Романович", "Лебедева Ксения Юрьевна",
    "Мухаметшин Булат Ильдарович", "Нестерова Алёна Владимировна", "Орлов Матвей Денисович",
    "Петрова Ульяна Артёмовна", "Семёнов Даниил Евгеньевич", "Семенова Милана Руслановна",
    "Тихонов Лев Константинович", "Фёдоров Ярослав Антонович", "Хабибуллина Камила Айратовна",
    "Чернов Фёдор Николаевич", "Шарафутдинов Арслан Маратович", "Яковлева Виктория Станиславовна",
]


def make_sheet(pupils: int = 28, subjects: int = 16, periods=QUARTERS, seed: int = 2026,
               document_id: str = "SV-2026-0000001") -> SheetData:
    rnd = random.Random(seed)
    subj = SUBJECTS[:subjects]
    names = list(NAMES[:pupils])
    rnd.shuffle(names)                          # the renderer must sort, not the caller
    rows = []
    for i, name in enumerate(names):
        level = rnd.choice([5, 5, 4, 4, 4, 3])
        marks = {}
        terms = [p for p in periods if p not in ("Год", "Экз.", "Итог")]
        for s in subj:
            qs = [max(3, min(5, level + rnd.choice([-1, 0, 0, 1]))) for _ in terms]
            year = str(round(sum(qs) / len(qs)))
            marks.update({(s, p): str(m) for p, m in zip(terms, qs)})
            finals = ["Год", "Итог"] + (["Экз."] if s in ("Алгебра", "Русский язык") else [])
            marks.update({(s, p): year for p in finals if p in periods})
        rows.append(PupilRow(name=name, marks=marks, absences_days=rnd.randint(0, 12),
                             absences_lessons=(lessons := rnd.randint(0, 60)),
                             absences_illness=rnd.randint(0, lessons), decision="переведён"))
    by_name = {r.name: r for r in rows}
    if "Орлов Матвей Денисович" in by_name and "Алгебра" in subj:          # held back: a «2» for the year in algebra
        r = by_name["Орлов Матвей Денисович"]
        r.marks.update({("Алгебра", p): "2" for p in ("Год", "Итог") if p in periods})
        r.decision = "оставлен"
    if "Тихонов Лев Константинович" in by_name and "История" in subj:      # not attested (long illness)
        r = by_name["Тихонов Лев Константинович"]
        r.marks.update({("История", p): "н/а" for p in ("Год", "Итог") if p in periods})
        r.decision = "условно переведён"
    if "Петрова Ульяна Артёмовна" in by_name and "Физическая культура" in subj:
        r = by_name["Петрова Ульяна Артёмовна"]
        for p in periods:
            r.marks[("Физическая культура", p)] = "осв" if p != "Экз." else ""
    if "Борисов Никита Ильич" in by_name and "Изобразительное искусство" in subj:
        r = by_name["Борисов Никита Ильич"]
        r.marks[("Изобразительное искусство", "Итог" if "Итог" in periods else "Год")] = "незач"
        r.decision = "условно переведён"
    if "Иванова Анна Павловна" in by_name:           # a straight-A pupil
        r = by_name["Иванова Анна Павловна"]
        r.marks = {k: ("5" if v not in ("", "осв") else v) for k, v in r.marks.items()}
    return SheetData(
        region="Республика Татарстан", municipality="г. Казань, Советский район",
        school="МБОУ «Средняя общеобразовательная школа № 101»", class_name="7 «А»", school_year="2025/2026",
        class_teacher="Иванова Мария Петровна", director="Сафин Ринат Ильдарович", document_id=document_id,
        verify_url=f"https://journals.example.ru/verify/{document_id}", periods=list(periods), subjects=subj,
        pupils=rows, council_date=date(2026, 5, 29), council_protocol="7")


def marks_csv(classes: int, pupils: int, subjects: int) -> bytes:
    """A marks import (long layout, `;`) of `classes` classes named 5 «А» … (fault tests, benchmarks)."""
    lines = ["Класс;Ученик;Предмет;Период;Оценка;Решение;Дата педсовета;Протокол"]
    for c in range(classes):
        sheet = make_sheet(pupils=pupils, subjects=subjects, seed=c)
        name = f"{5 + c % 7} «{'АБВГДЕЖЗИК'[c // 7 % 10]}{c // 70 or ''}»"
        for p in sheet.pupils:
            for (subject, period), mark in p.marks.items():
                lines.append(f"{name};{p.name};{subject};{period};{mark};{p.decision};29.05.2026;7")
    return "\n".join(lines).encode("utf-8")
