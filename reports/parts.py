"""The figures of a wide scope, added up from each county's part kept in the cache.

A province's dashboard and report read every pairing's summaries: seconds of SQL for 100
counties, though a county's figures change only when someone writes in that county. So each
county's part (its Figures, its compliance roll-up and pairing counts as sums by organization;
for the report, its pairings' facts and the counts of its problems) is computed as for any scope
and kept in the cache under the county's stamp
(reports.stamps: a token the database renews in every transaction that writes anything the
figures read). A wide scope reads the stamps, fetches the parts in one round trip, computes
the parts that are missing (a county written in since, or the first request of the day; the
figures' parts all together, in one pass grouped by county) and adds them up; the sums are what
the live computation gives, which tests check.

The parts add up only when the scope is whole counties: every root a county or above counties,
no branch under a root outside a county, and no pairing of two counties both in the scope
(its branches and members would count twice). Any other scope is computed live, as are the
short lists the dashboard names. A scope above its counties keeps its sums, and with them the
figures its own organizations entered (a province's), under all its stamps.
"""

import contextvars
import datetime
import functools
import hashlib
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db import router
from django.db.models.functions import Substr

from activities import compliance, summaries
from pairings import access
from pairings.models import Organization, Pairing
from reports import figures, stamps

CACHE = "parts"


@functools.cache
def version():
    """A digest of the code that computes the parts: a deploy that changes it reads none of the
    parts an earlier version left in a shared cache."""
    from activities import models as activity_models
    from pairings import models as pairing_models
    from reports import situation

    digest = hashlib.sha256()
    modules = [compliance, summaries, activity_models, access, pairing_models, figures, stamps]
    for module in [*modules, situation, sys.modules[__name__]]:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class Layout:
    """Where the counties are: what decides whether a scope's parts add up."""

    counties: tuple  # ((id, path), …)
    strays: tuple  # paths of the branches under no county
    uppers: tuple  # ((id, path), …) of the other organizations under no county (a city, a province)
    nested: bool  # a county under a county: its branches would count in both, so no parts


@dataclass(frozen=True)
class Plan:
    """The counties whose parts make a scope, with their tokens."""

    installation: str  # the installation's token
    counties: tuple  # ((id, path, token), …)
    uppers: tuple = ()  # ids of the organizations in the scope above the counties
    entered: str = ""  # the token of the figures entered per organization

    def key(self, kind, county, token, start, end, today):
        grace = settings.COBUILD["GRACE_DAYS"]
        return (
            f"cobuild:part:{version()}:{kind}:{self.installation}:{county}:{token}:"
            f"{start}:{end}:{today}:{grace}"
        )


@dataclass
class Part:
    figures: figures.Figures  # without its scope (querysets stay out of the cache)
    rollup: compliance.Rollup  # lean: sums by organization, not a row for each pairing
    tallies: dict  # figures.count_tallies() of its pairings
    cross: frozenset  # pairings with a branch in another county
    outside: frozenset  # paths of its running pairings' branches that lie outside the county
    entered: dict  # {metric id: total} of the figures the county's organizations entered
    overdue: tuple  # figures.overdue_by_pairing() of the county's pairings


def _layout(token):
    cache = caches[CACHE]
    key = f"cobuild:layout:{version()}:{token}"
    layout = cache.get(key)
    if layout is None:
        rows = list(Organization.objects.order_by().values_list("pk", "path", "kind"))
        counties = tuple((pk, path) for pk, path, kind in rows if kind == Organization.Kind.COUNTY)
        paths = {path for _, path in counties}
        lengths = {len(path) for path in paths}

        def in_county(path):
            return any(path[:n] in paths and len(path) > n for n in lengths)

        outside = [(pk, path, kind) for pk, path, kind in rows if not in_county(path)]
        layout = Layout(
            counties,
            strays=tuple(path for _, path, kind in outside if kind in Organization.BRANCH_KINDS),
            uppers=tuple(
                (pk, path)
                for pk, path, kind in outside
                if kind not in Organization.BRANCH_KINDS and path not in paths
            ),
            nested=any(in_county(path) for path in paths),
        )
        cache.set(key, layout)
    return layout


def plan(roots):
    """The Plan of the pairings under `roots` (organizations' paths), or None when they are not
    whole counties."""
    if not roots:
        return None
    tokens = stamps.read(using=router.db_for_read(Pairing))
    installation = tokens.get(stamps.GLOBAL)
    if installation is None:
        return None
    layout = _layout(installation)
    if layout.nested:
        return None
    chosen = {}
    for root in roots:
        under = [(pk, path) for pk, path in layout.counties if path.startswith(root)]
        if not under or any(path.startswith(root) for path in layout.strays):
            return None
        chosen.update(under)
    if any(pk not in tokens for pk in chosen):
        return None
    counties = tuple((pk, path, tokens[pk]) for pk, path in sorted(chosen.items()))
    uppers = tuple(pk for pk, path in layout.uppers if any(path.startswith(r) for r in roots))
    return Plan(installation, counties, uppers, tokens.get(stamps.ENTERED, ""))


# The parts missing from a wide page are computed together, in one pass whatever their number
# (one per depth of county in the tree): the figures' grouped by county (figures.compute_split:
# a province's hundred in 7.8 s, against 5.4 s live and 12.5 s one by one), the compliance
# summary's lists ranked by county in one query, the report's facts live over their pairings
# and split. The page keeps them all: the next request reads them.

_filling = contextvars.ContextVar("cobuild_parts_filling", default=False)


@contextmanager
def filling():
    """Compute and keep the missing parts even where a page would read live instead (a county's
    compliance summary rolls its rates up live while its part is missing): warm_parts."""
    token = _filling.set(True)
    try:
        yield
    finally:
        _filling.reset(token)


def _fetch(plan, kind, start, end, today, compute):
    """{county id: part} of `kind`, from the cache, or computed (and kept) where missing by
    compute([(id, path), …]) → {id: part}, all of them in one pass; None when any is missing and
    `compute` is None."""
    cache = caches[CACHE]
    keys = {
        plan.key(kind, pk, token, start, end, today): (pk, path)
        for pk, path, token in plan.counties
    }
    found = cache.get_many(list(keys))
    absent = {key: county for key, county in keys.items() if key not in found}
    if absent and compute is None:
        return None
    if len(absent) > 1:
        found.update(_computed_once(absent, compute))
    elif absent:
        found.update(_computed(absent, compute))
    return {keys[key][0]: part for key, part in found.items()}


def _computed(absent, compute):
    """{key: part} of `absent` ({key: (id, path)}), computed and kept."""
    computed = compute(list(absent.values()))
    missing = {key: computed[pk] for key, (pk, _) in absent.items()}
    caches[CACHE].set_many(missing)
    return missing


# How long a request computing many counties' parts together holds their lock, at most (a
# province's take about 8 s), and how often another request that needs them looks for them.
LOCK_SECONDS = 60
LOCK_POLL = 0.1


def _lock(keys):
    """The cache key that a request computing the parts of `keys` holds."""
    return "cobuild:computing:" + hashlib.sha256(repr(sorted(keys)).encode()).hexdigest()[:32]


def _computed_once(absent, compute):
    """{key: part} of `absent` ({key: (id, path)}), computed together by one request at a time:
    on the first wide page after midnight or a change every county reads, each request that
    arrives while a province's parts are being computed (8 s of a core) waits for them instead
    of computing them too. A request that finds them all kept while waiting reads them; one
    that waits longer than LOCK_SECONDS (the computing request died) computes them itself."""
    cache = caches[CACHE]
    lock = _lock(absent)
    held = cache.add(lock, True, LOCK_SECONDS)
    if not held:
        deadline = time.monotonic() + LOCK_SECONDS
        while time.monotonic() < deadline:
            time.sleep(LOCK_POLL)
            released = cache.get(lock) is None  # before the parts: they are kept before it goes
            found = cache.get_many(list(absent))
            if len(found) == len(absent):
                return found
            if released:  # it failed (or the cache dropped the lock)
                break
    try:
        return _computed(absent, compute)
    finally:
        if held:
            cache.delete(lock)


def year_of(today):
    """The dashboard's default range, and the one warm_parts and refresh() compute: the year."""
    return datetime.date(today.year, 1, 1), datetime.date(today.year, 12, 31)


# A request that wrote in more counties than this (an import over a city) leaves their parts to
# the background (reports.tasks.warm_parts), as does a change to the organizations, regimes or
# metrics, which every county's part reads.
REFRESH_LIMIT = 3


def refresh(before, *, today):
    """Compute and keep the year's part (year_of) of each county whose stamp is no longer the
    one in `before` (stamps.read() taken before a request wrote): the next reader of that
    county's dashboard, or of a city's or province's, finds it kept instead of waiting for it.
    On the primary database, whose stamps name its rows. Returns the ids of the counties, or
    None when the request changed more than it should wait for (every county, or more than
    REFRESH_LIMIT): those parts are for the background."""
    after = stamps.read()
    installation = after.get(stamps.GLOBAL)
    if installation is None:
        return []
    if installation != before.get(stamps.GLOBAL):
        return None
    changed = sorted(pk for pk, token in after.items() if pk > 0 and before.get(pk) != token)
    layout = _layout(installation)
    if layout.nested or not changed:
        return []
    if len(changed) > REFRESH_LIMIT:
        return None
    paths = dict(layout.counties)
    found = Plan(installation, tuple((pk, paths[pk], after[pk]) for pk in changed if pk in paths))
    start, end = year_of(today)
    with filling():
        _fetch(found, "figures", start, end, today, _county_figures(start, end, today))
    return [pk for pk, _, _ in found.counties]


def _by_length(counties):
    """{path length: {path: id}} of `counties` ([(id, path)]): those computed in one pass."""
    found = {}
    for pk, path in counties:
        found.setdefault(len(path), {})[path] = pk
    return found


def _held(pairings, counties):
    """{county id: {pairing id: whether a branch lies outside the county}} of `pairings` with a
    branch in each of `counties` ([(id, path)]): a pairing of two counties is in both."""
    paths = {path: pk for pk, path in counties}
    lengths = {len(path) for path in paths}
    held = {pk: {} for pk, _ in counties}
    for pk, *branches in pairings.values_list("pk", "helper__path", "helped__path"):
        for path in {branch[:n] for branch in branches for n in lengths} & paths.keys():
            held[paths[path]][pk] = not all(branch.startswith(path) for branch in branches)
    return held


def _pairings_under(counties):
    """The pairings of `counties` (organizations) as a list of ids: every query of their parts
    then reads them by their index, where a subquery of a province's pairings joined to their
    branches made the planner scan the province's members or summaries."""
    return access.pairings_with_ids(access.pairing_ids_under(*counties))


def _county_figures(start, end, today):
    """compute(counties) of the figures' parts of `counties` ([(id, path)]), {id: Part}: those
    of the same depth together, in one pass of figures.compute_split() over their pairings."""

    def compute(counties):
        found = {}
        for length, ids in _by_length(counties).items():
            orgs = [Organization(pk=pk, path=path) for path, pk in ids.items()]
            pairings = _pairings_under(orgs)
            split = figures.compute_split(pairings, ids, length, start, end, today=today)
            entered = {}
            for (path, metric_id), total in figures.period_figures(
                Organization.objects.alive().under(*orgs),
                start,
                end,
                by=lambda prefix, n=length: {"county": Substr(f"{prefix}path", 1, n)},
            ).items():
                entered.setdefault(path, {})[metric_id] = total
            for path, share in split.items():
                rows = share.rows
                found[ids[path]] = Part(
                    share.figures,
                    share.rollup.lean(path),
                    figures.count_tallies(rows, county_path=path),
                    cross=frozenset(
                        row[0]
                        for row in rows
                        if not (row[1].startswith(path) and row[2].startswith(path))
                    ),
                    outside=frozenset(
                        branch
                        for _, *paths, running, _ in rows
                        if running
                        for branch in paths
                        if not branch.startswith(path)
                    ),
                    entered=entered.get(path, {}),
                    overdue=share.overdue,
                )
        return found

    return compute


def compute(roots, pairings, start, end, *, today, organizations=None):
    """Figures for `pairings`, the pairings under `roots` (paths; None when the pairings are
    not whole subtrees): added up from the counties' parts when they make the scope, else
    figures.compute(). Same figures either way."""
    found = plan(roots)
    fig = None
    if found is not None:
        entered = organizations is not None
        fig = _whole(
            found,
            f"figures:{entered}",
            start,
            end,
            today,
            lambda: _summed(found, start, end, today, entered=entered),
        )
    if fig is None:
        return figures.compute(pairings, start, end, today=today, organizations=organizations)
    fig.scope = (pairings, start, end, today)
    fig.plan = found
    return fig


def rollup(found, pairings, start, end, *, today, regimes=None):
    """The compliance roll-up of `pairings` (those of `found`, a plan() or None) from
    `start` to `end`, every active regime: the dashboard's, from the counties' parts kept in the
    cache, when the range counts the periods the year does (it starts on the year's first day
    and ends in the year, today or later: only periods ended by today count); else
    compliance.rollup() (one query). A wide scope computes its missing parts together and keeps
    them (a province's 8 s once, against its roll-up's 2 s live on every request); a county
    with its part missing rolls up live (its part is its whole figures for the dashboard: 115
    ms, against 58 ms for the page live)."""
    first, last = year_of(today)
    if found is not None and start == first and today <= end <= last:
        one = len(found.counties) == 1
        year = _whole(
            found,
            "figures:True",  # the dashboard's (compute() with its organizations)
            first,
            last,
            today,
            lambda: _summed(found, first, last, today, entered=True, kept_only=one),
        )
        if year is not None:
            return year.rollup.over(start, end)
    return compliance.rollup(pairings, start, end, today=today, regimes=regimes)


def short_lists(found, pairings, today, *, limit, regimes=None):
    """compliance.short_lists() of every regime for `pairings` (those of `found`, a plan()):
    added up from each county's, kept under its stamp for the day, when the scope is whole
    counties and no pairing lies in two of them (it would be listed and counted twice); else
    live. A city's lists read live are its pairings' two years of summaries (100 ms on
    PostgreSQL)."""
    if found is not None:
        first, last = year_of(today)
        kind = f"short:{limit}"

        def counties(missing):
            """{id: (its lists, its pairings with a branch in another county)} of `missing`,
            those of the same depth in one query: they are in that county's lists too."""
            found_lists = {}
            for length, ids in _by_length(missing).items():
                same_depth = [(pk, path) for path, pk in ids.items()]
                county_pairings = _pairings_under(
                    [Organization(pk=pk, path=path) for pk, path in same_depth]
                )
                lists = compliance.short_lists_by_county(
                    county_pairings, today, length, limit=limit, regimes=regimes
                )
                held = _held(county_pairings, same_depth)
                for path, pk in ids.items():
                    found_lists[pk] = (
                        lists.get(path, compliance.ShortLists([], 0, [], 0)),
                        frozenset(pairing for pairing, out in held[pk].items() if out),
                    )
            return found_lists

        def added_up():
            found_lists = _fetch(found, kind, first, last, today, counties)
            crossing = [pk for _, cross in found_lists.values() for pk in cross]
            if len(crossing) != len(set(crossing)):
                return None
            return compliance.ShortLists.added_up(
                [lists for lists, _ in found_lists.values()], limit
            )

        lists = _whole(found, kind, first, last, today, added_up)
        if lists is not None:
            return lists
    return compliance.short_lists(pairings, today, limit=limit, regimes=regimes)


def _whole(found, kind, start, end, today, compute):
    """compute() of a scope above its counties, kept under a digest of all its stamps (the
    counties', and the one of the figures entered per organization, which the organizations
    above the counties enter too): until one of them is renewed, a city's or province's page
    reads its sums as one entry instead of adding up its counties' parts again. A county's own
    part is its sum already. None (the parts do not add up, or a page that reads only kept
    parts finds one missing) is not kept."""
    if len(found.counties) == 1 and not found.uppers:
        return compute()
    digest = hashlib.sha256(repr((found.counties, found.uppers, found.entered)).encode())
    key = found.key(f"whole:{kind}", "", digest.hexdigest()[:32], start, end, today)
    cache = caches[CACHE]
    value = cache.get(key)
    if value is None:
        value = compute()
        if value is not None:
            cache.set(key, value)
    return value


def _summed(found, start, end, today, *, entered, kept_only=False):
    """The Figures (without its scope) added up from the counties' parts of `found`, with
    the figures entered per organization when `entered`; None when the parts do not add up, or
    when `kept_only` and one is not in the cache (unless filling(): warm_parts keeps them all)."""
    compute = None if kept_only and not _filling.get() else _county_figures(start, end, today)
    parts = _fetch(found, "figures", start, end, today, compute)
    if not parts:
        return None
    # A pairing of two counties in the scope, or a branch outside them paired in two: its
    # members would count in both parts.
    crossing = [pk for part in parts.values() for pk in part.cross]
    shared = [path for part in parts.values() for path in part.outside]
    if len(crossing) != len(set(crossing)) or len(shared) != len(set(shared)):
        return None
    fig = _add_up([part.figures for part in parts.values()], start, end)
    if entered:
        # The counties' own (stocks and flows entered per organization), and those of the
        # organizations above them in the scope.
        totals = [part.entered for part in parts.values()]
        if found.uppers:
            uppers = Organization.objects.alive().filter(pk__in=found.uppers)
            totals.append(figures.period_figures(uppers, start, end))
        for outcome in fig.outcomes:
            outcome.value += sum(t.get(outcome.metric.pk, 0) for t in totals)
    fig.count_tallies = compliance.summed(part.tallies for part in parts.values())
    fig.__dict__["rollup"] = compliance.Rollup.added_up(
        [part.rollup for part in parts.values()], start, end
    )
    # A pairing lies in one county: the scope's first few are among the counties' first few.
    fig.__dict__["overdue"] = tuple(
        sorted(
            (row for part in parts.values() for row in part.overdue[i]), key=lambda r: (-r[1], r[0])
        )[: figures.OVERDUE_LIMIT]
        for i in (0, 1)
    )
    return fig


def _add_up(parts, start, end):
    """One Figures from the counties' (same start, end and today: same regimes, categories,
    metrics and months, in the same order)."""
    first = parts[0]

    def total(name):
        return sum(getattr(part, name) for part in parts)

    def counts(name):
        """[(label, Σ count)] of a list of (label, count) alike in every part."""
        rows = [getattr(part, name) for part in parts]
        return [(column[0][0], sum(n for _, n in column)) for column in zip(*rows, strict=True)]

    return replace(
        first,
        start=start,
        end=end,
        **{
            name: total(name)
            for name in (
                "pairings",
                "organ_branches",
                "village_branches",
                "members",
                "participants",
                "activities",
                "villagers",
                "deeds_done",
                "deeds_amount",
                "open_rectifications",
                "overdue_rectifications",
                "open_commitments",
                "overdue_commitments",
            )
        },
        by_regime=counts("by_regime"),
        by_category=counts("by_category"),
        monthly=counts("monthly"),
        outcomes=[
            figures.OutcomeTotal(column[0].metric, sum(o.value for o in column))
            for column in zip(*(part.outcomes for part in parts), strict=True)
        ],
        extra={},
        # Each part's own (widened when it was computed); () when they differ, and a reader of
        # the whole scope widens afresh (facts()).
        counted_range=first.counted_range
        if all(part.counted_range == first.counted_range for part in parts)
        else (),
    )


def _counties_facts(fig, compute_facts):
    """compute(counties) of the facts' parts of `counties` ([(id, path)]) of a Figures made of
    parts, {id: {pairing id: facts}}: compute_facts() of all their pairings at once, live (the
    facts are each pairing's own, whatever the scope), split by county, a pairing of two
    counties in both."""
    _, start, end, today = fig.scope

    def compute(counties):
        pairings = _pairings_under([Organization(pk=pk, path=path) for pk, path in counties])
        scope = (pairings, start, end, today)
        # The parts' range as the summaries read it (widened once: the probe reads activities).
        counted_range = fig.counted_range or summaries.whole_months(start, end)
        found = compute_facts(replace(fig, plan=None, scope=scope, counted_range=counted_range))
        return {
            county: {pk: found[pk] for pk in pairings_held}
            for county, pairings_held in _held(pairings, counties).items()
        }

    return compute


def _some(found, pks):
    """The plan of those of the counties of `found` whose ids are `pks`."""
    return Plan(found.installation, tuple(c for c in found.counties if c[0] in pks))


def facts(fig, compute_facts):
    """{pairing id: PairingFacts} of a Figures made of parts, the counties' facts from the cache
    or computed together where missing (_counties_facts)."""
    _, start, end, today = fig.scope
    found_facts = _fetch(fig.plan, "facts", start, end, today, _counties_facts(fig, compute_facts))
    merged = {}
    for part in found_facts.values():
        merged.update(part)
    return dict(sorted(merged.items(), key=lambda item: item[1].code))


def counted(fig, compute_facts, count, settings_key):
    """[count(a county's facts) for each county] of a Figures made of parts, each from the cache
    or counted from the county's facts (themselves from the cache or computed together).
    `settings_key` names what else `count` depends on (its thresholds)."""
    _, start, end, today = fig.scope
    county_facts = _counties_facts(fig, compute_facts)

    def compute(counties):
        some = _some(fig.plan, {pk for pk, _ in counties})
        found = _fetch(some, "facts", start, end, today, county_facts)
        return {pk: count(facts) for pk, facts in found.items()}

    def counts():
        kind = f"counted:{settings_key}"
        return list(_fetch(fig.plan, kind, start, end, today, compute).values())

    return _whole(fig.plan, f"counted:{settings_key}", start, end, today, counts)
