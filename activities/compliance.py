"""The compliance arithmetic: periods by cadence, due, met and on time. Nobody else computes it.

A regime's cadence may change. A change dated D takes effect once the period of the old cadence
that holds D has ended, from the first period of the new cadence starting on or after that end;
the periods before keep the cadence they had.
"""

import datetime
import heapq
from dataclasses import dataclass, replace
from functools import cached_property
from operator import attrgetter
from typing import NamedTuple

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from activities.models import ActivitySummary, Cadence, Regime, RegimeCadence
from activities.periods import Period
from pairings import access
from pairings.models import Organization, PairingSuspension

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
            in_force = (
                rule_on(rules, row.valid_from) or rules[0]
            )  # the cadence on the change's date
            old_end = period_containing(in_force.cadence, row.valid_from).end
            effective = first_period_after(row.cadence, old_end)
            # A later change replaces any change not yet in force on its date.
            rules = [rule for rule in rules if rule.effective <= row.valid_from]
        else:
            effective = period_containing(row.cadence, row.valid_from).start
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


# ---------------------------------------------------------------------------------------------
# Compliance over a scope and a date range: every pairing × regime × period, and roll-ups.


class State:
    MET = "met"  # done, on time
    LATE = "late"  # done, but submitted after the grace days
    MISSED = "missed"  # due and not done
    NOT_DUE = "not_due"  # the pairing was not active for the whole period, or no cadence
    CURRENT = "current"  # the period has not ended yet

    LABELS = {
        MET: "按时完成",
        LATE: "完成但逾期",
        MISSED: "未完成",
        NOT_DUE: "不考核",
        CURRENT: "本期进行中",
    }
    SYMBOLS = {MET: "✓", LATE: "◐", MISSED: "✗", NOT_DUE: "–", CURRENT: "…"}


@dataclass(frozen=True)
class Ratio:
    """A rate shown with its numerator and denominator; an area's rate is Σ num ÷ Σ den."""

    num: int
    den: int

    def __add__(self, other):
        return Ratio(self.num + other.num, self.den + other.den)

    @property
    def rate(self):
        return None if not self.den else self.num / self.den

    @property
    def percent(self):
        """The rate in percent with one decimal, rounded half up; None when nothing is due."""
        if not self.den:
            return None
        tenths = (self.num * 2000 + self.den) // (2 * self.den)
        return tenths / 10

    def __str__(self):
        if not self.den:
            return "—（0/0）"
        return f"{self.percent:g}%（{self.num}/{self.den}）"


ZERO = Ratio(0, 0)


@dataclass(slots=True, eq=False)
class Cell:
    pairing_id: int
    regime: Regime
    period: Period
    required: int
    count: int
    on_time_count: int
    due: bool
    state: str

    @property
    def met(self):
        return self.due and self.count >= self.required

    @property
    def on_time(self):
        return self.met and self.on_time_count >= self.required


@dataclass
class Evaluation:
    """Compliance for some pairings over a date range. `cells` holds every pairing × regime ×
    period, due or not, so that "who has not done it" is a visible row, not an absence."""

    start: datetime.date
    end: datetime.date
    pairings: dict  # pairing id → Pairing (with helper and helped)
    regimes: list
    cells: list

    def _roll(self, key):
        tallies = {}  # key → [due, met, on time]
        for cell in self.cells:
            if cell.due:
                tally = tallies.setdefault(key(cell), [0, 0, 0])
                tally[0] += 1
                if cell.count >= cell.required:
                    tally[1] += 1
                    if cell.on_time_count >= cell.required:
                        tally[2] += 1
        return {
            k: (Ratio(met, due), Ratio(on_time, due)) for k, (due, met, on_time) in tallies.items()
        }

    def by_regime(self):
        """{regime: (met ÷ due, on time ÷ due)} for every regime, also those with nothing due."""
        rolled = self._roll(lambda c: c.regime.pk)
        return {r: rolled.get(r.pk, (ZERO, ZERO)) for r in self.regimes}

    def by_pairing(self):
        return self._roll(lambda c: c.pairing_id)

    def by_period(self):
        return dict(sorted(self._roll(lambda c: (c.period.start, c.period.code)).items()))

    def total(self):
        rolled = self._roll(lambda c: None)
        return rolled.get(None, (ZERO, ZERO))

    def by_organization(self, organizations):
        """Roll up under each organization whose subtree holds one of a pairing's branches.

        A pairing of an organ branch and a village counts under the organs' working committee
        and under the township alike, so the rows need not add up to the total.
        """
        per_pairing = self.by_pairing()
        rows = {}
        for org in organizations:
            met = on_time = ZERO
            for pk, pairing in self.pairings.items():
                if pk in per_pairing and (
                    pairing.helper.path.startswith(org.path)
                    or pairing.helped.path.startswith(org.path)
                ):
                    met += per_pairing[pk][0]
                    on_time += per_pairing[pk][1]
            rows[org] = (met, on_time)
        return rows

    def missing(self, *, periods=None):
        """The cells that were due and not done, optionally in the given period codes."""
        return [
            c
            for c in self.cells
            if c.state == State.MISSED and (periods is None or c.period.code in periods)
        ]


def required_by(rule):
    """The activities a period under `rule` requires: none without a rule or a cadence."""
    return rule.required if rule and rule.cadence != Cadence.NONE else 0


def last_period_start(rules, day):
    """The first day of the period before the one that holds `day`."""
    return period_of(rules, period_of(rules, day).start - datetime.timedelta(days=1)).start


def periods_between(rules, start, end):
    """The periods (by the cadence in force for each) that overlap [start, end], with rules."""
    periods = []
    day = start
    while day <= end:
        rule = rule_on(rules, day)
        period = period_containing(rule.cadence if rule else Cadence.NONE, day)
        periods.append((period, rule))
        day = period.end + datetime.timedelta(days=1)
    return periods


def _regimes_named(regimes, regime_codes):
    """The (regime, rules) to evaluate: `regimes` (by default the active ones with their rules),
    only those whose codes are in `regime_codes` when it is given."""
    return [
        (regime, rules)
        for regime, rules in (regimes or regimes_with_rules(active_only=True))
        if regime_codes is None or regime.code in regime_codes
    ]


def evaluate(pairings, start, end, *, regime_codes=None, today=None, starts=None, regimes=None):
    """Compliance of `pairings` from `start` to `end`, in four queries (three when `pairings` is
    a list of pairings already read with their helper and helped, not a queryset).

    A period is due for a pairing active for the whole of it (not suspended) once it has ended;
    met when at least the required number of its regime's activities, submitted or confirmed,
    fall in it; on time when that many were submitted within the grace days after its end.
    """
    today = today or timezone.localdate()
    regimes = _regimes_named(regimes, regime_codes)
    if isinstance(pairings, QuerySet):
        by_pk = {p.pk: p for p in pairings.select_related("helper", "helped").order_by("code")}
        ids = pairings.values("pk")
    else:
        by_pk = {p.pk: p for p in sorted(pairings, key=attrgetter("code"))}
        ids = list(by_pk)
    suspensions = {}
    for s in PairingSuspension.objects.filter(pairing__in=ids):
        suspensions.setdefault(s.pairing_id, []).append(s)
    starts = starts or {}  # a later start for some regimes (regime id → date)
    plan = {
        regime.pk: periods_between(rules, max(start, starts.get(regime.pk, start)), end)
        for regime, rules in regimes
    }
    first = min((ps[0][0].start for ps in plan.values() if ps), default=start)
    last = max((ps[-1][0].end for ps in plan.values() if ps), default=end)
    # Counts per pairing, regime and month from the summaries (periods are whole months),
    # added up into each regime's periods.
    counts = {}
    if by_pk and regimes:
        period_of_month = {  # regime id → first day of a month → index of its period
            regime.pk: {
                month: index
                for index, (period, _) in enumerate(plan[regime.pk])
                for month in _months_in(period)
            }
            for regime, _ in regimes
        }
        rows = (
            ActivitySummary.objects.filter(
                pairing__in=ids,
                regime__in=[r.pk for r, _ in regimes],
                month__range=(first, last),
            )
            .values_list("pairing_id", "regime_id", "month", "activities", "on_time")
            .order_by()
        )
        for pairing_id, regime_id, month, n, on_time in rows:
            index = period_of_month[regime_id].get(month)
            key = (pairing_id, regime_id, index)
            done, timely = counts.get(key, (0, 0))
            counts[key] = (done + n, timely + on_time)
    cells = []
    active = {}  # (pairing id, period) → ran all through it; monthly regimes share periods
    for regime, _ in regimes:
        for index, (period, rule) in enumerate(plan[regime.pk]):
            required = required_by(rule)
            ended = period.end < today
            for pk, pairing in by_pk.items():
                count, on_time = counts.get((pk, regime.pk, index), (0, 0))
                key = (pk, period.start, period.end)
                ran = active.get(key)
                if ran is None:
                    ran = active[key] = _active_throughout(pairing, period, suspensions.get(pk, ()))
                if required == 0 or not ran:
                    due, state = False, State.NOT_DUE
                elif not ended:
                    due, state = False, State.CURRENT
                elif count < required:
                    due, state = True, State.MISSED
                else:
                    due, state = True, State.MET if on_time >= required else State.LATE
                cells.append(Cell(pk, regime, period, required, count, on_time, due, state))
    return Evaluation(start, end, by_pk, [r for r, _ in regimes], cells)


def _months_in(period):
    """The first days of the months a period spans."""
    day = period.start
    while day <= period.end:
        yield day
        day = (day + datetime.timedelta(days=32)).replace(day=1)


def _active_throughout(pairing, period, suspensions):
    """Whether the pairing ran for the whole period, with no suspension touching it."""
    if pairing.start_date > period.start:
        return False
    if pairing.end_date is not None and pairing.end_date < period.end:
        return False
    return not any(
        s.start_date <= period.end and (s.end_date is None or s.end_date >= period.start)
        for s in suspensions
    )


@dataclass
class RegimeStatus:
    """A regime's standing for one pairing: this period so far, and the one before."""

    current: Cell
    previous: Cell | None
    days_left: int  # days until the period ends, today included

    @property
    def regime(self):
        return self.current.regime

    @property
    def period(self):
        return self.current.period

    @property
    def required(self):
        return self.current.required

    @property
    def done(self):
        return self.current.count

    @property
    def due(self):
        """Whether this period will be due (the pairing runs through all of it)."""
        return self.current.state != State.NOT_DUE

    @property
    def met(self):
        return self.done >= self.required

    @property
    def previous_missed(self):
        return self.previous is not None and self.previous.state == State.MISSED


def current_status(pairings, today):
    """For each pairing and each required regime: this period and the last (four queries; three
    for a list of pairings, as evaluate()).

    Returns {pairing_id: [RegimeStatus, …]} in regime order.
    """
    start = datetime.date(today.year - 1, 1, 1)  # holds the previous period of every cadence
    regimes = regimes_with_rules(active_only=True)
    starts = {}  # each regime from its previous period on
    for regime, rules in regimes:
        starts[regime.pk] = last_period_start(rules, today)
    evaluation = evaluate(pairings, start, today, today=today, starts=starts, regimes=regimes)
    by_key = {}
    for cell in evaluation.cells:
        by_key.setdefault((cell.pairing_id, cell.regime.pk), []).append(cell)
    result = {pk: [] for pk in evaluation.pairings}
    for (pk, _), cells in by_key.items():
        *earlier, current = cells
        if current.required == 0:
            continue  # a regime without a cadence is counted, not required
        previous = earlier[-1] if earlier else None
        result[pk].append(RegimeStatus(current, previous, (current.period.end - today).days + 1))
    return result


# ---------------------------------------------------------------------------------------------
# The same arithmetic as evaluate(), rolled up in SQL: for a wide scope (a city, a province) the
# dashboard and the report need rates by regime, by organization and the pairings that missed
# most, not every cell. The database builds the due cells (pairing × regime × ended period,
# the pairing running through it, no suspension touching it) from the summaries and hands back
# one row per pairing and regime with a due period.

CELLS_SQL = """
WITH per (regime_id, pstart, pend, required) AS (VALUES {values}),
scope_ids (id) AS ({scope}),
done AS (
    SELECT s.pairing_id AS pairing_id, per.regime_id AS regime_id, per.pstart AS pstart,
        SUM(s.activities) AS n, SUM(s.on_time) AS t
    FROM {summaries}
    JOIN per ON s.regime_id = per.regime_id AND s.month >= per.pstart AND s.month <= per.pend
    WHERE {in_scope} AND s.month >= %s AND s.month <= %s
    GROUP BY s.pairing_id, per.regime_id, per.pstart
)
SELECT p.id, p.code, h.path, v.path, per.regime_id, COUNT(*),
    SUM(CASE WHEN COALESCE(d.n, 0) >= per.required THEN 1 ELSE 0 END),
    SUM(CASE WHEN COALESCE(d.t, 0) >= per.required THEN 1 ELSE 0 END)
FROM pairings_pairing p
JOIN pairings_organization h ON h.id = p.helper_id
JOIN pairings_organization v ON v.id = p.helped_id
CROSS JOIN per
LEFT JOIN done d ON d.pairing_id = p.id AND d.regime_id = per.regime_id AND d.pstart = per.pstart
WHERE p.id IN (SELECT id FROM scope_ids) AND p.start_date <= per.pstart
    AND (p.end_date IS NULL OR p.end_date >= per.pend)
    AND NOT EXISTS (
        SELECT 1 FROM pairings_pairingsuspension x WHERE x.pairing_id = p.id
        AND x.start_date <= per.pend AND (x.end_date IS NULL OR x.end_date >= per.pstart))
GROUP BY p.id, p.code, h.path, v.path, per.regime_id
"""


# How the roll-up reads the scope's summaries. SQLite keeps the order of a CROSS JOIN: the ids
# lead, and each reads its months by the (pairing, month) index; left to choose, it built an
# index of a whole city's summaries by regime for one county's part (122 ms; 22 ms so).
# PostgreSQL, given that order, hashed the city's year of summaries instead (14 → 34 ms).
SUMMARIES_IN_SCOPE = {
    "sqlite": {
        "summaries": "scope_ids CROSS JOIN activities_activitysummary s",
        "in_scope": "s.pairing_id = scope_ids.id",
    },
    "postgresql": {
        "summaries": "activities_activitysummary s",
        "in_scope": "s.pairing_id IN (SELECT id FROM scope_ids)",
    },
}


class PairingRow(NamedTuple):
    """A pairing's due periods in a roll-up, with what the roll-ups by organization need (a
    tuple: a province's 30,000 come out of the cache in a third of a dataclass's time)."""

    pk: int
    code: str
    helper_path: str
    helped_path: str
    due: int
    met: int
    on_time: int

    @property
    def missed(self):
        return self.due - self.met


AT_RISK_LIMIT = 10  # the pairings a roll-up names as missing most (the dashboard's list)


def counted_under(helper_path, helped_path, lengths=None, county_path=None):
    """The paths of the organizations a pairing counts under in the roll-ups by organization:
    every one that holds either branch, the branches themselves included, once; with `lengths`,
    only those with paths that long (the organizations a table asks for). For a county's lean
    part (`county_path`), a branch itself only when it lies right under the county: the rows of
    a table by organization are the committees under a scope, or its branches when it has no
    committee, and a part serves only scopes of whole counties."""
    step = Organization.steplen
    branches = (helper_path, helped_path)
    paths = {
        p[:n]
        for p in branches
        for n in (range(step, len(p) + 1, step) if lengths is None else lengths)
        if n <= len(p)
    }
    if county_path is not None:
        under = len(county_path) + step
        paths -= {p for p in branches if not (len(p) == under and p.startswith(county_path))}
    return paths


def tallies_by_organization(rows, paths_of, values_of, organizations=None, county_path=None):
    """{organization path: Σ values_of(row)} over `rows`, each added under counted_under(
    *paths_of(row)): for `organizations` (their levels only), or every level for a county's part
    (`county_path`)."""
    lengths = None if organizations is None else {len(org.path) for org in organizations}
    tallies = {}
    for row in rows:
        helper_path, helped_path = paths_of(row)
        paths = counted_under(helper_path, helped_path, lengths, county_path)
        add_tallies(tallies, paths, values_of(row))
    return tallies


def summed(tallies):
    """One {key: tuple of numbers} of several, the tuples of a key added up."""
    total = {}
    for one in tallies:
        for key, values in one.items():
            add_tallies(total, [key], values)
    return total


def add_tallies(tallies, paths, values):
    """Add `values` (a tuple of numbers) to `tallies[path]` for each of `paths`."""
    for path in paths:
        tally = tallies.get(path)
        tallies[path] = (
            values if tally is None else tuple(a + b for a, b in zip(tally, values, strict=True))
        )


@dataclass
class Rollup:
    """Compliance of some pairings over a date range, rolled up in SQL (see CELLS_SQL).

    A county's part in the cache (reports.parts) keeps it `lean()`: the sums by organization
    and the pairings that missed most, not a row for each pairing.
    """

    start: datetime.date
    end: datetime.date
    regimes: list  # the regimes with a cadence, in order
    cadenced: set  # of them, those with a required period in the range
    regime_rows: dict  # regime id → (due, met, on time)
    pairing_rows: list  # [PairingRow] for every pairing with a due period (None when lean)
    missed_by_regime: dict  # (pairing id, regime id) → missed periods, of pairings that missed
    # (None when lean)
    lean_tallies: dict = None  # when lean: tallies() of every organization

    def tallies(self, organizations):
        """{organization path: (pairings, due, met, on time)} of the pairings each of
        `organizations` holds a branch of (a lean roll-up keeps them for every organization)."""
        if self.lean_tallies is not None:
            return self.lean_tallies
        return tallies_by_organization(
            self.pairing_rows, _branch_paths, _rates_of, organizations=organizations
        )

    @cached_property
    def at_risk(self):
        """([(PairingRow, [(regime, missed periods)])], how many pairings missed any): the
        AT_RISK_LIMIT pairings that missed the most due periods, then the lowest rate."""
        missed = [row for row in self.pairing_rows if row.due > row.met]
        rows = []
        for row in heapq.nsmallest(AT_RISK_LIMIT, missed, key=_at_risk_order):
            by_regime = [
                (regime, self.missed_by_regime[(row.pk, regime.pk)])
                for regime in self.regimes
                if (row.pk, regime.pk) in self.missed_by_regime
            ]
            rows.append((row, by_regime))
        return rows, len(missed)

    def lean(self, county_path):
        """A copy without the rows of each pairing: what a county's part keeps."""
        lean = replace(
            self,
            pairing_rows=None,
            missed_by_regime=None,
            lean_tallies=tallies_by_organization(
                self.pairing_rows, _branch_paths, _rates_of, county_path=county_path
            ),
        )
        lean.__dict__["at_risk"] = self.at_risk  # kept, as it cannot be computed again
        return lean

    def over(self, start, end):
        """The same roll-up named for the range `start`–`end`, which counts the same due
        periods (the caller knows it does), its at-risk list kept as lean() keeps it."""
        rolled = replace(self, start=start, end=end)
        rolled.__dict__["at_risk"] = self.at_risk
        return rolled

    @classmethod
    def added_up(cls, rollups, start, end):
        """One lean roll-up of the lean roll-ups of pairings apart (the counties' parts)."""
        added = cls(
            start,
            end,
            rollups[0].regimes,
            set().union(*(r.cadenced for r in rollups)),
            summed(r.regime_rows for r in rollups),
            None,
            None,
            summed(r.lean_tallies for r in rollups),
        )
        added.__dict__["at_risk"] = (
            heapq.nsmallest(
                AT_RISK_LIMIT,
                (row for rollup in rollups for row in rollup.at_risk[0]),
                key=lambda row: _at_risk_order(row[0]),
            ),
            sum(rollup.at_risk[1] for rollup in rollups),
        )
        return added

    def by_regime(self):
        """{regime: (met ÷ due, on time ÷ due)} for every regime, also those with nothing due."""
        rows = {}
        for regime in self.regimes:
            due, met, on_time = self.regime_rows.get(regime.pk, (0, 0, 0))
            rows[regime] = (Ratio(met, due), Ratio(on_time, due))
        return rows

    def total(self):
        due = sum(r[0] for r in self.regime_rows.values())
        met = sum(r[1] for r in self.regime_rows.values())
        on_time = sum(r[2] for r in self.regime_rows.values())
        return Ratio(met, due), Ratio(on_time, due)

    def by_pairing(self):
        return {r.pk: (Ratio(r.met, r.due), Ratio(r.on_time, r.due)) for r in self.pairing_rows}

    def by_organization(self, organizations):
        """{org: (met ÷ due, on time ÷ due)}: a pairing counts under each organization whose
        subtree holds either of its branches (once, if both)."""
        tallies = self.tallies(organizations)
        rows = {}
        for org in organizations:
            _, due, met, on_time = tallies.get(org.path, (0, 0, 0, 0))
            rows[org] = (Ratio(met, due), Ratio(on_time, due))
        return rows

    def missed(self, regime):
        """{pairing id: periods of `regime` it missed}."""
        return {pk: n for (pk, r), n in self.missed_by_regime.items() if r == regime.pk}


def _branch_paths(row):
    return row.helper_path, row.helped_path


def _rates_of(row):
    return (1, row.due, row.met, row.on_time)


def _at_risk_order(row):
    return (row.met - row.due, row.met / row.due, row.code)


def rollup(pairings, start, end, *, regime_codes=None, today=None, regimes=None):
    """Compliance of `pairings` (a queryset) from `start` to `end`, rolled up in one query
    (none when no period has ended). Equal to evaluate()'s roll-ups, which tests check."""
    regimes, cadenced, rows = _rollup_rows(pairings, start, end, today, regimes, regime_codes)
    return _rolled_up(rows, start, end, regimes, cadenced)


def rollups(pairings, start, end, groups, groups_of, *, today=None):
    """{group: rollup()} of each of `groups` of `pairings`, every active regime, in one query: a
    pairing's rows go to each group of groups_of(helper path, helped path) (the counties' parts,
    computed together)."""
    regimes, cadenced, rows = _rollup_rows(pairings, start, end, today, None, None)
    grouped = {group: [] for group in groups}
    for row in rows:
        for group in groups_of(row[2], row[3]):
            grouped[group].append(row)
    return {
        group: _rolled_up(found, start, end, regimes, cadenced) for group, found in grouped.items()
    }


def _rollup_rows(pairings, start, end, today, regimes, regime_codes):
    """(regimes, those with a required period in the range, CELLS_SQL's rows)."""
    today = today or timezone.localdate()
    regimes = _regimes_named(regimes, regime_codes)
    values, params, cadenced = [], [], set()
    for regime, rules in regimes:
        for period, rule in periods_between(rules, start, end):
            required = required_by(rule)
            if required:
                cadenced.add(regime)
                if period.end < today:
                    values.append("(%s, %s, %s, %s)")
                    params += [regime.pk, period.start, period.end, required]
    rows = _run_over_periods(
        CELLS_SQL,
        pairings,
        values,
        params,
        (min(params[1::4], default=None), max(params[2::4], default=None)),
    )
    return [r for r, _ in regimes], cadenced, rows


def _rolled_up(rows, start, end, regimes, cadenced):
    """The Rollup of CELLS_SQL's rows: one per pairing and regime with a due period, (due, met,
    on time) added up three ways."""
    result = Rollup(start, end, regimes, cadenced, {}, [], {})
    regime_rows, pairing_rows = {}, {}
    for pk, code, helper_path, helped_path, regime_id, due, met, on_time in rows:
        due, met, on_time = int(due), int(met), int(on_time)
        tally = regime_rows.setdefault(regime_id, [0, 0, 0])
        tally[0] += due
        tally[1] += met
        tally[2] += on_time
        tally = pairing_rows.setdefault(pk, [code, helper_path, helped_path, 0, 0, 0])
        tally[3] += due
        tally[4] += met
        tally[5] += on_time
        if due > met:
            result.missed_by_regime[(pk, regime_id)] = due - met
    result.regime_rows = {pk: tuple(t) for pk, t in regime_rows.items()}
    result.pairing_rows = [PairingRow(pk, *t) for pk, t in pairing_rows.items()]
    return result


def _run_over_periods(sql, pairings, values, params, months, *tail, **fill):
    """The rows of `sql` (CELLS_SQL or SHORT_SQL, its other placeholders filled from `fill`) over
    the periods `values` (with `params`) for `pairings` (a queryset or a list), reading the
    summaries of `months` (first, last); no rows, and no query, when there is no period or no
    pairing."""
    from django.core.exceptions import EmptyResultSet
    from django.db import connections, router

    from pairings.models import Pairing

    if not values:
        return []
    using = router.db_for_read(Pairing)
    try:
        scope_sql, scope_params = access.pairing_ids_sql(pairings, using)
    except EmptyResultSet:  # an empty list of pairings
        return []
    sql = sql.format(
        values=", ".join(values),
        scope=scope_sql,
        **SUMMARIES_IN_SCOPE[connections[using].vendor],
        **fill,
    )
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [*params, *scope_params, *months, *tail])
        return cursor.fetchall()


# ---------------------------------------------------------------------------------------------
# The compliance summary's two lists, in SQL: the required regimes not yet done this period and
# those missed last period, of pairings running through the period. current_status() reads the
# same for a few pairings; over a city's thousands it built every cell in Python (420 ms).

SHORT_SQL = """
WITH per (regime_id, which, pstart, pend, required, ord) AS (VALUES {values}),
scope_ids (id) AS ({scope}),
done AS (
    SELECT s.pairing_id AS pairing_id, per.regime_id AS regime_id, per.which AS which,
        SUM(s.activities) AS n
    FROM {summaries}
    JOIN per ON s.regime_id = per.regime_id AND s.month >= per.pstart AND s.month <= per.pend
    WHERE {in_scope} AND s.month >= %s AND s.month <= %s
    GROUP BY s.pairing_id, per.regime_id, per.which
),
short AS (
    SELECT g.grp AS grp, p.id AS pairing_id, p.code AS code, per.ord AS ord,
        per.regime_id AS regime_id, per.which AS which, COALESCE(d.n, 0) AS n
    FROM pairings_pairing p
    JOIN ({groups}) g ON g.pairing_id = p.id
    CROSS JOIN per
    LEFT JOIN done d ON d.pairing_id = p.id AND d.regime_id = per.regime_id
        AND d.which = per.which
    WHERE p.id IN (SELECT id FROM scope_ids) AND p.start_date <= per.pstart
        AND (p.end_date IS NULL OR p.end_date >= per.pend)
        AND NOT EXISTS (
            SELECT 1 FROM pairings_pairingsuspension x WHERE x.pairing_id = p.id
            AND x.start_date <= per.pend AND (x.end_date IS NULL OR x.end_date >= per.pstart))
        AND COALESCE(d.n, 0) < per.required
),
ranked AS (
    SELECT grp, pairing_id, code, regime_id, which, n,
        ROW_NUMBER() OVER (PARTITION BY grp, which ORDER BY code, ord) AS row_number,
        COUNT(*) OVER (PARTITION BY grp, which) AS total
    FROM short
)
SELECT r.grp, r.which, r.pairing_id, r.code, h.name, v.name, r.regime_id, r.n, r.total
FROM ranked r
JOIN pairings_pairing p ON p.id = r.pairing_id
JOIN pairings_organization h ON h.id = p.helper_id
JOIN pairings_organization v ON v.id = p.helped_id
WHERE r.row_number <= %s
ORDER BY r.grp, r.which, r.row_number
"""

# The groups of SHORT_SQL: the whole scope as one, or the counties of a pairing's two branches
# (the first `length` characters of each branch's path), a pairing of two counties in both.
ONE_GROUP = "SELECT id AS pairing_id, '' AS grp FROM scope_ids"
BY_COUNTY = """
    SELECT p.id AS pairing_id, substr(o.path, 1, {length}) AS grp
    FROM pairings_pairing p JOIN pairings_organization o ON o.id = p.helper_id
    WHERE p.id IN (SELECT id FROM scope_ids)
    UNION
    SELECT p.id AS pairing_id, substr(o.path, 1, {length}) AS grp
    FROM pairings_pairing p JOIN pairings_organization o ON o.id = p.helped_id
    WHERE p.id IN (SELECT id FROM scope_ids)
"""


class Short(NamedTuple):
    """A pairing's required regime short of its count in a period (this one or the last)."""

    pairing_id: int
    code: str  # the pairing's, and its branches' names
    helper: str
    helped: str
    regime: Regime
    period: Period
    done: int
    required: int
    days_left: int  # until the period ends, today included (negative for the last period)


@dataclass
class ShortLists:
    """The first `limit` of each list, in pairing code and regime order, and how many each has."""

    not_done: list  # [Short] of this period, the pairing running through it
    not_done_total: int
    missed: list  # [Short] of the last period, due and missed
    missed_total: int

    @classmethod
    def added_up(cls, lists, limit):
        """The lists of pairings apart (the counties'), each holding its first `limit`."""

        def first(rows):
            return sorted(rows, key=lambda s: (s.code, s.regime.order, s.regime.pk))[:limit]

        return cls(
            first(s for one in lists for s in one.not_done),
            sum(one.not_done_total for one in lists),
            first(s for one in lists for s in one.missed),
            sum(one.missed_total for one in lists),
        )


def short_lists(pairings, today, *, regime_codes=None, limit=None, regimes=None):
    """The required regimes each of `pairings` has not done yet this period, and those it missed
    last period: what current_status() tells of each pairing (tests check they agree), for a
    whole scope in one query, with only the first `limit` rows of each read."""
    found = _short_lists(pairings, today, _regimes_named(regimes, regime_codes), limit, None)
    return found.get("", ShortLists([], 0, [], 0))


def short_lists_by_county(pairings, today, length, *, limit, regimes=None):
    """{county path: short_lists() of its pairings} of every county (a path `length` long) that
    holds a branch of one of `pairings`, in one query: each county's lists, a pairing of two
    counties in both (the counties' parts, computed together)."""
    return _short_lists(pairings, today, _regimes_named(regimes, None), limit, length)


def _short_lists(pairings, today, regimes, limit, length):
    """{group: ShortLists} of SHORT_SQL, the groups ONE_GROUP's ('') or BY_COUNTY's."""
    values, params, periods = [], [], {}
    for order, (regime, rules) in enumerate(regimes):
        *earlier, (period, rule) = periods_between(rules, last_period_start(rules, today), today)
        if not required_by(rule):
            continue  # a regime without a cadence is counted, not required
        listed = [(0, period, rule)]  # this period, and the last when there was one
        if earlier:
            listed.append((1, *earlier[-1]))
        for which, period, rule in listed:
            required = required_by(rule)
            if not required:
                continue
            values.append("(%s, %s, %s, %s, %s, %s)")
            params += [regime.pk, which, period.start, period.end, required, order]
            periods[(regime.pk, which)] = (regime, period, required)
    found = {}
    months = (min(params[2::6], default=None), max(params[3::6], default=None))
    groups = ONE_GROUP if length is None else BY_COUNTY.format(length=int(length))
    rows = _run_over_periods(
        SHORT_SQL, pairings, values, params, months, limit or 2**62, groups=groups
    )
    for group, which, pairing_id, code, helper, helped, regime_id, done, total in rows:
        lists = found.setdefault(group, ShortLists([], 0, [], 0))
        regime, period, required = periods[(regime_id, which)]
        days_left = (period.end - today).days + 1
        short = Short(
            pairing_id, code, helper, helped, regime, period, int(done), required, days_left
        )
        if which == 0:
            lists.not_done.append(short)
            lists.not_done_total = int(total)
        else:
            lists.missed.append(short)
            lists.missed_total = int(total)
    return found
