"""Authorization: authorizers answer ALLOW, DENY or NO_OPINION with a reason; the union asks
them in the configured order after an implicit system:masters authorizer.
May import: apiserver.runtime and apiserver.authentication.user."""
