"""Loading organisations from CSV/XLSX: formats, every kind of bad row, all-or-nothing, updates, audit."""
import io
import logging
import random
import zipfile
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from sqlalchemy import func, select

from core.audit import AuditEntry
from core.db import session
from core.tabular import ImportFailed, RowError
from orgs.importer import ImportSummary, import_organisations, parse_kind, read_rows
from orgs.models.organisations import Organisation, OrgKind
from orgs.services import check_parent

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
HEADER = "code;name;kind;parent_code;short_name;inn;ogrn"
BASE = ["R;Тестовая республика;region;;;;", "M1;Первый район;municipality;R;;;"]   # rows 2 and 3

SAMPLE_PARENTS = {
    "RT": None, "RT-IRO": "RT", "RT-IVC": "RT", "RT-KZN": "RT", "RT-ZEL": "RT", "RT-ALM": "RT",
    "RT-KZN-005": "RT-KZN", "RT-KZN-131": "RT-KZN", "RT-KZN-007": "RT-KZN",
    "RT-ZEL-002": "RT-ZEL", "RT-ZEL-VAS1": "RT-ZEL", "RT-ZEL-IMC": "RT-ZEL",
    "RT-ALM-015": "RT-ALM", "RT-ALM-NND": "RT-ALM", "RT-ALM-003": "RT-ALM",
}
SAMPLE_KINDS = {
    "RT": OrgKind.region, "RT-IRO": OrgKind.institute, "RT-IVC": OrgKind.computer_centre,
    "RT-KZN": OrgKind.municipality, "RT-ZEL": OrgKind.municipality, "RT-ALM": OrgKind.municipality,
    "RT-ZEL-IMC": OrgKind.methodical_centre,
    **{code: OrgKind.school for code in ("RT-KZN-005", "RT-KZN-131", "RT-KZN-007", "RT-ZEL-002",
                                         "RT-ZEL-VAS1", "RT-ALM-015", "RT-ALM-NND", "RT-ALM-003")},
}


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def csv_file(*lines: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return "\n".join([header, *lines]).encode(encoding)


def org_count() -> int:
    return session.scalar(select(func.count()).select_from(Organisation))


def audit_entries(action: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def errors_of(data: bytes, filename: str = "organisations.csv", **kwargs) -> list[RowError]:
    with pytest.raises(ImportFailed) as exc:
        import_organisations(data, filename, **kwargs)
    assert exc.value.errors
    return exc.value.errors


def one_error(data: bytes, filename: str = "organisations.csv", **kwargs) -> RowError:
    errors = errors_of(data, filename, **kwargs)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def by_code(code: str) -> Organisation:
    return session.scalar(select(Organisation).where(Organisation.code == code))


def assert_sample_tree() -> dict[str, Organisation]:
    orgs = {o.code: o for o in session.scalars(select(Organisation).where(Organisation.code.like("RT%")))}
    assert set(orgs) == set(SAMPLE_PARENTS)
    for code, org in orgs.items():
        assert org.kind is SAMPLE_KINDS[code], code
        parent_code = SAMPLE_PARENTS[code]
        if parent_code is None:
            assert org.parent is None and org.path == f"/{org.id}/"
        else:
            assert org.parent.code == parent_code
            assert org.path == f"{org.parent.path}{org.id}/"
    region = orgs["RT"]
    assert all(o.is_within(region) for o in orgs.values())
    assert orgs["RT-ALM-015"].is_within(orgs["RT-ALM"]) and not orgs["RT-ALM-015"].is_within(orgs["RT-KZN"])
    assert orgs["RT-KZN-005"].name == 'МБОУ "Средняя общеобразовательная школа № 5" Вахитовского района г. Казани'
    assert orgs["RT-KZN-005"].short_name == "СОШ № 5, Вахитовский р-н"
    assert orgs["RT-ALM-NND"].name.startswith('МБОУ "Новонадыровская основная общеобразовательная школа", с. Новое')
    assert "углублённым" in orgs["RT-ALM-015"].name
    assert orgs["RT"].inn == "1654577461" and orgs["RT"].ogrn == "1021603706431"
    assert orgs["RT-KZN-007"].inn is None and orgs["RT-KZN-007"].ogrn is None
    return orgs


# ---- the sample files ------------------------------------------------------------------------------------

def test_utf8_sample_builds_the_tree(db):
    before = org_count()
    summary = import_organisations(sample("organisations.csv"), "organisations.csv")
    assert summary == ImportSummary(created=15, updated=0, unchanged=0)
    assert org_count() == before + 15
    orgs = assert_sample_tree()
    created = audit_entries("org.create")
    assert {e.object_id for e in created} >= {str(o.id) for o in orgs.values()}
    [entry] = audit_entries("org.import")
    assert entry.summary == {"filename": "organisations.csv", "rows": 15, "created": 15, "updated": 0,
                             "unchanged": 0}


def test_cp1251_sample_children_first_builds_the_same_tree(db):
    data = sample("organisations_cp1251.csv")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    rows = read_rows(data, "organisations_cp1251.csv")
    assert [n for n, _ in rows] == list(range(2, 17))
    assert rows[0][1]["Код"] == "RT-KZN-005" and rows[0][1]["Краткое наименование"] == "СОШ № 5, Вахитовский р-н"
    assert rows[-1][1]["Тип"] == "Регион"

    summary = import_organisations(data, "organisations_cp1251.csv")
    assert summary == ImportSummary(created=15, updated=0, unchanged=0)
    assert_sample_tree()
    # the two samples describe the same region: the other one changes nothing
    assert import_organisations(sample("organisations.csv"), "organisations.csv") == ImportSummary(0, 0, 15)


def test_parents_after_children(db):
    data = csv_file("S1;Школа № 1;школа;M9;;;", "M9;Девятый район;МОУО;R9;;;", "I9;Институт;институт;R9;;;",
                    "R9;Девятая республика;регион;;;;")
    assert import_organisations(data, "orgs.csv").created == 4
    school, region = by_code("S1"), by_code("R9")
    assert school.parent.code == "M9" and school.parent.parent is region
    assert school.path == f"/{region.id}/{school.parent.id}/{school.id}/"


def test_reimport_changes_nothing(db):
    import_organisations(sample("organisations.csv"), "organisations.csv")
    creates = len(audit_entries("org.create"))
    summary = import_organisations(sample("organisations.csv"), "organisations.csv")
    assert summary == ImportSummary(created=0, updated=0, unchanged=15)
    assert len(audit_entries("org.create")) == creates and audit_entries("org.update") == []
    assert audit_entries("org.import")[-1].summary["unchanged"] == 15


def test_changed_name_is_updated_with_an_audit_entry(db):
    import_organisations(sample("organisations.csv"), "organisations.csv")
    old = 'МАОУ ""Лицей № 131"" Кировского района г. Казани'
    new = 'МАОУ ""Лицей № 131"" Кировского района города Казани'
    data = sample("organisations.csv").replace(old.encode(), new.encode())
    summary = import_organisations(data, "organisations.csv")
    assert summary == ImportSummary(created=0, updated=1, unchanged=14)
    lyceum = by_code("RT-KZN-131")
    assert lyceum.name == 'МАОУ "Лицей № 131" Кировского района города Казани'
    [entry] = audit_entries("org.update")
    assert entry.object_id == str(lyceum.id)
    assert entry.summary == {"before": {"name": 'МАОУ "Лицей № 131" Кировского района г. Казани'},
                             "after": {"name": lyceum.name}}


def test_absent_column_keeps_fields_empty_cell_clears_them(db):
    import_organisations(csv_file(*BASE, "S;Школа;school;M1;СОШ;1655012340;1021602940391"), "a.csv")
    summary = import_organisations(csv_file("S;Школа;school;M1", header="code;name;kind;parent_code"), "b.csv")
    assert summary.unchanged == 1
    assert by_code("S").inn == "1655012340" and by_code("S").short_name == "СОШ"
    summary = import_organisations(csv_file("S;Школа;school;M1;;", header="code;name;kind;parent_code;inn;ogrn"),
                                   "c.csv")
    assert summary.updated == 1
    school = by_code("S")
    assert school.inn is None and school.ogrn is None and school.short_name == "СОШ"


def test_existing_parents_in_the_database(db, tree):
    m1 = tree["m1"]
    data = csv_file(f"NEW-1;Новая школа;школа;{m1.code};;;",
                    f"{tree['region'].code};{tree['region'].name};region;;;;")
    assert import_organisations(data, "orgs.csv") == ImportSummary(created=1, updated=0, unchanged=1)
    assert by_code("NEW-1").path == f"{m1.path}{by_code('NEW-1').id}/"


# ---- formats ---------------------------------------------------------------------------------------------

def test_bom_sep_line_crlf_and_quoted_newlines():
    text = ('sep=,\r\nКОД,"Наименование",Тип,Вышестоящая\r\n\r\nR,"Республика, тестовая",регион,\r\n'
            'M,"Район\r\nс переносом",муниципалитет,R\r\nS,"Школа ""Ромашка""",школа,M\r\n')
    rows = read_rows(b"\xef\xbb\xbf" + text.encode(), "x.CSV")
    assert [n for n, _ in rows] == [4, 5, 7]
    assert rows[0][1] == {"КОД": "R", "Наименование": "Республика, тестовая", "Тип": "регион", "Вышестоящая": ""}
    assert rows[1][1]["Наименование"] == "Район\r\nс переносом"
    assert rows[2][1]["Наименование"] == 'Школа "Ромашка"'


def test_quoted_newline_is_folded_into_one_line_of_the_name(db):
    data = ('code,name,kind,parent_code\nR,"Республика\nТестовая",регион,\n').encode()
    import_organisations(data, "orgs.csv")
    assert by_code("R").name == "Республика Тестовая"


def test_utf16_tab_separated_text_from_excel(db):
    data = ("\ufeffкод\tнаименование\tтип\tкод_родителя\tСокращённое наименование\n"
            "R\tРеспублика\tрегион\t\tРесп.\n").encode("utf-16-le")
    assert import_organisations(data, "unicode.txt").created == 1
    assert by_code("R").short_name == "Респ."


def make_xlsx(rows, *, extra_sheet=False) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Организации"
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            cell = sheet.cell(row=r, column=c, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"      # text that looks like a formula, as Excel keeps it with a leading '
    if extra_sheet:
        other = book.create_sheet("Другое")
        other.append(["что-то", "не", "то"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_xlsx_with_numbers_imports(db):
    data = make_xlsx([
        ["Код", "Наименование", "Тип", "Код родителя", "Краткое наименование", "ИНН", "ОГРН"],
        [16, "Республика Тестовая", "Регион", None, None, 1654577461, 1021603706431.0],
        [None, None, None, None],
        ["16-M1", "  Первый   район ", "Муниципальный район", 16, None, None, None],
        ["16-M1-S5", 'МБОУ "СОШ № 5"', "ОУ", "16-M1", "=1+2", 165501234567, None, "примечание без заголовка"],
    ], extra_sheet=True)
    rows = read_rows(data, "orgs.xlsx")
    assert [n for n, _ in rows] == [2, 4, 5]
    assert rows[0][1]["ИНН"] == "1654577461" and rows[0][1]["ОГРН"] == "1021603706431"
    assert rows[0][1]["Код"] == "16"

    assert import_organisations(data, "orgs.xlsx").created == 3
    region, school = by_code("16"), by_code("16-M1-S5")
    assert region.inn == "1654577461" and region.ogrn == "1021603706431"
    assert by_code("16-M1").name == "Первый район"
    assert school.parent.code == "16-M1" and school.inn == "165501234567"
    assert school.short_name == "=1+2"


def test_xlsx_error_cell_names_the_row_and_column(db):
    data = make_xlsx([["code", "name", "kind", "parent_code"], ["R", "Республика", "region", None],
                      ["M", "#N/A", "municipality", "R"]])
    error = one_error(data, "orgs.xlsx")
    assert (error.row, error.field, error.value) == (3, "name", "#N/A")
    assert "ошибка формулы" in error.message


def test_corrupt_xlsx(db):
    good = make_xlsx([["code", "name", "kind"], ["R", "Республика", "region"]])
    not_xlsx = io.BytesIO()
    with zipfile.ZipFile(not_xlsx, "w") as z:
        z.writestr("readme.txt", "hello")
    for data in (b"not a zip at all", good[: len(good) // 2], not_xlsx.getvalue(),
                 sample("organisations.csv"), b"\xd0\xcf\x11\xe0" + bytes(500), b""):
        error = one_error(data, "orgs.xlsx")
        assert (error.row, error.field) == (0, None)
        assert "файл повреждён или не является XLSX" in error.message, data[:20]
        assert str(error).startswith("orgs.xlsx: файл повреждён")


@pytest.mark.parametrize("data, expected", [
    (random.Random(1).randbytes(4000).replace(b"\x00", b"\x01"), "кодировк"),
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "не текстовый"),
    (b"PK\x03\x04" + bytes(100), ".xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), ".xls"),
    ("code;name;kind\n".encode("utf-16-le"), "не текстовый"),
    (b"code;name;kind\nR;\x01\x02\x03;region\n", "управляющие"),
    ("code;name;kind\nR;Республика;регион\n".encode() + b"M;\xd0\xd0\xe9;x\n", "UTF-8"),
    (b"", "пуст"),
    (b"\n\n  \n", "пуст"),
    (HEADER.encode(), "нет строк"),
])
def test_garbage_and_wrong_encodings(db, data, expected):
    before = org_count()
    error = one_error(data)
    assert expected in error.message
    assert error.filename == "organisations.csv"
    assert org_count() == before


def test_broken_utf8_names_the_line(db):
    data = "\n".join([HEADER, *BASE]).encode() + b"\nS;\xd0\xa8\xd0;school;M1;;;\n"
    error = one_error(data)
    assert error.row == 4 and "недопустимые байты" in error.message


@pytest.mark.parametrize("filename", ["orgs.doc", "orgs", "orgs.json", "orgs.ods"])
def test_unsupported_file_types(db, filename):
    error = one_error(sample("organisations.csv"), filename)
    assert error.row == 0 and error.filename == filename
    assert "XLSX" in error.message


def test_a_csv_named_xls_is_refused_as_not_xls(db):
    error = one_error(sample("organisations.csv"), "orgs.xls")
    assert error.row == 0 and error.filename == "orgs.xls" and "не является XLS" in error.message


def test_path_in_filename_is_dropped(db):
    error = one_error(b"code;name\n", "C:\\fakepath\\orgs.csv")
    assert error.filename == "orgs.csv"


def test_formula_looking_values_are_stored_as_text(db):
    name = '=HYPERLINK("http://evil.example";"Школа")'
    data = csv_file(*BASE, f'S;"{name.replace(chr(34), chr(34) * 2)}";school;M1;+7 (843) 555-55-55;;',
                    "S2;@SUM(A1:A9);school;M1;-2+3;;")
    import_organisations(data, "orgs.csv")
    assert by_code("S").name == name and by_code("S").short_name == "+7 (843) 555-55-55"
    assert by_code("S2").name == "@SUM(A1:A9)" and by_code("S2").short_name == "-2+3"


def test_row_limit(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "ORG_IMPORT_MAX_ROWS", 3)
    assert len(read_rows(csv_file(*BASE, "S;Школа;school;M1;;;"), "ok.csv")) == 3
    before = org_count()
    error = one_error(csv_file(*BASE, "S;Школа;school;M1;;;", "S2;Школа 2;school;M1;;;"))
    assert error.row == 0 and "больше 3 строк" in error.message
    error = one_error(make_xlsx([["code", "name", "kind"], *[[f"R{i}", "Р", "region"] for i in range(5)]]),
                      "big.xlsx")
    assert "больше 3 строк" in error.message
    assert org_count() == before


# ---- bad rows --------------------------------------------------------------------------------------------

SCHOOL_UNDER_REGION = check_parent(OrgKind.school, SimpleNamespace(kind=OrgKind.region))


@pytest.mark.parametrize("line, field, value, message", [
    ("S;;school;M1;;;", "name", None, "обязательное поле не заполнено"),
    (";Школа;school;M1;;;", "code", None, "обязательное поле не заполнено"),
    ("S;Школа;;M1;;;", "kind", None, "обязательное поле не заполнено"),
    ("S;Школа;шкла;M1;;;", "kind", "шкла", "неизвестный тип организации"),
    ("S;Школа;school;;;;", "parent_code", None, "не указан код вышестоящей организации"),
    ("S;Школа;school;NOPE;;;", "parent_code", "NOPE", "вышестоящая организация с кодом «NOPE» не найдена"),
    ("S;Школа;school;R;;;", "parent_code", "R", SCHOOL_UNDER_REGION),
    ("R2;Ещё регион;region;M1;;;", "parent_code", "M1", "корень дерева"),
    ("I;Институт;институт;S-none;;;", "parent_code", "S-none", "не найдена"),
    ("S;Школа;school;M1;;16550123456;", "inn", "16550123456", "10 или 12 цифр"),
    ("S;Школа;school;M1;;165501234;", "inn", "165501234", "ведущий ноль"),
    ("S;Школа;school;M1;;16550I2345;", "inn", "16550I2345", "10 или 12 цифр"),
    ("S;Школа;school;M1;;;102160294039", "ogrn", "102160294039", "13 цифр"),
    ("S;Школа;school;M1;;;1021602940391X", "ogrn", "1021602940391X", "13 цифр"),
    ("S" * 65 + ";Школа;school;M1;;;", "code", "S" * 65, "длиннее 64 символов"),
    ("S;" + "Я" * 501 + ";school;M1;;;", "name", "Я" * 501, "длиннее 500 символов"),
    ("S;Школа;school;M1;" + "Я" * 201 + ";;", "short_name", "Я" * 201, "длиннее 200 символов"),
])
def test_bad_row_names_row_field_and_value(db, line, field, value, message):
    before = org_count()
    error = one_error(csv_file(*BASE, line))
    assert (error.filename, error.row, error.field, error.value) == ("organisations.csv", 4, field, value)
    assert message in error.message
    assert org_count() == before


def test_error_message_format(db):
    error = one_error(csv_file(*BASE, "M2;Второй район;municipality;R;;;", "S;Школа;шкла;M1;;;"))
    assert str(error) == ("organisations.csv, строка 5, поле «kind» («шкла»): неизвестный тип организации; "
                          "допустимые типы: регион, муниципалитет, школа, институт, вычислительный центр, "
                          "методический центр, отдел образования округа")
    error = one_error(csv_file("R;;регион", header="Код;Наименование;Тип"))
    assert str(error) == "organisations.csv, строка 2, поле «Наименование»: обязательное поле не заполнено"
    assert error.field == "name"
    long = "Я" * 501
    assert str(one_error(csv_file(f"R;{long};регион", header="code;name;kind"))) == (
        f"organisations.csv, строка 2, поле «name» («{'Я' * 79}…»): значение длиннее 500 символов (501)")
    assert str(RowError("f.csv", 0, None, None, "файл пуст")) == "f.csv: файл пуст"
    assert str(RowError("f.csv", 3, None, None, "плохо")) == "f.csv, строка 3: плохо"


def test_duplicate_code_names_both_rows(db):
    error = one_error(csv_file(*BASE, "S;Школа;school;M1;;;", "X;Школа Х;school;M1;;;", "S;Другая;school;M1;;;"))
    assert (error.row, error.field, error.value) == (6, "code", "S")
    assert "строке 4" in error.message


def test_cycle(db):
    errors = errors_of(csv_file(*BASE, "A;Институт А;institute;B;;;", "B;Институт Б;institute;A;;;"))
    cycle = [e for e in errors if "циклическая ссылка" in e.message]
    assert [(e.row, e.field) for e in cycle] == [(4, "parent_code"), (5, "parent_code")]
    assert "A → B → A" in cycle[0].message or "B → A → B" in cycle[0].message
    assert [e.field for e in errors_of(csv_file(*BASE, "S;Школа;school;S;;;"))] == ["parent_code"]


def test_existing_org_with_other_kind_or_parent(db, tree):
    school, m2 = tree["a"], tree["m2"]
    error = one_error(csv_file(f"{school.code};{school.name};institute;{tree['m1'].code};;;"))
    assert (error.row, error.field, error.value) == (2, "kind", "institute")
    assert "«Школа»" in error.message
    error = one_error(csv_file(f"{school.code};{school.name};school;{m2.code};;;"))
    assert (error.row, error.field, error.value) == (2, "parent_code", m2.code)
    assert "перемещать" in error.message and tree["m1"].code in error.message
    assert school.parent is tree["m1"]


def test_missing_columns_are_one_error(db):
    error = one_error(csv_file("S;Школа", header="код;вид_деятельности"))
    assert (error.row, error.field) == (1, None)
    assert "«name»" in error.message and "«kind»" in error.message and "«parent_code»" in error.message
    assert "«code»" not in error.message and "«вид_деятельности»" in error.message
    # a file of regions alone needs no parent column
    assert import_organisations(csv_file("R;Республика;регион", header="code;name;kind"), "r.csv").created == 1


def test_duplicate_columns(db):
    error = one_error(csv_file("R;Республика;Республика;region", header="code;name;Наименование;kind"))
    assert error.row == 1 and "одно и то же поле" in error.message
    error = one_error(csv_file("S;Школа;school", header="code;name;name"))
    assert error.row == 1 and "несколько раз" in error.message


def test_unquoted_delimiter_and_broken_quotes(db):
    data = "\n".join(["code,name,kind,parent_code", "R,Республика,регион,", "M,Район, город,муниципалитет,R",
                      'S,"Школа "Ромашка"",школа,M', "S2,Школа 2,школа,M"]).encode()
    errors = errors_of(data)
    assert [(e.row, e.field) for e in errors] == [(3, None), (4, None)]
    assert "5 значений" in errors[0].message and "кавычки" in errors[0].message
    assert "кавычки" in errors[1].message
    error = one_error(csv_file(*BASE, 'S;"Школа;school;M1;;;'))
    assert error.row == 4 and "не закрыта" in error.message


def test_all_errors_are_reported_in_row_order(db):
    data = csv_file(*BASE, "S1;;шкла;M1;;123;", "S2;Школа;school;NOPE;;;", ";Школа;school;M1;;;")
    errors = errors_of(data)
    assert [(e.row, e.field) for e in errors] == [
        (4, "name"), (4, "kind"), (4, "inn"), (5, "parent_code"), (6, "code")]


def test_errors_are_capped(db):
    lines = [f"S{i};Школа {i};шкла;M1;;;" for i in range(250)]
    errors = errors_of(csv_file(*BASE, *lines))
    assert len(errors) == 201
    assert errors[199].row == 4 + 199
    assert (errors[-1].row, errors[-1].field) == (0, None)
    assert "первые 200 ошибок из 250" in errors[-1].message


def test_one_bad_line_writes_nothing(db):
    orgs, creates = org_count(), len(audit_entries("org.create"))
    data = sample("organisations.csv").replace(b";school;RT-ALM;", b";school;RT-ALM-X;", 1)
    error = one_error(data)
    assert (error.row, error.field, error.value) == (14, "parent_code", "RT-ALM-X")
    assert org_count() == orgs
    assert len(audit_entries("org.create")) == creates and audit_entries("org.import") == []
    assert by_code("RT") is None


def test_bad_update_writes_nothing(db):
    import_organisations(sample("organisations.csv"), "organisations.csv")
    data = (sample("organisations.csv").replace("УО ИКМО г. Казани".encode(), "УО г. Казани".encode())
            .replace(b";1644263226;", b";16442632;"))
    error = one_error(data)
    assert error.field == "inn" and error.row == 16
    assert by_code("RT-KZN").short_name == "УО ИКМО г. Казани" and audit_entries("org.update") == []


# ---- who may import what ---------------------------------------------------------------------------------

def test_actor_may_only_touch_own_subtree(db, tree, make_org, make_user):
    admin = make_user("admin", tree["region"])
    other_region = make_org("region", name="Чужая область")
    other_m = make_org("municipality", other_region)

    ok = csv_file(f"A-1;Новая школа;school;{tree['m1'].code};;;", f"{tree['m2'].code};Новое имя;municipality;"
                  f"{tree['region'].code};;;")
    assert import_organisations(ok, "ok.csv", actor=admin) == ImportSummary(created=1, updated=1, unchanged=0)
    assert audit_entries("org.import")[-1].actor_id == admin.id

    errors = errors_of(csv_file(f"B-1;Школа;school;{other_m.code};;;", f"{other_m.code};Переименовано;"
                                f"municipality;{other_region.code};;;", "R-NEW;Новый регион;region;;;;",
                                f"{other_region.code};{other_region.name};region;;;;"), actor=admin)
    assert [(e.row, e.field) for e in errors] == [(2, "parent_code"), (3, "code"), (4, "code")]
    assert "нет прав" in errors[0].message and "нового региона" in errors[2].message
    # without an actor (the `flask orgs import` command) everything is allowed
    assert import_organisations(csv_file("R-NEW;Новый регион;region;;;;"), "r.csv").created == 1


# ---- small parts -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, kind", [
    ("region", OrgKind.region), ("Регион", OrgKind.region), ("МУНИЦИПАЛИТЕТ", OrgKind.municipality),
    ("муниципальный  район", OrgKind.municipality), ("Городской округ", OrgKind.municipality),
    ("МОУО", OrgKind.municipality), ("школа", OrgKind.school), ("ОУ", OrgKind.school),
    ("Общеобразовательная организация", OrgKind.school), ("institute", OrgKind.institute),
    ("Институт", OrgKind.institute), ("computer_centre", OrgKind.computer_centre),
    ("Вычислительный центр", OrgKind.computer_centre), ("ИВЦ", OrgKind.computer_centre),
    ("Информационно-вычислительный центр", OrgKind.computer_centre),
    ("methodical-centre", OrgKind.methodical_centre), ("Методический центр", OrgKind.methodical_centre),
    ("шкла", None), ("", None), ("школа № 5", None),
])
def test_kind_names(text, kind):
    assert parse_kind(text) is kind


def test_logs_keep_to_counts(db, caplog):
    caplog.set_level(logging.DEBUG, logger="orgs")
    import_organisations(sample("organisations.csv"), "organisations.csv")
    errors_of(sample("organisations.csv").replace(b";school;RT-ALM;", b";shkola;RT-ALM;"))
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("orgs"))
    assert "organisations imported" in text and "rejected" in text
    for name in ("Лицей", "Татарстан", "1654577461", "shkola"):
        assert name not in text
