from django import template

register = template.Library()


@register.filter
def person(user):
    """A user's name in Chinese order (family name first), or the username."""
    if user is None:
        return "系统"
    name = f"{user.last_name}{user.first_name}".strip()
    return name or user.get_username()
