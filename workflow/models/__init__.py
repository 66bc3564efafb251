from workflow.models.organisations import (  # noqa: F401
    ALLOWED_PARENTS, KIND_LABELS, Organisation, OrgKind, subtree)
