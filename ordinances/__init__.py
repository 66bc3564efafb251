"""Ordinances (приказы): clauses, plans with deadlines, their files; the parser of the source documents."""
import logging

from core.signals import ordinance_in_force

log = logging.getLogger(__name__)


@ordinance_in_force.connect
def _files_to_archive(ordinance, *, actor=None) -> None:
    """An order in force hands its files to the legal archive, in the same transaction."""
    from ordinances import files  # in-function: this package's __init__ runs before its modules exist
    files.archive_all(ordinance, actor=actor)
