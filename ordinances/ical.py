"""iCalendar export of a plan's deadlines: one VTODO per plan item, with its RRULE when it recurs."""
from datetime import date, datetime, timezone

from icalendar import Calendar, Todo, vRecur

from ordinances.models.ordinances import DeadlineKind, Ordinance


def plan_calendar(o: Ordinance, *, host: str) -> bytes:
    if o.plan is None:
        raise ValueError(f"ordinance {o.id} has no plan")
    cal = Calendar()
    cal.add("prodid", "-//Электронные журналы//План мероприятий//RU")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{o.label}: {o.plan.title}"[:250])
    stamp = datetime.now(timezone.utc)
    for item in o.plan.items:
        if item.deadline_kind in (DeadlineKind.unparsed, DeadlineKind.continuous) and not item.dtstart:
            continue   # no date to put in a calendar
        todo = Todo()
        todo.add("uid", f"plan-item-{item.id}@{host}")
        todo.add("dtstamp", stamp)
        todo.add("summary", f"{item.number or ''} {item.title}".strip()[:500])
        todo.add("description", f"Срок: {item.deadline_text}\nОтветственный: {item.executors_text or '—'}"
                                + (f"\nРезультат: {item.result}" if item.result else ""))
        if item.deadline_kind is DeadlineKind.once:
            todo.add("due", item.dates[0])
        elif item.deadline_kind is DeadlineKind.recurring:
            # DTSTART is the first due date, so the rule expands to exactly the item's due dates.
            todo.add("dtstart", item.dates[0] if item.dates else (item.dtstart or o.date or date.today()))
            todo.add("rrule", vRecur.from_ical(item.rrule or ""))
        else:   # continuous from a start date
            todo.add("dtstart", item.dtstart)
        cal.add_component(todo)
    return cal.to_ical()
