"""XLSX export of any table, safe to open in Excel: text that looks like a formula stays text."""
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

from flask import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    """Neutralise spreadsheet formula injection: a leading ' makes Excel treat the cell as text.
    Control characters XLSX cannot hold (pasted from other documents) are dropped, not a failed export."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)   # Excel has no time zones; callers pass local time
    return value


def workbook_bytes(headers: Sequence[str], rows: Iterable[Sequence], *, title: str = "Лист1") -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append([_bold(ws, h) for h in headers])
    for row in rows:
        ws.append([escape_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _bold(ws, text: str):
    from openpyxl.cell import WriteOnlyCell
    cell = WriteOnlyCell(ws, value=escape_cell(text))
    cell.font = Font(bold=True)
    return cell


def xlsx_response(filename: str, headers: Sequence[str], rows: Iterable[Sequence], *, title: str = "Лист1"):
    from urllib.parse import quote
    body = workbook_bytes(headers, rows, title=title)
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


__all__ = ["escape_cell", "workbook_bytes", "xlsx_response"]
