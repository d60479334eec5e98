from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import timezone

from activities.models import Activity
from pairings import access
from pairings.models import Assignment, Member, Organization

Role = Assignment.Role


def scope_summary(user):
    """Headline figures for what the user can see: a fixed handful of queries."""
    today = timezone.localdate()
    pairings = access.visible_pairings(user).active_on(today)
    branch_ids = Organization.objects.filter(
        Q(pk__in=pairings.values("helper_id")) | Q(pk__in=pairings.values("helped_id"))
    ).values("pk")
    activities = access.readable(user, Activity.objects.all()).filter(date__year=today.year)
    counts = activities.aggregate(
        total=Count("pk", filter=Q(status__in=["submitted", "confirmed"])),
        confirmed=Count("pk", filter=Q(status="confirmed")),
    )
    return {
        "year": today.year,
        "pairings": pairings.count(),
        "branches": branch_ids.count(),
        "members": Member.objects.alive().filter(branch__in=branch_ids).count(),
        "activities": counts["total"],
        "confirmed": counts["confirmed"],
    }


def home(request):
    user = request.user
    roles = access.roles_of(user)
    context = {
        "assignments": Assignment.objects.filter(user=user).select_related("organization"),
        "roles": roles,
        "Role": Role,
    }
    if roles & {Role.COUNTY_STAFF, Role.SUPERVISOR, Role.VIEWER, Role.SECRETARY}:
        context["summary"] = scope_summary(user)
    if Role.SECRETARY in roles:
        scope = access.scope_of(user)
        context["my_pairings"] = (
            access.visible_pairings(user)
            .filter(Q(helper__in=scope.read_branches) | Q(helped__in=scope.read_branches))
            .order_by("status", "start_date")
        )
        waiting = access.readable(user, Activity.objects.all()).exclude(
            logged_by_branch__in=scope.read_branches
        )
        context["waiting_count"] = waiting.filter(status=Activity.Status.SUBMITTED).count()
    return render(request, "reports/home.html", context)
