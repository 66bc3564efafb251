from workflow.models.ordinances import (  # noqa: F401
    ApprovalEntry, Attachment, Clause, Controller, DeadlineKind, Executor, ExecutorKind, Ordinance, OrdinanceKind,
    OrdinanceStatus, Plan, PlanItem, PlanSection)
from workflow.models.organisations import (  # noqa: F401
    ALLOWED_PARENTS, KIND_LABELS, Organisation, OrgKind, subtree)
from workflow.models.transitions import (  # noqa: F401
    Campaign, Evidence, MunicipalReply, Periodicity, ReadinessStatement, RecommendedSchool, ReplyDecision, ReplyLine,
    ReportForm, ReportStatus, ReportSubmission, SchoolStage, StageDef, StageEvent, StageKind, StageStatus,
    StatementKind)
from workflow.models.assignments import (  # noqa: F401
    Assignment, AssignmentTarget, DigestClaim, FeedToken, Notification, Occurrence, OccurrenceEvent,
    OccurrenceEvidence, OccurrenceKind, OccurrenceStatus)
from workflow.models.ordinance_files import OrdinanceFile  # noqa: F401
