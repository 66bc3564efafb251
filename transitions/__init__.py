"""Each school's transition to paperless journals: campaigns, stages, lists, replies, readiness statements."""
from core.signals import day_started


@day_started.connect
def _stages_falling_due(day) -> None:
    from transitions.services import reminders  # in-function: this package's __init__ runs before its modules
    reminders.stages_falling_due(day)
