from workflow.models.ordinances import (  # noqa: F401
    ApprovalEntry, Attachment, Clause, Controller, DeadlineKind, Executor, ExecutorKind, Ordinance, OrdinanceKind,
    OrdinanceStatus, Plan, PlanItem, PlanSection)
from workflow.models.organisations import (  # noqa: F401
    ALLOWED_PARENTS, KIND_LABELS, Organisation, OrgKind, subtree)
