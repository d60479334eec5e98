import functools

from reports.models import Notification


def notifications(request):
    """The unread count for the bell in the top bar: one query, and only if a page shows it.

    The count is a cached callable, which templates call when they first use it, so responses
    that render no bell (partials, downloads) run no query for it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @functools.cache
    def unread_notifications():
        return Notification.objects.filter(user=user, read_at=None).count()

    return {"unread_notifications": unread_notifications}
