from ordinances.models.files import OrdinanceFile  # noqa: F401
from ordinances.models.ordinances import (  # noqa: F401
    ApprovalEntry,
    Attachment,
    Clause,
    Controller,
    DeadlineKind,
    Executor,
    ExecutorKind,
    Ordinance,
    OrdinanceKind,
    OrdinanceStatus,
    Plan,
    PlanItem,
    PlanSection,
)
