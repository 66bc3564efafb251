"""What every part of the transition services shares: errors, constants, the default stages."""
from __future__ import annotations

import logging

from orgs.models.organisations import Organisation
from transitions.models import (
    StageKind,
)

log = logging.getLogger(__name__)

STATEMENT_RETENTION_YEARS = 5          # readiness statements: 5 years (like class journals)

PLATFORMS = {"dnevnik_ru": "Дневник.ру", "chronograph": "1С:ХроноГраф Школа", "eor_rt": "ЭОР РТ",
             "other": "Другая платформа"}
PARENTS_SECTION = "Муниципальная услуга"

# The default stages, from the seed documents: 000 (Tambov letter, 2014), 001 (order № 3116),
# 003 (Chelyabinsk letter № 01/4817), 004 (Krasnodar order № 271).
DEFAULT_STAGES: list[dict] = [
    dict(code="responsible", kind=StageKind.document, requires_order=True,
         title="Назначен ответственный за ведение электронных журналов (приказ по школе)",
         basis="Приказ № 3116 от 08.11.2010, план п. 2.1; приказ № 271 от 26.04.2011, п. 3.2",
         hint="Номер и дата приказа по школе о назначении ответственного; скан приказа — по желанию."),
    dict(code="platform", kind=StageKind.platform,
         title="Выбрана и активирована платформа электронного журнала",
         basis="Приказ № 3116, п. 1.1, план п. 2.2–2.3; письмо № 01/4817 от 07.10.2010",
         hint="Дневник.ру, 1С:ХроноГраф Школа, ЭОР РТ или другая платформа; адрес школы на платформе."),
    dict(code="regulation", kind=StageKind.document, requires_order=True, requires_file=True,
         title="Принято Положение о ведении электронных журналов и дневников",
         basis="Приказ № 271 от 26.04.2011, п. 1 и 3.1",
         hint="Приказ об утверждении Положения (номер, дата) и файл Положения."),
    dict(code="charter", kind=StageKind.document,
         title="Внесены изменения в устав и локальные акты школы",
         basis="Письмо № 01/4817 от 07.10.2010",
         hint="Документ о внесении изменений (номер и дата) и/или его файл."),
    dict(code="parents_link", kind=StageKind.parents_link,
         title="Ссылка для родителей размещена в разделе «Муниципальная услуга» сайта школы",
         basis="Приказ № 271 от 26.04.2011, п. 3.4",
         hint="Адрес страницы раздела «Муниципальная услуга» на сайте школы (http:// или https://)."),
    dict(code="trial", kind=StageKind.trial,
         title="Журналы ведутся в электронном виде (апробационный период)",
         basis="Приказ № 271, п. 2.2 и 3.3; апробация 2013 г. (письмо о переходе с 01.09.2014)",
         hint="С какого числа (и по какое) журналы ведутся в электронном виде параллельно с бумажными."),
    dict(code="readiness", kind=StageKind.readiness,
         title="Готовность подтверждена директором (заявление с электронной подписью)",
         basis="Письмо о переходе на безбумажное ведение с 01.09.2014",
         hint="Заявление формируется системой по принятым этапам и подписывается директором."),
    dict(code="paperless", kind=StageKind.paperless,
         title="Журналы ведутся только в электронном виде (безбумажно) с даты",
         basis="Письмо о переходе на безбумажное ведение с 01.09.2014",
         hint="Дата, с которой бумажные журналы не ведутся."),
]
FIXED_KINDS = (StageKind.readiness, StageKind.paperless)


class TransitionError(ValueError):
    """Bad input or a step not allowed now; the message (and `errors`) are Russian, safe to show."""

    def __init__(self, message: str | list[str]):
        self.errors = [message] if isinstance(message, str) else list(message)
        super().__init__("\n".join(str(e) for e in self.errors))


def school_label(school: Organisation) -> str:
    return f"«{school.display_name}» (код {school.code})"
