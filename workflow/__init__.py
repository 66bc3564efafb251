"""Organisations, ordinances, plans, assignments, deadlines, transitions."""
import logging

log = logging.getLogger(__name__)
