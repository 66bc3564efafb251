"""The transition pages' forms read into the services' keyword arguments: one reader per form, shared by the
pages that submit it (new and edit, add and update)."""
from core.forms import form_date, form_flag, form_text


def campaign_fields(errors: list[str]) -> dict:
    """title, target_date, reply_deadline; a bad date adds its message to `errors`."""
    return {"title": form_text("title"),
            "target_date": form_date("target_date", "Безбумажно с", errors, required=True),
            "reply_deadline": form_date("reply_deadline", "Срок ответа муниципалитетов", errors)}


def stage_fields() -> dict:
    return {"title": form_text("title"), "basis": form_text("basis") or None, "hint": form_text("hint") or None,
            "requires_order": form_flag("requires_order"), "requires_file": form_flag("requires_file")}
