"""Import of an ordinance (приказ, письмо, решение, распоряжение) from text or .docx.

The input is a document as the seeds are written: a letterhead, the kind
(«ПРИКАЗ», «П Р И К А З»), date, number and place in any order, a title
(«О …»/«Об …»), a preamble ending in «ПРИКАЗЫВАЮ:», numbered clauses («1.»,
«1.1», «2.3.»), the signatory (position, then name), then optional tails: the
executor («Исп.»), distribution («Разослать»), approval sheet («ЛИСТ
СОГЛАСОВАНИЯ»), attachments («Приложение 1: …») and a plan table
(«№ п.п | Мероприятие | Ответственный | Срок | Результат», tab- or
pipe-separated; a row broken by a page continues in a row with an empty
number cell). A letter has a salutation and free paragraphs instead of a
preamble and clauses.

The result is a JSON-able dict (see :func:`parse_text`). Nothing is dropped in
silence: what is not recognised goes into ``warnings`` (in Russian), and so do
deadlines that cannot be read or fall before the document's own date.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import BinaryIO, Iterable

from ordinances.parsing.deadlines import find_deadline_phrases, parse_date, parse_deadline
from ordinances.parsing.duties import assign_duties, split_outside_brackets

__all__ = ["parse_text", "parse_docx", "parse_file", "split_executors"]

KINDS = {"ПРИКАЗ": "приказ", "ПИСЬМО": "письмо", "РЕШЕНИЕ": "решение", "РАСПОРЯЖЕНИЕ": "распоряжение"}
ORDER_KINDS = ("приказ", "решение", "распоряжение")
DOCX_MAX_UNPACKED = 64 * 1024 * 1024   # sum of a .docx's unpacked parts (zip bombs)

# Names: «Н.Е.Астафьева», «А.И. Кузнецов», «Шешерина Г.А.», «Выдря Н.М.»
_SURNAME = r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_INITIALS = r"[А-ЯЁ]\.\s?(?:[А-ЯЁ]\.)?"
NAME_RE = re.compile(rf"(?:{_INITIALS}\s?{_SURNAME}|{_SURNAME}\s{_INITIALS})")

_OPERATIVE = re.compile(
    r"(?<![а-яёА-ЯЁ])(?:п\s*р\s*и\s*к\s*а\s*з\s*ы\s*в\s*а\s*ю|п\s*о\s*с\s*т\s*а\s*н\s*о\s*в\s*л\s*я\s*ю"
    r"|р\s*е\s*ш\s*и\s*л\s*и?|о\s*б\s*я\s*з\s*ы\s*в\s*а\s*ю|п\s*р\s*е\s*д\s*л\s*а\s*г\s*а\s*ю)\s*:?\s*$",
    re.I,
)
_CLAUSE_RE = re.compile(r"^(?P<num>\d{1,2}(?:\.\d{1,2})*)\.?\s+(?P<text>[«\"(А-ЯЁA-Z].*)$")
_TITLE_RE = re.compile(r"^(?:О|Об|Обо)\s+\S")
_SALUTATION_RE = re.compile(r"^(?:Уважаем|Дорог)[а-яё]*\s.{0,80}[!,]$")
_CONTACT_RE = re.compile(r"\d|@|e-mail|тел\.|факс|www\.|ИНН|ОКПО|ОГРН|КПП", re.I)
_PLACE_RE = re.compile(r"^г\.\s?[А-ЯЁ][а-яё-]+$")
_ATTACHMENT_LINE_RE = re.compile(r"^Приложени[ея]\s*(?:№\s*)?(?P<num>\d+)?\s*[:.–-]?\s*(?P<rest>.*)$")
_ATTACHMENT_MENTION_RE = re.compile(r"\((?P<inner>[^()]*?)?[Пп]риложени[ея]\s*(?:№\s*)?(?P<num>\d+)\)")
_CONTROL_RE = re.compile(
    r"Контроль\s+(?:за\s+)?(?:исполнением|выполнением)\s+(?P<what>.+?)\s+"
    r"(?:(?:возложить|возлагаю)\s+на\s+(?P<who>.+?(?P<name>" + NAME_RE.pattern + r"))"
    r"|(?P<self>оставляю\s+за\s+собой))",
)
_BULLET_RE = re.compile(r"^[·•▪●◦\-–—]\s*")
_ACT_WORD_RE = re.compile(
    r"(?:административн\w+\s+)?(?:порядок|положение|регламент|правила|инструкци\w+|приказ|распоряжение|письмо"
    r"|постановление|решение|указ|закон|федеральн\w+\s+закон|устав)\b",
    re.I,
)


# =========================================================================== entry points

def parse_text(text: str) -> dict:
    """Parse an ordinance written as plain text into a JSON-able dict.

    Shape::

        {kind, issuer, issuer_lines[], letterhead[], place, number, date (ISO),
         in_reply_to {number, date} | None, title, salutation, basis[] {kind,
         issuer, date, number, title, part, text, approved_by?}, preamble,
         body[] (letter paragraphs), clauses[] {number, parent, text, deadline, executors},
         deadlines[] {source, clause, text, deadline}, signatory {position, name},
         controllers[] {name, name_as_written, position, scope, is_signatory, text},
         approval {author {name, position, phone}, agreed[] {name, position},
         subject, note} | None, distribution[], attachments[] {number, title,
         note, mentioned_in[]}, plan {title, attachment, columns[], sections[]
         {number, title, items[] {number, title, executors[], executors_text,
         deadline, result}}} | None, warnings[]}

    Every ``deadline`` is :meth:`ordinances.parsing.deadlines.Deadline.to_dict`. Empty
    fields are None (or []), with a warning where the document should have had
    them. «Исп.»/«Тел.» under a letter or order (the person who drafted it) go
    into ``approval.author`` like «Составитель проекта» of an approval sheet.
    A controller's ``name`` is put in the nominative when the same person
    appears elsewhere in the document (or the ending is unambiguous);
    ``name_as_written`` and ``position`` stay as written (accusative).
    """
    return _Parser(_clean_lines(text)).run()


def parse_docx(fp: str | Path | BinaryIO) -> dict:
    """Parse a .docx (path or binary file object): paragraphs and tables in document order.

    Tables become tab-separated rows, exactly as the text export would have
    them, so both sources go through the same parser.
    """
    import zipfile

    import docx  # python-docx; imported here so that text-only use needs nothing
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    bad = "файл повреждён или не является документом .docx"
    try:
        with zipfile.ZipFile(fp) as archive:   # a zip bomb is refused before anything is unpacked
            unpacked = sum(i.file_size for i in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise ValueError(bad.capitalize() + ".") from None
    if unpacked > DOCX_MAX_UNPACKED:
        raise ValueError(f"Документ .docx в распакованном виде больше {DOCX_MAX_UNPACKED // (1024 * 1024)} МБ: "
                         "это не похоже на приказ — проверьте файл.")
    if hasattr(fp, "seek"):
        fp.seek(0)
    try:
        document = docx.Document(str(fp) if isinstance(fp, Path) else fp)
    except (PackageNotFoundError, KeyError, zipfile.BadZipFile, etree.LxmlError, ValueError, OSError):
        raise ValueError(bad.capitalize() + " (или его XML не читается).") from None
    return parse_text("\n".join(_docx_lines(document)))


def parse_file(path: str | Path) -> dict:
    """Parse a .txt (UTF-8, else cp1251) or .docx file, chosen by its suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return parse_docx(path)
    if suffix == ".txt":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1251")
        return parse_text(text)
    raise ValueError(f"Неподдерживаемый формат файла «{path.name}»: нужен .txt или .docx")


def _docx_lines(document) -> Iterable[str]:
    """Lines of a python-docx Document: one per paragraph, one tab-joined line per table row."""
    from docx.table import Table

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            yield ""
            yield from _table_lines(block)
            yield ""
        else:
            yield block.text


def _table_lines(table) -> Iterable[str]:
    """Rows of a docx table, one cell per grid column.

    python-docx repeats a merged cell in every grid column it spans; the text is
    kept in its first column only (left for a horizontal merge, top for a
    vertical one), so columns stay aligned with the header.
    """
    above: list = []
    for row in table.rows:
        cells = list(row.cells)
        texts = []
        for i, cell in enumerate(cells):
            repeated = (i > 0 and cells[i - 1]._tc is cell._tc) or (i < len(above) and above[i]._tc is cell._tc)
            texts.append("" if repeated else " ".join(cell.text.split()))
        above = cells
        # a one-column row still needs a tab to be read as a table row
        yield "\t".join(texts) if len(texts) > 1 else "".join(texts) + "\t"


# =========================================================================== lines & paragraphs

_FIELD_CODE_RE = re.compile(r"\s*HYPERLINK\s+\"[^\"]*\"\s*")
_GLUE = "\x00"  # marks a line that continues the previous one without a break


def _clean_lines(text: str) -> list[str]:
    """Normalise newlines, drop markdown bold and Word field codes; keep tabs (table cells)."""
    text = (text or "").replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    lines = []
    for line in text.split("\n"):
        line = line.replace("\u00a0", " ").replace("**", "")
        if _FIELD_CODE_RE.match(line):
            # the rest of a hyperlink that Word's export put on its own line
            line = _GLUE + _FIELD_CODE_RE.sub("", line, count=1)
        else:
            line = _FIELD_CODE_RE.sub(" ", line)
        lines.append(line.rstrip(" \r") if "\t" in line or "|" in line else line.strip())
    return lines


def _is_table_row(line: str) -> bool:
    return "\t" in line or line.lstrip().startswith("|")


def _ends_sentence(s: str) -> bool:
    return bool(re.search(r"[.!?:;»)\"]$", s))


def _is_caps(s: str) -> bool:
    letters = [c for c in s if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def _paragraphs(lines: list[str]) -> list[str]:
    """Non-empty lines as paragraphs, re-joining those a page break or wrap has split.

    A line continues the previous paragraph when the previous one does not end a
    sentence and this one starts in lower case (e.g. «По данным» / «мониторинга,
    …» across a page in the Chelyabinsk letter). Table rows are never joined.
    """
    paras: list[str] = []
    for line in lines:
        if not line.strip(_GLUE + " "):
            continue
        if line.startswith(_GLUE) and paras:
            rest = line[1:].strip()
            sep = "" if paras[-1].endswith(("@", "/")) else " "
            paras[-1] = paras[-1] + sep + rest
            continue
        line = line.lstrip(_GLUE)
        if (paras and not _is_table_row(line) and not _is_table_row(paras[-1])
                and line[:1].islower() and not _ends_sentence(paras[-1]) and not _is_caps(paras[-1])):
            paras[-1] = paras[-1] + " " + line.strip()
            continue
        paras.append(line if _is_table_row(line) else re.sub(r"[ ]{2,}", " ", line.strip()))
    return paras


# =========================================================================== names

def _is_name(s: str) -> bool:
    return bool(NAME_RE.fullmatch(s.strip()))


def _name_key(name: str) -> tuple[str, str] | None:
    """(initials, surname) of a written name, for comparing forms of the same person."""
    m = re.fullmatch(rf"(?P<i1>{_INITIALS})\s?(?P<s1>{_SURNAME})|(?P<s2>{_SURNAME})\s(?P<i2>{_INITIALS})", name.strip())
    if not m:
        return None
    initials = re.sub(r"[\s.]", "", m["i1"] or m["i2"])
    surname = (m["s1"] or m["s2"]).lower().replace("ё", "е")
    return initials, surname


def _same_person(a: str, b: str) -> bool:
    """Same initials and the same surname up to a case ending (Соседову ~ Соседова)."""
    ka, kb = _name_key(a), _name_key(b)
    if not ka or not kb or ka[0] != kb[0]:
        return False
    sa, sb = ka[1], kb[1]
    return sa == sb or sa[:-1] == sb or sb[:-1] == sa or (len(sa) > 4 and sa[:-1] == sb[:-1])


_FEMININE_ACCUSATIVE = (("ову", "ова"), ("еву", "ева"), ("ину", "ина"), ("ыну", "ына"), ("скую", "ская"), ("цкую",
                                                                                                           "цкая"))


def _nominative(name: str, known: list[str]) -> str:
    """A name written in the accusative («М.Ш. Соседову») in the nominative.

    A name found elsewhere in the document (plan, approval sheet) gives the
    surname's spelling; otherwise only the unambiguous feminine endings are
    turned back (-ову → -ова, -скую → -ская). The written layout is kept.
    """
    key = _name_key(name)
    if not key:
        return name
    m = re.search(_SURNAME + r"(?=\s*(?:[А-ЯЁ]\.|$))", name) or re.search(_SURNAME, name)
    if m is None:
        return name
    written_surname = m.group(0)
    for other in known:
        if _same_person(name, other):
            other_surname = re.search(_SURNAME, other)
            if other_surname:
                return name.replace(written_surname, other_surname.group(0))
    for acc, nom in _FEMININE_ACCUSATIVE:
        if written_surname.endswith(acc):
            return name.replace(written_surname, written_surname[: -len(acc)] + nom)
    return name


# =========================================================================== executors

def split_executors(text: str) -> list[str]:
    """Split a «Ответственный» cell into executors.

    «Шешерина Г.А., Иванов И.И.» gives two; a part starting in lower case
    qualifies the previous one and stays with it («Специалисты МОУО и ОУ,
    ответственные за внедрение …» is one executor), and commas inside «» or
    () never split.
    """
    text = " ".join((text or "").split())
    if not text:
        return []
    parts = split_outside_brackets(text, ",;")
    executors: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if executors and part[:1].islower():
            executors[-1] = f"{executors[-1]}, {part}"
        else:
            executors.append(part)
    return executors


# =========================================================================== the parser

class _Parser:
    """One pass over the lines of one document; builds ``self.doc``."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.warnings: list[str] = []
        self.doc: dict = {
            "kind": None, "issuer": None, "issuer_lines": [], "letterhead": [], "place": None,
            "number": None, "date": None, "in_reply_to": None, "title": None, "salutation": None,
            "basis": [], "preamble": None, "body": [], "clauses": [], "deadlines": [],
            "signatory": None, "controllers": [], "approval": None, "distribution": [],
            "attachments": [], "plan": None, "warnings": self.warnings,
        }
        self.date: dt.date | None = None

    # ------------------------------------------------------------------ driver

    def run(self) -> dict:
        start = self._header()
        start = self._title(start)
        paras = _paragraphs(self.lines[start:])
        k = 0
        if k < len(paras) and _SALUTATION_RE.match(paras[k]):
            self.doc["salutation"] = paras[k]
            k += 1
            if self.doc["kind"] is None:
                self.doc["kind"] = "письмо"
        has_operative = any(_OPERATIVE.search(p) for p in paras)
        if self.doc["kind"] in ORDER_KINDS or (self.doc["kind"] is None and has_operative):
            k = self._preamble(paras, k)
            k = self._clauses(paras, k)
        else:
            k = self._letter_body(paras, k)
        self._tail(paras, k)
        self._finish()
        return self.doc

    # ------------------------------------------------------------------ header

    def _header(self) -> int:
        """Letterhead, kind, date, number, place; returns the index where the title/body starts."""
        i, n = 0, len(self.lines)
        seen_other = False  # issuer lines come only before anything else
        while i < n:
            s = self.lines[i].strip()
            if not s:
                i += 1
                continue
            if (_TITLE_RE.match(s) or _SALUTATION_RE.match(s) or (len(s) > 150 and not _is_caps(s))
                    or _OPERATIVE.search(s)):
                return i
            if "\t" in s:
                # Word often lays out «08.11.2010 <tab> г.Тамбов <tab> №3116» on one line
                for fragment in filter(None, (f.strip() for f in s.split("\t"))):
                    if not self._header_fragment(fragment):
                        self.warnings.append(f"Не распознана строка шапки: «{fragment}»")
                seen_other = True
            elif self._kind_heading(s):
                seen_other = True
            elif re.match(r"^На\s*(?:№|N)", s):
                i = self._in_reply_to(i)
                seen_other = True
                continue
            elif s.startswith("№"):
                i = self._number(i)
                seen_other = True
                continue
            elif self._try_date(s):
                seen_other = True
            elif _PLACE_RE.match(s):
                self.doc["place"] = s
                seen_other = True
            elif _CONTACT_RE.search(s):
                self.doc["letterhead"].append(s)
                seen_other = True
            elif not seen_other:
                self.doc["issuer_lines"].append(s)
            else:
                self.warnings.append(f"Не распознана строка шапки: «{s}»")
            i += 1
        return i

    def _kind_heading(self, s: str) -> bool:
        """«ПРИКАЗ», «П Р И К А З», «РЕШЕНИЕ»… as a line of its own."""
        compact = re.sub(r"[\s*:]", "", s)
        if compact.upper() in KINDS and compact.isupper():
            self._set("kind", KINDS[compact.upper()], s)
            return True
        return False

    def _header_fragment(self, s: str) -> bool:
        """One tab-separated piece of a header line: kind, number, date or place."""
        if self._kind_heading(s):
            return True
        m = re.fullmatch(r"№\s*(?P<num>\S+)", s)
        if m:
            self._set("number", m["num"], s)
            return True
        if self._try_date(s):
            return True
        if _PLACE_RE.match(s):
            self.doc["place"] = s
            return True
        return False

    def _set(self, key: str, value, written: str) -> None:
        if self.doc[key] is not None and self.doc[key] != value:
            self.warnings.append(f"Повторное значение поля «{key}»: «{written}»")
            return
        self.doc[key] = value

    def _try_date(self, s: str) -> bool:
        """Set the document date from a header line that is only a date («от 26.04.2011», «07 ОКТ 2010»)."""
        try:
            d = parse_date(s)
        except ValueError as exc:
            self.warnings.append(f"Дата документа: {exc}")
            return True
        if d is None:
            return False
        if self.date is None:
            self.date = d
            self.doc["date"] = d.isoformat()
        else:
            self.warnings.append(f"Повторная дата в шапке: «{s}»")
        return True

    def _next_nonempty(self, i: int) -> int:
        i += 1
        while i < len(self.lines) and not self.lines[i].strip():
            i += 1
        return i

    def _number(self, i: int) -> int:
        """«№3116», «№ 271», «№  667 … от 07 ноября 2012г.», or «№» with the number on a later line."""
        s = self.lines[i].strip()
        m = re.match(r"^№\s*(?P<num>[^\s]+)?\s*(?P<rest>.*)$", s)
        if m is None:               # not reached: _number is called on lines starting with «№»
            return i + 1
        if m["num"]:
            self._set("number", m["num"], s)
            rest = m["rest"].strip()
            if rest and not self._try_date(rest):
                self.warnings.append(f"Не распознана строка шапки: «{s}»")
            return i + 1
        j = self._next_nonempty(i)
        if j < len(self.lines) and re.fullmatch(r"[\w./-]+", self.lines[j].strip()):
            self._set("number", self.lines[j].strip(), self.lines[j])
            return j + 1
        self.warnings.append("Знак «№» без номера документа")
        return i + 1

    def _in_reply_to(self, i: int) -> int:
        """«На № … от …»: the incoming letter answered; often left blank on the form."""
        s = self.lines[i].strip()
        number = re.sub(r"^На\s*(?:№|N)\s*", "", s).strip() or None
        date = None
        j = self._next_nonempty(i)
        if j < len(self.lines) and re.match(r"^от(?:\s|$)", self.lines[j].strip()):
            rest = self.lines[j].strip()[2:].strip()
            if rest:
                try:
                    d = parse_date(rest)
                    date = d.isoformat() if d else None
                except ValueError:
                    pass
                if date is None:
                    self.warnings.append(f"Не распознана дата входящего: «{rest}»")
            i = j
        if number or date:
            self.doc["in_reply_to"] = {"number": number, "date": date}
        return i + 1

    # ------------------------------------------------------------------ title

    def _title(self, i: int) -> int:
        """Title «О …»: its first line and the lines after it that start in lower case."""
        while i < len(self.lines) and not self.lines[i].strip():
            i += 1
        if i >= len(self.lines) or not _TITLE_RE.match(self.lines[i].strip()):
            self.warnings.append("Заголовок документа не найден")
            return i
        parts = [self.lines[i].strip()]
        i += 1
        while i < len(self.lines) and self.lines[i].strip()[:1].islower():
            parts.append(self.lines[i].strip())
            i += 1
        self.doc["title"] = re.sub(r"\s+", " ", " ".join(parts))
        return i

    # ------------------------------------------------------------------ order body

    def _preamble(self, paras: list[str], k: int) -> int:
        """Paragraphs up to «ПРИКАЗЫВАЮ:»; the references in them are the basis."""
        parts = []
        while k < len(paras):
            p = paras[k]
            m = _OPERATIVE.search(p)
            if m:
                head = p[: m.start()].rstrip(" ,:")
                if head:
                    parts.append(head)
                elif parts:  # «…и письма ОУ г.Казани,» / «ПРИКАЗЫВАЮ:» on the next line
                    parts[-1] = parts[-1].rstrip(" ,:")
                k += 1
                break
            if _CLAUSE_RE.match(p):
                self.warnings.append("Не найдено распорядительное слово («ПРИКАЗЫВАЮ»)")
                break
            parts.append(p)
            k += 1
        self.doc["preamble"] = "\n".join(parts) or None
        self._basis(parts)
        return k

    def _clauses(self, paras: list[str], k: int) -> int:
        """Numbered clauses; unnumbered paragraphs continue the clause before them."""
        clauses = self.doc["clauses"]
        while k < len(paras):
            p = paras[k]
            if self._tail_starts(paras, k):
                break
            m = _CLAUSE_RE.match(p)
            if m:
                clauses.append({"number": m["num"], "parent": self._parent(m["num"]), "text": m["text"].strip(),
                                "deadline": None})
            elif self._controls(p):
                pass
            elif clauses:
                clauses[-1]["text"] += "\n" + p
            else:
                self.warnings.append(f"Текст до первого пункта не распознан: «{_short(p)}»")
            k += 1
        for clause in clauses:
            self._controls(clause["text"], record_only=True)
            self._deadlines_of(clause["text"], f"п. {clause['number']}", clause)
            self._mentions(clause["text"], f"п. {clause['number']}")
        assign_duties(clauses, ref_date=self.date)
        if not clauses:
            self.warnings.append("Пункты документа не найдены")
        return k

    def _parent(self, number: str) -> str | None:
        if "." not in number:
            return None
        parent = number.rsplit(".", 1)[0]
        if not any(c["number"] == parent for c in self.doc["clauses"]):
            self.warnings.append(f"Пункт {number}: нет пункта {parent}")
            return None
        return parent

    # ------------------------------------------------------------------ letter body

    def _letter_body(self, paras: list[str], k: int) -> int:
        """A letter's paragraphs up to the signature or a tail part."""
        body = self.doc["body"]
        while k < len(paras) and not self._tail_starts(paras, k):
            p = paras[k]
            if not self._controls(p):
                body.append(p)
            k += 1
        for n, p in enumerate(body, 1):
            self._deadlines_of(p, f"абз. {n}", None)
            self._mentions(p, f"абз. {n}")
        self._basis(body)
        if not body:
            self.warnings.append("Текст письма не найден")
        return k

    # ------------------------------------------------------------------ tail

    def _tail_starts(self, paras: list[str], k: int) -> bool:
        p = paras[k]
        return bool(
            self._signature_at(paras, k)
            or re.match(r"^(?:Исп\.|Исполнитель:|Тел\.|Разослать|ЛИСТ СОГЛАСОВАНИЯ)", p, re.I)
            or _ATTACHMENT_LINE_RE.match(p) and re.match(r"^Приложени[ея]\s*(?:№\s*)?\d*\s*[:.]", p)
            or _is_table_row(p)
            or (re.match(r"^План\b", p, re.I) and k + 1 < len(paras) and _is_table_row(paras[k + 1]))
        )

    def _signature_at(self, paras: list[str], k: int) -> tuple[str, str, int] | None:
        """(position, name, paragraphs used) when a signature block starts at ``k``."""
        p = paras[k]
        if len(p) > 120:
            return None
        # «Начальник управления <tab> Н.Е.Астафьева» on one line
        m = re.fullmatch(rf"(?P<pos>[А-ЯЁ][^.\t]*?)(?:\s{{2,}}|\t)\s*(?P<name>{NAME_RE.pattern})", p.strip())
        if m:
            return m["pos"].strip(), m["name"], 1
        if _is_table_row(p):
            return None
        if (k + 1 < len(paras) and not p.endswith((".", ":", ";", ",")) and p[:1].isupper()
                and not _is_name(p) and not _CLAUSE_RE.match(p) and _is_name(paras[k + 1])):
            return p, paras[k + 1].strip(), 2
        return None

    def _tail(self, paras: list[str], k: int) -> None:
        """Signature, executor, distribution, approval sheet, attachments list and the plan."""
        while k < len(paras):
            p = paras[k]
            sig = self._signature_at(paras, k)
            if sig and self.doc["signatory"] is None:
                self.doc["signatory"] = {"position": sig[0], "name": sig[1]}
                k += sig[2]
            elif re.match(r"^(?:Исп\.|Исполнитель:)", p):
                self._executor(p)
                k += 1
            elif re.match(r"^Тел\.", p):
                self._phone(p)
                k += 1
            elif re.match(r"^Разослать", p):
                rest = re.sub(r"^Разослать\s*:?\s*", "", p)
                self.doc["distribution"] = [x.strip() for x in re.split(r"[,;]", rest) if x.strip()]
                k += 1
            elif re.match(r"^ЛИСТ СОГЛАСОВАНИЯ", p, re.I):
                k = self._approval(paras, k)
            elif re.match(r"^Приложени[ея]\b", p) and self._attachment_line(p):
                k += 1
            elif re.match(r"^План\b", p, re.I) or _is_table_row(p):
                k = self._plan(paras, k)
            else:
                self.warnings.append(f"Не распознан фрагмент: «{_short(p)}»")
                k += 1

    def _executor(self, p: str) -> None:
        """«Исп. А.И.Юсупов» / «Исп. Выдря Н.М. 2632886»: who drafted the document."""
        rest = re.sub(r"^(?:Исп\.|Исполнитель:)\s*", "", p)
        m = NAME_RE.search(rest)
        phone = re.search(r"[\d()+][\d\s()+-]{4,}\d", rest)
        author = {"name": m.group(0) if m else rest or None, "position": None,
                  "phone": phone.group(0).strip() if phone else None}
        approval = self._approval_dict()
        if approval["author"] is None:
            approval["author"] = author
        else:
            self.warnings.append(f"Второй исполнитель: «{p}»")

    def _phone(self, p: str) -> None:
        phone = re.sub(r"^Тел\.\s*", "", p).strip()
        approval = self.doc["approval"]
        if approval and approval["author"] and not approval["author"].get("phone"):
            approval["author"]["phone"] = phone
        else:
            self.warnings.append(f"Телефон без исполнителя: «{p}»")

    def _approval_dict(self) -> dict:
        if self.doc["approval"] is None:
            self.doc["approval"] = {"author": None, "agreed": [], "subject": None, "note": None}
        return self.doc["approval"]

    def _approval(self, paras: list[str], k: int) -> int:
        """«ЛИСТ СОГЛАСОВАНИЯ»: subject, «Составитель проекта:», «Согласовано:» pairs, a note."""
        approval = self._approval_dict()
        head = re.sub(r"^ЛИСТ СОГЛАСОВАНИЯ\s*", "", paras[k], flags=re.I)
        subject = [head] if head else []
        k += 1
        role = None
        while k < len(paras):
            p = paras[k]
            if re.match(r"^Составител[ьи]", p):
                role = "author"
                k += 1
            elif re.match(r"^Согласовано", p, re.I):
                role = "agreed"
                k += 1
            elif role and (pair := self._person_at(paras, k)):
                person = {"name": pair[1], "position": pair[0]}
                if role == "author" and approval["author"] is None:
                    approval["author"] = {**person, "phone": None}
                else:
                    approval["agreed"].append(person)
                k += pair[2]
            elif role is None and not re.match(r"^Проект подготовлен", p):
                subject.append(p)
                k += 1
            elif re.match(r"^Проект подготовлен", p):
                approval["note"] = p
                k += 1
            else:
                break
        if subject:
            approval["subject"] = " ".join(subject)
            title = self.doc["title"]
            if title and f"«{title}»" not in approval["subject"]:
                self.warnings.append("Лист согласования относится к проекту с другим заголовком")
        return k

    def _person_at(self, paras: list[str], k: int) -> tuple[str, str, int] | None:
        """Position + name in the approval sheet (two paragraphs, or one with a wide gap)."""
        p = paras[k]
        m = re.fullmatch(rf"(?P<pos>[^\t]+?)(?:\s{{2,}}|\t)\s*(?P<name>{NAME_RE.pattern})", p.strip())
        if m:
            return m["pos"].strip(), m["name"], 1
        if k + 1 < len(paras) and not _is_name(p) and _is_name(paras[k + 1]):
            return p, paras[k + 1].strip(), 2
        return None

    def _attachment_line(self, p: str) -> bool:
        """«Приложение 1: на 2 стр в 1 экз.» in a letter's list of enclosures."""
        m = _ATTACHMENT_LINE_RE.match(p)
        if not m:
            return False
        number, rest = m["num"], m["rest"].strip()
        att = self._attachment(number)
        if re.match(r"^на\s+\d+", rest):
            att["note"] = rest
        elif rest:
            att["title"] = att["title"] or rest
        return True

    def _attachment(self, number: str | None) -> dict:
        for att in self.doc["attachments"]:
            if att["number"] == number:
                return att
        att = {"number": number, "title": None, "note": None, "mentioned_in": []}
        self.doc["attachments"].append(att)
        return att

    # ------------------------------------------------------------------ plan

    def _plan(self, paras: list[str], k: int) -> int:
        """The plan table: a title, a header row, section rows and item rows."""
        if self.doc["plan"] is not None:
            self.warnings.append("Второй план в документе: прочитан только первый")
        plan: dict = {"title": None, "attachment": None, "columns": [], "sections": []}
        if not _is_table_row(paras[k]):
            plan["title"] = paras[k]
            k += 1
        rows = []
        while k < len(paras) and _is_table_row(paras[k]):
            rows.append(_split_row(paras[k]))
            k += 1
        columns = self._columns(rows[0]) if rows else None
        if columns is None:
            self.warnings.append("План: не найдена строка заголовков таблицы")
            columns = {"number": 0, "title": 1, "executors": 2, "deadline": 3, "result": 4}
        else:
            plan["columns"] = [c.strip() for c in rows[0]]
            rows = rows[1:]
        self._plan_rows(plan, rows, columns)
        for att in self.doc["attachments"]:
            if att["title"] and att["title"].lower().startswith("план"):
                plan["attachment"] = att["number"]
        if self.doc["plan"] is None:
            self.doc["plan"] = plan
        return k

    @staticmethod
    def _columns(header: list[str]) -> dict | None:
        """Column index per field from the header labels («№ п.п», «Мероприятие», …)."""
        labels = {
            "number": r"^№|^n\b|^номер",
            "title": r"мероприят|наименован|содержан",
            "executors": r"ответствен|исполнител",
            "deadline": r"срок",
            "result": r"результат|форма|итог",
        }
        found = {}
        for i, cell in enumerate(header):
            for key, rx in labels.items():
                if key not in found and re.search(rx, cell.strip(), re.I):
                    found[key] = i
                    break
        if "title" not in found or "number" not in found:
            return None
        return found

    def _plan_rows(self, plan: dict, rows: list[list[str]], columns: dict) -> None:
        """Sections, items, and rows continued after a page break merged into one item."""
        section: dict | None = None
        item: dict | None = None
        raw_items: list = []
        for cells in rows:
            get = lambda key: cells[columns[key]].strip() if key in columns and columns[key] < len(cells) else ""
            number = get("number")
            others = [get(key) for key in ("executors", "deadline", "result")]
            if not any(c.strip() for c in cells):
                continue
            if re.fullmatch(r"(?:\d+\s*){2,}", " ".join(c.strip() for c in cells if c.strip())):
                continue  # column numbering row «1 2 3 4 5» repeated after a page break
            sec = re.fullmatch(r"(?P<num>\d+)\.?\s+(?P<title>\S.*)", number)
            if sec and not any(others) and not get("title"):
                section = {"number": sec["num"], "title": sec["title"].strip(), "items": []}
                plan["sections"].append(section)
                item = None
                continue
            if re.fullmatch(r"\d+\.?", number) and not any(others):
                section = {"number": number.rstrip("."), "title": get("title"), "items": []}
                plan["sections"].append(section)
                item = None
                continue
            if not number:
                # the rest of a row that a page break has cut: glue each cell to the row above
                if item is not None:
                    for key in ("title", "executors", "deadline", "result"):
                        if get(key):
                            item[key] = f"{item[key]} {get(key)}".strip()
                elif section is not None and get("title"):
                    section["title"] = f"{section['title'] or ''} {get('title')}".strip()
                else:
                    self.warnings.append(f"План: строка без номера не отнесена к пункту: «{_short(' | '.join(cells))}»")
                continue
            if not re.fullmatch(r"\d+(?:\.\d+)*\.?", number):
                self.warnings.append(f"План: не распознан номер строки «{number}»")
            if section is None:
                section = {"number": None, "title": None, "items": []}
                plan["sections"].append(section)
            item = {"number": number.rstrip("."), "title": get("title"), "executors": get("executors"),
                    "deadline": get("deadline"), "result": get("result")}
            section["items"].append(item)
            raw_items.append((section, item))
        for section, item in raw_items:
            self._finish_item(section, item)

    def _finish_item(self, section: dict, item: dict) -> None:
        number = item["number"]
        if section["number"] and not number.startswith(section["number"] + "."):
            self.warnings.append(f"План: пункт {number} стоит в разделе {section['number']}")
        item["executors_text"] = item["executors"]
        item["executors"] = split_executors(item["executors"])
        deadline = parse_deadline(item["deadline"], ref_date=self.date)
        item["deadline"] = deadline.to_dict()
        item["result"] = item["result"] or None
        for w in deadline.warnings:
            self.warnings.append(f"План, п. {number}: {w}")
        if not item["executors"]:
            self.warnings.append(f"План, п. {number}: не указан ответственный")
        # keep the key order stable for readers of the JSON
        for key in ("title", "executors", "executors_text", "deadline", "result"):
            item[key] = item.pop(key)

    # ------------------------------------------------------------------ pieces found in text

    def _controls(self, text: str, record_only: bool = False) -> bool:
        """«Контроль за исполнением … возложить на …» / «… оставляю за собой».

        Returns True when ``text`` is a control sentence. With ``record_only``
        the controllers are recorded (once) but the text stays in its clause.
        """
        found = False
        for m in _CONTROL_RE.finditer(text):
            found = True
            sentence = m.group(0)
            if any(c["text"] == sentence for c in self.doc["controllers"]):
                continue
            what = m["what"]
            scope = None
            part = re.search(r"в\s+части\s+(.+)$", what)
            if part:
                scope = part.group(1).strip()
            else:
                pts = re.search(r"(?:пункт[а-я]*|п\.)\s*(\d+(?:\.\d+)*(?:\s*(?:,|и)\s*\d+(?:\.\d+)*)*)", what)
                if pts:
                    scope = "п. " + re.sub(r"\s+", " ", pts.group(1))
            if m["self"]:
                self.doc["controllers"].append({"name": None, "name_as_written": None, "position": None,
                                                "scope": scope, "is_signatory": True, "text": sentence})
                continue
            who = m["who"]
            name = m["name"]
            self.doc["controllers"].append({
                "name": name, "name_as_written": name,
                "position": who[: who.rfind(name)].strip(" ,") or None,
                "scope": scope, "is_signatory": False, "text": sentence,
            })
        if not record_only and found:
            rest = _CONTROL_RE.sub("", text).strip(" .")
            if rest:
                self.warnings.append(f"Не распознан фрагмент: «{_short(rest)}»")
        return found

    def _deadlines_of(self, text: str, source: str, clause: dict | None) -> None:
        for phrase in find_deadline_phrases(text):
            deadline = parse_deadline(phrase, ref_date=self.date)
            entry = {"source": source, "clause": clause["number"] if clause else None,
                     "text": phrase, "deadline": deadline.to_dict()}
            self.doc["deadlines"].append(entry)
            if clause is not None and clause["deadline"] is None:
                clause["deadline"] = entry["deadline"]
            for w in deadline.warnings:
                self.warnings.append(f"{source}: {w}")

    def _mentions(self, text: str, source: str) -> None:
        """«(далее – План, Приложение 1)», «по форме (приложение № 2)» → attachments with titles."""
        for m in _ATTACHMENT_MENTION_RE.finditer(text):
            att = self._attachment(m["num"])
            if source not in att["mentioned_in"]:
                att["mentioned_in"].append(source)
            if att["title"]:
                continue
            inner = m["inner"] or ""
            before = text[: m.start()]
            sentence = re.split(r"(?<=[.!?])\s+(?=[А-ЯЁ])", before)[-1]
            alias = re.search(r"далее\s*[-–—]?\s*(?P<t>[^,)]+)", inner) or None
            if alias is None:
                aliases = list(re.finditer(r"\(далее\s*[-–—]?\s*(?P<t>[^,)]+)\)", sentence))
                alias = aliases[-1] if aliases else None
            if alias:
                att["title"] = alias["t"].strip()
            elif re.search(r"по\s+форме\s*$", before):
                att["title"] = "Форма"

    def _basis(self, paragraphs: list[str]) -> None:
        """Documents the ordinance is based on, from the preamble (or a letter's text)."""
        for p in paragraphs:
            bullet = _BULLET_RE.match(p)
            if bullet and _ACT_WORD_RE.match(p[bullet.end():]):
                # «· Порядок …, утверждён приказом …;» — a list of the acts relied on
                self.doc["basis"].append(_bullet_basis(p[bullet.end():]))
                continue
            for m in _REF_RE.finditer(p):
                self.doc["basis"].append(_ref_dict(m))
            for m in _LAW_RE.finditer(p):
                self.doc["basis"].append({"kind": "закон", "issuer": m["issuer"], "date": None, "number": None,
                                          "title": m["title"], "part": None, "text": m.group(0)})

    # ------------------------------------------------------------------ checks

    def _finish(self) -> None:
        doc = self.doc
        doc["issuer"] = " ".join(doc["issuer_lines"]) or None
        if doc["kind"] is None:
            self.warnings.append("Вид документа не определён")
        if doc["issuer"] is None:
            self.warnings.append("Издатель документа не найден")
        if doc["number"] is None:
            self.warnings.append("Номер документа не найден")
        if doc["date"] is None:
            self.warnings.append("Дата документа не найдена")
        if doc["signatory"] is None:
            self.warnings.append("Подпись (должность и ФИО) не найдена")
        known = []
        if doc["plan"]:
            known = [name for s in doc["plan"]["sections"] for it in s["items"] for name in it["executors"]]
        if doc["approval"]:
            known += [p["name"] for p in doc["approval"]["agreed"]]
            if doc["approval"]["author"]:
                known.append(doc["approval"]["author"]["name"] or "")
        if doc["signatory"]:
            known.append(doc["signatory"]["name"])
        for c in doc["controllers"]:
            if c["name"]:
                c["name"] = _nominative(c["name"], [k for k in known if k])
            elif c["is_signatory"] and doc["signatory"]:
                c["name"], c["position"] = doc["signatory"]["name"], doc["signatory"]["position"]


# =========================================================================== helpers

def _split_row(line: str) -> list[str]:
    if line.lstrip().startswith("|"):
        cells = line.strip().strip("|").split("|")
    else:
        cells = line.split("\t")
    return [" ".join(c.split()) for c in cells]


def _short(s: str, limit: int = 120) -> str:
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


_REF_KINDS = (
    ("распоряжени", "распоряжение"), ("приказ", "приказ"), ("письм", "письмо"), ("решени", "решение"),
    ("постановлени", "постановление"), ("указ", "указ"), ("закон", "закон"),
)
_REF_DATE = (r"\d{1,2}\s?\.\s?\d{1,2}\s?\.\s?(?:\d{4}|\d{2})"
             r"|\d{1,2}\s+(?:январ|феврал|март|апрел|ма|июн|июл|август|сентябр|октябр|ноябр|декабр)[а-яё]*\s+\d{4}")
_REF_RE = re.compile(
    r"(?<![а-яёА-ЯЁ])(?P<type>[Рр]аспоряжени[еяюи]м?|[Пп]риказ(?:ом|а|у)?|[Пп]исьм(?:о|а|ом|у)|[Рр]ешени[еяюи]м?"
    r"|[Пп]остановлени[еяюи]м?|[Уу]каз(?:ом|а|у)?|[Зз]акон(?:ом|а|у)?)"
    r"(?:\s+(?P<issuer>[^«»;]{1,160}?))?\s+от\s+(?P<date>" + _REF_DATE + r")(?:\s*(?:г\.|года|г(?![а-яё])))?"
    r"(?:\s*,?\s*(?:№|N)\s*(?P<number>[\w/-]+(?:\.\d+)*))?"
    r"(?:\s*«(?P<title>[^»]+)»)?"
    r"(?:,\s*(?P<part>(?:приложение|прил\.)\s*№?\s*\d+(?:\s*,\s*(?:п\.|пункт)\s*\d+(?:\.\d+)*)?(?:\s*«[^»]+»)?))?"
)
_LAW_RE = re.compile(r"(?<![а-яё])[Зз]акон(?:ом|а|у)?\s+(?P<issuer>РФ|Российской Федерации)\s+«(?P<title>[^»]+)»")


def _ref_dict(m: re.Match) -> dict:
    word = m["type"].lower()
    kind = next(nom for stem, nom in _REF_KINDS if word.startswith(stem))
    try:
        date = parse_date(m["date"])
    except ValueError:
        date = None
    return {"kind": kind, "issuer": m["issuer"].strip() if m["issuer"] else None,
            "date": date.isoformat() if date else None, "number": m["number"],
            "title": m["title"], "part": m["part"], "text": m.group(0).strip()}


def _bullet_basis(text: str) -> dict:
    """A bulleted basis item: a reference itself, or a named act («Порядок …, утверждён приказом …»)."""
    text = text.strip().rstrip(";.").strip()
    m = _REF_RE.match(text)
    if m:
        entry = _ref_dict(m)
        entry["text"] = text
        return entry
    words = text.split()
    kind = words[0].lower() if words else None
    if len(words) > 1 and re.search(r"(?:ый|ий|ой|ая|ое)$", words[0].lower()):
        kind = f"{words[0].lower()} {words[1].lower()}"
    inner = _REF_RE.search(text)
    title = re.split(r",\s*утвержд", text)[0].strip()
    entry = {"kind": kind, "issuer": None, "date": None, "number": None, "title": title, "part": None, "text": text}
    if inner:
        entry["approved_by"] = _ref_dict(inner)
    return entry
