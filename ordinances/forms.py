"""The preview/edit form of an ordinance: parser-shaped dict ⇄ flat form fields.

Rows are numbered fields (`clause-3-text`, `item-1-4-deadline`); a row whose main
text is cleared is dropped. Parts the form does not show (basis, letter body,
distribution) travel in one hidden JSON field.
"""
import json

from werkzeug.datastructures import MultiDict

HIDDEN_KEYS = ("basis", "body", "distribution", "place", "warnings")
MAX_ROWS = 2000


class FormError(ValueError):
    pass


def _rows(form: MultiDict, prefix: str) -> list[int]:
    found = set()
    for key in form:
        if key.startswith(prefix + "-"):
            head = key[len(prefix) + 1:].split("-", 1)[0]
            if head.isdigit():
                found.add(int(head))
    if len(found) > MAX_ROWS:
        raise FormError("Слишком много строк в форме.")
    return sorted(found)


def _get(form: MultiDict, key: str) -> str | None:
    value = (form.get(key) or "").strip()
    return value or None


def _lines(form: MultiDict, key: str) -> list[str]:
    return [line.strip() for line in (form.get(key) or "").splitlines() if line.strip()]


def from_form(form: MultiDict) -> dict:
    """Rebuild the parser-shaped dict from the submitted form."""
    try:
        hidden = json.loads(form.get("hidden_json") or "{}")
    except json.JSONDecodeError:
        raise FormError("Повреждены служебные данные формы: откройте предпросмотр заново.") from None
    if not isinstance(hidden, dict):
        raise FormError("Повреждены служебные данные формы.")
    data = {k: hidden.get(k) for k in HIDDEN_KEYS if k in hidden}
    for key in ("kind", "number", "date", "title", "issuer", "preamble"):
        data[key] = _get(form, key)
    data["signatory"] = {"name": _get(form, "signatory_name"), "position": _get(form, "signatory_position")}
    data["clauses"] = [{"number": _get(form, f"clause-{i}-number"), "parent": _get(form, f"clause-{i}-parent"),
                        "text": _get(form, f"clause-{i}-text"), "executors": _lines(form, f"clause-{i}-executors"),
                        "deadline": {"text": _get(form, f"clause-{i}-deadline") or ""}}
                       for i in _rows(form, "clause") if _get(form, f"clause-{i}-text")]
    data["controllers"] = [{"name": _get(form, f"controller-{i}-name"),
                            "position": _get(form, f"controller-{i}-position"),
                            "scope": _get(form, f"controller-{i}-scope")}
                           for i in _rows(form, "controller") if _get(form, f"controller-{i}-name")]
    data["approval"] = {
        "author": {"name": _get(form, "author_name"), "position": _get(form, "author_position"),
                   "phone": _get(form, "author_phone")},
        "agreed": [{"name": _get(form, f"agreed-{i}-name"), "position": _get(form, f"agreed-{i}-position")}
                   for i in _rows(form, "agreed") if _get(form, f"agreed-{i}-name")]}
    data["attachments"] = [{"number": _get(form, f"attachment-{i}-number"),
                            "title": _get(form, f"attachment-{i}-title")}
                           for i in _rows(form, "attachment") if _get(form, f"attachment-{i}-title")]
    sections = []
    for s in _rows(form, "section"):
        items = []
        for key in sorted({k.split("-")[2] for k in form if k.startswith(f"item-{s}-")}, key=int):
            p = f"item-{s}-{key}"
            if not _get(form, f"{p}-title"):
                continue
            items.append({"number": _get(form, f"{p}-number"), "title": _get(form, f"{p}-title"),
                          "executors": _lines(form, f"{p}-executors"),
                          "deadline": {"text": _get(form, f"{p}-deadline") or ""},
                          "result": _get(form, f"{p}-result")})
        if items or _get(form, f"section-{s}-title"):
            sections.append({"number": _get(form, f"section-{s}-number"), "title": _get(form, f"section-{s}-title"),
                             "items": items})
    data["plan"] = {"title": _get(form, "plan_title") or "План мероприятий", "sections": sections} \
        if sections else None
    return data


def hidden_json(data: dict) -> str:
    return json.dumps({k: data.get(k) for k in HIDDEN_KEYS}, ensure_ascii=False)
