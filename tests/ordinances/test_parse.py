"""Import of the five seed documents, field by field, from text and from .docx."""
import io
import json
from pathlib import Path

import docx
import pytest

from ordinances.parsing.parser import parse_docx, parse_file, parse_text, split_executors

# The seed documents are copied into the repository so the tests never depend on anything outside it.
SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"



def seed_path(prefix: str) -> Path:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path


def seed_text(prefix: str) -> str:
    return seed_path(prefix).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seeds():
    return {p: parse_text(seed_text(p)) for p in ("000", "001", "002", "003", "004")}


def test_every_seed_is_json_able(seeds):
    for doc in seeds.values():
        assert json.loads(json.dumps(doc, ensure_ascii=False)) == doc


# ================================================================== 000: Tambov letter, 2014

def test_000_tambov_letter_header(seeds):
    doc = seeds["000"]
    assert doc["kind"] == "письмо"
    assert doc["issuer"] is None and doc["number"] is None and doc["date"] is None
    assert doc["title"] == ("О переходе на безбумажное ведение электронных журналов/дневников успеваемости "
                            "в общеобразовательных организациях")
    assert doc["salutation"] == "Уважаемые коллеги!"
    assert doc["signatory"] is None and doc["controllers"] == [] and doc["approval"] is None
    assert doc["clauses"] == [] and doc["preamble"] is None and doc["plan"] is None
    assert doc["warnings"] == [
        "Издатель документа не найден",
        "Номер документа не найден",
        "Дата документа не найдена",
        "Подпись (должность и ФИО) не найдена",
    ]


def test_000_tambov_letter_body(seeds):
    body = seeds["000"]["body"]
    assert len(body) == 7
    assert body[0].startswith("Во исполнении пункта 5.15. «Проработать вопрос перехода")
    assert body[0].endswith("в подведомственных общеобразовательных организациях с 1 сентября 2014 года.")
    assert body[3] == ("Перечень носит рекомендательный характер, его необходимо проанализировать и "
                       "скорректировать (расширить) в случае необходимости.")
    # the e-mail split by a Word HYPERLINK field is put back together
    assert body[6] == ("О принятом решении необходимо проинформировать управление образования и науки области "
                       "в срок до 03.06.14 г. по e-mail: prognoz@obraz.tambov.gov.ru (Приложение 2).")


def test_000_tambov_letter_basis_deadlines_attachments(seeds):
    doc = seeds["000"]
    assert [(b["kind"], b["date"], b["number"]) for b in doc["basis"]] == [
        ("решение", "2014-02-20", None),
        ("приказ", "2013-09-11", "3621"),
    ]
    assert doc["basis"][0]["issuer"] == "коллегии управления образования и науки Тамбовской области"
    assert doc["basis"][1]["title"].startswith("О результатах апробации перехода на безбумажное ведение")
    deadlines = [(d["source"], d["text"], d["deadline"]["kind"], d["deadline"]["dtstart"], d["deadline"]["dates"])
                 for d in doc["deadlines"]]
    assert deadlines == [
        ("абз. 1", "с 1 сентября 2014 года", "continuous", "2014-09-01", []),
        ("абз. 6", "с нового 2014/2015 учебного года", "continuous", "2014-09-01", []),
        ("абз. 7", "в срок до 03.06.14 г.", "once", None, ["2014-06-03"]),
    ]
    assert doc["attachments"] == [
        {"number": "1", "title": "Перечень", "note": "на 2 стр в 1 экз.", "mentioned_in": ["абз. 3"]},
        {"number": "2", "title": None, "note": "на 3 стр в 1 экз.", "mentioned_in": ["абз. 7"]},
    ]


# ================================================================== 001: Tambov order №3116

def test_001_tambov_order_header(seeds):
    doc = seeds["001"]
    assert doc["kind"] == "приказ"
    assert doc["number"] == "3116"
    assert doc["date"] == "2010-11-08"
    assert doc["place"] == "г.Тамбов"
    assert doc["issuer_lines"] == ["АДМИНИСТРАЦИЯ ТАМБОВСКОЙ ОБЛАСТИ", "УПРАВЛЕНИЕ ОБРАЗОВАНИЯ и НАУКИ",
                                   "ТАМБОВСКОЙ ОБЛАСТИ"]
    assert doc["issuer"] == "АДМИНИСТРАЦИЯ ТАМБОВСКОЙ ОБЛАСТИ УПРАВЛЕНИЕ ОБРАЗОВАНИЯ и НАУКИ ТАМБОВСКОЙ ОБЛАСТИ"
    assert doc["title"] == ("Об организации работ по внедрению электронных дневников и журналов успеваемости "
                            "в образовательных учреждениях")
    assert doc["preamble"].startswith("С целью реализации распоряжения Правительства РФ от 17 декабря 2009 г.")
    assert doc["preamble"].endswith("ведение электронного дневника и электронного журнала успеваемости»")
    assert doc["warnings"] == []


def test_001_tambov_order_basis(seeds):
    (basis,) = seeds["001"]["basis"]
    assert basis["kind"] == "распоряжение"
    assert basis["issuer"] == "Правительства РФ"
    assert basis["date"] == "2009-12-17"
    assert basis["number"] == "1993-р"
    assert basis["title"] == ("Об утверждении сводного перечня первоочередных государственных и муниципальных "
                              "услуг, предоставляемых в электронном виде")
    assert basis["part"].startswith("приложение 1, п.8 «Предоставление информации о текущей успеваемости")


def test_001_tambov_order_clauses(seeds):
    clauses = seeds["001"]["clauses"]
    assert [(c["number"], c["parent"]) for c in clauses] == [
        ("1", None), ("1.1", "1"), ("1.2", "1"), ("2", None), ("2.1", "2"), ("2.2", "2"), ("3", None),
        ("3.1", "3"), ("4", None), ("4.1", "4"), ("4.2", "4"), ("4.3", "4"), ("5", None),
    ]
    assert clauses[0]["text"] == "Утвердить:"
    assert clauses[1]["text"] == ("Площадкой для внедрения электронных дневников и журналов успеваемости - "
                                  "сайт Интернет-проекта «Дневник.ру».")
    assert clauses[3]["text"] == "ТОГОАУ ДПО «Институт повышения квалификации работников образования» (Шешерина Г.А.):"
    assert clauses[6]["text"] == "ТОГУ «Компьютерный центр» (Маковеев С.Н.)"
    assert clauses[-1]["text"] == ("Контроль за исполнением приказа возложить на начальника отдела комплексного "
                                   "анализа, прогнозирования и мониторинга управления образования и науки "
                                   "М.Ш. Соседову.")
    assert all(c["deadline"] is None for c in clauses)


def test_001_tambov_order_people(seeds):
    doc = seeds["001"]
    assert doc["signatory"] == {"position": "Начальник управления", "name": "Н.Е.Астафьева"}
    (controller,) = doc["controllers"]
    assert controller["name"] == "М.Ш. Соседова"            # the plan writes «Соседова М.Ш.»
    assert controller["name_as_written"] == "М.Ш. Соседову"
    assert controller["position"] == ("начальника отдела комплексного анализа, прогнозирования и мониторинга "
                                      "управления образования и науки")
    assert controller["scope"] is None
    assert doc["approval"] is None
    assert doc["attachments"] == [{"number": "1", "title": "План", "note": None, "mentioned_in": ["п. 1.2"]}]


RESPONSIBLE_SPECIALISTS = ("Специалисты МОУО и ОУ, ответственные за внедрение электронных дневников "
                           "и журналов успеваемости")

# number, title start, executors, deadline kind, dates (or a count), result
PLAN_001 = [
    ("1.1", "Технико-технологическое сопровождение и консультирование", ["Маковеев С.Н."], "continuous", [],
     "Постоянное функционирование горячей линии на сайте компьютерного центра"),
    ("1.2", "Методическое сопровождение и консультирование", ["Шешерина Г.А."], "continuous", [],
     "Постоянное функционирование горячей линии на сайте ТОГОАУ ДПО ИПКРО"),
    ("1.3", "Проведение семинаров со специалистами", ["Шешерина Г.А."], "recurring",
     ["2011-04-30", "2011-09-30"], None),
    ("1.4", "Ввод в курсы повышения квалификации", ["Шешерина Г.А."], "continuous", [], None),
    ("2.1", "Назначение ответственных за внедрение", ["Руководители и специалисты МОУО и ОУ"], "once",
     ["2010-11-11"], "Приказы МОУО, ОУ"),
    ("2.2", "Активация общеобразовательных учреждений на портале сайта «Дневник.ру» по адресу http://dnevnik.ru/",
     [RESPONSIBLE_SPECIALISTS], "once", ["2010-11-15"], None),
    ("2.3", "Организация информационного пространства", [RESPONSIBLE_SPECIALISTS], "once", ["2010-11-20"], None),
    ("2.4", "Ввод информации по успеваемости учащихся", [RESPONSIBLE_SPECIALISTS], "recurring", 365, None),
    ("2.5", "Контроль над внедрением", ["Руководители и специалисты МОУО и ОУ"], "continuous", [], None),
    ("2.6", "Формирование отчетности", ["Руководители и специалисты МОУО"], "recurring",
     ["2010-12-31", "2011-03-31", "2011-06-30", "2011-09-30"],
     "Отчеты по внедрению электронных дневников и журналов успеваемости"),
    ("2.7", "Контроль над организацией работ", ["Соседова М.Ш."], "continuous", [], None),
]
PLAN_001_WORDINGS = ["Постоянно", "Постоянно", "Апрель, сентябрь", "Постоянно", "до 11.11.10 г.", "до 15.11.10 г",
                     "до 20.11.10 г", "Ежедневно", "Постоянно", "Ежеквартально", "Постоянно"]


def assert_plan_001(plan):
    assert plan["title"] == ("План мероприятий по внедрению электронных дневников и журналов успеваемости "
                             "в образовательных учреждениях области")
    assert plan["attachment"] == "1"
    assert plan["columns"] == ["№ п.п", "Мероприятие", "Ответственный", "Срок", "Результат"]
    assert [(s["number"], s["title"]) for s in plan["sections"]] == [
        ("1", "Технологическое и методическое обеспечение"),
        ("2", "Организационно-нормативное обеспечение"),
    ]
    items = [i for s in plan["sections"] for i in s["items"]]
    assert len(items) == len(PLAN_001)  # row 2.2, broken by the page, is one item
    for item, (number, title, executors, kind, dates, result), wording in zip(items, PLAN_001, PLAN_001_WORDINGS):
        assert item["number"] == number
        assert item["title"].startswith(title), number
        assert item["executors"] == executors, number
        assert item["deadline"]["text"] == wording, number
        assert item["deadline"]["kind"] == kind, number
        if isinstance(dates, int):
            assert len(item["deadline"]["dates"]) == dates, number
        else:
            assert item["deadline"]["dates"] == dates, number
        assert item["result"] == result, number
        assert item["deadline"]["warnings"] == []
    by_number = {i["number"]: i for i in items}
    assert by_number["2.2"]["title"] == ("Активация общеобразовательных учреждений на портале сайта «Дневник.ру» "
                                         "по адресу http://dnevnik.ru/")
    assert by_number["2.2"]["executors_text"] == RESPONSIBLE_SPECIALISTS
    assert by_number["1.3"]["deadline"]["rrule"] == "FREQ=YEARLY;BYMONTH=4,9;BYMONTHDAY=-1"
    assert by_number["2.4"]["deadline"]["rrule"] == "FREQ=DAILY"
    assert by_number["2.6"]["deadline"]["rrule"] == "FREQ=YEARLY;BYMONTH=3,6,9,12;BYMONTHDAY=-1"
    assert by_number["1.1"]["deadline"]["dtstart"] == "2010-11-08"


def test_001_tambov_order_plan(seeds):
    assert_plan_001(seeds["001"]["plan"])


# ================================================================== 002: Kazan order №667

def test_002_kazan_order_header(seeds):
    doc = seeds["002"]
    assert doc["kind"] == "приказ"
    assert doc["number"] == "667"
    assert doc["date"] == "2012-11-07"
    assert doc["issuer"] == ("ОТДЕЛ ОБРАЗОВАНИЯ УПРАВЛЕНИЯ ОБРАЗОВАНИЯ ИСПОЛНИТЕЛЬНОГО КОМИТЕТА МУНИЦИПАЛЬНОГО "
                             "ОБРАЗОВАНИЯ ГОРОДА КАЗАНИ ПО СОВЕТСКОМУ РАЙОНУ")
    assert doc["title"] == "О ведении электронного журнала"
    assert doc["preamble"].startswith("Электронный журнал и электронный дневник являются составной частью")
    assert doc["preamble"].endswith("на основании письма МОиН РТ от 30.10.2012г. № 13115/12 «О ведении "
                                    "электронного журнала» и письма ОУ г.Казани")
    assert doc["preamble"].count("\n· ") == 3
    # the document ends with the executor; the head's signature is not in the text
    assert doc["signatory"] is None
    assert doc["warnings"] == ["Подпись (должность и ФИО) не найдена"]


def test_002_kazan_order_basis(seeds):
    basis = seeds["002"]["basis"]
    assert [(b["kind"], b["date"], b["number"]) for b in basis] == [
        ("порядок", None, None),
        ("приказ", "2012-03-30", "189"),
        ("административный регламент", None, None),
        ("письмо", "2012-10-30", "13115/12"),
    ]
    assert basis[0]["title"] == ("Порядок использования классного журнала в электронном виде в общеобразовательных "
                                 "учреждениях Республики Татарстан")
    approved_by = basis[0]["approved_by"]
    assert (approved_by["kind"], approved_by["issuer"], approved_by["date"], approved_by["number"]) == (
        "приказ", "Министерства образования и науки РТ", "2011-12-16", "6546/11")
    assert basis[1]["issuer"] == "Управления образования г. Казани"
    assert basis[1]["title"] == "Об использовании электронных журналов в общеобразовательных учреждениях г.Казани"
    assert basis[3]["issuer"] == "МОиН РТ"
    assert basis[3]["title"] == "О ведении электронного журнала"


def test_002_kazan_order_clause_and_control(seeds):
    doc = seeds["002"]
    (clause,) = doc["clauses"]
    assert clause["number"] == "1"
    assert clause["text"].startswith("Руководителям общеобразовательных учреждений района следовать п.3.5, 3.7, 3.8")
    # the explanation of п. 3.6 continues clause 1
    assert clause["text"].endswith("\nПункт 3.6. Порядка «Для использования данных из электронной формы в качестве "
                                   "документов они выводятся на печать и заверяются в установленном порядке» не "
                                   "обязывает образовательное учреждение распечатывать электронный журнал в полном "
                                   "объёме, а также за различные периоды в рамках учебного года.")
    assert "Сводную ведомость за учебный год" in clause["text"]
    assert doc["controllers"] == [{
        "name": None, "name_as_written": None, "position": None, "scope": None, "is_signatory": True,
        "text": "Контроль за исполнением приказа оставляю за собой",
    }]
    assert doc["approval"] == {"author": {"name": "А.И.Юсупов", "position": None, "phone": "246-26-07"},
                               "agreed": [], "subject": None, "note": None}
    assert doc["deadlines"] == [] and doc["attachments"] == [] and doc["plan"] is None


# ================================================================== 003: Chelyabinsk letter 01/4817

def test_003_chelyabinsk_letter(seeds):
    doc = seeds["003"]
    assert doc["kind"] == "письмо"
    assert doc["number"] == "01/4817"
    assert doc["date"] == "2010-10-07"
    assert doc["issuer"] == "МИНИСТЕРСТВО ОБРАЗОВАНИЯ И НАУКИ ЧЕЛЯБИНСКОЙ ОБЛАСТИ"
    assert doc["letterhead"] == [
        "площадь Революции, д.4, Челябинск, 454113",
        "Тел.(351) 263-67-62, факс (351) 263-87-05",
        "E-mail: moia@chel.svrnet.ru, www.minoobr74.ru",
        "ОКПО 00097442, ОГРН 1047423522277",
        "ИНН/КПП 7451208572/745101901",
    ]
    assert doc["in_reply_to"] is None  # «На № … от …» left blank on the form
    assert doc["title"] is None        # the letter has no subject line
    assert doc["salutation"] == "Уважаемые коллеги!"
    assert doc["signatory"] == {"position": "Министр", "name": "А.И. Кузнецов"}
    assert doc["approval"]["author"] == {"name": "Выдря Н.М.", "position": None, "phone": "2632886"}
    assert doc["distribution"] == ["в дело", "отдел исполнителя", "МОУО"]
    assert doc["warnings"] == ["Заголовок документа не найден"]


def test_003_chelyabinsk_letter_body(seeds):
    doc = seeds["003"]
    body = doc["body"]
    assert len(body) == 5
    assert body[0].startswith("В соответствии с распоряжением Правительства Российской Федерации")
    # a paragraph broken by the page («По данным» / «мониторинга, …») is joined again
    assert "По данным мониторинга, на сегодняшний день" in body[2]
    assert body[4].endswith("подобная деятельность должна быть регламентирована уставом образовательного учреждения.")
    assert [(b["kind"], b["date"], b["number"]) for b in doc["basis"]] == [
        ("распоряжение", "2009-12-17", "1993-р"),
        ("распоряжение", "2010-05-12", "35-р"),
        ("закон", None, None),
    ]
    assert doc["basis"][1]["issuer"] == "Губернатора Челябинской области"
    assert doc["basis"][2]["title"] == "Об образовании"
    (deadline,) = doc["deadlines"]
    assert (deadline["source"], deadline["text"]) == ("абз. 1", "к 1 января 2014 года")
    assert (deadline["deadline"]["kind"], deadline["deadline"]["dates"]) == ("once", ["2014-01-01"])


# ================================================================== 004: Krasnodar order №271

def test_004_krasnodar_order_header(seeds):
    doc = seeds["004"]
    assert doc["kind"] == "приказ"  # «П Р И К А З»
    assert doc["number"] == "271"
    assert doc["date"] == "2011-04-26"
    assert doc["place"] == "г. Краснодар"
    assert doc["issuer"] == "Администрация муниципального образования город Краснодар ДЕПАРТАМЕНТ ОБРАЗОВАНИЯ"
    assert doc["letterhead"] == ["Коммунаров ул., д. 150, Краснодар, 350000, тел./факс (861) 251-05-31",
                                 "e-mail: edu@krd.ru"]
    assert doc["title"] == ("О ведении электронных дневников и журналов общеобразовательными учреждениями "
                            "муниципального образования город Краснодар")
    assert doc["preamble"] == ("В целях формирования единой инфраструктуры информационных ресурсов муниципальных "
                               "общеобразовательных учреждений муниципального образования город Краснодар, "
                               "повышения качества использования Интернет – технологий в образовательном процессе")
    assert doc["basis"] == []
    assert doc["signatory"] == {"position": "Директор департамента", "name": "И.М.Гамзаев"}
    # the deadline of п. 2.1 is a day before the order itself
    assert doc["warnings"] == ["п. 2.1: Срок 25.04.2011 раньше даты документа 26.04.2011"]


def test_004_krasnodar_order_clauses(seeds):
    clauses = seeds["004"]["clauses"]
    assert [c["number"] for c in clauses] == ["1", "2", "2.1", "2.2", "2.3", "3", "3.1", "3.2", "3.3", "3.4",
                                             "3.5", "4", "4.1", "4.2", "5"]
    assert clauses[0]["text"].startswith("Утвердить примерное Положение о ведении электронных дневников")
    by_number = {c["number"]: c for c in clauses}
    assert by_number["3.4"]["text"] == ("Разместить на сайте общеобразовательного учреждения в разделе «Муниципальная "
                                        "услуга» ссылку для родителей (законных представителей) обучающихся на "
                                        "электронные журналы и дневники.")
    assert clauses[-1]["text"].startswith("Контроль за исполнением настоящего приказа в части апробации")
    assert clauses[-1]["text"].endswith("возложить на заместителя директора департамента И.А.Алферову.")
    d21 = by_number["2.1"]["deadline"]
    assert (d21["text"], d21["kind"], d21["dates"]) == ("до 25.04.2011", "once", ["2011-04-25"])
    assert d21["warnings"] == ["Срок 25.04.2011 раньше даты документа 26.04.2011"]
    d23 = by_number["2.3"]["deadline"]
    assert (d23["text"], d23["kind"], d23["rrule"], d23["dtstart"]) == (
        "ежемесячно до 30 числа отчетного месяца", "recurring", "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1",
        "2011-04-26")
    assert d23["dates"][:3] == ["2011-04-30", "2011-05-30", "2011-06-30"]
    assert d23["dates"][10] == "2012-02-29" and len(d23["dates"]) == 12
    d42 = by_number["4.2"]["deadline"]
    assert (d42["text"], d42["rrule"]) == ("Ежемесячно", "FREQ=MONTHLY;BYMONTHDAY=-1")
    assert [c["number"] for c in clauses if c["deadline"]] == ["2.1", "2.3", "3.5", "4.2"]
    assert by_number["3.5"]["deadline"]["kind"] == "continuous"         # «постоянный контроль» (a duty's)


def test_004_krasnodar_two_controllers_each_for_a_part(seeds):
    first, second = seeds["004"]["controllers"]
    assert (first["name"], first["name_as_written"], first["position"], first["scope"]) == (
        "А.С.Некрасов", "А.С.Некрасова", "заместителя директора департамента",
        "апробации и внедрения программных комплексов электронных журналов и дневников")
    assert (second["name"], second["name_as_written"], second["position"], second["scope"]) == (
        "И.А.Алфёрова", "И.А.Алферову", "заместителя директора департамента",
        "функционирования программных комплексов электронных журналов и дневников")


def test_004_krasnodar_approval_sheet_and_attachments(seeds):
    doc = seeds["004"]
    assert doc["approval"] == {
        "author": {"name": "Т.А.Петрова", "position": "Начальник отдела общего среднего образования департамента",
                   "phone": None},
        "agreed": [
            {"name": "И.А.Алфёрова", "position": "Заместитель директора департамента"},
            {"name": "А.С.Некрасов", "position": "Заместитель директора департамента"},
        ],
        "subject": ("проекта приказа департамента образования администрации муниципального образования город "
                    "Краснодар «О ведении электронных дневников и журналов общеобразовательными учреждениями "
                    "муниципального образования город Краснодар»"),
        "note": ("Проект подготовлен в соответствии с Инструкцией по делопроизводству в администрации "
                 "муниципального образования город Краснодар"),
    }
    assert doc["attachments"] == [
        {"number": "1", "title": "Положение", "note": None, "mentioned_in": ["п. 1"]},
        {"number": "2", "title": "Форма", "note": None, "mentioned_in": ["п. 2.3"]},
    ]
    assert doc["plan"] is None


# ================================================================== .docx and files

def docx_from_text(text: str, *, join_page_break_rows: bool = False) -> io.BytesIO:
    """A .docx with the seed's lines as paragraphs and its tab-separated lines as one real table."""
    document = docx.Document()
    rows: list[list[str]] = []

    def flush():
        if not rows:
            return
        width = max(len(r) for r in rows)
        table = document.add_table(rows=0, cols=width)
        for cells in rows:
            row = table.add_row()
            for i, value in enumerate(cells):
                row.cells[i].text = value
        rows.clear()

    for line in text.split("\n"):
        if "\t" in line:
            cells = line.split("\t")
            if join_page_break_rows and rows and not cells[0].strip():
                # in Word a row broken by a page is still one row
                rows[-1] = [" ".join(filter(None, (a.strip(), b.strip()))) for a, b in zip(rows[-1], cells)]
            else:
                rows.append(cells)
        elif rows and not line.strip():
            continue  # the page break inside the table
        else:
            flush()
            document.add_paragraph(line)
    flush()
    buf = io.BytesIO()
    document.save(buf)
    buf.seek(0)
    return buf


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_docx_gives_the_same_result_as_text(seeds, prefix):
    assert parse_docx(docx_from_text(seed_text(prefix))) == seeds[prefix]


def test_docx_plan_with_row_kept_whole_by_word(seeds):
    doc = parse_docx(docx_from_text(seed_text("001"), join_page_break_rows=True))
    assert_plan_001(doc["plan"])
    assert doc == seeds["001"]


def test_docx_with_merged_section_row_and_tabbed_header():
    document = docx.Document()
    document.add_paragraph("ДЕПАРТАМЕНТ ОБРАЗОВАНИЯ")
    document.add_paragraph("ПРИКАЗ")
    document.add_paragraph("26.04.2011\tг. Краснодар\t№ 271")
    document.add_paragraph("О плане работ")
    document.add_paragraph("В целях внедрения электронных журналов п р и к а з ы в а ю:")
    document.add_paragraph("1. Утвердить план (далее – План, приложение 1).")
    document.add_paragraph("Директор департамента\t\tИ.М.Гамзаев")
    document.add_paragraph("План работ")
    table = document.add_table(rows=3, cols=5)
    for cell, value in zip(table.rows[0].cells, ["№ п/п", "Мероприятие", "Исполнитель", "Срок", "Результат"]):
        cell.text = value
    section = table.rows[1].cells[0].merge(table.rows[1].cells[4])
    section.text = "1. Обучение"
    for cell, value in zip(table.rows[2].cells,
                           ["1.1", "Семинар", "Петрова Т.А.; Иванов И.И.", "ежегодно до 25 мая", ""]):
        cell.text = value
    buf = io.BytesIO()
    document.save(buf)
    buf.seek(0)
    doc = parse_docx(buf)
    assert (doc["kind"], doc["number"], doc["date"], doc["place"]) == ("приказ", "271", "2011-04-26", "г. Краснодар")
    assert doc["signatory"] == {"position": "Директор департамента", "name": "И.М.Гамзаев"}
    assert [c["number"] for c in doc["clauses"]] == ["1"]
    (section,) = doc["plan"]["sections"]
    assert (section["number"], section["title"]) == ("1", "Обучение")
    (item,) = section["items"]
    assert item["executors"] == ["Петрова Т.А.", "Иванов И.И."]
    assert item["deadline"]["rrule"] == "FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=25"
    assert item["deadline"]["dates"] == ["2011-05-25"]
    assert item["result"] is None
    assert doc["plan"]["attachment"] == "1"
    assert doc["warnings"] == []


def test_parse_file_txt_utf8_cp1251_and_docx(tmp_path, seeds):
    assert parse_file(seed_path("002")) == seeds["002"]
    cp1251 = tmp_path / "kazan.txt"
    cp1251.write_bytes(seed_text("002").encode("cp1251"))
    assert parse_file(cp1251) == seeds["002"]
    as_docx = tmp_path / "tambov.docx"
    as_docx.write_bytes(docx_from_text(seed_text("001")).getvalue())
    assert parse_file(as_docx) == seeds["001"]
    with pytest.raises(ValueError, match="Неподдерживаемый формат"):
        parse_file(tmp_path / "order.doc")


# ================================================================== robustness

def test_garbage_and_empty_input_give_warnings_not_errors():
    empty = parse_text("")
    assert empty["kind"] is None and empty["clauses"] == []
    assert "Вид документа не определён" in empty["warnings"]
    junk = parse_text("@@@\n\n12345\tqwe\n\x00\nфывапролдж")
    assert junk["kind"] is None
    assert junk["warnings"]


def test_unknown_lines_are_reported_not_dropped():
    text = seed_text("004").replace("ЛИСТ СОГЛАСОВАНИЯ", "Какой-то посторонний текст.\n\nЛИСТ СОГЛАСОВАНИЯ")
    doc = parse_text(text)
    assert "Не распознан фрагмент: «Какой-то посторонний текст.»" in doc["warnings"]


def test_unreadable_plan_deadline_is_a_warning():
    text = seed_text("001").replace("до 20.11.10 г", "до 31.11.10 г")
    doc = parse_text(text)
    item = doc["plan"]["sections"][1]["items"][2]
    assert (item["number"], item["deadline"]["kind"], item["deadline"]["dates"]) == ("2.3", "unparsed", [])
    assert doc["warnings"] == ["План, п. 2.3: Недопустимая дата «31.11.10»"]


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_truncated_seeds_do_not_crash(prefix):
    text = seed_text(prefix)
    for cut in range(0, len(text), max(1, len(text) // 25)):
        doc = parse_text(text[:cut])
        json.dumps(doc, ensure_ascii=False)


@pytest.mark.parametrize("cell, executors", [
    ("Шешерина Г.А., Иванов И.И.", ["Шешерина Г.А.", "Иванов И.И."]),
    ("Руководители и специалисты МОУО и ОУ", ["Руководители и специалисты МОУО и ОУ"]),
    (RESPONSIBLE_SPECIALISTS, [RESPONSIBLE_SPECIALISTS]),
    ("ТОГУ «Компьютерный центр, отдел 1»; Маковеев С.Н.", ["ТОГУ «Компьютерный центр, отдел 1»", "Маковеев С.Н."]),
    ("", []),
])
def test_split_executors(cell, executors):
    assert split_executors(cell) == executors
