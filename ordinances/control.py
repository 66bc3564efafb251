"""Who controls which duties of an order (п. 5 «Контроль … возложить на …», by part where the order splits it).

A controller without a part controls every duty. A part given by clause numbers («в части п. 2, 3») takes the
duties of those clauses and of the plan rows with those numbers. A part given in words («в части апробации и
внедрения …», 004 п. 5) takes the duties whose text shares a word stem that is particular to that part (one the
other parts do not have); a duty that matches no part is every controller's."""
from __future__ import annotations

import re

from ordinances.models.ordinances import Controller, Ordinance, PlanItem

_NUMBERS = re.compile(r"\d+(?:\.\d+)*")
_STEM = 6        # Russian words compared by their first letters: «апробации» ~ «апробацию»


def _stems(text: str) -> set[str]:
    return {w[:_STEM] for w in re.findall(r"[а-яё]{6,}", text.lower().replace("ё", "е"))}


def _numbers(scope: str) -> list[str] | None:
    if not re.match(r"^\s*(?:п\.|пункт)", scope):
        return None
    return _NUMBERS.findall(scope)


def duties_by_controller(o: Ordinance) -> dict[int, list[PlanItem]]:
    """controller id → the duties (clause duties and plan rows) they control."""
    items = o.plan.items if o.plan else []
    parts = [c for c in o.controllers if c.scope]
    stems = {c.id: _stems(c.scope or "") for c in parts}
    particular = {c.id: stems[c.id] - set().union(*(stems[x.id] for x in parts if x.id != c.id)) for c in parts}
    out: dict[int, list[PlanItem]] = {}
    for c in o.controllers:
        out[c.id] = [it for it in items if _controls(c, it, particular, parts)]
    return out


def _controls(c: Controller, item: PlanItem, particular: dict[int, set[str]], parts: list[Controller]) -> bool:
    if not c.scope:
        return True
    numbers = _numbers(c.scope)
    if numbers is not None:
        return any(item.number == n or (item.number or "").startswith(n + ".") for n in numbers)
    words = _stems(item.title)
    if words & particular[c.id]:
        return True
    return not any(words & particular[x.id] for x in parts)        # no part claims it: every controller's

