from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from activities import compliance
from activities.models import Activity, Commitment, Need, Rectification
from pairings import access
from pairings.models import Assignment, Member, Organization

Role = Assignment.Role
LIST_LIMIT = 10


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


def secretary_home(user, today):
    """What a branch secretary has to do: a fixed number of queries, whatever the data."""
    own = access.scope_of(user).write_branches
    my_pairings = (
        access.visible_pairings(user)
        .filter(Q(helper__in=own) | Q(helped__in=own))
        .order_by("status", "start_date")
    )
    pairings = list(my_pairings)
    activities = access.readable(user, Activity.objects.for_list()).filter(pairing__in=pairings)
    waiting = activities.filter(status=Activity.Status.SUBMITTED).exclude(logged_by_branch__in=own)
    mine = activities.filter(logged_by_branch__in=own)
    open_needs = access.readable(user, Need.objects.select_related("pairing")).filter(
        pairing__in=pairings, status__in=[Need.Status.OPEN, Need.Status.COMMITTED]
    )
    open_commitments = access.readable(user, Commitment.objects.select_related("pairing")).filter(
        pairing__in=pairings,
        status__in=[Commitment.Status.PLANNED, Commitment.Status.IN_PROGRESS],
    )
    overdue_rectifications = access.readable(
        user, Rectification.objects.select_related("inspection__inspected", "owner")
    ).filter(
        inspection__pairing__in=pairings,
        inspection__deleted_at__isnull=True,
        status__in=[Rectification.Status.OPEN, Rectification.Status.IN_PROGRESS],
        due_date__lt=today,
    )
    statuses = compliance.current_status(my_pairings, today)
    return {
        "my_pairings": [(p, statuses.get(p.pk, [])) for p in pairings],
        "waiting": list(
            waiting.select_related("logged_by_branch").order_by("submitted_at")[:LIST_LIMIT]
        ),
        "returned": list(
            mine.filter(status=Activity.Status.RETURNED).order_by("-date")[:LIST_LIMIT]
        ),
        "drafts": list(mine.filter(status=Activity.Status.DRAFT).order_by("-date")[:LIST_LIMIT]),
        "open_needs": list(open_needs.order_by("raised_on")[:LIST_LIMIT]),
        "open_commitments": list(open_commitments.order_by("due_date")[:LIST_LIMIT]),
        "overdue_rectifications": list(overdue_rectifications.order_by("due_date")[:LIST_LIMIT]),
    }


@require_GET
def home(request):
    user = request.user
    roles = access.roles_of(user)
    today = timezone.localdate()
    context = {
        "assignments": Assignment.objects.filter(user=user).select_related("organization"),
        "roles": roles,
        "Role": Role,
        "today": today,
    }
    if roles & {Role.COUNTY_STAFF, Role.SUPERVISOR, Role.VIEWER}:
        context["summary"] = scope_summary(user)
    if Role.SECRETARY in roles:
        context.update(secretary_home(user, today))
    return render(request, "reports/home.html", context)
