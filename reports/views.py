"""The home page and a pairing's report card.

County staff, supervisors and viewers land on the dashboard of their scope and a period; a
branch secretary lands on what they have to do. Every figure comes from reports.figures and
activities.compliance, in a fixed number of queries whatever the data size.
"""

import datetime
from dataclasses import dataclass
from functools import cached_property

from django import forms
from django.db.models import Count, Q, Sum
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from activities import compliance
from activities.models import (
    Activity,
    Cadence,
    Commitment,
    Inspection,
    Metric,
    Need,
    Rectification,
)
from activities.periods import Period
from cobuild.routers import reads_for_reports, reporting
from pairings import access
from pairings.models import Assignment, Organization, Pairing
from reports import charts, figures, numbers, parts, setup
from reports.compliance_views import ComplianceFilter

Role = Assignment.Role
LIST_LIMIT = 10
TIMELINE_LIMIT = 20
DASHBOARD_ROLES = {Role.COUNTY_STAFF, Role.SUPERVISOR, Role.VIEWER}
UNFINISHED_COMMITMENTS = [Commitment.Status.PLANNED, Commitment.Status.IN_PROGRESS]

# The period presets of the dashboard: key → (label, the period holding a day).
PERIODS = {
    "year": ("本年度", lambda day: Period.parse(str(day.year))),
    "last_year": ("上年度", lambda day: Period.parse(str(day.year - 1))),
    "half": ("本半年", lambda day: compliance.period_containing(Cadence.HALF, day)),
    "quarter": ("本季度", lambda day: compliance.period_containing(Cadence.QUARTER, day)),
    "month": ("本月", lambda day: compliance.period_containing(Cadence.MONTH, day)),
}
CUSTOM = "custom"


def chinese_date(day):
    return f"{day.year}年{day.month}月{day.day}日"


class DashboardFilter(ComplianceFilter):
    """The scope (an organization the user reaches, or all of it) and the period of the
    dashboard: a preset period, or custom start and end dates."""

    period = forms.ChoiceField(
        label="期间",
        required=False,
        choices=[*((key, label) for key, (label, _) in PERIODS.items()), (CUSTOM, "自定义")],
    )
    field_order = ["org", "period", "start", "end"]
    span_message = "自定义期间最长5年。"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["regime"]
        self.fields["start"].help_text = "期间选“自定义”时填写起止日期。"

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if cleaned.get("period") == CUSTOM and not (start or end):
            self.add_error("start", "选择“自定义”时请填写起始日期或截止日期。")
        return cleaned

    @cached_property
    def values(self):
        """The scope and period to show; invalid input falls back to the defaults field by
        field (an organization out of reach is never used)."""
        data = {}
        if self.is_bound:
            self.is_valid()
            data = self.cleaned_data
        choice = data.get("period") or ""
        start, end = data.get("start"), data.get("end")
        dates_valid = not (self.has_error("start") or self.has_error("end"))
        if (choice == CUSTOM or not choice) and (start or end) and dates_valid:
            end = end or max(self.today, start)
            start = start or end.replace(month=1, day=1)
            return {
                "org": data.get("org"),
                "period": CUSTOM,
                "start": start,
                "end": end,
                "label": f"{chinese_date(start)}至{chinese_date(end)}",
                "range": "",
            }
        choice = choice if choice in PERIODS else "year"
        period = PERIODS[choice][1](self.today)
        return {
            "org": data.get("org"),
            "period": choice,
            "start": period.start,
            "end": period.end,
            "label": period.label,
            "range": f"{chinese_date(period.start)}至{chinese_date(period.end)}",
        }

    def query(self, **changes):
        """The query string of this scope and period, with some values changed."""
        values = self.values
        params = {"org": values["org"].pk if values["org"] else None, "period": values["period"]}
        params.update(changes)
        if params["period"] == CUSTOM:
            params["start"] = values["start"].isoformat()
            params["end"] = values["end"].isoformat()
        return urlencode({k: v for k, v in params.items() if v is not None})

    def organizations(self):
        """The organizations whose own period figures (stocks) count: the chosen one's
        subtree, or every subtree the user reads."""
        org = self.values["org"]
        if org is not None:
            return Organization.objects.alive().under(org)
        return access.organizations_under_scope(self.user)


@dataclass
class AtRisk:
    """A pairing with due periods it missed in the range: a to-do, not a ranking."""

    pairing: Pairing
    met: compliance.Ratio
    missed: int
    regimes: list  # [(regime, missed periods)]


def pairings_at_risk(rollup):
    """The pairings that missed the most due periods (then the lowest rate), as (pairing id,
    AtRisk without its pairing) rows, and how many pairings missed any."""
    rows, total = rollup.at_risk
    return [
        (row.pk, AtRisk(None, compliance.Ratio(row.met, row.due), row.missed, by_regime))
        for row, by_regime in rows
    ], total


def month_ticks(months):
    """The text under each month's column: every month up to a year, then fewer."""
    n = len(months)
    ticks = []
    for month in months:
        if n <= 12:
            tick = f"{month.month}月"
        elif month.month == 1:
            tick = f"{month.year}年"
        else:
            tick = f"{month.month}月" if n <= 36 and month.month in (4, 7, 10) else ""
        ticks.append(tick)
    return ticks


def dashboard(form):
    """Everything the dashboard shows for the form's scope and period."""
    today = form.today
    values = form.values
    start, end = values["start"], values["end"]
    pairings = form.pairings()
    fig = parts.compute(
        form.roots(), pairings, start, end, today=today, organizations=form.organizations()
    )
    rollup = fig.rollup
    home = reverse("home")

    # Regimes with a required cadence show their rates; the others (and "other") are counted.
    required = {regime.pk for regime in form.regimes}
    rates = rollup.by_regime()
    regime_rows = []
    for regime, count in fig.by_regime:
        if regime is not None and not regime.is_active and not count:
            continue
        met, on_time = (
            rates.get(regime, (compliance.ZERO, compliance.ZERO))
            if regime is not None and regime.pk in required
            else (None, None)
        )
        regime_rows.append((regime, count, met, on_time))

    months = [(month, n) for month, n in fig.monthly if month <= today]
    monthly = [(f"{m.year}年{m.month}月", n) for m, n in months]
    monthly_chart = charts.column_chart(
        [
            (label, n, tick)
            for (label, n), tick in zip(monthly, month_ticks([m for m, _ in months]), strict=True)
        ],
        title=f"每月活动次数（{values['label']}）",
        unit="次",
    )
    category_chart = charts.bar_chart(fig.by_category, title="各类活动次数", unit="次")

    organizations = form.rollup_organizations()
    org_rates = rollup.by_organization(organizations)
    org_counts = figures.counts_by_organization(fig, organizations)
    org_rows = [
        (org, f"{home}?{form.query(org=org.pk)}", *org_counts[org][1:], *org_rates[org])
        for org in organizations
    ]

    at_risk, at_risk_total = pairings_at_risk(rollup)
    overdue_commitments, overdue_rectifications = fig.overdue
    named = {pk for pk, _ in at_risk} | {pk for pk, _ in overdue_commitments}
    named |= {pk for pk, _ in overdue_rectifications}
    loaded = {p.pk: p for p in pairings.select_related("helper", "helped").filter(pk__in=named)}
    for pk, row in at_risk:
        row.pairing = loaded[pk]
    return {
        "form": form,
        "values": values,
        "figures": fig,
        # Over every regime, Σ met ÷ Σ due: the same as rollup.total(), without another pass.
        "total": (
            sum((met for met, _ in rates.values()), compliance.ZERO),
            sum((on_time for _, on_time in rates.values()), compliance.ZERO),
        ),
        "deeds_amount": numbers.quantity(fig.deeds_amount, "元"),
        "regime_rows": regime_rows,
        "monthly": monthly,
        "monthly_chart": monthly_chart,
        "category_chart": category_chart,
        "org_rows": org_rows,
        "at_risk": [row for _, row in at_risk],
        "at_risk_total": at_risk_total,
        "overdue_commitments": [(loaded[pk], n) for pk, n in overdue_commitments],
        "overdue_rectifications": [(loaded[pk], n) for pk, n in overdue_rectifications],
        "period_links": [
            (label, f"{home}?{form.query(period=key)}", key == values["period"])
            for key, (label, _) in PERIODS.items()
        ],
        "scope_url": f"{home}?{form.query(org=None)}",
        "compliance_url": reverse("compliance")
        + "?"
        + urlencode(
            {
                **({"org": values["org"].pk} if values["org"] else {}),
                "start": start.isoformat(),
                "end": end.isoformat(),
            }
        ),
        "ongoing": end >= today,
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
    # The lists show no pairing: the rows are found by the pairings' ids, with no joins.
    activities = access.readable_in(pairings, Activity.objects.all())
    waiting = activities.filter(status=Activity.Status.SUBMITTED).exclude(logged_by_branch__in=own)
    mine = activities.filter(logged_by_branch__in=own)
    open_needs = access.readable_in(pairings, Need.objects.all()).filter(
        status__in=[Need.Status.OPEN, Need.Status.COMMITTED]
    )
    open_commitments = access.readable_in(pairings, Commitment.objects.all()).filter(
        status__in=[Commitment.Status.PLANNED, Commitment.Status.IN_PROGRESS],
    )
    overdue_rectifications = access.readable_in(
        pairings, Rectification.objects.select_related("inspection__inspected", "owner")
    ).filter(
        status__in=[Rectification.Status.OPEN, Rectification.Status.IN_PROGRESS],
        due_date__lt=today,
    )
    statuses = compliance.current_status(pairings, today)
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
        "assignments": access.scope_of(user).titles,
        "roles": roles,
        "Role": Role,
        "today": today,
    }
    if Role.COUNTY_STAFF in roles:
        context["checklist"] = setup.pending(user)
    if roles & DASHBOARD_ROLES:
        with reporting():
            context["dashboard"] = dashboard(DashboardFilter(request.GET or None, user=user))
    if Role.SECRETARY in roles:
        context.update(secretary_home(user, today))
    return render(request, "reports/home.html", context)


@dataclass
class Event:
    """One line of a pairing's timeline."""

    date: datetime.date
    kind: str
    title: str
    url: str = ""
    detail: str = ""


def pairing_timeline(user, pairing, start, end):
    """The latest events of a pairing in the range, newest first: activities (an inspection's
    activity shows as the inspection), inspections, needs raised and deeds done. Four queries."""
    activities = (
        access.readable(user, Activity.objects.counted())
        .filter(pairing=pairing, date__range=(start, end), inspection__isnull=True)
        .select_related("regime")
        .annotate(members=Count("participations"))
        .order_by("-date", "-pk")[:TIMELINE_LIMIT]
    )
    inspections = (
        access.readable(user, Inspection.objects.select_related("inspector", "inspected"))
        .filter(pairing=pairing, date__range=(start, end))
        .annotate(score=Sum("scores__score"))
        .order_by("-date", "-pk")[:TIMELINE_LIMIT]
    )
    needs = (
        access.readable(user, Need.objects.all())
        .filter(pairing=pairing, raised_on__range=(start, end))
        .order_by("-raised_on", "-pk")[:TIMELINE_LIMIT]
    )
    deeds = (
        access.readable(user, Commitment.objects.all())
        .filter(pairing=pairing, status=Commitment.Status.DONE, done_on__range=(start, end))
        .order_by("-done_on", "-pk")[:TIMELINE_LIMIT]
    )
    inspections = list(inspections)
    events = [
        Event(
            a.date,
            a.regime.short_name if a.regime else "其他活动",
            a.title,
            a.get_absolute_url(),
            f"{a.get_category_display()} · 党员{a.members}人"
            + (f" · 群众{a.villager_count}人" if a.villager_count else ""),
        )
        for a in activities
    ]
    events += [
        Event(
            i.date,
            "党建互检",
            f"{i.inspector}检查{i.inspected}",
            reverse("activities:inspection_detail", args=[i.pk]),
            "；".join(
                part
                for part in (
                    f"得分{i.score.normalize():f}" if i.score is not None else "",
                    f"群众{i.get_satisfaction_display()}" if i.satisfaction else "",
                )
                if part
            ),
        )
        for i in inspections
    ]
    events += [Event(n.raised_on, "提出需求", n.title, "", n.get_status_display()) for n in needs]
    events += [
        Event(
            c.done_on,
            "实事办结",
            c.title,
            "",
            f"{c.amount.normalize():f}元" if c.amount else "",
        )
        for c in deeds
    ]
    events.sort(key=lambda e: e.date, reverse=True)
    return events[:TIMELINE_LIMIT], inspections


def short_period(period):
    """A period within its year: 3月, 第二季度, 上半年, 全年."""
    return period.label.removeprefix(period.code[:4] + "年") or "全年"


@require_GET
@reads_for_reports
def pairing_card(request, pk):
    """A pairing's year: compliance by regime, outcomes, timeline, needs and deeds, inspections."""
    user = request.user
    pairing = access.get_for_user(user, Pairing.objects.with_branches(), pk=pk)
    today = timezone.localdate()
    last = min(today.year, pairing.end_date.year if pairing.end_date else today.year)
    years = list(range(min(pairing.start_date.year, last), last + 1))
    try:
        year = int(request.GET.get("year", last))
    except ValueError:
        year = last
    if year not in years:
        year = last
    start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    fig = figures.compute(Pairing.objects.filter(pk=pairing.pk), start, end, today=today)
    evaluation = fig.evaluation
    counts = dict(fig.by_regime)
    rates = evaluation.by_regime()
    cells = {}
    for cell in evaluation.cells:
        cells.setdefault(cell.regime, []).append(
            (
                short_period(cell.period),
                compliance.State.SYMBOLS[cell.state],
                compliance.State.LABELS[cell.state],
                cell,
            )
        )
    regime_rows = [
        (
            regime,
            counts.get(regime, 0),
            *rates[regime],
            cells[regime] if any(c.required for *_, c in cells.get(regime, [])) else None,
        )
        for regime in evaluation.regimes
    ]
    timeline, inspections = pairing_timeline(user, pairing, start, end)
    return render(
        request,
        "reports/pairing_card.html",
        {
            "pairing": pairing,
            "year": year,
            "years": years,
            "figures": fig,
            "deeds_amount": numbers.quantity(fig.deeds_amount, "元"),
            "regime_rows": regime_rows,
            "other_activities": counts.get(None, 0),
            "total": evaluation.total(),
            "outcomes": [
                o for o in fig.outcomes if o.metric.aggregation == Metric.Aggregation.FLOW
            ],
            "timeline": timeline,
            "inspections": inspections,
            "open_needs": access.readable(user, Need.objects.all())
            .filter(pairing=pairing, status__in=[Need.Status.OPEN, Need.Status.COMMITTED])
            .order_by("raised_on", "pk")[:LIST_LIMIT],
            "open_commitments": access.readable(user, Commitment.objects.all())
            .filter(pairing=pairing, status__in=UNFINISHED_COMMITMENTS)
            .order_by("due_date", "pk")[:LIST_LIMIT],
            "today": today,
            "legend": [
                (compliance.State.SYMBOLS[s], label) for s, label in compliance.State.LABELS.items()
            ],
        },
    )
