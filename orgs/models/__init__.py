from orgs.models.organisations import ALLOWED_PARENTS, KIND_LABELS, Organisation, OrgKind, subtree  # noqa: F401
from orgs.models.users import ApiToken, LoginThrottle, PasswordReset, Role, RoleGrant, User, UserSession  # noqa: F401
