"""Signals between domains, so a lower layer can tell the archive (above it) without importing it.

    document_signed     sender: the signed object (a summary sheet, a readiness statement, an order's file);
                        kwargs: kind (the archive's record class, e.g. "summary_sheet", "order"), and for
                        documents other than sheets: pdf, source_type, source_id, organisation, title.
                        The archive registers a pending record in the sender's transaction and returns it.
    detached_signature  sender: a signed document; kwargs: kind, cms (a detached CAdES over its final PDF, checked).
                        The archive keeps it beside the archived copy (now, or at ingest if still pending).
    ordinance_in_force  sender: the ordinance; kwargs: actor. Its files go to the archive (ordinances.files).
    notice              sender: what it is about; kwargs: kind, text, url, and either user_ids, or org_ids with
                        action (every user holding a role with that action directly on one of them). An entry
                        in each one's inbox (assignments.notifications), also in the daily e-mail digest.
    day_started         sender: the day (a date). The daily run sends it so each domain does its daily work
                        (e.g. the transition stages falling due) in the same job.

Receivers run synchronously in the sender's transaction: a receiver that fails rolls the whole change back.
"""
from blinker import Namespace

_signals = Namespace()

document_signed = _signals.signal("document-signed")
ordinance_in_force = _signals.signal("ordinance-in-force")
detached_signature = _signals.signal("detached-signature")
notice = _signals.signal("notice")
day_started = _signals.signal("day-started")
