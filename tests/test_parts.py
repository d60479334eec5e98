"""A wide scope's figures added up from the counties' cached parts equal the live computation,
whatever was written since the parts were cached (reports.parts, reports.stamps)."""

import datetime
import random
import re
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from activities import compliance, workflow
from activities.models import (
    Activity,
    Commitment,
    Outcome,
    Participation,
    PeriodFigure,
    Regime,
    RegimeCadence,
)
from pairings import access
from pairings.models import Assignment, Organization, PairingSuspension
from reports import figures, parts, situation, stamps
from tests.factories import (
    make_branch,
    make_commitment,
    make_inspection,
    make_member,
    make_org,
    make_pairing,
    make_period_figure,
    make_rectification,
    make_submitted_activity,
    make_user,
    metric,
)

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 5, 20)
RANGES = [
    (datetime.date(2025, 1, 1), datetime.date(2025, 12, 31)),
    (datetime.date(2025, 3, 10), TODAY),  # odd days at both ends
    (datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)),  # the year so far
]
DAYS = [datetime.date(2025, 1, 31), datetime.date(2025, 3, 9), datetime.date(2025, 3, 10),
        datetime.date(2025, 6, 30), datetime.date(2025, 11, 3), datetime.date(2026, 2, 14)]  # fmt: skip
REGIMES = ["activity_day", "cross_learning", "joint_meeting", "daily_help", None]
SCALARS = ["pairings", "organ_branches", "village_branches", "members", "participants",
           "activities", "villagers", "by_regime", "by_category", "monthly", "deeds_done",
           "deeds_amount", "open_rectifications", "overdue_rectifications", "open_commitments",
           "overdue_commitments"]  # fmt: skip


def make_region(counties=2):
    """A city committee above `counties` counties, each with two townships' pairings."""
    from types import SimpleNamespace

    region = Organization.objects.add_root(
        {"code": "R1", "name": "中共青山市委", "kind": "committee", "sector": "other"}
    )
    w = SimpleNamespace(region=region, counties=[], pairings=[], members={}, branches=[])
    for n in range(counties):
        county = make_org(region, kind="county", sector="other", name=f"第{n + 1}县委")
        organs = make_org(county, kind="working_committee", sector="organ", name="县直机关工委")
        for t in range(2):
            township = make_org(county, kind="committee", sector="rural", name=f"第{t + 1}镇党委")
            organ = make_branch(organs, name=f"县局{t + 1}党支部")
            village = make_branch(township, sector="rural", name=f"村{t + 1}党支部")
            pairing = make_pairing(organ, village)
            w.pairings.append(pairing)
            w.branches += [organ, village]
            w.members[pairing.pk] = [make_member(organ), make_member(village), make_member(village)]
        w.counties.append(county)
    for county in w.counties:  # a county made later may sort first and move the others (paths_of)
        county.refresh_from_db()
    w.staff = make_user(role=Assignment.Role.COUNTY_STAFF, org=region)
    return w


def paths_of(*organizations):
    """The organizations' paths as the database holds them, in order: an organization made
    later may sort before them (by code: "O100" < "O99") and move them, which leaves the
    objects' paths stale."""
    pks = [org.pk for org in organizations]
    return sorted(Organization.objects.filter(pk__in=pks).values_list("path", flat=True))


def problem_counts(facts):
    return situation.ProblemCounts.of(situation.problem_pairings(facts, *situation.thresholds()))


def assert_same(roots, pairings, organizations=None):
    """The parts' figures (from the cache where it holds them, computed where not, however many
    are missing) equal the live ones."""
    with parts.filling():
        _assert_same(roots, pairings, organizations)


def _assert_same(roots, pairings, organizations):
    for start, end in RANGES:
        live = figures.compute(pairings, start, end, today=TODAY, organizations=organizations)
        got = parts.compute(roots, pairings, start, end, today=TODAY, organizations=organizations)
        assert got.plan is not None
        for name in SCALARS:
            assert getattr(got, name) == getattr(live, name), (name, start, end)
        assert [(o.metric.code, o.value) for o in got.outcomes] == [
            (o.metric.code, o.value) for o in live.outcomes
        ]
        assert got.rollup.by_regime() == live.rollup.by_regime()
        assert got.rollup.at_risk == live.rollup.at_risk
        assert got.overdue == live.overdue
        # Every row a table by organization can have: the committees at every level, and the
        # branches right under a county (the parts keep no other branch's sums).
        counties = {c.path for c in Organization.objects.filter(kind="county")}
        rows = [
            org
            for org in Organization.objects.all()
            if not org.is_branch or org.path[: -Organization.steplen] in counties
        ]
        assert got.rollup.by_organization(rows) == live.rollup.by_organization(rows)
        assert figures.counts_by_organization(got, rows) == figures.counts_by_organization(
            live, rows
        )
        assert situation.pairing_facts(got) == situation.pairing_facts(live)
        # The report's problems as counted from the counties' counts.
        counted = parts.counted(got, situation.pairing_facts, problem_counts, "defaults")
        assert situation.ProblemCounts.added_up(counted) == problem_counts(
            situation.pairing_facts(live)
        )


class RandomWriter:
    """Every kind of write the figures read, in two counties, chosen at random."""

    def __init__(self, rng, world):
        self.rng, self.w = rng, world
        self.metrics = [metric("training"), metric("donation_money")]
        self.staff = world.staff

    def pairing(self):
        return self.rng.choice(self.w.pairings)

    def pick(self, **filters):
        rows = list(Activity.objects.filter(**filters).order_by("pk"))
        return self.rng.choice(rows) if rows else None

    def create(self):
        pairing = self.pairing()
        activity = make_submitted_activity(
            pairing,
            self.rng.choice(REGIMES),
            self.rng.choice(DAYS),
            status=self.rng.choice(Activity.Status.values),
            on_time=self.rng.random() < 0.7,
            villager_count=self.rng.randint(0, 30),
            category=self.rng.choice(Activity.Category.values),
        )
        for member in self.rng.sample(self.w.members[pairing.pk], 2):
            Participation.objects.create(activity=activity, member=member)
        Outcome.objects.create(
            activity=activity, metric=self.rng.choice(self.metrics), value=Decimal("12.50")
        )

    def confirm(self):
        if activity := self.pick(status="submitted", deleted_at__isnull=True):
            workflow.confirm_activity(activity=activity, by=self.staff)

    def give_back(self):
        if activity := self.pick(status="submitted", deleted_at__isnull=True):
            workflow.return_activity(activity=activity, by=self.staff, reason="请补充照片。")

    def trash(self):
        if activity := self.pick(deleted_at__isnull=True):
            workflow.trash_activity(activity=activity, by=self.staff)

    def restore(self):
        if activity := self.pick(deleted_at__isnull=False):
            workflow.restore_activity(activity=activity, by=self.staff)

    def delete(self):
        if activity := self.pick(inspection__isnull=True):
            activity.delete()

    def redate(self):
        """A queryset update: no save(), no signal."""
        if activity := self.pick():
            Activity.objects.filter(pk=activity.pk).update(date=self.rng.choice(DAYS))

    def end_pairing(self):
        pairing = self.pairing()
        pairing.end_date = self.rng.choice([None, datetime.date(2025, 8, 31)])
        pairing.save()

    def suspend(self):
        PairingSuspension.objects.create(
            pairing=self.pairing(),
            start_date=datetime.date(2025, 4, 1),
            end_date=datetime.date(2025, 5, 31),
            reason="村党支部换届",
        )

    def lift_suspensions(self):
        PairingSuspension.objects.filter(pairing=self.pairing()).delete()

    def add_member(self):
        pairing = self.pairing()
        self.w.members[pairing.pk].append(
            make_member(self.rng.choice([pairing.helper, pairing.helped]))
        )

    def trash_member(self):
        pairing = self.pairing()
        member = self.rng.choice(self.w.members[pairing.pk])
        member.deleted_at = datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC)
        member.save()

    def commit(self):
        make_commitment(
            self.pairing(),
            status=self.rng.choice(["planned", "in_progress", "done"]),
            done_on=datetime.date(2025, 7, 1),
            due_date=self.rng.choice([datetime.date(2025, 9, 30), datetime.date(2026, 9, 30)]),
        )

    def finish_commitment(self):
        if row := Commitment.objects.filter(status="planned").order_by("pk").first():
            row.status, row.done_on = "done", datetime.date(2025, 10, 8)
            row.save()

    def inspect(self):
        pairing = self.pairing()
        year = self.rng.choice([2025, 2026])
        if pairing.inspections.filter(year=year).exists():
            return
        make_rectification(make_inspection(pairing, year=year, date=datetime.date(year, 2, 10)))

    def enter_figure(self):
        """A figure entered per organization: a county's branch or the city above them."""
        organization = self.rng.choice([self.w.region, *self.w.branches])
        period = self.rng.choice(["2025", "2025-H2", "2026-Q1"])
        PeriodFigure.objects.filter(organization=organization, period=period).delete()
        make_period_figure(
            organization,
            self.rng.choice(["rubber_area", "donation_money"]),
            period,
            value=Decimal(self.rng.randint(1, 900)),
        )

    def step(self):
        action = self.rng.choice(
            [self.create, self.create, self.create, self.confirm, self.give_back, self.trash,
             self.restore, self.delete, self.redate, self.end_pairing, self.suspend,
             self.lift_suspensions, self.add_member, self.trash_member, self.commit,
             self.finish_commitment, self.inspect, self.enter_figure]
        )  # fmt: skip
        action()
        return action.__name__


@pytest.mark.parametrize("seed", [1, 2])
def test_parts_equal_the_live_figures_after_random_writes(seed):
    w = make_region()
    writer = RandomWriter(random.Random(seed), w)
    roots = (w.region.path,)
    pairings = access.pairings_under(w.region)
    organizations = Organization.objects.alive().under(w.region)
    done = []
    for _ in range(40):
        done.append(writer.step())
        # After every write: the parts cached before it must not be read again.
        assert_same(roots, pairings, organizations)
    assert len(set(done)) >= 12
    for county in w.counties:  # the ids a county's part reads are those of pairings_under()
        assert sorted(access.pairing_ids_under(county)) == sorted(
            access.pairings_under(county).values_list("pk", flat=True)
        )


@pytest.mark.parametrize("seed", [3, 4])
def test_the_counties_parts_computed_together_equal_each_county_s_own_figures(seed):
    """compute_split() over five counties at once (as a cold page or warm_parts computes them)
    gives each county what compute() gives for its pairings alone: pairings across two counties
    (at two depths), a county without pairings, figures entered by the counties themselves, more
    pairings with overdue deeds than a county names, and the counties written in at random;
    which the sums of the parts never meet (such a scope is computed live)."""
    w = make_region(counties=3)
    city = make_org(w.region, kind="committee", sector="other", name="市辖区党委")
    deep = make_org(city, kind="county", sector="other", name="深县县委")
    organs = make_org(deep, kind="working_committee", sector="organ", name="县直机关工委")
    village = make_branch(make_org(deep, kind="committee", sector="rural"), sector="rural")
    for helper, helped in [(w.branches[0], w.branches[5]), (make_branch(organs), village),
                           (w.branches[0], village)]:  # fmt: skip
        w.pairings.append(make_pairing(helper, helped))
        w.members[w.pairings[-1].pk] = [make_member(helper), make_member(helped)]
    crossing = w.pairings[-3]  # counties 1 and 2
    more = make_org(w.counties[0], kind="working_committee", sector="organ", name="第二工委")
    for _ in range(figures.OVERDUE_LIMIT + 2):  # the first county's pairings with overdue deeds
        pairing = make_pairing(make_branch(more), w.branches[1])
        make_commitment(pairing, status="planned", due_date=datetime.date(2025, 9, 30))
    # and one of the third county's, after them in the province's order (-n, id)
    make_commitment(w.pairings[4], status="planned", due_date=datetime.date(2025, 9, 30))
    empty = make_org(w.region, kind="county", sector="other", name="新设县委")
    w.counties += [deep, empty]
    make_period_figure(w.counties[0], "rubber_area", "2025", value=Decimal("7"))
    make_period_figure(deep, "donation_money", "2025", value=Decimal("3.33"))
    writer = RandomWriter(random.Random(seed), w)
    for _ in range(40):
        writer.step()
    w.counties = [Organization.objects.get(pk=c.pk) for c in w.counties]
    counties = [(c.pk, c.path) for c in w.counties]
    assert len({len(path) for _, path in counties}) == 2
    for start, end in [*RANGES, (datetime.date(2025, 3, 10), datetime.date(2025, 11, 3))]:
        compute = parts._county_figures(start, end, TODAY)
        together = compute(counties)
        # Each alone (its queries group by nothing) gives the same part.
        assert together == {pk: compute([(pk, path)])[pk] for pk, path in counties}
        # The report's facts, computed for the three at once and split.
        region = figures.compute(access.pairings_under(w.region), start, end, today=TODAY)
        facts = parts._counties_facts(region, situation.pairing_facts)(counties)
        # The compliance summary's lists, the counties of each depth in one query.
        day = end if end <= TODAY else TODAY
        lists = {}
        for length in {len(path) for _, path in counties}:
            pairings = access.pairings_with_ids(
                access.pairing_ids_under(*[c for c in w.counties if len(c.path) == length])
            )
            lists.update(compliance.short_lists_by_county(pairings, day, length, limit=3))
        for county in w.counties:
            got = together[county.pk]
            live = figures.compute(access.pairings_under(county), start, end, today=TODAY)
            for name in SCALARS:
                assert getattr(got.figures, name) == getattr(live, name), (name, county.name)
            assert got.figures.outcomes == live.outcomes
            assert got.figures.counted_range == live.counted_range
            lean = live.rollup.lean(county.path)
            assert (got.rollup.regime_rows, got.rollup.cadenced) == (
                lean.regime_rows,
                lean.cadenced,
            )
            assert got.rollup.lean_tallies == lean.lean_tallies
            assert got.rollup.at_risk == lean.at_risk
            assert got.overdue == live.overdue
            rows = figures.pairing_counts(live)
            assert got.tallies == figures.count_tallies(rows, county_path=county.path)
            inside = {
                pk
                for pk, h, v, *_ in rows
                if h.startswith(county.path) == v.startswith(county.path)
            }
            assert got.cross == {pk for pk, *_ in rows} - inside
            organizations = Organization.objects.alive().under(county)
            assert got.entered == figures.period_figures(organizations, start, end)
            assert facts[county.pk] == situation.pairing_facts(live)
            own = compliance.short_lists(access.pairings_under(county), day, limit=3)
            assert lists.get(county.path, compliance.ShortLists([], 0, [], 0)) == own
    parts_of = parts._county_figures(*RANGES[0], TODAY)(counties)
    assert [crossing.pk in parts_of[c.pk].cross for c in w.counties] == [
        True, True, False, False, False
    ]  # fmt: skip
    assert len(parts_of[w.counties[0].pk].overdue[0]) == figures.OVERDUE_LIMIT
    assert parts_of[w.counties[0].pk].entered and parts_of[deep.pk].entered


def test_a_list_of_pairing_ids_is_one_parameter_however_long():
    w = make_region()
    for pairing in w.pairings:
        make_submitted_activity(pairing, "activity_day", datetime.date(2025, 3, 5))
    ids = sorted(access.pairing_ids_under(w.counties[0]))
    assert len(ids) > 1
    for chosen in (ids, ids[:1], [*ids, 10**9], []):
        pairings = access.pairings_with_ids(chosen)
        assert sorted(pairings.values_list("pk", flat=True)) == [pk for pk in chosen if pk in ids]
        # As a subquery of another table, and as the ids themselves (pairing_in), as the parts
        # use them; a filtered copy holds fewer pairings, so it is a subquery again.
        activities = Activity.objects.filter(pairing__in=pairings.values("pk"))
        assert activities.count() == len(pairings)
        assert Activity.objects.filter(access.pairing_in("pairing", pairings)).count() == len(
            pairings
        )
        fewer = pairings.filter(pk__in=ids[:1])
        assert Activity.objects.filter(access.pairing_in("pairing", fewer)).count() == len(fewer)
    # The ids go to the database as one parameter (an array, or JSON for SQLite), not one each:
    # a county's 300 ids cost more to compile and quote than its queries took to run.
    _, params = access.pairings_with_ids(ids).query.sql_with_params()
    assert len(params) == 1


def test_each_write_renews_the_stamp_of_its_county_only():
    w = make_region()
    first, second = w.counties
    pairing = w.pairings[0]  # in the first county

    def renewed(write):
        before = stamps.read()
        with transaction.atomic():
            write()
        after = stamps.read()
        return {key for key in after if after[key] != before.get(key)}

    first_only = {first.pk}
    day = datetime.date(2025, 3, 5)
    assert renewed(lambda: make_submitted_activity(pairing, "activity_day", day)) == first_only
    activity = Activity.objects.get(pairing=pairing)
    assert (
        renewed(
            lambda: Participation.objects.create(activity=activity, member=w.members[pairing.pk][0])
        )
        == first_only
    )
    assert renewed(lambda: make_commitment(pairing)) == first_only
    inspection = make_inspection(pairing)
    assert renewed(lambda: make_rectification(inspection)) == first_only
    assert renewed(lambda: make_member(pairing.helper)) == first_only
    assert (
        renewed(
            lambda: PairingSuspension.objects.create(pairing=pairing, start_date=day, reason="换届")
        )
        == first_only
    )
    # A figure entered per organization: its county's, and the stamp of entered figures (the
    # city's own figures lie in no county).
    assert renewed(lambda: make_period_figure(pairing.helper, "rubber_area", "2025")) == {
        first.pk,
        stamps.ENTERED,
    }
    assert renewed(lambda: make_period_figure(w.region, "rubber_area", "2025")) == {stamps.ENTERED}
    # A pairing moved to the other county's branches renews both.
    other = w.pairings[2]
    pairing.helped = other.helped
    assert renewed(pairing.save) == {first.pk, second.pk}
    # An organization renamed, or given a child: its county. A branch with a partner across the
    # county line: both counties.
    township = Organization.objects.get(path=w.pairings[1].helped.path[:-4])  # the first's
    assert renewed(lambda: Organization.objects.filter(pk=township.pk).update(name="改名")) == {
        first.pk
    }
    assert renewed(lambda: make_branch(township, sector="rural")) == first_only
    branch = Organization.objects.filter(pk=pairing.helped_id)
    assert renewed(lambda: branch.update(name="改名")) == {first.pk, second.pk}
    # What may move branches between counties changes every county: the installation's stamp.
    both = {0, first.pk, second.pk}
    assert renewed(lambda: branch.update(kind=Organization.Kind.GENERAL_BRANCH)) == both
    assert renewed(lambda: branch.update(path=f"{other.helped.path[:-4]}9999")) == both
    assert renewed(lambda: branch.update(deleted_at=timezone.now())) == both
    assert renewed(lambda: Organization.objects.filter(pk=first.pk).update(name="改名县")) == {
        0,
        first.pk,
    }
    assert renewed(lambda: Organization.objects.filter(pk=w.region.pk).update(name="改名市")) == {0}
    renewed_by_new_county = renewed(lambda: make_org(w.region, name="新县", kind="county"))
    assert renewed_by_new_county == {0, Organization.objects.get(name="新县").pk}
    # Regimes and metrics change every county.
    regime = Regime.objects.get(code="joint_meeting")
    assert renewed(lambda: RegimeCadence.objects.filter(regime=regime).update(required=2)) == {0}
    # A write rolled back renews nothing.
    before = stamps.read()
    with pytest.raises(RuntimeError), transaction.atomic():
        make_submitted_activity(w.pairings[2], "activity_day", day)
        raise RuntimeError
    assert stamps.read() == before


def region_with_parts():
    """A region whose pairings each held a meeting, its parts in the cache: (w, roots, pairings)."""
    w = make_region()
    for pairing in w.pairings:
        make_submitted_activity(pairing, "joint_meeting", datetime.date(2025, 2, 10))
    roots, pairings = (w.region.path,), access.pairings_under(w.region)
    assert_same(roots, pairings)
    return w, roots, pairings


def test_a_rule_change_is_not_hidden_by_the_cached_parts():
    _, roots, pairings = region_with_parts()
    RegimeCadence.objects.filter(regime__code="joint_meeting").update(required=2)
    assert_same(roots, pairings)


def test_an_organization_change_is_not_hidden_by_the_cached_parts():
    # An organization's write that moves no branch between counties renews its county only;
    # the figures that read it (a branch's sector, the branches in the trash) still add up.
    w, roots, pairings = region_with_parts()
    organ = Organization.objects.filter(pk=w.pairings[0].helper_id)
    organ.update(sector="rural", name="改名党支部")  # counted as a village-side branch now
    assert_same(roots, pairings)
    make_member(make_branch(Organization.objects.get(path=w.pairings[0].helped.path[:-4])))
    assert_same(roots, pairings)
    organ.update(deleted_at=timezone.now())  # its pairing leaves everyone's scope
    assert_same(roots, pairings)


def test_a_pairing_of_two_counties_in_the_scope_is_counted_once_by_the_live_path():
    w = make_region()
    make_pairing(w.pairings[0].helper, w.pairings[2].helped)  # first county helps the second
    pairings = access.pairings_under(w.region)
    start, end = RANGES[0]
    got = parts.compute((w.region.path,), pairings, start, end, today=TODAY)
    live = figures.compute(pairings, start, end, today=TODAY)
    assert got.plan is None
    assert (got.pairings, got.members) == (live.pairings, live.members) == (5, 12)
    # One county alone still adds up from its part: the pairing counts there once.
    county = w.counties[0]
    one = access.pairings_under(county)
    assert_same((county.path,), one)


def test_a_scope_inside_a_county_or_with_branches_outside_counties_is_computed_live():
    w = make_region()
    township = Organization.objects.get(path=w.pairings[0].helped.path[:-4])
    assert parts.plan((township.path,)) is None
    assert parts.plan((w.region.path,)) is not None
    make_pairing(make_branch(w.region), make_branch(w.region, sector="rural"))
    assert parts.plan((w.region.path,)) is None  # a branch right under the city
    assert parts.plan((w.counties[0].path,)) is not None
    make_org(w.counties[0], kind="county", sector="other")  # a county inside a county
    assert parts.plan((w.counties[1].path,)) is None


def test_the_region_dashboard_shows_the_same_page_from_the_parts(client, monkeypatch):
    w = make_region()
    rng = random.Random(7)
    writer = RandomWriter(rng, w)
    for _ in range(30):
        writer.create()
    client.force_login(w.staff)
    url = reverse("home")
    with parts.filling():
        cached_page = client.get(
            url, {"period": "custom", "start": "2025-01-01", "end": "2025-12-31"}
        )
    assert cached_page.context["dashboard"]["figures"].plan is not None
    monkeypatch.setattr(parts, "plan", lambda roots: None)
    live_page = client.get(url, {"period": "custom", "start": "2025-01-01", "end": "2025-12-31"})
    assert live_page.context["dashboard"]["figures"].plan is None

    def text(page):  # the CSRF token is masked afresh on every page
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page.content.decode())

    assert "活动" in text(cached_page)
    assert text(cached_page) == text(live_page)


# The region's dashboard with every county's part in the cache (33 without, as pinned in
# tests/test_query_counts.py for a county): the session, user, roles and the set-up checklist
# (7), the regimes, the stamps, the scope lists, the few pairings named, the bell; nothing that
# reads the counties' data, nor the figures entered for the city itself (kept under their stamp).
WARM_DASHBOARD_QUERIES = 16


def test_a_dashboard_with_its_parts_in_the_cache_reads_no_summary(client):
    w = make_region(counties=3)
    writer = RandomWriter(random.Random(3), w)
    for _ in range(10):
        writer.create()
    client.force_login(w.staff)
    url = reverse("home")

    def reading_summaries(queries):
        return [q for q in queries.captured_queries if "activities_activitysummary" in q["sql"]]

    computed = []  # the counties of each pass of compute_split()

    def split(pairings, groups, *args, **kwargs):
        computed.append(sorted(groups))
        return compute_split(pairings, groups, *args, **kwargs)

    compute_split = figures.compute_split
    with mock.patch.object(figures, "compute_split", split):
        with CaptureQueriesContext(connection) as cold:  # computes and keeps them
            client.get(url)
        with CaptureQueriesContext(connection) as warm:
            assert client.get(url).status_code == 200
        # A write in one county: the next request computes that county's part, and only that.
        make_submitted_activity(w.pairings[0], "activity_day", datetime.date(2025, 6, 1))
        with CaptureQueriesContext(connection) as after_write:
            client.get(url)
    statements = " ".join(q["sql"] for q in warm.captured_queries)
    for table in ("activitysummary", "outcomesummary", "participantyear"):
        assert f"activities_{table}" not in statements
    assert len(warm.captured_queries) == WARM_DASHBOARD_QUERIES
    # The three missing parts in one pass, with as many reads of the summaries as one part.
    assert computed == [paths_of(*w.counties), paths_of(w.counties[0])]
    assert len(reading_summaries(cold)) == len(reading_summaries(after_write)) > 0


def test_the_compliance_summary_reads_the_dashboard_s_roll_up_from_the_parts(client):
    """The compliance summary's rates for every regime from the year's start: the dashboard's
    roll-up, read from the counties' parts (a county's own page rolls up live when its part is
    missing, a wide page computes the missing ones), equal to the live roll-up; with a range
    the year's parts do not hold, or one regime, rolled up live."""

    from activities import compliance

    w = make_region(counties=3)
    writer = RandomWriter(random.Random(5), w)
    for _ in range(30):
        writer.create()
    roots, pairings = (w.region.path,), access.pairings_under(w.region)
    organizations = list(Organization.objects.exclude(kind__in=Organization.BRANCH_KINDS))
    today = datetime.date(2025, 11, 3)
    start, year = datetime.date(2025, 1, 1), parts.year_of(today)
    # With no part kept: rolled up live, and the county's figures not computed for the
    # dashboard (a single county's missing part is otherwise computed on the spot).
    county = (w.counties[0].path,)
    in_county = access.pairings_under(w.counties[0])
    got = parts.rollup(parts.plan(county), in_county, start, today, today=today)
    assert got.total() == compliance.rollup(in_county, start, today, today=today).total()
    assert parts._fetch(parts.plan(county), "figures", *year, today, None) is None
    with parts.filling():  # as under warm_parts: the missing part computed and kept
        parts.rollup(parts.plan(county), in_county, start, today, today=today)
    assert parts._fetch(parts.plan(county), "figures", *year, today, None) is not None
    # A wide scope computes its missing parts (together) and keeps them.
    assert parts._fetch(parts.plan(roots), "figures", *year, today, None) is None
    parts.rollup(parts.plan(roots), pairings, start, today, today=today)
    assert parts._fetch(parts.plan(roots), "figures", *year, today, None) is not None
    for start, end in [
        (datetime.date(2025, 1, 1), today),  # the summary's default range
        (datetime.date(2025, 1, 1), datetime.date(2025, 12, 31)),
        (datetime.date(2025, 1, 1), datetime.date(2025, 11, 30)),
        (datetime.date(2025, 2, 1), today),  # not the year's: live
        (datetime.date(2025, 1, 1), datetime.date(2025, 6, 30)),  # periods ended later: live
    ]:
        with CaptureQueriesContext(connection) as queries:
            got = parts.rollup(parts.plan(roots), pairings, start, end, today=today)
        live = compliance.rollup(pairings, start, end, today=today)
        assert (got.start, got.end) == (start, end)
        assert got.by_regime() == live.by_regime()
        assert got.total() == live.total()
        assert got.by_organization(organizations) == live.by_organization(organizations)
        assert got.at_risk == live.at_risk
        from_parts = start.month == 1 and end >= today
        summaries_read = "activities_activitysummary" in " ".join(
            q["sql"] for q in queries.captured_queries
        )
        assert summaries_read is not from_parts, (start, end)
    due = compliance.rollup(pairings, datetime.date(2025, 1, 1), today, today=today).total()[0]
    assert due.den > 0
    # The page: the parts' rates; with one regime chosen, live.
    client.force_login(w.staff)
    with mock.patch("django.utils.timezone.localdate", return_value=today):
        for query, from_parts in [({}, True), ({"regime": "joint_meeting"}, False)]:
            with CaptureQueriesContext(connection) as queries:
                page = client.get(reverse("compliance"), query)
            codes = {"joint_meeting"} if query else None
            live = compliance.rollup(
                pairings, datetime.date(2025, 1, 1), today, today=today, regime_codes=codes
            )
            assert page.context["by_regime"] == live.by_regime()
            assert page.context["total"] == live.total()
            summaries_read = "WITH per (regime_id, pstart" in " ".join(
                q["sql"] for q in queries.captured_queries
            )
            assert summaries_read is not from_parts


def test_the_compliance_summary_lists_add_up_from_the_counties_lists():
    """The lists of regimes not done this period and missed last period, merged from each
    county's first few, equal the scope's read live; with a pairing of two counties of the scope
    short, live."""
    from activities import compliance

    w = make_region(counties=3)
    writer = RandomWriter(random.Random(11), w)
    for _ in range(30):
        writer.create()
    roots, pairings = (w.region.path,), access.pairings_under(w.region)
    today = datetime.date(2025, 11, 3)

    def both(limit):
        with CaptureQueriesContext(connection) as queries, parts.filling():
            got = parts.short_lists(parts.plan(roots), pairings, today, limit=limit)
        return got, compliance.short_lists(pairings, today, limit=limit), queries

    for limit in (2, 5, None):
        got, live, _ = both(limit)
        assert got == live
        assert got.not_done_total > 5 and got.missed_total > 5
    _, _, warm = both(5)  # read from the cache: no summary read
    assert "activities_activitysummary" not in " ".join(q["sql"] for q in warm.captured_queries)
    # A write in one county: its lists computed again, the others' read from the cache.
    make_submitted_activity(w.pairings[0], "activity_day", datetime.date(2025, 11, 1))
    got, live, queries = both(5)
    assert got == live
    assert sum("WITH per (regime_id, which" in q["sql"] for q in queries.captured_queries) == 1
    # A pairing of the first county's organ branch and the second's village, short this month:
    # both counties' lists computed again (together, one query), then the scope's read live.
    make_pairing(w.branches[0], w.branches[5], start_date=datetime.date(2025, 1, 1))
    got, live, queries = both(5)
    assert got == live
    assert sum("WITH per (regime_id, which" in q["sql"] for q in queries.captured_queries) == 2


def test_the_counties_missing_lists_are_computed_together_and_kept():
    """The compliance summary's lists of the counties missing from the cache come from one
    query (ranked by county) and are kept: the next page reads them all; after a write in one
    county, that county's alone is computed again."""
    from activities import compliance

    w = make_region(counties=3)
    for pairing in w.pairings:
        make_submitted_activity(pairing, "activity_day", datetime.date(2025, 10, 8))
    roots, pairings = (w.region.path,), access.pairings_under(w.region)
    today = datetime.date(2025, 11, 3)

    def lists():
        """The queries that read lists for the region's page."""
        with CaptureQueriesContext(connection) as queries:
            got = parts.short_lists(parts.plan(roots), pairings, today, limit=5)
        assert got == compliance.short_lists(pairings, today, limit=5)
        return sum("WITH per (regime_id, which" in q["sql"] for q in queries.captured_queries)

    assert lists() == 1  # the three counties', in one query
    assert lists() == 0  # kept
    make_submitted_activity(w.pairings[2], "activity_day", datetime.date(2025, 11, 1))
    assert lists() == 1  # the second county's
    assert lists() == 0


def test_a_wide_scope_computes_every_missing_part_in_one_pass_and_keeps_them():
    """However many counties' parts are missing (the first request of the day, or after a change
    to the organizations), the figures of a wide scope are added up from its parts: the missing
    ones computed together and kept, so the next request reads them all from the cache."""
    w = make_region(counties=3)
    roots, pairings = (w.region.path,), access.pairings_under(w.region)
    start, end = RANGES[0]
    computed = []

    def compute():
        computed.clear()
        return parts.compute(roots, pairings, start, end, today=TODAY)

    def split(pairings, groups, *args, **kwargs):
        computed.append(sorted(groups))
        return compute_split(pairings, groups, *args, **kwargs)

    compute_split = figures.compute_split
    with mock.patch.object(figures, "compute_split", split):
        assert compute().plan is not None  # nothing in the cache: all three, in one pass
        assert computed == [paths_of(*w.counties)]
        assert compute().plan is not None  # all three kept (and their sum)
        assert computed == []
        make_submitted_activity(w.pairings[0], "activity_day", datetime.date(2025, 6, 1))
        make_submitted_activity(w.pairings[2], "activity_day", datetime.date(2025, 6, 1))
        assert compute().plan is not None  # two counties written in since: those two, together
        assert computed == [paths_of(*w.counties[:2])]
    assert_same(roots, pairings)


@pytest.mark.parametrize("other_request", ["finishes", "dies"])
def test_a_request_waits_for_the_parts_another_request_is_computing(other_request):
    """Two wide pages at once with their parts missing (the first requests of the day): the
    second waits for the parts the first is computing and reads them, instead of computing
    them too; if the first dies, the second computes them itself."""
    w = make_region(counties=3)
    roots, pairings = (w.region.path,), access.pairings_under(w.region)
    start, end = RANGES[0]
    found = parts.plan(roots)
    keys = {
        found.key("figures", pk, token, start, end, TODAY): (pk, path)
        for pk, path, token in found.counties
    }
    cache = caches[parts.CACHE]
    assert cache.add(parts._lock(keys), True)  # the first request is computing them
    theirs = parts._county_figures(start, end, TODAY)(list(keys.values()))
    waited = []

    def meanwhile(seconds):
        waited.append(seconds)
        if other_request == "finishes":
            cache.set_many({key: theirs[pk] for key, (pk, _) in keys.items()})
        cache.delete(parts._lock(keys))

    computed = []

    def split(pairings, groups, *args, **kwargs):
        computed.append(sorted(groups))
        return compute_split(pairings, groups, *args, **kwargs)

    compute_split = figures.compute_split
    with (
        mock.patch.object(parts.time, "sleep", meanwhile),
        mock.patch.object(figures, "compute_split", split),
    ):
        fig = parts.compute(roots, pairings, start, end, today=TODAY)
    assert fig.plan is not None
    assert waited == [parts.LOCK_POLL]
    assert computed == ([] if other_request == "finishes" else [paths_of(*w.counties)])
    assert cache.get(parts._lock(keys)) is None
    assert_same(roots, pairings)


def test_warm_parts_computes_the_day_s_parts_before_the_first_request(client):
    w = make_region()
    RandomWriter(random.Random(5), w).create()
    out = StringIO()
    call_command("warm_parts", stdout=out)
    assert "2 个县的数字已算好" in out.getvalue()
    client.force_login(w.staff)
    for url, query in [(reverse("home"), {"period": "year"}), (reverse("compliance"), {})]:
        with CaptureQueriesContext(connection) as first:
            assert client.get(url, query).status_code == 200
        assert not any("activities_activitysummary" in q["sql"] for q in first.captured_queries)


def test_a_county_without_pairings_adds_nothing():
    w = make_region()
    empty = make_org(w.region, kind="county", sector="other", name="新设县委")
    assert empty.pk in stamps.read()  # stamped when made, before anything is written in it
    pairings = access.pairings_under(w.region)
    assert_same((w.region.path,), pairings)
    assert_same((empty.path,), access.pairings_under(empty))


def test_a_branch_right_under_a_county_keeps_its_row_in_the_county_s_tables():
    """The parts keep sums by organization, not a row per pairing: for a branch only when it
    lies right under its county, where a county's table lists it beside the committees."""
    w = make_region()
    county = w.counties[0]
    office = make_branch(county, name="县委办党支部")
    make_member(office)
    village = w.branches[1]
    pairing = make_pairing(office, village, start_date=datetime.date(2025, 1, 1))
    make_submitted_activity(pairing, "joint_meeting", datetime.date(2025, 2, 3))
    assert_same((county.path,), access.pairings_under(county))
    assert_same((w.region.path,), access.pairings_under(w.region))

    start, end = RANGES[0]
    with parts.filling():
        got = parts.compute((county.path,), access.pairings_under(county), start, end, today=TODAY)
    assert got.plan is not None
    rate, _ = got.rollup.by_organization([office])[office]
    assert rate.den > 0  # the office's pairing had periods due
    assert figures.counts_by_organization(got, [office])[office][0] == 1


def province_with_a_department():
    """A province's own department branch (under no county) helping a village in each of a
    city's two counties: the city sees it as a partner outside its counties."""
    province = Organization.objects.add_root(
        {"code": "P1", "name": "中共青山省委", "kind": "committee", "sector": "other"}
    )
    organs = make_org(province, kind="working_committee", sector="organ", name="省直机关工委")
    department = make_branch(organs, name="省厅党支部")
    make_member(department)
    city = make_org(province, kind="committee", sector="other", name="中共青山市委")
    counties = []
    for n in range(2):
        county = make_org(city, kind="county", sector="other", name=f"第{n + 1}县委")
        village = make_branch(make_org(county, kind="committee", sector="rural"), sector="rural")
        make_member(village)
        make_pairing(department, village)
        counties.append(county)
    return city, department, counties


def test_a_partner_outside_the_counties_paired_in_two_of_them_is_counted_once():
    city, _, _ = province_with_a_department()
    pairings = access.pairings_under(city)
    start, end = RANGES[0]
    with parts.filling():
        got = parts.compute((city.path,), pairings, start, end, today=TODAY)
    live = figures.compute(pairings, start, end, today=TODAY)
    assert got.plan is None  # the department's members would count in both counties' parts
    assert (got.organ_branches, got.members) == (live.organ_branches, live.members) == (1, 3)


def test_a_member_of_a_partner_branch_renews_the_counties_it_is_paired_in():
    _, department, counties = province_with_a_department()
    county = counties[0]
    assert_same((county.path,), access.pairings_under(county))  # the county's part is kept
    before = stamps.read()
    make_member(department)  # under no county, paired in both
    after = stamps.read()
    assert {key for key in after if after[key] != before.get(key)} == {c.pk for c in counties}
    assert_same((county.path,), access.pairings_under(county))


def test_a_member_who_moved_counts_where_they_are_now():
    w = make_region()
    pairing = w.pairings[0]  # in the first county
    member = w.members[pairing.pk][1]
    activity = make_submitted_activity(pairing, None, datetime.date(2026, 2, 3))
    Participation.objects.create(activity=activity, member=member)
    member.branch = w.pairings[2].helped  # a village of the second county
    member.save()
    county = w.counties[1]
    roots, pairings = (county.path,), access.pairings_under(county)
    assert_same(roots, pairings)
    workflow.trash_activity(activity=activity, by=w.staff)  # written in the first county
    assert_same(roots, pairings)


def test_the_report_s_live_facts_read_the_range_as_it_is_now():
    w = make_region(counties=3)
    roots, pairings = (w.region.path,), access.pairings_under(w.region)
    start, end = datetime.date(2025, 3, 10), datetime.date(2025, 12, 31)
    make_submitted_activity(w.pairings[0], None, datetime.date(2025, 4, 2))
    with parts.filling():  # every county's part, read from whole months (no activity before)
        parts.compute(roots, pairings, start, end, today=TODAY)
    make_submitted_activity(w.pairings[-1], None, datetime.date(2025, 3, 5))  # before the range
    got = parts.compute(roots, pairings, start, end, today=TODAY)
    assert got.plan is not None  # 1 of 3 parts missing
    live = figures.compute(pairings, start, end, today=TODAY)
    assert situation.pairing_facts(got) == situation.pairing_facts(live)  # facts: most missing


def _kept_year_part(county, today):
    """The county's year part (what its dashboard reads by default) in the cache, or None."""
    found = parts.plan((county.path,))
    start, end = parts.year_of(today)
    key = found.key("figures", county.pk, found.counties[0][2], start, end, today)
    return caches[parts.CACHE].get(key)


def test_a_write_computes_its_county_s_year_part_before_it_answers(client):
    from tests.test_activity_views import activity_form, new_for

    w = make_region()
    first, second = w.counties
    pairing = w.pairings[0]  # in the first county
    today = timezone.localdate()
    client.force_login(make_user(role=Assignment.Role.SECRETARY, org=pairing.helper))
    response = client.post(
        new_for(pairing), activity_form(draft=None, submit="1", date=today.isoformat())
    )
    assert response.status_code == 302
    assert Activity.objects.get(pairing=pairing).status == Activity.Status.SUBMITTED
    part = _kept_year_part(first, today)
    assert part is not None and _kept_year_part(second, today) is None
    live = figures.compute(access.pairings_under(first), *parts.year_of(today), today=today)
    assert part.figures.activities == live.activities == 1
    assert part.figures.members == live.members == 6
    # The county's staff find the figures kept: their dashboard reads no summary.
    client.force_login(make_user(role=Assignment.Role.COUNTY_STAFF, org=first))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("home"))
    assert page.context["dashboard"]["figures"].activities == 1
    assert not [q for q in queries.captured_queries if "activities_activitysummary" in q["sql"]]


def test_a_change_every_county_reads_or_a_write_in_many_counties_is_left_to_the_background():
    w = make_region(counties=parts.REFRESH_LIMIT + 1)
    today = timezone.localdate()

    def write(pairings):
        before = stamps.read()
        for pairing in pairings:
            make_submitted_activity(pairing, "activity_day", today)
        return before

    # One pairing per county: w.pairings holds two per county.
    assert parts.refresh(write(w.pairings[:1]), today=today) == [w.counties[0].pk]
    assert parts.refresh(write(w.pairings[::2]), today=today) is None
    before = write(w.pairings[2:3])
    make_org(w.region, kind="committee", sector="rural", name="新设乡党委")  # every county's
    assert parts.refresh(before, today=today) is None
    assert parts.refresh(stamps.read(), today=today) == []  # nothing written
    assert all(_kept_year_part(county, today) is None for county in w.counties[1:])


def test_a_write_is_kept_and_answered_when_computing_its_part_fails(client, monkeypatch, caplog):
    from tests.test_activity_views import activity_form, new_for

    w = make_region()
    pairing = w.pairings[0]

    def fail(before, *, today):
        raise ConnectionError("缓存服务器无法连接")

    monkeypatch.setattr(parts, "refresh", fail)
    client.force_login(make_user(role=Assignment.Role.SECRETARY, org=pairing.helper))
    date = timezone.localdate().isoformat()
    response = client.post(new_for(pairing), activity_form(draft=None, submit="1", date=date))
    assert response.status_code == 302
    assert Activity.objects.filter(pairing=pairing, status=Activity.Status.SUBMITTED).exists()
    assert "computing the parts after POST" in caplog.text
