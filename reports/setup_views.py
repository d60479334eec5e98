"""The county staff's set-up pages: the checklist, and the reviews that confirm defaults."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from activities.compliance import regimes_with_rules
from activities.models import Cadence, Metric
from pairings import access
from pairings.models import Organization
from reports import setup
from reports.models import SetupConfirmation, SetupStep


def _county(request):
    county = setup.county_of(request.user)
    if county is None:
        raise Http404("只有县委组织部的工作人员可以设置。")
    return county


def _confirm(request, county, step):
    SetupConfirmation.objects.get_or_create(
        organization=county, step=step, defaults={"confirmed_by": request.user}
    )
    messages.success(request, f"已确认：{SetupStep(step).label}。")
    return redirect("setup")


def checklist(request):
    county = _county(request)
    return render(request, "reports/setup.html", {"checklist": setup.checklist(county)})


@require_http_methods(["GET", "POST"])
def regimes(request):
    county = _county(request)
    if request.method == "POST":
        return _confirm(request, county, SetupStep.REGIMES)
    rows = [
        (regime, [(rule, Cadence(rule.cadence).label) for rule in rules])
        for regime, rules in regimes_with_rules()
    ]
    confirmed = SetupConfirmation.objects.filter(
        organization=county, step=SetupStep.REGIMES
    ).first()
    return render(request, "reports/setup_regimes.html", {"rows": rows, "confirmed": confirmed})


@require_http_methods(["GET", "POST"])
def metrics(request):
    county = _county(request)
    if request.method == "POST":
        return _confirm(request, county, SetupStep.METRICS)
    confirmed = SetupConfirmation.objects.filter(
        organization=county, step=SetupStep.METRICS
    ).first()
    return render(
        request,
        "reports/setup_metrics.html",
        {"metrics": Metric.objects.order_by("order", "pk"), "confirmed": confirmed},
    )


def accounts(request):
    """The paired branches of the county that no secretary or liaison can log in for yet."""
    county = _county(request)
    pairings = access.pairings_under(county)
    missing = (
        Organization.objects.paired_in(pairings)
        .exclude(pk__in=setup.staffed_branch_ids())
        .order_by("path")
    )
    return render(request, "reports/setup_accounts.html", {"missing": missing})
