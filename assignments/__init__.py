"""Assignments (поручения), their occurrences, and the notifications: the inbox and the daily digest.

Other domains tell users things through `core.signals.notice` (they may not import this package); the
entries are written here, in the sender's transaction."""
from core.signals import notice


@notice.connect
def _to_inbox(sender, *, kind: str, text: str, url: str | None = None, user_ids=(), org_ids=(),
              action: str | None = None) -> None:
    from assignments import notifications  # in-function: this package's __init__ runs before its modules exist
    if user_ids:
        notifications.notify(user_ids, kind, text, url=url)
    if org_ids and action:
        notifications.notify_orgs(org_ids, kind, text, url=url, action=action)
