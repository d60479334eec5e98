"""The compliance arithmetic: periods by cadence, due, met and on time. Nobody else computes it.

A regime's cadence may change. A change dated D takes effect once the period of the old cadence
that holds D has ended, from the first period of the new cadence starting on or after that end;
the periods before keep the cadence they had.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q

from activities.models import Activity, Cadence, Regime, RegimeCadence
from activities.periods import Period

MONTHS = {Cadence.MONTH: 1, Cadence.QUARTER: 3, Cadence.HALF: 6, Cadence.YEAR: 12}


def period_containing(cadence, day):
    """The period of `cadence` that holds `day` (a month for regimes without a cadence)."""
    months = MONTHS.get(cadence, 1)
    first_month = (day.month - 1) // months * months + 1
    if months == 1:
        return Period.month(day.year, day.month)
    if months == 12:
        return Period.parse(str(day.year))
    if months == 6:
        return Period.parse(f"{day.year}-H{(first_month - 1) // 6 + 1}")
    return Period.parse(f"{day.year}-Q{(first_month - 1) // 3 + 1}")


@dataclass(frozen=True)
class Rule:
    """A cadence in force from `effective` (the start of its first period)."""

    effective: datetime.date
    cadence: str
    required: int


def first_period_after(cadence, day):
    """The start of the first period of `cadence` that begins after `day`."""
    following = day + datetime.timedelta(days=1)
    period = period_containing(cadence, following)
    return period.start if period.start == following else period.end + datetime.timedelta(days=1)


def schedule(cadences):
    """Turn a regime's RegimeCadence rows into rules with the dates they really take effect."""
    rules = []
    for row in sorted(cadences, key=lambda c: c.valid_from):
        if rules:
            old = rules[-1]
            old_end = period_containing(old.cadence, max(row.valid_from, old.effective)).end
            effective = first_period_after(row.cadence, old_end)
        else:
            effective = period_containing(row.cadence, row.valid_from).start
        while rules and rules[-1].effective >= effective:
            rules.pop()  # a later change within the same period replaces an earlier one
        rules.append(Rule(effective, row.cadence, row.required))
    return rules


def rule_on(rules, day):
    """The rule in force for the period holding `day`, or None before the first rule."""
    current = None
    for rule in rules:
        if rule.effective <= day:
            current = rule
    return current


def period_of(rules, day):
    """The compliance period (by the cadence in force) that holds `day`."""
    rule = rule_on(rules, day)
    return period_containing(rule.cadence if rule else Cadence.NONE, day)


def regimes_with_rules(*, active_only=False):
    """Every regime that has a cadence, with its rules, in one query: [(regime, [Rule, …])]."""
    rows = RegimeCadence.objects.select_related("regime").order_by("regime__order", "regime_id")
    if active_only:
        rows = rows.filter(regime__is_active=True)
    by_regime = {}
    for row in rows:
        by_regime.setdefault(row.regime, []).append(row)
    return [(regime, schedule(cadences)) for regime, cadences in by_regime.items()]


def regime_rules():
    """{regime_id: [Rule, …]} for every regime that has a cadence, in one query."""
    return {regime.pk: rules for regime, rules in regimes_with_rules()}


def grace_end(period):
    return period.end + datetime.timedelta(days=settings.COBUILD["GRACE_DAYS"])


def is_on_time(activity, submitted_on, rules=None):
    """Whether a submission on `submitted_on` is within the grace days after its period."""
    if rules is None:
        rules = regime_rules().get(activity.regime_id, [])
    return submitted_on <= grace_end(period_of(rules, activity.date))


@dataclass
class RegimeStatus:
    regime: Regime
    period: Period
    required: int
    done: int
    due: bool  # the pairing was active for the whole period
    previous: Period | None
    previous_done: int | None
    previous_due: bool
    previous_required: int
    days_left: int  # days until the period ends, today included

    @property
    def met(self):
        return self.done >= self.required

    @property
    def previous_missed(self):
        return self.previous_due and self.previous_done < self.previous_required


def pairing_due(pairing, period):
    """A period is due for a pairing that was active for the whole period."""
    if pairing.status == pairing.Status.SUSPENDED or pairing.in_trash:
        return False
    return pairing.start_date <= period.start and (
        pairing.end_date is None or pairing.end_date >= period.end
    )


def current_status(pairings, today):
    """For each pairing and each required regime: this period and the last, in one query.

    Returns {pairing_id: [RegimeStatus, …]} in regime order.
    """
    pairings = list(pairings)
    windows = {}
    aggregates = {}
    for regime, rules in regimes_with_rules(active_only=True):
        rule = rule_on(rules, today)
        if rule is None or rule.cadence == Cadence.NONE:
            continue
        period = period_containing(rule.cadence, today)
        previous_day = period.start - datetime.timedelta(days=1)
        previous_rule = rule_on(rules, previous_day)
        previous = (
            period_containing(previous_rule.cadence, previous_day)
            if previous_rule and previous_rule.cadence != Cadence.NONE
            else None
        )
        windows[regime.pk] = (regime, rule, period, previous_rule, previous)
        aggregates[f"now_{regime.pk}"] = Count(
            "pk", filter=Q(regime=regime, date__range=(period.start, period.end))
        )
        if previous:
            aggregates[f"before_{regime.pk}"] = Count(
                "pk", filter=Q(regime=regime, date__range=(previous.start, previous.end))
            )
    counts = {}
    if pairings and aggregates:
        rows = (
            Activity.objects.counted()
            .filter(pairing__in=[p.pk for p in pairings])
            .values("pairing_id")
            .annotate(**aggregates)
        )
        counts = {row.pop("pairing_id"): row for row in rows}
    result = {}
    for pairing in pairings:
        row = counts.get(pairing.pk, {})
        statuses = []
        for regime_id, (regime, rule, period, previous_rule, previous) in windows.items():
            statuses.append(
                RegimeStatus(
                    regime=regime,
                    period=period,
                    required=rule.required,
                    done=row.get(f"now_{regime_id}", 0),
                    due=pairing_due(pairing, period),
                    previous=previous,
                    previous_done=row.get(f"before_{regime_id}", 0) if previous else None,
                    previous_due=bool(previous) and pairing_due(pairing, previous),
                    previous_required=previous_rule.required if previous else 0,
                    days_left=(period.end - today).days + 1,
                )
            )
        result[pairing.pk] = statuses
    return result
