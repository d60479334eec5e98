from pairings import access


def roles(request):
    """What the signed-in user's roles allow, for navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    scope = access.scope_of(user)
    return {
        "user_roles": {
            "can_read": not scope.is_empty,
            "county_staff": access.Role.COUNTY_STAFF in scope.roles,
            "rosters": bool(scope.read_paths),
            "audit_admin": access.Role.AUDITOR in scope.roles,
            "reports": bool(
                scope.roles & {access.Role.COUNTY_STAFF, access.Role.SUPERVISOR, access.Role.VIEWER}
            ),
        }
    }
