"""Operations on transition campaigns. They flush; they never commit.

Campaign → stage definitions (defaults from the seed documents, editable per campaign) →
recommended list (Перечень) → municipal replies on the form (Приложение 2) → final list →
per-school stage states with evidence, accepted or returned by the municipality → the director's
signed readiness statement (PAdES, kept in the archive) → paperless from a date.

"Today" comes from Python's clock in Moscow time (`today()`), never from SQL `now()`, so tests
can freeze it.

One module per aggregate; the public names of each are here, as `transitions.services.<name>`."""
from core.clock import add_years, today  # noqa: F401  (svc.today() in pages and tests)
from transitions.services.campaigns import (  # noqa: F401
    add_stage,
    campaigns_visible,
    create_campaign,
    document_dates,
    may_see,
    move_stage,
    remove_stage,
    set_stage_due,
    update_campaign,
    update_stage,
)
from transitions.services.common import (  # noqa: F401
    DEFAULT_STAGES,
    FIXED_KINDS,
    PARENTS_SECTION,
    PLATFORMS,
    STATEMENT_RETENTION_YEARS,
    TransitionError,
    school_label,
)
from transitions.services.lists import (  # noqa: F401
    CODE_HEADERS,
    FinalRow,
    ReplyState,
    final_list,
    final_school_ids,
    in_final_list,
    late_days,
    municipality_schools,
    publish_list,
    recommended,
    region_municipalities,
    region_schools,
    reply_of,
    reply_state,
    reply_states,
    save_reply,
    schools_from_file,
    set_recommended,
)
from transitions.services.progress import Progress, SchoolProgress, progress, timeline  # noqa: F401
from transitions.services.readiness import is_ready, latest_statement, statements  # noqa: F401
from transitions.services.stages import check_url, decide, evidence_file, state_for, states_of, submit_evidence  # noqa: F401
from transitions.services.statements import (  # noqa: F401
    evidence_summary,
    preview_statement,
    readiness_blockers,
    sign_statement,
    statement_data,
    statement_pdf,
)
