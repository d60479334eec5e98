"""The figures of a scope and a date range: what the dashboard shows and the report quotes.

Everything is aggregated in SQL with a fixed number of queries, whatever the data size.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Substr

from activities import compliance, summaries
from activities.models import (
    Activity,
    Commitment,
    Metric,
    PeriodFigure,
    Rectification,
)
from pairings.models import Member, Organization
from reports.numbers import metric_quantity


@dataclass
class OutcomeTotal:
    metric: Metric
    value: Decimal

    @property
    def text(self):
        return metric_quantity(self.value, self.metric)


@dataclass
class Figures:
    start: datetime.date
    end: datetime.date
    pairings: int
    organ_branches: int
    village_branches: int
    members: int  # members of the paired branches
    participants: int  # of them, those who took part in an activity in the range
    activities: int
    villagers: int  # villager attendances
    by_regime: list  # [(regime or None, count)], regimes in order, "other" last
    by_category: list  # [(label, count)]
    outcomes: list  # [OutcomeTotal] for every active metric
    deeds_done: int
    deeds_amount: Decimal
    monthly: list  # [(first day of month, count)]
    open_rectifications: int
    overdue_rectifications: int
    open_commitments: int
    overdue_commitments: int
    extra: dict = field(default_factory=dict)
    scope: tuple = ()  # (pairings, start, end, today): what compliance is computed over
    counted_range: tuple = ()  # the range the summaries read for the same counts (whole_months)
    plan: object = None  # reports.parts.Plan when added up from the counties' parts
    # {organization path: (pairings, running, activities)} when added up from the counties'
    # parts (counts_by_organization)
    count_tallies: dict = None

    @cached_property
    def rollup(self):
        """Compliance rolled up in SQL: rates by regime and organization, pairings that missed."""
        pairings, start, end, today = self.scope
        return compliance.rollup(pairings, start, end, today=today)

    @cached_property
    def evaluation(self):
        """Compliance cell by cell (a pairing's card, where every period is shown)."""
        pairings, start, end, today = self.scope
        return compliance.evaluate(pairings, start, end, today=today)

    @cached_property
    def overdue(self):
        """The pairings with the most overdue deeds and rectifications (overdue_by_pairing)."""
        pairings, _, _, today = self.scope
        return overdue_by_pairing(pairings, today)

    @property
    def participation(self):
        return compliance.Ratio(self.participants, self.members)

    def outcome(self, code):
        return next((o for o in self.outcomes if o.metric.code == code), None)


def running(pairings, start, end):
    """The pairings of `pairings` that ran at some time from start to end."""
    return pairings.filter(start_date__lte=end).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=start)
    )


def compute(pairings, start, end, *, today, organizations=None):
    """Figures for `pairings` (a queryset) from `start` to `end`.

    `organizations` (a queryset) holds the organizations whose own period figures count: stocks
    take each organization's latest value within the range, then sum; flows entered per period
    add to the flows carried by activities.
    """
    pairing_ids = pairings.values("pk")
    running_pairings = running(pairings, start, end)
    branches = Organization.objects.paired_in(running_pairings)
    branch_counts = branches.aggregate(
        organ=Count("pk", filter=Q(sector=Organization.Sector.ORGAN)),
        village=Count("pk", filter=~Q(sector=Organization.Sector.ORGAN)),
    )
    counted_range = summaries.whole_months(start, end)
    # One grouped pass over the summaries gives the totals, regimes, categories and months.
    regime_rows, category_rows, month_rows = {}, {}, {}
    total = villagers = 0
    grouped = summaries.activity_counts(
        pairings, *counted_range, ("regime_id", "category", "month")
    )
    for (regime_id, category, month), (n, _, v) in grouped.items():
        total += n
        villagers += v
        regime_rows[regime_id] = regime_rows.get(regime_id, 0) + n
        category_rows[category] = category_rows.get(category, 0) + n
        month_rows[month] = month_rows.get(month, 0) + n
    members = Member.objects.alive().filter(branch__in=branches.values("pk"))
    member_total = members.count()
    # Participants always belong to their pairing's branches (a form and import rule).
    took_part = summaries.participants(members, *counted_range)
    regimes = [r for r, _ in compliance.regimes_with_rules()]
    by_regime = [(r, regime_rows.get(r.pk, 0)) for r in regimes]
    by_regime.append((None, regime_rows.get(None, 0)))
    metrics = list(Metric.objects.filter(is_active=True))
    flows = summaries.outcome_totals(pairings, *counted_range)
    entered = period_figures(organizations, start, end) if organizations is not None else {}
    outcomes = [
        OutcomeTotal(m, (flows.get(m.pk) or Decimal(0)) + entered.get(m.pk, Decimal(0)))
        for m in metrics
    ]
    done = Q(status=Commitment.Status.DONE, done_on__range=(start, end))
    unfinished = Q(status__in=[Commitment.Status.PLANNED, Commitment.Status.IN_PROGRESS])
    commitments = (
        Commitment.objects.alive()
        .filter(pairing__in=pairing_ids)
        .aggregate(
            done=Count("pk", filter=done),
            amount=Sum("amount", filter=done),
            open=Count("pk", filter=unfinished),
            overdue=Count("pk", filter=unfinished & Q(due_date__lt=today)),
        )
    )
    rectifications = (
        Rectification.objects.alive()
        .filter(
            inspection__pairing__in=pairing_ids,
            inspection__deleted_at__isnull=True,
            status__in=["open", "in_progress"],
        )
        .aggregate(open=Count("pk"), overdue=Count("pk", filter=Q(due_date__lt=today)))
    )
    return Figures(
        start=start,
        end=end,
        pairings=running_pairings.count(),
        organ_branches=branch_counts["organ"],
        village_branches=branch_counts["village"],
        members=member_total,
        participants=took_part,
        activities=total,
        villagers=villagers,
        by_regime=by_regime,
        by_category=[
            (label, category_rows.get(value, 0)) for value, label in Activity.Category.choices
        ],
        scope=(pairings, start, end, today),
        counted_range=counted_range,
        outcomes=outcomes,
        deeds_done=commitments["done"],
        deeds_amount=commitments["amount"] or Decimal(0),
        monthly=_every_month(start, end, month_rows),
        open_rectifications=rectifications["open"],
        overdue_rectifications=rectifications["overdue"],
        open_commitments=commitments["open"],
        overdue_commitments=commitments["overdue"],
    )


@dataclass
class Split:
    """One group's share of compute_split()."""

    figures: Figures  # without its scope
    rows: list  # pairing_counts() of its pairings
    rollup: compliance.Rollup
    overdue: tuple  # overdue_by_pairing() of its pairings


def compute_split(pairings, groups, length, start, end, *, today):
    """{group: Split} of `pairings` split by county, in one pass of a dozen queries whatever
    the number of groups: each group is the path of a county (every one `length` long), and holds
    the pairings with a branch in it (those with a branch in two, in both); `pairings` are those
    of the groups (with one group, all of them count in it, whatever their branches). Each
    group's figures are what compute() gives for its pairings alone (tests check), and the
    queries group by the counties of a pairing's two branches instead of running once for each
    county: a province's hundred counties cost 1.5 times what its live figures do."""
    groups = set(groups)
    single = len(groups) == 1  # every pairing in it: no query needs to group by county

    def groups_of(*paths):
        return groups if single else {path[:length] for path in paths} & groups

    def by(prefix):
        """The counties of the pairing at `prefix`: the key of the summaries' grouped rows."""
        if single:
            return {}
        return {
            "helper_county": Substr(f"{prefix}helper__path", 1, length),
            "helped_county": Substr(f"{prefix}helped__path", 1, length),
        }

    def add(target, found_groups, values):
        """Add the numbers of `values` to target[group] for each of `found_groups`."""
        for group in found_groups:
            found = target.setdefault(group, {})
            for key, n in values.items():
                found[key] = found.get(key, 0) + n

    counted_range = summaries.whole_months(start, end)
    shares = {group: {"rows": [], "organ": set(), "village": set()} for group in groups}
    of_pairing = {}
    activities = {
        pairing_id: n
        for (pairing_id,), (n, _, _) in summaries.activity_counts(
            pairings, *counted_range, ("pairing_id",)
        ).items()
    }
    fields = ("pk", "helper__path", "helped__path", "start_date", "end_date")
    sides = ("helper_id", "helper__sector", "helped_id", "helped__sector")
    for pk, helper_path, helped_path, first, last, *branches in pairings.values_list(
        *fields, *sides
    ).order_by():
        ran = first <= end and (last is None or last >= start)
        row = (pk, helper_path, helped_path, ran, activities.get(pk, 0))
        of_pairing[pk] = groups_of(helper_path, helped_path)
        for group in of_pairing[pk]:
            share = shares[group]
            share["rows"].append(row)
            if ran:
                for branch, sector in zip(branches[::2], branches[1::2], strict=True):
                    share["organ" if sector == Organization.Sector.ORGAN else "village"].add(branch)

    members = Member.objects.alive().filter(
        branch__in=Organization.objects.paired_in(running(pairings, start, end)).values("pk")
    )
    by_branch = {
        name: dict(found.values_list("branch_id").annotate(Count("pk")).order_by())
        for name, found in (
            ("members", members),
            ("participants", summaries.took_part(members, *counted_range)),
        )
    }
    counts = {}
    for (*keys, regime_id, category, month), (n, _, v) in summaries.activity_counts(
        pairings, *counted_range, ("regime_id", "category", "month"), by=by
    ).items():
        values = {("regime", regime_id): n, ("category", category): n, ("month", month): n}
        add(counts, groups_of(*keys), {**values, ("total", None): n, ("villagers", None): v})
    flows = {}
    for (*keys, metric_id), total in summaries.outcome_totals(
        pairings, *counted_range, by=by
    ).items():
        add(flows, groups_of(*keys), {metric_id: total})
    done = Q(status=Commitment.Status.DONE, done_on__range=(start, end))
    unfinished = Q(status__in=[Commitment.Status.PLANNED, Commitment.Status.IN_PROGRESS])
    problems = {}
    # By pairing (a few thousand rows at most), where the summaries group by county.
    for pairing_id, deeds_done, amount, deeds_open, deeds_overdue in (
        Commitment.objects.alive()
        .filter(pairing__in=pairings.values("pk"))
        .values_list("pairing_id")
        .annotate(
            done=Count("pk", filter=done),
            amount=Sum("amount", filter=done),
            open=Count("pk", filter=unfinished),
            overdue=Count("pk", filter=unfinished & Q(due_date__lt=today)),
        )
        .order_by()
    ):
        values = {"done": deeds_done, "amount": amount or Decimal(0), "open": deeds_open}
        add(problems, of_pairing.get(pairing_id, ()), {**values, "overdue": deeds_overdue})
    for pairing_id, opened, overdue in (
        Rectification.objects.alive()
        .filter(
            inspection__pairing__in=pairings.values("pk"),
            inspection__deleted_at__isnull=True,
            status__in=[Rectification.Status.OPEN, Rectification.Status.IN_PROGRESS],
        )
        .values_list("inspection__pairing_id")
        .annotate(n=Count("pk"), overdue=Count("pk", filter=Q(due_date__lt=today)))
        .order_by()
    ):
        values = {"rectifications": opened, "rectifications_overdue": overdue}
        add(problems, of_pairing.get(pairing_id, ()), values)
    # Each group's first few of the pairings with overdue deeds, and with overdue rectifications.
    overdue = {group: ([], []) for group in groups}
    for listed, rows in enumerate(overdue_by_pairing(pairings, today, limit=None)):
        for row in rows:
            for group in of_pairing.get(row[0], ()):
                if len(overdue[group][listed]) < OVERDUE_LIMIT:
                    overdue[group][listed].append(row)
    rollups = compliance.rollups(pairings, start, end, groups, groups_of, today=today)
    regimes = [r for r, _ in compliance.regimes_with_rules()]
    metrics = list(Metric.objects.filter(is_active=True))

    found = {}
    for group, share in shares.items():
        n, problem, flow = counts.get(group, {}), problems.get(group, {}), flows.get(group, {})
        branches = share["organ"] | share["village"]
        fig = Figures(
            start=start,
            end=end,
            pairings=sum(1 for row in share["rows"] if row[3]),
            organ_branches=len(share["organ"]),
            village_branches=len(share["village"]),
            members=sum(by_branch["members"].get(b, 0) for b in branches),
            participants=sum(by_branch["participants"].get(b, 0) for b in branches),
            activities=n.get(("total", None), 0),
            villagers=n.get(("villagers", None), 0),
            by_regime=[(r, n.get(("regime", r and r.pk), 0)) for r in [*regimes, None]],
            by_category=[
                (label, n.get(("category", value), 0)) for value, label in Activity.Category.choices
            ],
            counted_range=counted_range,
            outcomes=[OutcomeTotal(m, flow.get(m.pk, Decimal(0))) for m in metrics],
            deeds_done=problem.get("done", 0),
            deeds_amount=problem.get("amount", Decimal(0)),
            monthly=_every_month(
                start, end, {k: v for (kind, k), v in n.items() if kind == "month"}
            ),
            open_rectifications=problem.get("rectifications", 0),
            overdue_rectifications=problem.get("rectifications_overdue", 0),
            open_commitments=problem.get("open", 0),
            overdue_commitments=problem.get("overdue", 0),
        )
        found[group] = Split(fig, share["rows"], rollups[group], overdue[group])
    return found


OVERDUE_LIMIT = 5  # pairings the dashboard names under overdue deeds and rectifications


def overdue_by_pairing(pairings, today, limit=OVERDUE_LIMIT):
    """([(pairing id, overdue deeds)], [(pairing id, overdue rectifications)]): the `limit`
    pairings of `pairings` with the most, then by id, in two queries."""
    pairing_ids = pairings.values("pk")
    unfinished = [Commitment.Status.PLANNED, Commitment.Status.IN_PROGRESS]
    commitments = (
        Commitment.objects.alive()
        .filter(pairing__in=pairing_ids, status__in=unfinished, due_date__lt=today)
        .values_list("pairing_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "pairing_id")[:limit]
    )
    rectifications = (
        Rectification.objects.alive()
        .filter(
            inspection__pairing__in=pairing_ids,
            inspection__deleted_at__isnull=True,
            status__in=[Rectification.Status.OPEN, Rectification.Status.IN_PROGRESS],
            due_date__lt=today,
        )
        .values_list("inspection__pairing_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "inspection__pairing_id")[:limit]
    )
    return list(commitments), list(rectifications)


def pairing_counts(figures):
    """[(pairing id, helper path, helped path, running in the range, activities counted in it)]
    for the pairings of `figures` (the summaries read its whole months, `counted_range`), in two
    queries: the pairings with their branches' paths and dates, the summaries by pairing."""
    pairings, start, end, _ = figures.scope
    activities = {
        pairing_id: n
        for (pairing_id,), (n, _, _) in summaries.activity_counts(
            pairings, *figures.counted_range, ("pairing_id",)
        ).items()
    }
    rows = pairings.values_list(
        "pk", "helper__path", "helped__path", "start_date", "end_date"
    ).order_by()
    return [
        (
            pk,
            helper_path,
            helped_path,
            first <= end and (last is None or last >= start),
            activities.get(pk, 0),
        )
        for pk, helper_path, helped_path, first, last in rows
    ]


def count_tallies(rows, organizations=None, county_path=None):
    """{organization path: (pairings, of them running, activities)} of pairing_counts() rows, for
    `organizations` or, for a county's part, every organization (compliance.counted_under)."""
    return compliance.tallies_by_organization(
        rows,
        lambda row: (row[1], row[2]),
        lambda row: (1, int(row[3]), row[4]),
        organizations=organizations,
        county_path=county_path,
    )


def counts_by_organization(figures, organizations):
    """{org: (pairings, of them running in the range, activities counted in it)} for each
    organization, over the pairings and range of `figures`, a pairing counting under the
    organization of either branch (as compliance rolls up).
    """
    tallies = figures.count_tallies
    if tallies is None:
        tallies = count_tallies(pairing_counts(figures), organizations)
    return {org: tallies.get(org.path, (0, 0, 0)) for org in organizations}


def period_figures(organizations, start, end, by=None):
    """{metric id: total} of figures entered per organization for periods within the range;
    with `by` ({name: expression} of the organization at a prefix: its county's path, say),
    {(*its values, metric id): total}.

    A stock takes each organization's latest value in the range; flows add up.
    """
    in_range = PeriodFigure.objects.filter(
        organization__in=organizations.values("pk"),
        period_start__gte=start,
        period_end__lte=end,
        metric__is_active=True,
    )
    latest = in_range.filter(
        organization=OuterRef("organization"), metric=OuterRef("metric")
    ).order_by("-period_end", "-pk")
    keys = by("organization__") if by else {}
    totals = (
        in_range.filter(
            Q(metric__aggregation=Metric.Aggregation.FLOW) | Q(pk=Subquery(latest.values("pk")[:1]))
        )
        .annotate(**keys)
        .values_list(*keys, "metric_id")
        .annotate(total=Sum("value"))
        .order_by()
    )
    return {(tuple(key) if by else key[0]): total for *key, total in totals}


def _every_month(start, end, counts):
    months = []
    day = start.replace(day=1)
    while day <= end:
        months.append((day, counts.get(day, 0)))
        day = (day + datetime.timedelta(days=32)).replace(day=1)
    return months
