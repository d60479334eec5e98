from pairings import access


def roles(request):
    """The signed-in user's roles, for navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"user_roles": access.roles_of(user)}
