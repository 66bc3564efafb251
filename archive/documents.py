"""Documents the archive makes itself: the disposal act (акт о выделении к уничтожению) and the
inventory (опись) of a certified export, as PDFs with a Russian table, signed PAdES.

The act is signed by the archivist with their own key (PKCS#12 asked per signing, like the
sheets). The inventory is signed with the archive's service key, ARCHIVE_SEAL_KEY (a PKCS#12 file)
and ARCHIVE_SEAL_PASSPHRASE; without them the instance's demo seal (instance/demo-pki/
archive-seal.p12, made with the demo CA) is used, demo only.
"""
from __future__ import annotations

import functools
from io import BytesIO
from pathlib import Path

from flask import current_app

CREATOR = "journals: архив"
FONT, FONT_B = "ArchivePTSans", "ArchivePTSans-Bold"


class SealMissing(Exception):
    """No service key is configured; the message is Russian."""


@functools.cache
def _fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from pades.fonts import FONT_BOLD, FONT_REGULAR
    pdfmetrics.registerFont(TTFont(FONT, str(FONT_REGULAR)))
    pdfmetrics.registerFont(TTFont(FONT_B, str(FONT_BOLD)))


def render_table(title: str, lines: list[str], headers: list[str], rows: list[list[str]], widths: list[float],
                 footer: list[str], *, subject: str) -> bytes:
    """A portrait A4 document: a title, some lines, a table that repeats its header, closing lines."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    _fonts()
    head = ParagraphStyle("h", fontName=FONT_B, fontSize=12, leading=15, alignment=TA_CENTER)
    body = ParagraphStyle("b", fontName=FONT, fontSize=9.5, leading=12)
    cell = ParagraphStyle("c", fontName=FONT, fontSize=8, leading=9.6)
    cell_b = ParagraphStyle("cb", fontName=FONT_B, fontSize=8, leading=9.6)
    out = BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=36, rightMargin=36, topMargin=36, bottomMargin=36,
                            title=title, author="Архив", subject=subject, creator=CREATOR, invariant=True,
                            lang="ru-RU")
    esc = _escape
    data = [[Paragraph(esc(h), cell_b) for h in headers]] + [[Paragraph(esc(str(v)), cell) for v in r] for r in rows]
    total = sum(widths)
    table = Table(data, colWidths=[doc.width * w / total for w in widths], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.Color(0.35, 0.35, 0.35)),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story = [Paragraph(esc(title).replace("\n", "<br/>"), head), Spacer(1, 10)]
    story += [Paragraph(esc(line), body) for line in lines] + [Spacer(1, 8), table, Spacer(1, 12)]
    story += [Paragraph(esc(line), body) for line in footer]
    doc.build(story)
    return out.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- signing ------------------------------------------------------------------------------------------------

def seal_signer():
    """The archive's service key (see the module docstring)."""
    from pades import PKCS12Signer, SigningError
    path = current_app.config.get("ARCHIVE_SEAL_KEY")
    passphrase = current_app.config.get("ARCHIVE_SEAL_PASSPHRASE")
    if not path:
        demo = Path(current_app.instance_path) / "demo-pki" / "archive-seal.p12"
        if demo.exists():
            from pades.demo_pki import PASSPHRASE
            path, passphrase = str(demo), PASSPHRASE
    if not path:
        raise SealMissing("Не настроен служебный ключ архива (ARCHIVE_SEAL_KEY): опись подписать нечем.")
    try:
        return PKCS12Signer(Path(path).read_bytes(), passphrase or "")
    except OSError as e:
        raise SealMissing(f"Служебный ключ архива не прочитан ({e.strerror}).") from None
    except SigningError as e:
        raise SealMissing(f"Служебный ключ архива не открыт: {e}") from None


def sign_pdf(pdf: bytes, signer, *, field_name: str, reason: str, tsa_url: str | None = None) -> bytes:
    """PAdES signature in a new invisible field (B-B, or B-T with a TSA). The certificate is refused
    if expired (pades' rule); validation of the result is the caller's test."""
    import pades
    return pades.sign(pdf, field_name, signer, timestamper_url=tsa_url, new_field=True, reason=reason, location="Архив")
