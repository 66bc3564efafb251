"""Who must do what by when, read from an order's clauses (orders without a plan table).

An order gives its duties in two shapes:
- a heading clause names the addressee and its sub-clauses say what to do
  («2. Начальникам отделов образования … (З.И.Гонтарь, О.А.Литвиновой): 2.1. Представить до 25.04.2011 …»,
  «4. Рекомендовать руководителям МОУО; руководителям ОУ: 4.1. …», «2. ТОГУ «Компьютерный центр» (Маковеев С.Н.)»);
- one clause starts with the addressee in the dative, then the verb
  («1. Руководителям общеобразовательных учреждений района следовать п.3.5 …»).

Each clause that is a duty gets `executors` (written as in a plan's «Ответственный» column, so the same
matcher finds people, organisations and groups) and keeps its `deadline` (the first deadline phrase in its
text, else its heading's, else «постоянно» when the text says so). Headings, «Утвердить …» and control
clauses have no executors: the issuer does them itself.
"""
import re

from ordinances.parsing.deadlines import parse_deadline

_NAME = r"[А-ЯЁ]\.\s?(?:[А-ЯЁ]\.)?\s?[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?"
_INFINITIVE = re.compile(r"^[а-яё]+(?:ть|ться|чь)$", re.I)
# «Руководителям …», «Начальникам …», «Директорам …» followed by the verb of the duty.
_DATIVE_LEAD = re.compile(r"^(?P<who>[А-ЯЁ][а-яё]+(?:ам|ям)\s.+?)\s+(?P<verb>[а-яё]+(?:ть|ться|чь))\s", re.S)
_RECOMMEND = re.compile(r"^(?:рекомендовать|поручить)\s+", re.I)
_CONTROL = re.compile(r"^Контроль\s+(?:за\s+)?(?:исполнением|выполнением)", re.I)
# Dative surnames back to the nominative: Литвиновой → Литвинова, Цыпкину → Цыпкин.
_DATIVE_ENDINGS = (("ской", "ская"), ("цкой", "цкая"), ("овой", "ова"), ("евой", "ева"), ("иной", "ина"),
                   ("ову", "ов"), ("еву", "ев"), ("ину", "ин"), ("ыну", "ын"), ("скому", "ский"))


def _first_word(text: str) -> str:
    m = re.match(r"[А-ЯЁа-яё]+", text)
    return m.group(0) if m else ""


def _nominative(name: str) -> str:
    surname = re.search(r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?$", name)
    if surname is None:
        return name
    word = surname.group(0)
    for dative, nominative in _DATIVE_ENDINGS:
        if word.endswith(dative):
            return name[: surname.start()] + word[: -len(dative)] + nominative
    return name


def split_outside_brackets(text: str, separators: str) -> list[str]:
    """Split on any of `separators` outside «» and () (a list of executors, of addressees)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "«(":
            depth += 1
        elif ch in "»)":
            depth = max(0, depth - 1)
        if ch in separators and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def _split_parts(text: str) -> list[str]:
    return [p.strip(" ,.") for p in split_outside_brackets(text, ";") if p.strip(" ,.")]


def addressee_executors(who: str) -> list[str]:
    """«Начальникам отделов … (З.И.Гонтарь, О.А.Литвиновой)» → the people named; an organisation with a
    quoted name stays one executor with its contact person; a group («руководителям ОУ») as written."""
    who = _RECOMMEND.sub("", who.strip()).rstrip(" :.")
    executors = []
    for part in _split_parts(who):
        names = [_nominative(n) for n in re.findall(_NAME, " ".join(re.findall(r"\(([^()]*)\)", part)))]
        if "«" in part or '"' in part or not names:
            executors.append(part[:1].upper() + part[1:])
        else:
            executors.extend(names)
    return executors


def _heading(clause: dict, has_children: bool) -> str | None:
    """The addressee named by a heading clause, or None."""
    text = clause["text"].strip()
    if not has_children or _CONTROL.match(text) or "\n" in text:
        return None
    first = _first_word(text)
    if _RECOMMEND.match(text):
        return text
    if _INFINITIVE.match(first):
        return None           # «Утвердить:» — the issuer's own act
    return text


def _deadline(clause: dict, inherited: dict | None, ref_date) -> dict | None:
    if clause.get("deadline"):
        return clause["deadline"]
    if inherited:
        return inherited
    if re.search(r"постоянн", clause["text"], re.I):
        return parse_deadline("постоянно", ref_date=ref_date).to_dict()
    return None


def assign_duties(clauses: list[dict], *, ref_date) -> None:
    """Set `executors` (and the inherited `deadline`) on every clause; [] where the clause is no duty."""
    parents = {c["parent"] for c in clauses if c.get("parent")}
    headings: dict[str, tuple[list[str], dict | None]] = {}
    for clause in clauses:
        clause["executors"] = []
        number, text = clause.get("number") or "", clause["text"].strip()
        if (who := _heading(clause, number in parents)) is not None:
            headings[number] = (addressee_executors(who), clause.get("deadline"))
            clause["deadline"] = None          # a heading's date is its sub-clauses' (inherited below)
            continue
        inherited = headings.get(clause.get("parent") or "")
        if inherited:
            clause["executors"] = list(inherited[0])
            clause["deadline"] = _deadline(clause, inherited[1], ref_date)
        elif (m := _DATIVE_LEAD.match(text)) and not _CONTROL.match(text):
            clause["executors"] = addressee_executors(m["who"])
            clause["deadline"] = _deadline(clause, None, ref_date)
