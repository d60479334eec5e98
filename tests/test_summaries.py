"""The summary tables stay equal to a from-scratch computation whatever writes the base rows."""

import datetime
import random
import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from activities import summaries, workflow
from activities.models import (
    Activity,
    ActivitySummary,
    Outcome,
    OutcomeSummary,
    ParticipantYear,
    Participation,
    Regime,
)
from tests.factories import (
    make_member,
    make_pairing,
    make_submitted_activity,
    make_two_pairing_county,
    metric,
)

pytestmark = pytest.mark.django_db

REGIMES = ["activity_day", "cross_learning", "joint_meeting", "daily_help", None]
DAYS = [datetime.date(2025, 1, 31), datetime.date(2025, 2, 1), datetime.date(2025, 2, 28),
        datetime.date(2025, 12, 31), datetime.date(2026, 1, 1), datetime.date(2026, 3, 15)]  # fmt: skip
STATUSES = list(Activity.Status.values)


class RandomWriter:
    """Writes the base tables every way the application does, chosen at random."""

    def __init__(self, rng, world):
        self.rng = rng
        self.w = world
        # The organ branch of pairing A also helps village B (pairing C): its members take part
        # in two pairings, and their participant rows are kept per pairing.
        world.pairing_c = make_pairing(world.organ_a, world.village_b)
        self.pairings = [world.pairing_a, world.pairing_b, world.pairing_c]
        self.members = {
            world.pairing_a.pk: [world.organ_a_member, world.village_a_member]
            + [make_member(world.village_a) for _ in range(3)],
            world.pairing_b.pk: [world.organ_b_member, world.village_b_member]
            + [make_member(world.organ_b) for _ in range(3)],
            world.pairing_c.pk: [world.organ_a_member, world.village_b_member]
            + [make_member(world.organ_a) for _ in range(2)],
        }
        self.metrics = [metric("training"), metric("donation_money"), metric("sugarcane")]
        self.log = []

    def activities(self, **filters):
        return list(Activity.objects.filter(**filters).order_by("pk"))

    def pick(self, **filters):
        rows = self.activities(**filters)
        return self.rng.choice(rows) if rows else None

    def step(self):
        action = self.rng.choice(
            [
                self.create, self.create, self.create, self.bulk_create, self.edit,
                self.confirm, self.give_back, self.submit, self.trash, self.restore,
                self.delete, self.move, self.bulk_update, self.attend, self.leave,
                self.outcome, self.outcome, self.drop_outcome,
            ]
        )  # fmt: skip
        action()
        self.log.append(action.__name__)

    def new_activity(self, pairing=None):
        pairing = pairing or self.rng.choice(self.pairings)
        activity = make_submitted_activity(
            pairing,
            self.rng.choice(REGIMES),
            self.rng.choice(DAYS),
            status=self.rng.choice(STATUSES),
            on_time=self.rng.random() < 0.7,
            villager_count=self.rng.randint(0, 40),
            category=self.rng.choice(Activity.Category.values),
        )
        return activity

    def create(self):
        activity = self.new_activity()
        for member in self.rng.sample(self.members[activity.pairing_id], 2):
            Participation.objects.create(activity=activity, member=member)

    def bulk_create(self):
        """As the importer and the demo write: many rows in one statement."""
        template = self.new_activity()
        clones = []
        for day in self.rng.sample(DAYS, 3):
            clone = Activity.objects.get(pk=template.pk)
            clone.pk = None
            clone.client_id = None
            clone.date = day
            clone.title = f"{clone.title}{day}"
            clones.append(clone)
        for clone in clones:
            clone.client_id = clone._meta.get_field("client_id").get_default()
        made = Activity.objects.bulk_create(clones)
        Participation.objects.bulk_create(
            Participation(activity=a, member=m)
            for a in made
            for m in self.members[a.pairing_id][:3]
        )
        Outcome.objects.bulk_create(
            Outcome(activity=a, metric=self.metrics[0], value=Decimal("12.50")) for a in made
        )

    def edit(self):
        activity = self.pick(deleted_at__isnull=True)
        if activity is None:
            return
        workflow.update_activity(
            activity=activity,
            version=activity.version,
            participants=self.rng.sample(self.members[activity.pairing_id], 3),
            outcomes={self.rng.choice(self.metrics): Decimal(self.rng.randint(1, 999))},
            files=[],
            by=self.w.staff,
            submit=False,
        )

    def confirm(self):
        activity = self.pick(status="submitted", deleted_at__isnull=True)
        if activity:
            workflow.confirm_activity(activity=activity, by=self.w.staff)

    def give_back(self):
        activity = self.pick(status="submitted", deleted_at__isnull=True)
        if activity:
            workflow.return_activity(activity=activity, by=self.w.staff, reason="请补充照片。")

    def submit(self):
        activity = self.pick(status__in=["draft", "returned"], deleted_at__isnull=True)
        if activity:
            workflow.submit_activity(activity=activity, by=self.w.staff)

    def trash(self):
        activity = self.pick(deleted_at__isnull=True)
        if activity:
            workflow.trash_activity(activity=activity, by=self.w.staff)

    def restore(self):
        activity = self.pick(deleted_at__isnull=False)
        if activity:
            workflow.restore_activity(activity=activity, by=self.w.staff)

    def delete(self):
        activity = self.pick()
        if activity:
            activity.delete()  # participations and outcomes go with it (CASCADE)

    def move(self):
        """An edit of the keys themselves: another pairing, day, regime and category."""
        activity = self.pick()
        if activity is None:
            return
        pairing = self.rng.choice(self.pairings)
        if pairing.pk != activity.pairing_id:
            activity.participations.all().delete()
        activity.pairing = pairing
        activity.date = self.rng.choice(DAYS)
        regime = self.rng.choice(REGIMES)
        activity.regime = Regime.objects.get(code=regime) if regime else None
        activity.category = self.rng.choice(Activity.Category.values)
        activity.save()

    def bulk_update(self):
        """A queryset update, which calls no save() and sends no signal."""
        Activity.objects.filter(pk__in=[a.pk for a in self.rng.sample(
            self.activities(), min(3, Activity.objects.count()))]).update(
            villager_count=self.rng.randint(0, 9), on_time=True
        )  # fmt: skip

    def attend(self):
        activity = self.pick()
        if activity is None:
            return
        present = set(activity.participations.values_list("member_id", flat=True))
        absent = [m for m in self.members[activity.pairing_id] if m.pk not in present]
        if absent:
            Participation.objects.create(activity=activity, member=self.rng.choice(absent))

    def leave(self):
        row = Participation.objects.order_by("?").first()
        if row:
            row.delete()

    def outcome(self):
        activity = self.pick()
        if activity is None:
            return
        Outcome.objects.update_or_create(
            activity=activity,
            metric=self.rng.choice(self.metrics),
            defaults={"value": Decimal(self.rng.randint(0, 99999)) / 100},
        )

    def drop_outcome(self):
        row = Outcome.objects.order_by("?").first()
        if row:
            row.delete()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summaries_equal_a_fresh_computation_after_random_writes(seed):
    writer = RandomWriter(random.Random(seed), make_two_pairing_county())
    for number in range(120):
        writer.step()
        if number % 10 == 9:
            assert summaries.differences() == {}, writer.log[-10:]
    assert summaries.differences() == {}
    # The run did exercise every table: the summaries are not trivially equal because empty.
    assert ActivitySummary.objects.exists()
    assert OutcomeSummary.objects.exists()
    assert ParticipantYear.objects.exists()
    assert set(writer.log) >= {"create", "confirm", "give_back", "trash", "restore", "delete"}


def test_a_rolled_back_write_leaves_the_summaries_as_they_were():
    w = make_two_pairing_county()
    make_submitted_activity(w.pairing_a, "activity_day", datetime.date(2025, 3, 5))
    before = list(ActivitySummary.objects.values_list("activities", flat=True))
    with pytest.raises(RuntimeError), transaction.atomic():
        make_submitted_activity(w.pairing_a, "activity_day", datetime.date(2025, 3, 6))
        assert ActivitySummary.objects.get().activities == 2  # current inside the transaction
        raise RuntimeError
    assert list(ActivitySummary.objects.values_list("activities", flat=True)) == before == [1]


def test_summary_rows_count_only_submitted_and_confirmed_activities_out_of_the_trash():
    w = make_two_pairing_county()
    day = datetime.date(2025, 4, 10)
    for status in ("draft", "submitted", "confirmed", "returned"):
        make_submitted_activity(w.pairing_a, "activity_day", day, status=status)
    make_submitted_activity(w.pairing_a, "activity_day", day, deleted_at=datetime.datetime.now(
        datetime.UTC))  # fmt: skip
    row = ActivitySummary.objects.get()
    assert (row.month, row.activities) == (datetime.date(2025, 4, 1), 2)


def test_participant_year_keeps_the_months_a_member_took_part_in():
    w = make_two_pairing_county()
    for day in (datetime.date(2025, 1, 3), datetime.date(2025, 3, 9), datetime.date(2025, 3, 20)):
        activity = make_submitted_activity(w.pairing_a, "activity_day", day)
        Participation.objects.create(activity=activity, member=w.village_a_member)
    row = ParticipantYear.objects.get(member=w.village_a_member)
    assert (row.pairing, row.year, row.months) == (w.pairing_a, 2025, 0b101)  # January and March


def test_check_finds_a_damaged_summary_and_rebuild_repairs_it(capsys):
    w = make_two_pairing_county()
    activity = make_submitted_activity(w.pairing_a, "joint_meeting", datetime.date(2025, 5, 1))
    Outcome.objects.create(activity=activity, metric=metric("training"), value=Decimal("30"))
    call_command("rebuild_summaries", "--check")
    ActivitySummary.objects.update(activities=7)
    OutcomeSummary.objects.all().delete()
    with pytest.raises(CommandError, match="不一致"):
        call_command("rebuild_summaries", "--check")
    output = capsys.readouterr().out
    assert "activities_activitysummary" in output and "activities_outcomesummary" in output
    call_command("rebuild_summaries")
    assert "活动月度汇总：1 行" in capsys.readouterr().out
    call_command("rebuild_summaries", "--check")
    assert OutcomeSummary.objects.get().total == Decimal("30")


@pytest.mark.parametrize(
    ("start", "end", "whole", "edges"),
    [
        ("2025-01-01", "2025-12-31", ("2025-01-01", "2025-12-01"), []),
        ("2025-01-15", "2025-03-31", ("2025-02-01", "2025-03-01"), [("2025-01-15", "2025-01-31")]),
        ("2025-01-01", "2025-03-30", ("2025-01-01", "2025-02-01"), [("2025-03-01", "2025-03-30")]),
        ("2025-01-02", "2025-01-30", None, [("2025-01-02", "2025-01-30")]),
        ("2025-01-31", "2025-02-01", None, [("2025-01-31", "2025-02-01")]),
        ("2024-02-01", "2024-02-29", ("2024-02-01", "2024-02-01"), []),
    ],
)
def test_month_split_reads_whole_months_from_summaries_and_the_odd_days_live(
    start, end, whole, edges
):
    d = datetime.date.fromisoformat
    expected_whole = (d(whole[0]), d(whole[1])) if whole else None
    assert summaries.month_split(d(start), d(end)) == (
        expected_whole,
        [(d(a), d(b)) for a, b in edges],
    )


def test_a_range_widens_to_whole_months_only_over_days_without_counted_activities():
    """A report "so far this year" reads the current month from the summaries: the days after
    its end hold no counted activity. A counted activity in the added days keeps the odd days
    live; a draft or a deleted activity there does not."""
    w = make_two_pairing_county()
    d = datetime.date
    make_submitted_activity(w.pairing_a, "activity_day", d(2026, 3, 10))
    make_submitted_activity(w.pairing_a, "activity_day", d(2026, 3, 20), status="draft")
    deleted = make_submitted_activity(w.pairing_b, "activity_day", d(2026, 3, 25))
    Activity.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())

    assert summaries.whole_months(d(2026, 1, 1), d(2026, 3, 15)) == (d(2026, 1, 1), d(2026, 3, 31))
    assert summaries.whole_months(d(2026, 3, 5), d(2026, 3, 15)) == (d(2026, 3, 1), d(2026, 3, 31))
    assert summaries.whole_months(d(2026, 3, 11), d(2026, 3, 15)) == (
        d(2026, 3, 11),
        d(2026, 3, 31),
    )
    assert summaries.whole_months(d(2026, 1, 1), d(2026, 3, 9)) == (d(2026, 1, 1), d(2026, 3, 9))
    assert summaries.whole_months(d(2026, 3, 11), d(2026, 4, 5)) == (d(2026, 3, 11), d(2026, 4, 30))
    assert summaries.whole_months(d(2026, 2, 1), d(2026, 2, 28)) == (d(2026, 2, 1), d(2026, 2, 28))


def test_a_report_so_far_this_year_reads_no_activity_attendance_or_outcome_row():
    """The draft of a report from the year's start to a day in the middle of a month: one probe
    of the days after it, then the summaries alone, for the figures and each pairing's facts."""
    from reports import situation

    w = make_two_pairing_county()
    d = datetime.date
    activity = make_submitted_activity(w.pairing_a, "activity_day", d(2026, 3, 10))
    Participation.objects.create(activity=activity, member=w.organ_a_member)
    Outcome.objects.create(activity=activity, metric=metric("training"), value=12)
    base = re.compile(r'"activities_(activity|participation|outcome)"')

    with CaptureQueriesContext(connection) as queries:
        drafted = situation.draft(
            w.county, d(2026, 1, 1), d(2026, 3, 15), today=d(2026, 3, 15), named=True
        )
    probes = [q["sql"] for q in queries.captured_queries if base.search(q["sql"])]
    assert len(probes) == 1 and "LIMIT 1" in probes[0]
    assert drafted.figures.counted_range == (d(2026, 1, 1), d(2026, 3, 31))
    assert drafted.figures.activities == 1 and drafted.figures.participants == 1
    assert drafted.figures.outcome("training").value == 12
    assert drafted.facts[w.pairing_a.pk].participants == 1


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ((2025, 1, 1), (2025, 12, 31)),  # whole months only
        ((2025, 1, 31), (2025, 2, 1)),  # odd days only
        ((2025, 2, 1), (2026, 1, 1)),  # whole months and an odd day, across a year
        ((2024, 12, 15), (2026, 3, 20)),  # odd days at both ends
        ((2026, 1, 1), (2026, 3, 20)),  # odd days at the end with no activity after them
    ],
)
def test_readers_give_what_the_base_rows_give_for_any_range(start, end):
    """The pages read whole months from the summaries and the odd days live: the totals, the
    participants and the outcomes must equal a direct count over the activities, over the range
    as given and as widened to whole months (summaries.whole_months)."""
    from django.db.models import Count, Q, Sum

    from pairings.models import Member, Pairing

    writer = RandomWriter(random.Random(8), make_two_pairing_county())
    for _ in range(80):
        writer.step()
    start, end = datetime.date(*start), datetime.date(*end)
    pairings = Pairing.objects.all()
    counted = Activity.objects.counted().filter(pairing__in=pairings, date__range=(start, end))
    by_category = {
        (c,): (n, t, v)
        for c, n, t, v in counted.values_list("category")
        .annotate(n=Count("pk"), t=Count("pk", filter=Q(on_time=True)), v=Sum("villager_count"))
        .order_by()
    }
    members = Member.objects.exclude(branch=writer.w.village_b)  # some members, not all
    took_part = (
        Participation.objects.filter(activity__in=counted, member__in=members)
        .values("member")
        .distinct()
        .count()
    )
    outcomes = {
        k: Decimal(v).quantize(Decimal("0.01"))
        for k, v in Outcome.objects.filter(activity__in=counted)
        .values_list("metric_id")
        .annotate(Sum("value"))
        .order_by()
    }
    assert by_category and took_part and outcomes  # the range held data

    for lo, hi in {(start, end), summaries.whole_months(start, end)}:
        counts = summaries.activity_counts(pairings, lo, hi, ("category",))
        assert {k: tuple(v) for k, v in counts.items()} == by_category
        assert summaries.participants(members, lo, hi) == took_part
        assert summaries.outcome_totals(pairings, lo, hi) == outcomes

    # Each pairing's participants (the report's facts): members not deleted, counted once per
    # pairing, though one member takes part in two pairings.
    Member.objects.filter(pk=writer.w.village_a_member.pk).update(deleted_at=timezone.now())
    by_pairing = dict(
        Participation.objects.filter(activity__in=counted, member__deleted_at__isnull=True)
        .values_list("activity__pairing")
        .annotate(n=Count("member", distinct=True))
        .order_by()
    )
    assert by_pairing  # the range held participants
    for lo, hi in {(start, end), summaries.whole_months(start, end)}:
        counted_by_pairing = pairings.annotate(n=summaries.pairing_participants(lo, hi))
        assert dict(counted_by_pairing.filter(n__gt=0).values_list("pk", "n")) == by_pairing
