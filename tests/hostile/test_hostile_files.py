"""Hostile files for the importers: empty, binary, huge, zip bombs (XLSX/DOCX), deeply nested or
entity-laden XML, wrong encodings. Each gets a clear Russian error within bounded memory and time."""
import io
import resource
import time
import zipfile
from contextlib import contextmanager

import pytest

from core.tabular import XLSX_MAX_UNPACKED, ImportFailed
from ordinances.parsing.parser import DOCX_MAX_UNPACKED, parse_docx
from orgs.importer import import_organisations
from sheets.marks_import import MarksImportFailed, import_marks

MB = 1024 * 1024


@contextmanager
def bounded(seconds=20, megabytes=150):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.monotonic()
    yield
    assert time.monotonic() - t < seconds
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024 < megabytes


def _zip(parts: dict[str, bytes | int]) -> bytes:
    """A zip whose int-valued parts are that many zero bytes, streamed in (small in memory)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, content in parts.items():
            if isinstance(content, int):
                with z.open(name, "w", force_zip64=True) as f:
                    chunk = b"\0" * MB
                    for _ in range(content // MB + 1):
                        f.write(chunk)
            else:
                z.writestr(name, content)
    return buf.getvalue()


def _docx(body_xml: bytes | None = None) -> bytes:
    import docx
    d = docx.Document()
    d.add_paragraph("ПРИКАЗ")
    buf = io.BytesIO()
    d.save(buf)
    if body_xml is None:
        return buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, body_xml if info.filename == "word/document.xml" else src.read(info))
    return out.getvalue()


W = b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'


@pytest.fixture(scope="module")
def xlsx_bomb():
    data = _zip({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": XLSX_MAX_UNPACKED + MB})
    assert len(data) < 5 * MB
    return data


def test_xlsx_zip_bomb_is_refused_unopened(db, xlsx_bomb):
    with bounded():
        with pytest.raises(MarksImportFailed) as exc:
            import_marks(xlsx_bomb, "бомба.xlsx")
    assert "бомба.xlsx" in str(exc.value.errors[0])
    with bounded():
        with pytest.raises(ImportFailed):
            import_organisations(xlsx_bomb, "бомба.xlsx")


def test_docx_zip_bomb_is_refused_unopened():
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": DOCX_MAX_UNPACKED + MB})
    with bounded():
        with pytest.raises(ValueError, match="распакованном"):
            parse_docx(io.BytesIO(bomb))


@pytest.mark.parametrize("body", [
    W + b"<w:body>" + b"<w:p>" * 100_000 + b"</w:p>" * 100_000 + b"</w:body></w:document>",
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "' + b"x" * 1000 + b'">'
    + b"".join(b'<!ENTITY %s "%s">' % (b"a" * (i + 2), (b"&" + b"a" * (i + 1) + b";") * 10) for i in range(8))
    + b"]>" + W + b"<w:body><w:p><w:r><w:t>&aaaaaaaaa;</w:t></w:r></w:p></w:body></w:document>",
    b"\xff\xfe not xml at all",
    b"",
], ids=["deeply-nested", "billion-laughs", "garbage", "empty"])
def test_hostile_docx_xml_is_a_clear_error_or_harmless(body):
    with bounded():
        try:
            result = parse_docx(io.BytesIO(_docx(body)))
        except ValueError as exc:
            assert "docx" in str(exc)
        else:
            assert len(repr(result)) < 100_000   # entities were not expanded


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04" + b"\0" * 100, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 50,
                                  b"%PDF-1.7\n" + b"\0" * 1000, b"\xd0\xcf\x11\xe0" + b"\0" * 600])
def test_empty_and_binary_docx(data):
    with pytest.raises(ValueError, match="docx"):
        parse_docx(io.BytesIO(data))


@pytest.mark.parametrize("name", ["отметки.csv", "отметки.xlsx", "отметки.xls", "отметки", "../../etc/passwd"])
@pytest.mark.parametrize("data", [b"", b"\0" * 1000, bytes(range(256)) * 40, b"PK\x03\x04junk",
                                  b"\xd0\xcf\x11\xe0" + b"\0" * 600, "класс;ученик\n".encode("utf-16-le")],
                         ids=["empty", "zeros", "all-bytes", "broken-zip", "old-xls", "utf16-no-bom"])
def test_marks_import_rejects_unreadable_files_clearly(name, data):
    with pytest.raises(MarksImportFailed) as exc:
        import_marks(data, name)
    first = exc.value.errors[0]
    assert first.message and any("а" <= ch <= "я" for ch in first.message.lower())
    assert "/" not in str(first.filename) and ".." not in str(first.filename)


@pytest.mark.parametrize("data", [b"", b"\0" * 1000, bytes(range(256)) * 40, b"PK\x03\x04junk"])
def test_org_import_rejects_unreadable_files_clearly(db, data):
    with pytest.raises(ImportFailed) as exc:
        import_organisations(data, "орг.csv")
    assert exc.value.errors[0].message


def test_deeply_nested_xlsx_is_a_clear_error(db):
    sheet = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + \
        b"<sheetData>" + b"<row>" * 50_000 + b"</row>" * 50_000 + b"</sheetData></worksheet>"
    data = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>",
                 "xl/worksheets/sheet1.xml": sheet})
    with bounded():
        with pytest.raises(MarksImportFailed):
            import_marks(data, "отметки.xlsx")


def test_huge_csv_is_refused_by_the_row_limit(app):
    row = "7А;Иванов Иван;Алгебра;Год;5\n"
    data = ("класс;ученик;предмет;период;отметка\n" + row * 210_000).encode()
    with app.app_context():
        app.config["MARKS_IMPORT_MAX_ROWS"] = 1000
        try:
            with bounded(megabytes=300):
                with pytest.raises(MarksImportFailed) as exc:
                    import_marks(data, "много.csv")
        finally:
            app.config.pop("MARKS_IMPORT_MAX_ROWS")
    assert "1000" in exc.value.errors[0].message


@pytest.mark.parametrize("encoding", ["cp1251", "utf-8", "utf-8-sig", "utf-16"])
def test_csv_in_each_supported_encoding_reads_the_same(encoding):
    text = "класс;ученик;предмет;период;отметка\n7А;Ёлкина Анна;Алгебра;Год;5\n"
    marks = import_marks(text.encode(encoding), "отметки.csv")
    assert list(marks) == ["7А"]


def test_koi8_is_not_silently_misread():
    text = "класс;ученик;предмет;период;отметка\n7А;Ёлкина Анна;Алгебра;Год;5\n"
    with pytest.raises(MarksImportFailed):
        import_marks(text.encode("koi8-r"), "отметки.csv")
