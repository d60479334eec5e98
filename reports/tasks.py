"""Chores run after a request (cobuild.tasks): computing the day's county parts before anyone asks."""

from django.core.cache import caches
from django.tasks import task
from django.utils import timezone

from pairings import access
from pairings.models import Organization
from reports import parts, situation
from reports.compliance_views import SUMMARY_LIST_LIMIT


def warm(today):
    """Compute and keep today's parts of every county (reports.parts) that are not kept yet:
    the year's dashboard, the compliance summary's lists and the report so far this year.
    Returns [(name of a top-level organization, its number of counties, or None when its scope
    is not whole counties and its pages compute live)]."""
    year = parts.year_of(today)
    done = []
    for root in Organization.objects.alive().filter(depth=1).order_by("path"):
        plan = parts.plan((root.path,))
        if plan is not None:
            with parts.filling():
                parts.compute(
                    (root.path,),
                    access.pairings_under(root),
                    *year,
                    today=today,
                    organizations=Organization.objects.alive().under(root),
                )
                parts.short_lists(
                    plan, access.pairings_under(root), today, limit=SUMMARY_LIST_LIMIT
                )
                situation.draft(root, year[0], today, today=today)
        done.append((root.name, None if plan is None else len(plan.counties)))
    return done


@task
def warm_parts():
    """warm() in the background: after a change every county reads (organizations, regimes,
    metrics), a write in more counties than the writing request computes, or the first request
    of a day."""
    return warm(timezone.localdate())


def warm_daily_key(today):
    return f"cobuild:warmed:{parts.version()}:{today}"


def warm_once_a_day(today):
    """Enqueue warm_parts unless some process has done so today (a shared cache: one for all
    app servers; a cache per process: each warms its own). True when this call enqueued it."""
    if caches["default"].add(warm_daily_key(today), True, 2 * 24 * 3600):
        warm_parts.enqueue()
        return True
    return False
