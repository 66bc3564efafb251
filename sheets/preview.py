"""What the sheet looks like, on its page: PNG images of the PDF's pages (poppler's pdftoppm, the same
renderer the tests read the sheets with) kept by the PDF's hash, and the marks as a table.

The images are cached under the instance directory by SHA-256 of the PDF and page number: a signed PDF
never changes, and a re-rendered one has another hash. They are served only through the sheet's page
check (sheet.view), like the PDF itself."""
from __future__ import annotations

import os
import subprocess  # nosec B404 # pdftoppm with a fixed argument list, the PDF on stdin
import tempfile
from pathlib import Path

DPI = 60
MAX_PAGES = 20


class PreviewUnavailable(RuntimeError):
    pass


def _cache_dir() -> Path:
    from core import instance_dir
    path = instance_dir() / "cache" / "previews"
    path.mkdir(parents=True, exist_ok=True)
    return path


def page_count(pdf: bytes) -> int:
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader
    return int(PdfFileReader(BytesIO(pdf), strict=False).root["/Pages"]["/Count"])


def page_png(pdf: bytes, sha256: str, page: int) -> bytes:
    cached = _cache_dir() / f"{sha256}-{page}-{DPI}.png"
    if cached.exists():                       # made only for a page that exists: no need to parse the PDF again
        return cached.read_bytes()
    if not 1 <= page <= min(page_count(pdf), MAX_PAGES):
        raise PreviewUnavailable(f"В ведомости нет страницы {page}.")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "page"
        try:
            subprocess.run(["pdftoppm", "-png", "-r", str(DPI), "-f", str(page), "-l", str(page), "-singlefile",  # nosec B603,B607 # poppler from the Debian package, fixed arguments
                            "-", str(out)], input=pdf, check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            raise PreviewUnavailable("Просмотр недоступен: не удалось отрисовать страницу (pdftoppm из "
                                     f"poppler-utils): {type(exc).__name__}.") from None
        data = (out.with_suffix(".png")).read_bytes()
    fd, partial = tempfile.mkstemp(dir=cached.parent, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(partial, cached)                   # whole or absent: two requests may render at once
    return data


def marks_table(marks: dict | None) -> tuple[list[str], list[tuple[str, list[str], str]]]:
    """(subjects, [(pupil, year marks per subject, decision)]): the year's column of each subject, else the
    last period's, as on the printed sheet."""
    if not marks:
        return [], []
    subjects, periods = list(marks["subjects"]), list(marks["periods"])
    column = "Год" if "Год" in periods else (periods[-1] if periods else None)
    rows = []
    for p in marks["pupils"]:
        by = p["marks"]
        rows.append((p["name"], [by.get(s, {}).get(column, "") for s in subjects], p.get("decision") or ""))
    return subjects, rows
