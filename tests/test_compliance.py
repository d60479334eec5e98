"""Compliance: periods by cadence, due, met and on time, the roll-ups and the `compliance`
command. Every expected figure is worked out by hand and written out, never recomputed with the
module under test."""

import csv
import datetime
import io
import json
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import SimpleTestCase, TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from activities import compliance, workflow
from activities.compliance import Ratio, Rule, State
from activities.models import Activity, Cadence, Regime, RegimeCadence
from activities.periods import Period
from pairings.access import pairings_under
from pairings.models import Organization, Pairing, PairingSuspension
from tests.factories import (
    make_branch,
    make_county,
    make_org,
    make_pairing,
    make_submitted_activity,
    make_two_pairing_county,
    make_user,
)

D = datetime.date
SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = D(2026, 11, 28)  # the machine's date: all of 2025 has ended

MET, LATE, MISSED, NOT_DUE, CURRENT = (
    State.MET,
    State.LATE,
    State.MISSED,
    State.NOT_DUE,
    State.CURRENT,
)


def span(period):
    return period.code, period.start, period.end


def states(evaluation, pairing, regime_code):
    """{period code: state} of one pairing and one regime, in period order."""
    return {
        c.period.code: c.state
        for c in evaluation.cells
        if c.pairing_id == pairing.pk and c.regime.code == regime_code
    }


def cell(evaluation, pairing, regime_code, period_code):
    (found,) = [
        c
        for c in evaluation.cells
        if c.pairing_id == pairing.pk
        and c.regime.code == regime_code
        and c.period.code == period_code
    ]
    return found


def evaluate_one(pairing, start, end, *, regimes=None, today=TODAY):
    return compliance.evaluate(
        Pairing.objects.filter(pk=pairing.pk), start, end, regime_codes=regimes, today=today
    )


def cadence_row(valid_from, cadence, required=1):
    return RegimeCadence(valid_from=valid_from, cadence=cadence, required=required)


# ---------------------------------------------------------------------------------------------
# Period arithmetic, without the database.


class PeriodContainingTests(SimpleTestCase):
    def test_month_holding_the_leap_day_ends_on_february_29(self):
        period = compliance.period_containing(Cadence.MONTH, D(2024, 2, 29))
        assert span(period) == ("2024-02", D(2024, 2, 1), D(2024, 2, 29))

    def test_month_of_february_in_a_common_year_ends_on_the_28th(self):
        period = compliance.period_containing(Cadence.MONTH, D(2025, 2, 1))
        assert span(period) == ("2025-02", D(2025, 2, 1), D(2025, 2, 28))

    def test_first_and_last_day_of_the_year_fall_in_the_first_and_last_periods(self):
        first, last = D(2025, 1, 1), D(2025, 12, 31)
        assert span(compliance.period_containing(Cadence.MONTH, first)) == (
            "2025-01",
            D(2025, 1, 1),
            D(2025, 1, 31),
        )
        assert span(compliance.period_containing(Cadence.MONTH, last)) == (
            "2025-12",
            D(2025, 12, 1),
            D(2025, 12, 31),
        )
        assert span(compliance.period_containing(Cadence.QUARTER, first)) == (
            "2025-Q1",
            D(2025, 1, 1),
            D(2025, 3, 31),
        )
        assert span(compliance.period_containing(Cadence.QUARTER, last)) == (
            "2025-Q4",
            D(2025, 10, 1),
            D(2025, 12, 31),
        )
        assert span(compliance.period_containing(Cadence.HALF, first)) == (
            "2025-H1",
            D(2025, 1, 1),
            D(2025, 6, 30),
        )
        assert span(compliance.period_containing(Cadence.HALF, last)) == (
            "2025-H2",
            D(2025, 7, 1),
            D(2025, 12, 31),
        )
        assert span(compliance.period_containing(Cadence.YEAR, first)) == (
            "2025",
            D(2025, 1, 1),
            D(2025, 12, 31),
        )
        assert span(compliance.period_containing(Cadence.YEAR, last)) == (
            "2025",
            D(2025, 1, 1),
            D(2025, 12, 31),
        )

    def test_quarters_and_halves_change_on_their_first_day(self):
        quarter = compliance.period_containing
        assert quarter(Cadence.QUARTER, D(2025, 3, 31)).code == "2025-Q1"
        assert quarter(Cadence.QUARTER, D(2025, 4, 1)).code == "2025-Q2"
        assert quarter(Cadence.QUARTER, D(2025, 9, 30)).code == "2025-Q3"
        assert quarter(Cadence.QUARTER, D(2025, 10, 1)).code == "2025-Q4"
        assert quarter(Cadence.HALF, D(2025, 6, 30)).code == "2025-H1"
        assert quarter(Cadence.HALF, D(2025, 7, 1)).code == "2025-H2"

    def test_leap_quarter_and_year_hold_february_29(self):
        assert span(compliance.period_containing(Cadence.QUARTER, D(2024, 2, 29))) == (
            "2024-Q1",
            D(2024, 1, 1),
            D(2024, 3, 31),
        )
        assert span(compliance.period_containing(Cadence.YEAR, D(2024, 2, 29))) == (
            "2024",
            D(2024, 1, 1),
            D(2024, 12, 31),
        )

    def test_regime_without_cadence_is_counted_by_month(self):
        assert compliance.period_containing(Cadence.NONE, D(2025, 8, 31)).code == "2025-08"


class GraceTests(SimpleTestCase):
    def test_grace_ends_ten_days_after_the_period(self):
        assert compliance.grace_end(Period.parse("2024-02")) == D(2024, 3, 10)
        assert compliance.grace_end(Period.parse("2025-02")) == D(2025, 3, 10)
        assert compliance.grace_end(Period.parse("2025-06")) == D(2025, 7, 10)
        assert compliance.grace_end(Period.parse("2025-Q3")) == D(2025, 10, 10)
        assert compliance.grace_end(Period.parse("2025-12")) == D(2026, 1, 10)
        assert compliance.grace_end(Period.parse("2025")) == D(2026, 1, 10)

    def test_grace_days_come_from_settings(self):
        with override_settings(COBUILD={"GRACE_DAYS": 0, "LOCK_DELAY_DAYS": 30}):
            assert compliance.grace_end(Period.parse("2025-03")) == D(2025, 3, 31)
        with override_settings(COBUILD={"GRACE_DAYS": 15, "LOCK_DELAY_DAYS": 30}):
            assert compliance.grace_end(Period.parse("2024-02")) == D(2024, 3, 15)

    def test_submission_on_the_last_grace_day_is_on_time_and_a_day_later_is_late(self):
        monthly = [Rule(D(2000, 1, 1), Cadence.MONTH, 1)]
        march = Activity(date=D(2025, 3, 5))
        assert compliance.is_on_time(march, D(2025, 3, 5), monthly)
        assert compliance.is_on_time(march, D(2025, 4, 10), monthly)
        assert not compliance.is_on_time(march, D(2025, 4, 11), monthly)

    def test_leap_day_activity_is_on_time_until_march_10(self):
        monthly = [Rule(D(2000, 1, 1), Cadence.MONTH, 1)]
        leap_day = Activity(date=D(2024, 2, 29))
        assert compliance.is_on_time(leap_day, D(2024, 3, 10), monthly)
        assert not compliance.is_on_time(leap_day, D(2024, 3, 11), monthly)

    def test_quarterly_activity_has_until_ten_days_after_the_quarter(self):
        quarterly = [Rule(D(2000, 1, 1), Cadence.QUARTER, 1)]
        january = Activity(date=D(2025, 1, 20))
        assert compliance.is_on_time(january, D(2025, 4, 10), quarterly)
        assert not compliance.is_on_time(january, D(2025, 4, 11), quarterly)

    def test_yearly_activity_has_until_january_10(self):
        yearly = [Rule(D(2000, 1, 1), Cadence.YEAR, 1)]
        june = Activity(date=D(2025, 6, 10))
        assert compliance.is_on_time(june, D(2026, 1, 10), yearly)
        assert not compliance.is_on_time(june, D(2026, 1, 11), yearly)


class ScheduleTests(SimpleTestCase):
    """A change dated D takes effect once the old cadence's period holding D has ended."""

    def test_monthly_to_quarterly_on_may_10_keeps_may_and_june_monthly(self):
        rules = compliance.schedule(
            [cadence_row(D(2025, 5, 10), Cadence.QUARTER), cadence_row(D(2000, 1, 1), "month")]
        )
        assert rules == [
            Rule(D(2000, 1, 1), Cadence.MONTH, 1),
            Rule(D(2025, 7, 1), Cadence.QUARTER, 1),
        ]
        of = [compliance.period_of(rules, day).code for day in (D(2025, 4, 30), D(2025, 5, 9))]
        assert of == ["2025-04", "2025-05"]
        assert compliance.period_of(rules, D(2025, 5, 10)).code == "2025-05"
        assert compliance.period_of(rules, D(2025, 6, 30)).code == "2025-06"
        assert compliance.period_of(rules, D(2025, 7, 1)).code == "2025-Q3"
        assert compliance.period_of(rules, D(2025, 12, 31)).code == "2025-Q4"
        assert compliance.period_of(rules, D(2026, 2, 1)).code == "2026-Q1"

    def test_quarterly_to_monthly_on_may_10_takes_effect_on_july_1(self):
        rules = compliance.schedule(
            [cadence_row(D(2000, 1, 1), Cadence.QUARTER), cadence_row(D(2025, 5, 10), "month")]
        )
        assert rules == [
            Rule(D(2000, 1, 1), Cadence.QUARTER, 1),
            Rule(D(2025, 7, 1), Cadence.MONTH, 1),
        ]
        assert compliance.period_of(rules, D(2025, 5, 20)).code == "2025-Q2"
        assert compliance.period_of(rules, D(2025, 6, 30)).code == "2025-Q2"
        assert compliance.period_of(rules, D(2025, 7, 1)).code == "2025-07"

    def test_monthly_to_yearly_waits_for_the_next_year(self):
        rules = compliance.schedule(
            [cadence_row(D(2000, 1, 1), Cadence.MONTH), cadence_row(D(2025, 5, 10), "year")]
        )
        assert rules[-1] == Rule(D(2026, 1, 1), Cadence.YEAR, 1)
        assert compliance.period_of(rules, D(2025, 12, 31)).code == "2025-12"
        assert compliance.period_of(rules, D(2026, 3, 1)).code == "2026"

    def test_change_dated_on_the_first_day_of_a_period_waits_for_its_end(self):
        rules = compliance.schedule(
            [cadence_row(D(2000, 1, 1), Cadence.MONTH), cadence_row(D(2025, 7, 1), "quarter")]
        )
        # July holds 2025-07-01 and must end first; the next quarter starts on October 1.
        assert rules[-1] == Rule(D(2025, 10, 1), Cadence.QUARTER, 1)

    def test_no_rule_before_the_first_cadence(self):
        rules = compliance.schedule([cadence_row(D(2025, 5, 10), Cadence.QUARTER)])
        assert rules == [Rule(D(2025, 4, 1), Cadence.QUARTER, 1)]
        assert compliance.rule_on(rules, D(2025, 3, 31)) is None
        assert compliance.period_of(rules, D(2025, 3, 31)).code == "2025-03"

    def test_change_reverted_within_the_same_period_leaves_the_cadence_as_it_was(self):
        # Staff set cross-learning to quarterly on 2025-05-10 and, finding the mistake, back to
        # monthly on 2025-05-20 — before the quarterly change ever took effect (2025-07-01).
        # The later change replaces the earlier one: the cadence in force on 05-20 is monthly,
        # its period (May) ends on 05-31, so monthly goes on from June. No quarter appears.
        rules = compliance.schedule(
            [
                cadence_row(D(2000, 1, 1), Cadence.MONTH),
                cadence_row(D(2025, 5, 10), Cadence.QUARTER),
                cadence_row(D(2025, 5, 20), Cadence.MONTH),
            ]
        )
        codes = [compliance.period_of(rules, D(2025, month, 15)).code for month in (6, 8, 11)]
        assert codes == ["2025-06", "2025-08", "2025-11"]


class RatioTests(SimpleTestCase):
    def test_percent_rounds_half_up_to_one_decimal(self):
        assert Ratio(3, 4).percent == 75.0
        assert Ratio(1, 8).percent == 12.5
        assert Ratio(1, 16).percent == 6.3  # 6.25
        assert Ratio(1, 80).percent == 1.3  # 1.25
        assert Ratio(1, 2000).percent == 0.1  # 0.05
        assert Ratio(1, 3).percent == 33.3
        assert Ratio(2, 3).percent == 66.7
        assert Ratio(13, 31).percent == 41.9
        assert Ratio(0, 5).percent == 0.0
        assert Ratio(0, 0).percent is None
        assert Ratio(0, 0).rate is None

    def test_ratio_reads_with_numerator_and_denominator(self):
        assert str(Ratio(3, 4)) == "75%（3/4）"
        assert str(Ratio(23, 73)) == "31.5%（23/73）"
        assert str(Ratio(19, 73)) == "26%（19/73）"
        assert str(compliance.ZERO) == "—（0/0）"

    def test_ratios_add_as_sums_not_as_averages_of_rates(self):
        # 1/2 (50%) and 2/3 (66.7%): the area's rate is 3/5 = 60%, not their mean 58.3%.
        total = Ratio(1, 2) + Ratio(2, 3)
        assert total == Ratio(3, 5)
        assert total.percent == 60.0


# ---------------------------------------------------------------------------------------------
# Due, met and on time through evaluate().


class DueTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        county = make_county()
        cls.organ = make_branch(county)
        cls.village = make_branch(county, sector="rural")

    def test_periods_a_pairing_ran_only_part_of_are_not_due(self):
        pairing = make_pairing(
            self.organ, self.village, start_date=D(2025, 2, 15), end_date=D(2025, 8, 15)
        )
        evaluation = evaluate_one(pairing, D(2025, 1, 1), D(2025, 12, 31))
        assert states(evaluation, pairing, "activity_day") == {
            "2025-01": NOT_DUE,
            "2025-02": NOT_DUE,  # started on the 15th
            "2025-03": MISSED,
            "2025-04": MISSED,
            "2025-05": MISSED,
            "2025-06": MISSED,
            "2025-07": MISSED,
            "2025-08": NOT_DUE,  # ended on the 15th
            "2025-09": NOT_DUE,
            "2025-10": NOT_DUE,
            "2025-11": NOT_DUE,
            "2025-12": NOT_DUE,
        }
        assert states(evaluation, pairing, "joint_meeting") == {
            "2025-Q1": NOT_DUE,
            "2025-Q2": MISSED,
            "2025-Q3": NOT_DUE,
            "2025-Q4": NOT_DUE,
        }
        assert states(evaluation, pairing, "mutual_inspection") == {"2025": NOT_DUE}
        # Due: activity day 5 + cross learning 5 + joint meeting 1 + inspection 0 = 11.
        assert evaluation.by_pairing()[pairing.pk] == (Ratio(0, 11), Ratio(0, 11))

    def test_pairing_running_from_the_first_to_the_last_day_of_a_quarter_is_due_for_it(self):
        pairing = make_pairing(
            self.organ, self.village, start_date=D(2025, 4, 1), end_date=D(2025, 6, 30)
        )
        evaluation = evaluate_one(pairing, D(2025, 1, 1), D(2025, 12, 31))
        assert states(evaluation, pairing, "joint_meeting") == {
            "2025-Q1": NOT_DUE,
            "2025-Q2": MISSED,
            "2025-Q3": NOT_DUE,
            "2025-Q4": NOT_DUE,
        }
        due = {
            code for code, s in states(evaluation, pairing, "activity_day").items() if s != NOT_DUE
        }
        assert due == {"2025-04", "2025-05", "2025-06"}

    def test_suspension_from_mid_period_makes_every_period_it_touches_not_due(self):
        pairing = make_pairing(self.organ, self.village, start_date=D(2024, 1, 1))
        PairingSuspension.objects.create(
            pairing=pairing, start_date=D(2025, 5, 20), end_date=D(2025, 8, 10), reason="换届"
        )
        make_submitted_activity(pairing, "activity_day", D(2025, 6, 5))
        evaluation = evaluate_one(pairing, D(2025, 1, 1), D(2025, 12, 31))
        assert states(evaluation, pairing, "activity_day") == {
            "2025-01": MISSED,
            "2025-02": MISSED,
            "2025-03": MISSED,
            "2025-04": MISSED,
            "2025-05": NOT_DUE,
            "2025-06": NOT_DUE,
            "2025-07": NOT_DUE,
            "2025-08": NOT_DUE,
            "2025-09": MISSED,
            "2025-10": MISSED,
            "2025-11": MISSED,
            "2025-12": MISSED,
        }
        assert states(evaluation, pairing, "joint_meeting") == {
            "2025-Q1": MISSED,
            "2025-Q2": NOT_DUE,
            "2025-Q3": NOT_DUE,
            "2025-Q4": MISSED,
        }
        assert states(evaluation, pairing, "mutual_inspection") == {"2025": NOT_DUE}
        june = cell(evaluation, pairing, "activity_day", "2025-06")
        assert (june.count, june.due, june.met) == (1, False, False)  # counted, not required

    def test_open_ended_suspension_keeps_every_later_period_not_due(self):
        pairing = make_pairing(self.organ, self.village, start_date=D(2024, 1, 1))
        PairingSuspension.objects.create(
            pairing=pairing, start_date=D(2025, 10, 15), reason="村党支部撤并"
        )
        evaluation = evaluate_one(pairing, D(2025, 7, 1), D(2026, 3, 31))
        assert states(evaluation, pairing, "activity_day") == {
            "2025-07": MISSED,
            "2025-08": MISSED,
            "2025-09": MISSED,
            "2025-10": NOT_DUE,
            "2025-11": NOT_DUE,
            "2025-12": NOT_DUE,
            "2026-01": NOT_DUE,
            "2026-02": NOT_DUE,
            "2026-03": NOT_DUE,
        }
        assert states(evaluation, pairing, "joint_meeting") == {
            "2025-Q3": MISSED,
            "2025-Q4": NOT_DUE,
            "2026-Q1": NOT_DUE,
        }
        assert states(evaluation, pairing, "mutual_inspection") == {
            "2025": NOT_DUE,
            "2026": NOT_DUE,
        }

    def test_activity_on_the_leap_day_counts_in_february_2024(self):
        pairing = make_pairing(self.organ, self.village, start_date=D(2024, 1, 1))
        make_submitted_activity(pairing, "activity_day", D(2024, 2, 29))
        evaluation = evaluate_one(pairing, D(2024, 2, 1), D(2024, 3, 31), regimes={"activity_day"})
        assert states(evaluation, pairing, "activity_day") == {"2024-02": MET, "2024-03": MISSED}
        assert cell(evaluation, pairing, "activity_day", "2024-02").count == 1
        assert cell(evaluation, pairing, "activity_day", "2024-03").count == 0

    def test_only_submitted_and_confirmed_activities_out_of_the_trash_count(self):
        pairing = make_pairing(self.organ, self.village, start_date=D(2024, 1, 1))
        make_submitted_activity(pairing, "activity_day", D(2025, 1, 6), status="draft")
        make_submitted_activity(pairing, "activity_day", D(2025, 2, 6), status="returned")
        make_submitted_activity(pairing, "activity_day", D(2025, 3, 6), deleted_at=timezone.now())
        make_submitted_activity(pairing, "activity_day", D(2025, 4, 6), status="submitted")
        make_submitted_activity(pairing, "activity_day", D(2025, 5, 6), status="confirmed")
        make_submitted_activity(pairing, None, D(2025, 6, 6), category="donation")  # "other"
        make_submitted_activity(pairing, "cross_learning", D(2025, 6, 7))  # another regime
        evaluation = evaluate_one(pairing, D(2025, 1, 1), D(2025, 6, 30), regimes={"activity_day"})
        assert states(evaluation, pairing, "activity_day") == {
            "2025-01": MISSED,
            "2025-02": MISSED,
            "2025-03": MISSED,
            "2025-04": MET,
            "2025-05": MET,
            "2025-06": MISSED,
        }

    def test_late_stamp_is_read_not_recomputed(self):
        # Submitted the next day but stamped late: the stamp given at submission stands.
        pairing = make_pairing(self.organ, self.village, start_date=D(2024, 1, 1))
        make_submitted_activity(
            pairing, "activity_day", D(2025, 3, 5), on_time=False, submitted_on=D(2025, 3, 6)
        )
        evaluation = evaluate_one(pairing, D(2025, 3, 1), D(2025, 3, 31), regimes={"activity_day"})
        march = cell(evaluation, pairing, "activity_day", "2025-03")
        assert (march.state, march.met, march.on_time) == (LATE, True, False)

    def test_one_on_time_activity_among_late_ones_makes_a_period_met_on_time(self):
        pairing = make_pairing(self.organ, self.village, start_date=D(2024, 1, 1))
        for day, on_time in ((D(2025, 3, 3), False), (D(2025, 3, 20), True)):
            make_submitted_activity(pairing, "activity_day", day, on_time=on_time)
        evaluation = evaluate_one(pairing, D(2025, 3, 1), D(2025, 3, 31), regimes={"activity_day"})
        march = cell(evaluation, pairing, "activity_day", "2025-03")
        assert (march.count, march.on_time_count, march.state) == (2, 1, MET)

    def test_daily_help_is_counted_and_never_due(self):
        pairing = make_pairing(self.organ, self.village, start_date=D(2024, 1, 1))
        make_submitted_activity(pairing, "daily_help", D(2025, 3, 5))
        make_submitted_activity(pairing, "daily_help", D(2025, 3, 25))
        evaluation = evaluate_one(pairing, D(2025, 1, 1), D(2025, 3, 31), regimes={"daily_help"})
        assert states(evaluation, pairing, "daily_help") == {
            "2025-01": NOT_DUE,
            "2025-02": NOT_DUE,
            "2025-03": NOT_DUE,
        }
        march = cell(evaluation, pairing, "daily_help", "2025-03")
        assert (march.required, march.count, march.due) == (0, 2, False)
        assert evaluation.total() == (Ratio(0, 0), Ratio(0, 0))

    def test_inactive_regime_is_left_out(self):
        pairing = make_pairing(self.organ, self.village, start_date=D(2024, 1, 1))
        Regime.objects.filter(code="cross_learning").update(is_active=False)
        evaluation = evaluate_one(pairing, D(2025, 1, 1), D(2025, 3, 31))
        assert [r.code for r in evaluation.regimes] == [
            "activity_day",
            "joint_meeting",
            "mutual_inspection",
            "daily_help",
        ]


class SubmissionOnTimeTests(TestCase):
    """The on-time stamp is given by the workflow at submission, in local (Beijing) time."""

    @classmethod
    def setUpTestData(cls):
        county = make_county()
        cls.pairing = make_pairing(
            make_branch(county), make_branch(county, sector="rural"), start_date=D(2024, 1, 1)
        )
        cls.user = make_user()
        cls.activity_day = Regime.objects.get(code="activity_day")

    def submit(self, day, at):
        activity = Activity(
            pairing=self.pairing,
            regime=self.activity_day,
            category="study",
            date=day,
            title="集体活动日",
            logged_by_branch=self.pairing.helper,
        )
        with mock.patch("django.utils.timezone.now", return_value=at):
            return workflow.create_activity(
                activity=activity, participants=[], outcomes={}, files=[], by=self.user, submit=True
            )

    def test_submitted_late_on_the_last_grace_day_is_on_time_and_just_after_midnight_is_late(self):
        # March's grace ends 2025-04-10; 23:30 Beijing time is still the 10th (15:30 UTC).
        march = self.submit(D(2025, 3, 5), datetime.datetime(2025, 4, 10, 23, 30, tzinfo=SHANGHAI))
        # April's grace ends 2025-05-10; 00:10 Beijing time on the 11th is 16:10 UTC on the 10th.
        april = self.submit(D(2025, 4, 20), datetime.datetime(2025, 5, 11, 0, 10, tzinfo=SHANGHAI))
        assert (march.on_time, april.on_time) == (True, False)
        evaluation = evaluate_one(
            self.pairing, D(2025, 3, 1), D(2025, 4, 30), regimes={"activity_day"}
        )
        assert states(evaluation, self.pairing, "activity_day") == {
            "2025-03": MET,
            "2025-04": LATE,
        }
        assert evaluation.total() == (Ratio(2, 2), Ratio(1, 2))

    def test_leap_day_activity_submitted_on_march_10_2024_is_on_time(self):
        leap = self.submit(D(2024, 2, 29), datetime.datetime(2024, 3, 10, 9, 0, tzinfo=SHANGHAI))
        assert leap.on_time is True
        assert compliance.is_on_time(leap, D(2024, 3, 10))
        assert not compliance.is_on_time(leap, D(2024, 3, 11))


class CadenceChangeTests(TestCase):
    """cross_learning monthly → quarterly and joint_meeting quarterly → monthly, both dated
    2025-05-10: both changes take effect on 2025-07-01."""

    @classmethod
    def setUpTestData(cls):
        county = make_county()
        cls.pairing = make_pairing(
            make_branch(county), make_branch(county, sector="rural"), start_date=D(2024, 1, 1)
        )
        for code, cadence in (("cross_learning", "quarter"), ("joint_meeting", "month")):
            RegimeCadence.objects.create(
                regime=Regime.objects.get(code=code), valid_from=D(2025, 5, 10), cadence=cadence
            )

    def test_monthly_regime_made_quarterly_keeps_may_and_june_monthly(self):
        make_submitted_activity(self.pairing, "cross_learning", D(2025, 6, 20))
        make_submitted_activity(self.pairing, "cross_learning", D(2025, 8, 20))
        evaluation = evaluate_one(self.pairing, D(2025, 1, 1), D(2025, 12, 31))
        assert states(evaluation, self.pairing, "cross_learning") == {
            "2025-01": MISSED,
            "2025-02": MISSED,
            "2025-03": MISSED,
            "2025-04": MISSED,
            "2025-05": MISSED,
            "2025-06": MET,
            "2025-Q3": MET,
            "2025-Q4": MISSED,
        }

    def test_quarterly_regime_made_monthly_takes_effect_in_july(self):
        make_submitted_activity(self.pairing, "joint_meeting", D(2025, 5, 20))
        make_submitted_activity(self.pairing, "joint_meeting", D(2025, 7, 5))
        evaluation = evaluate_one(self.pairing, D(2025, 1, 1), D(2025, 12, 31))
        assert states(evaluation, self.pairing, "joint_meeting") == {
            "2025-Q1": MISSED,
            "2025-Q2": MET,
            "2025-07": MET,
            "2025-08": MISSED,
            "2025-09": MISSED,
            "2025-10": MISSED,
            "2025-11": MISSED,
            "2025-12": MISSED,
        }

    def test_on_time_follows_the_cadence_in_force_for_the_activity_date(self):
        def act(code, day):
            return Activity(regime=Regime.objects.get(code=code), date=day)

        june_learning = act("cross_learning", D(2025, 6, 20))  # still monthly: June
        assert compliance.is_on_time(june_learning, D(2025, 7, 10))
        assert not compliance.is_on_time(june_learning, D(2025, 7, 11))
        july_learning = act("cross_learning", D(2025, 7, 5))  # quarterly: 2025-Q3
        assert compliance.is_on_time(july_learning, D(2025, 10, 10))
        assert not compliance.is_on_time(july_learning, D(2025, 10, 11))
        may_meeting = act("joint_meeting", D(2025, 5, 20))  # still quarterly: 2025-Q2
        assert compliance.is_on_time(may_meeting, D(2025, 7, 10))
        assert not compliance.is_on_time(may_meeting, D(2025, 7, 11))
        july_meeting = act("joint_meeting", D(2025, 7, 5))  # monthly: July
        assert compliance.is_on_time(july_meeting, D(2025, 8, 10))
        assert not compliance.is_on_time(july_meeting, D(2025, 8, 11))

    def test_raising_the_required_count_applies_from_the_next_period(self):
        RegimeCadence.objects.create(
            regime=Regime.objects.get(code="activity_day"),
            valid_from=D(2025, 5, 10),
            cadence="month",
            required=2,
        )
        for day in (D(2025, 5, 6), D(2025, 6, 6), D(2025, 7, 6), D(2025, 7, 26)):
            make_submitted_activity(self.pairing, "activity_day", day)
        evaluation = evaluate_one(
            self.pairing, D(2025, 5, 1), D(2025, 7, 31), regimes={"activity_day"}
        )
        required = {
            code: cell(evaluation, self.pairing, "activity_day", code).required
            for code in ("2025-05", "2025-06", "2025-07")
        }
        assert required == {"2025-05": 1, "2025-06": 2, "2025-07": 2}
        assert states(evaluation, self.pairing, "activity_day") == {
            "2025-05": MET,
            "2025-06": MISSED,
            "2025-07": MET,
        }


# ---------------------------------------------------------------------------------------------
# A fixed county, worked out by hand, for the command and the roll-ups.


class QingshanCounty:
    """青山县 (QS) over 2025. Regimes: activity day (AD) and cross learning (CL) monthly, joint
    meeting (JM) quarterly, mutual inspection (MI) yearly, daily help (DH) never due.

    PA 县财政局机关党支部 ⇄ 石门村 (石门镇), since 2024-01-01: due all year.
    PB 县农业农村局党支部 ⇄ 岩脚村 (石门镇), since 2025-02-15: Jan, Feb, Q1 and the year not due.
    PC 县教育局党支部 ⇄ 河口村 (河口乡), since 2024-06-01, suspended 2025-04-10 … 06-30:
       Apr, May, Jun, Q2 and the year not due.
    A pairing in the trash and a pairing of another county must never show.

    Due, met, on time (✓ met on time, ◐ late, ✗ missed, – not due; d draft, r returned,
    t trashed: none of them counts):
        AD  PA 01–06 ✓, 07–08 ✓ (confirmed), 09 ◐, 10 ✗d, 11 ✗r, 12 ✗t   due 12 met 9 on time 8
            PB 02 – (counted), 03 ✓, 04 ✓ (one late, one on time), 05 ◐   due 10 met 3 on time 2
            PC 01 ✓, 05 – (counted)                                       due  9 met 1 on time 1
            AD                                                            due 31 met 13 on time 11
        CL  PA 01 ✓ (on the 31st), 03 ✓                                   due 12 met 2 on time 2
            PB nothing                                                    due 10 met 0 on time 0
            PC 12 ◐                                                       due  9 met 1 on time 0
            CL                                                            due 31 met 3 on time 2
        JM  PA Q1 ✓, Q2 ✓ (June 30), Q3 ◐, Q4 ✗d                          due  4 met 3 on time 2
            PB Q1 – (counted), Q2 ✓, Q3 ✗, Q4 ✓                           due  3 met 2 on time 2
            PC Q1 ✓, Q2 – (counted), Q3 ✗r, Q4 ✗                          due  3 met 1 on time 1
            JM                                                            due 10 met 6 on time 5
        MI  PA ✓; PB – (counted); PC –                                    due  1 met 1 on time 1
        DH  PA two in March, counted, never due                           due  0
        Total                                                             due 73 met 23 on time 19
        By pairing: PA 29/15/13, PB 23/5/4, PC 21/3/2 (due/met/on time).
    """

    @classmethod
    def setUpTestData(cls):
        county = cls.county = make_county(code="QS", name="青山县委")
        cls.shimen = make_org(
            county, code="QS-SM", kind="committee", sector="rural", name="石门镇党委"
        )
        cls.hekou = make_org(
            county, code="QS-HK", kind="committee", sector="rural", name="河口乡党委"
        )
        cls.organs = make_org(
            county, code="QS-JG", kind="working_committee", sector="organ", name="县直机关工委"
        )
        organ_a = make_branch(cls.organs, code="QS-CZ", name="县财政局机关党支部")
        organ_b = make_branch(cls.organs, code="QS-NY", name="县农业农村局党支部")
        organ_c = make_branch(cls.organs, code="QS-JY", name="县教育局党支部")
        village_a = make_branch(cls.shimen, sector="rural", code="QS-SMC", name="石门村党支部")
        village_b = make_branch(cls.shimen, sector="rural", code="QS-YJC", name="岩脚村党支部")
        village_c = make_branch(cls.hekou, sector="rural", code="QS-HKC", name="河口村党支部")
        cls.pa = make_pairing(organ_a, village_a, code="QS-PA", start_date=D(2024, 1, 1))
        cls.pb = make_pairing(organ_b, village_b, code="QS-PB", start_date=D(2025, 2, 15))
        cls.pc = make_pairing(organ_c, village_c, code="QS-PC", start_date=D(2024, 6, 1))
        PairingSuspension.objects.create(
            pairing=cls.pc, start_date=D(2025, 4, 10), end_date=D(2025, 6, 30), reason="村两委换届"
        )
        trashed = make_pairing(
            organ_b, village_c, code="QS-PT", start_date=D(2024, 1, 1), deleted_at=timezone.now()
        )
        make_submitted_activity(trashed, "activity_day", D(2025, 3, 3))
        elsewhere = make_county(code="XS", name="西山县委")
        stranger = make_pairing(
            make_branch(elsewhere), make_branch(elsewhere, sector="rural"), code="XS-P1"
        )
        make_submitted_activity(stranger, "activity_day", D(2025, 3, 3))

        log, pa, pb, pc = make_submitted_activity, cls.pa, cls.pb, cls.pc
        late = {"on_time": False}
        # PA
        for month, day in ((1, 8), (2, 12), (3, 5), (4, 9), (5, 14), (6, 11)):
            log(pa, "activity_day", D(2025, month, day))
        log(pa, "activity_day", D(2025, 7, 9), status="confirmed")
        log(pa, "activity_day", D(2025, 8, 13), status="confirmed")
        log(pa, "activity_day", D(2025, 9, 10), submitted_on=D(2025, 10, 20), **late)
        log(pa, "activity_day", D(2025, 10, 15), status="draft")
        log(pa, "activity_day", D(2025, 11, 12), status="returned")
        log(pa, "activity_day", D(2025, 12, 10), deleted_at=timezone.now())
        log(pa, "cross_learning", D(2025, 1, 31))
        log(pa, "cross_learning", D(2025, 3, 18), status="confirmed")
        log(pa, "joint_meeting", D(2025, 3, 20))
        log(pa, "joint_meeting", D(2025, 6, 30))
        log(pa, "joint_meeting", D(2025, 9, 28), submitted_on=D(2025, 10, 15), **late)
        log(pa, "joint_meeting", D(2025, 12, 5), status="draft")
        log(pa, "mutual_inspection", D(2025, 6, 10), category="inspection")
        log(pa, "daily_help", D(2025, 3, 3))
        log(pa, "daily_help", D(2025, 3, 25))
        log(pa, None, D(2025, 4, 1), category="donation")
        # PB
        log(pb, "activity_day", D(2025, 2, 20))
        log(pb, "activity_day", D(2025, 3, 12))
        log(pb, "activity_day", D(2025, 4, 2), submitted_on=D(2025, 5, 12), **late)
        log(pb, "activity_day", D(2025, 4, 22))
        log(pb, "activity_day", D(2025, 5, 20), submitted_on=D(2025, 6, 30), **late)
        log(pb, "joint_meeting", D(2025, 2, 26))
        log(pb, "joint_meeting", D(2025, 5, 8))
        log(pb, "joint_meeting", D(2025, 11, 19))
        log(pb, "mutual_inspection", D(2025, 9, 9), category="inspection")
        # PC
        log(pc, "activity_day", D(2025, 1, 15))
        log(pc, "activity_day", D(2025, 5, 6))
        log(pc, "cross_learning", D(2025, 12, 30), submitted_on=D(2026, 1, 20), **late)
        log(pc, "joint_meeting", D(2025, 2, 14))
        log(pc, "joint_meeting", D(2025, 5, 15))
        log(pc, "joint_meeting", D(2025, 8, 20), status="returned")


def run(*args):
    buffer = io.StringIO()
    call_command("compliance", *args, stdout=buffer)
    return buffer.getvalue()


def run_json(*args):
    return json.loads(run(*args, "--format", "json"))


YEAR_2025 = ("--start", "2025-01-01", "--end", "2025-12-31")


def ratio(num, den, rate):
    return {"num": num, "den": den, "rate": rate}


class ComplianceCommandTests(QingshanCounty, TestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.document = run_json("--org", "QS", *YEAR_2025)
        cls.cells = {(c["pairing"], c["regime"], c["period"]): c for c in cls.document["cells"]}

    def test_json_cells_say_due_count_met_on_time_and_state(self):
        fields = ("required", "due", "count", "met", "on_time", "state")
        expected = {
            ("QS-PA", "activity_day", "2025-08"): (1, True, 1, True, True, "met"),  # confirmed
            ("QS-PA", "activity_day", "2025-09"): (1, True, 1, True, False, "late"),
            ("QS-PA", "activity_day", "2025-10"): (1, True, 0, False, False, "missed"),  # draft
            ("QS-PA", "activity_day", "2025-11"): (1, True, 0, False, False, "missed"),  # returned
            ("QS-PA", "activity_day", "2025-12"): (1, True, 0, False, False, "missed"),  # trashed
            ("QS-PA", "cross_learning", "2025-01"): (1, True, 1, True, True, "met"),  # on the 31st
            ("QS-PA", "daily_help", "2025-03"): (0, False, 2, False, False, "not_due"),
            ("QS-PB", "activity_day", "2025-02"): (1, False, 1, False, False, "not_due"),
            ("QS-PB", "activity_day", "2025-04"): (1, True, 2, True, True, "met"),
            ("QS-PB", "joint_meeting", "2025-Q1"): (1, False, 1, False, False, "not_due"),
            ("QS-PB", "joint_meeting", "2025-Q3"): (1, True, 0, False, False, "missed"),
            ("QS-PB", "mutual_inspection", "2025"): (1, False, 1, False, False, "not_due"),
            ("QS-PC", "activity_day", "2025-04"): (1, False, 0, False, False, "not_due"),
            ("QS-PC", "activity_day", "2025-07"): (1, True, 0, False, False, "missed"),
            ("QS-PC", "cross_learning", "2025-12"): (1, True, 1, True, False, "late"),
            ("QS-PC", "joint_meeting", "2025-Q2"): (1, False, 1, False, False, "not_due"),
            ("QS-PC", "mutual_inspection", "2025"): (1, False, 0, False, False, "not_due"),
        }
        actual = {key: tuple(self.cells[key][f] for f in fields) for key in expected}
        assert actual == expected

    def test_json_cell_names_both_branches(self):
        row = self.cells[("QS-PA", "mutual_inspection", "2025")]
        assert (row["helper"], row["helped"], row["required"]) == (
            "县财政局机关党支部",
            "石门村党支部",
            1,
        )

    def test_json_rolls_up_by_regime(self):
        assert self.document["by_regime"] == [
            {
                "regime": "activity_day",
                "name": "集体活动日制度",
                "met": ratio(13, 31, 13 / 31),
                "on_time": ratio(11, 31, 11 / 31),
            },
            {
                "regime": "cross_learning",
                "name": "交叉学习月制度",
                "met": ratio(3, 31, 3 / 31),
                "on_time": ratio(2, 31, 2 / 31),
            },
            {
                "regime": "joint_meeting",
                "name": "季度联席会制度",
                "met": ratio(6, 10, 0.6),
                "on_time": ratio(5, 10, 0.5),
            },
            {
                "regime": "mutual_inspection",
                "name": "年度党建互检制度",
                "met": ratio(1, 1, 1.0),
                "on_time": ratio(1, 1, 1.0),
            },
            {
                "regime": "daily_help",
                "name": "日常党建互助制度",
                "met": ratio(0, 0, None),
                "on_time": ratio(0, 0, None),
            },
        ]

    def test_json_total_is_the_sum_over_every_due_cell(self):
        assert self.document["total"] == {
            "met": ratio(23, 73, 23 / 73),
            "on_time": ratio(19, 73, 19 / 73),
        }

    def test_json_rolls_up_by_period_in_order_of_start(self):
        by_period = {row["period"]: row for row in self.document["by_period"]}
        assert list(by_period) == [
            "2025",
            "2025-01",
            "2025-Q1",
            "2025-02",
            "2025-03",
            "2025-04",
            "2025-Q2",
            "2025-05",
            "2025-06",
            "2025-07",
            "2025-Q3",
            "2025-08",
            "2025-09",
            "2025-10",
            "2025-Q4",
            "2025-11",
            "2025-12",
        ]
        # January: AD PA ✓ PC ✓ (PB not due), CL PA ✓ PC ✗.
        assert by_period["2025-01"]["met"] == ratio(3, 4, 0.75)
        # Q3: JM PA ◐, PB ✗, PC ✗.
        assert by_period["2025-Q3"]["met"] == ratio(1, 3, 1 / 3)
        assert by_period["2025-Q3"]["on_time"] == ratio(0, 3, 0.0)
        # September: AD PA ◐, PB ✗, PC ✗; CL all three ✗.
        assert by_period["2025-09"]["met"] == ratio(1, 6, 1 / 6)
        assert by_period["2025"]["met"] == ratio(1, 1, 1.0)  # MI: PA only

    def test_regime_option_limits_the_output_to_that_regime(self):
        document = run_json("--org", "QS", *YEAR_2025, "--regime", "joint_meeting")
        assert len(document["cells"]) == 12  # 3 pairings × 4 quarters
        assert {c["regime"] for c in document["cells"]} == {"joint_meeting"}
        assert document["by_regime"] == [
            {
                "regime": "joint_meeting",
                "name": "季度联席会制度",
                "met": ratio(6, 10, 0.6),
                "on_time": ratio(5, 10, 0.5),
            }
        ]
        assert document["by_period"] == [
            {"period": "2025-Q1", "met": ratio(2, 2, 1.0), "on_time": ratio(2, 2, 1.0)},
            {"period": "2025-Q2", "met": ratio(2, 2, 1.0), "on_time": ratio(2, 2, 1.0)},
            {"period": "2025-Q3", "met": ratio(1, 3, 1 / 3), "on_time": ratio(0, 3, 0.0)},
            {"period": "2025-Q4", "met": ratio(1, 3, 1 / 3), "on_time": ratio(1, 3, 1 / 3)},
        ]
        assert document["total"] == {"met": ratio(6, 10, 0.6), "on_time": ratio(5, 10, 0.5)}

    def test_org_option_limits_the_output_to_pairings_under_it(self):
        document = run_json("--org", "QS-SM", *YEAR_2025)  # 石门镇: PA and PB
        assert {c["pairing"] for c in document["cells"]} == {"QS-PA", "QS-PB"}
        assert document["total"] == {
            "met": ratio(20, 52, 20 / 52),
            "on_time": ratio(17, 52, 17 / 52),
        }

    def test_periods_not_ended_on_the_local_date_are_current_and_not_counted(self):
        with mock.patch("django.utils.timezone.localdate", return_value=D(2025, 11, 20)):
            document = run_json("--org", "QS", *YEAR_2025, "--regime", "activity_day")
        cells = {(c["pairing"], c["period"]): c for c in document["cells"]}
        for key in (("QS-PA", "2025-11"), ("QS-PB", "2025-12"), ("QS-PC", "2025-11")):
            assert (cells[key]["state"], cells[key]["due"]) == ("current", False)
        assert cells[("QS-PA", "2025-10")]["state"] == "missed"
        # Due Jan–Oct: PA 10, PB 8 (Mar–Oct), PC 7 (Jan–Mar, Jul–Oct); met 9 + 3 + 1.
        assert document["total"] == {
            "met": ratio(13, 25, 13 / 25),
            "on_time": ratio(11, 25, 11 / 25),
        }

    def test_csv_has_a_header_and_one_row_per_cell(self):
        lines = run("--org", "QS", *YEAR_2025, "--format", "csv").splitlines()
        assert (
            lines[0] == "pairing,helper,helped,regime,period,required,count,due,met,on_time,state"
        )
        assert len(lines) == 1 + 123
        assert (
            "QS-PA,县财政局机关党支部,石门村党支部,activity_day,2025-09,1,1,True,True,False,late"
            in (lines)
        )
        rows = list(csv.DictReader(lines))
        assert sum(row["state"] == "missed" for row in rows) == 73 - 23

    def test_table_shows_each_regime_with_its_rates(self):
        output = run("--org", "QS", *YEAR_2025, "--format", "table")
        lines = output.splitlines()
        assert lines[0] == "青山县委  2025-01-01 至 2025-12-31"
        assert "完成率" in lines[1] and "按时率" in lines[1]
        rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
        assert rows == {
            "集体活动日制度": ["41.9%（13/31）", "35.5%（11/31）"],
            "交叉学习月制度": ["9.7%（3/31）", "6.5%（2/31）"],
            "季度联席会制度": ["60%（6/10）", "50%（5/10）"],
            "年度党建互检制度": ["100%（1/1）", "100%（1/1）"],
            "日常党建互助制度": ["—（0/0）", "—（0/0）"],
            "合计": ["31.5%（23/73）", "26%（19/73）"],
        }

    def test_table_for_one_branch_and_one_regime(self):
        output = run("--org", "QS-CZ", *YEAR_2025, "--regime", "joint_meeting", "--format", "table")
        assert "季度联席会制度" in output
        assert "75%（3/4）" in output  # PA: Q1, Q2, Q3 met
        assert "50%（2/4）" in output  # Q3 was late
        assert "集体活动日制度" not in output

    def test_unknown_organization_is_refused(self):
        with pytest.raises(CommandError, match="没有编码为 NOPE 的党组织。"):
            run("--org", "NOPE", *YEAR_2025)

    def test_organization_in_the_trash_is_refused(self):
        Organization.objects.filter(pk=self.hekou.pk).update(deleted_at=timezone.now())
        with pytest.raises(CommandError, match="没有编码为 QS-HK 的党组织。"):
            run("--org", "QS-HK", *YEAR_2025)

    def test_bad_date_is_refused(self):
        with pytest.raises(CommandError, match="日期格式应为 YYYY-MM-DD：2025-02-30"):
            run("--org", "QS", "--start", "2025-02-30", "--end", "2025-12-31")
        with pytest.raises(CommandError, match="日期格式应为 YYYY-MM-DD：2025/12/31"):
            run("--org", "QS", "--start", "2025-01-01", "--end", "2025/12/31")

    def test_start_after_end_is_refused(self):
        with pytest.raises(CommandError, match="开始日期不能晚于结束日期。"):
            run("--org", "QS", "--start", "2025-12-31", "--end", "2025-01-01")

    def test_unknown_regime_is_refused(self):
        with pytest.raises(CommandError, match="没有编码为 weekly_tea 的制度。"):
            run("--org", "QS", *YEAR_2025, "--regime", "weekly_tea")


class RollupTests(QingshanCounty, TestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.evaluation = compliance.evaluate(
            pairings_under(cls.county), D(2025, 1, 1), D(2025, 12, 31), today=TODAY
        )

    def test_by_pairing_sums_each_pairing_over_regimes_and_periods(self):
        assert self.evaluation.by_pairing() == {
            self.pa.pk: (Ratio(15, 29), Ratio(13, 29)),
            self.pb.pk: (Ratio(5, 23), Ratio(4, 23)),
            self.pc.pk: (Ratio(3, 21), Ratio(2, 21)),
        }

    def test_pairing_counts_under_its_township_and_under_the_organs_committee(self):
        rows = self.evaluation.by_organization([self.shimen, self.hekou, self.organs, self.county])
        assert rows == {
            self.shimen: (Ratio(20, 52), Ratio(17, 52)),  # PA + PB
            self.hekou: (Ratio(3, 21), Ratio(2, 21)),  # PC
            self.organs: (Ratio(23, 73), Ratio(19, 73)),  # all three organ branches
            self.county: (Ratio(23, 73), Ratio(19, 73)),
        }
        # A ratio of sums: 20/52 = 38.5%, not the mean of PA 51.7% and PB 21.7% (36.7%).
        assert rows[self.shimen][0].percent == 38.5

    def test_by_period_is_ordered_by_start_then_code(self):
        codes = [code for _, code in self.evaluation.by_period()]
        assert codes[:7] == [
            "2025",
            "2025-01",
            "2025-Q1",
            "2025-02",
            "2025-03",
            "2025-04",
            "2025-Q2",
        ]
        assert codes[-3:] == ["2025-Q4", "2025-11", "2025-12"]

    def test_missing_lists_exactly_the_missed_cells_of_the_given_periods(self):
        missing = {
            (self.evaluation.pairings[c.pairing_id].code, c.regime.code, c.period.code)
            for c in self.evaluation.missing(periods={"2025-Q3", "2025-Q4"})
        }
        assert missing == {
            ("QS-PA", "joint_meeting", "2025-Q4"),  # a draft only
            ("QS-PB", "joint_meeting", "2025-Q3"),
            ("QS-PC", "joint_meeting", "2025-Q3"),  # returned
            ("QS-PC", "joint_meeting", "2025-Q4"),
        }

    def test_missing_counts_every_missed_cell(self):
        assert len(self.evaluation.missing()) == 73 - 23
        october = {
            (self.evaluation.pairings[c.pairing_id].code, c.regime.code)
            for c in self.evaluation.missing(periods={"2025-10"})
        }
        assert october == {
            ("QS-PA", "activity_day"),
            ("QS-PB", "activity_day"),
            ("QS-PC", "activity_day"),
            ("QS-PA", "cross_learning"),
            ("QS-PB", "cross_learning"),
            ("QS-PC", "cross_learning"),
        }

    def test_pairing_without_any_activity_has_a_row_for_every_due_period(self):
        idle = make_pairing(
            make_branch(self.organs, code="QS-WS"),
            make_branch(self.hekou, sector="rural", code="QS-XZC"),
            code="QS-PD",
            start_date=D(2024, 1, 1),
        )
        evaluation = evaluate_one(idle, D(2025, 1, 1), D(2025, 3, 31))
        assert {(c.regime.code, c.period.code) for c in evaluation.missing()} == {
            ("activity_day", "2025-01"),
            ("activity_day", "2025-02"),
            ("activity_day", "2025-03"),
            ("cross_learning", "2025-01"),
            ("cross_learning", "2025-02"),
            ("cross_learning", "2025-03"),
            ("joint_meeting", "2025-Q1"),
            ("mutual_inspection", "2025"),  # the year overlaps the range
        }

    def test_current_period_is_current_and_left_out_of_the_rates(self):
        evaluation = compliance.evaluate(
            pairings_under(self.county),
            D(2025, 1, 1),
            D(2025, 3, 31),
            regime_codes={"activity_day"},
            today=D(2025, 3, 15),
        )
        march = cell(evaluation, self.pa, "activity_day", "2025-03")
        assert (march.state, march.due, march.count) == (CURRENT, False, 1)
        assert cell(evaluation, self.pb, "activity_day", "2025-03").state == CURRENT
        # Jan: PA ✓, PC ✓; Feb: PA ✓, PC ✗; PB not due before March.
        assert evaluation.total() == (Ratio(3, 4), Ratio(3, 4))
        assert str(evaluation.total()[0]) == "75%（3/4）"

    def test_last_day_of_a_period_still_belongs_to_it(self):
        evaluation = compliance.evaluate(
            pairings_under(self.county),
            D(2025, 3, 1),
            D(2025, 4, 30),
            regime_codes={"activity_day"},
            today=D(2025, 3, 31),
        )
        assert cell(evaluation, self.pa, "activity_day", "2025-03").state == CURRENT
        evaluation = compliance.evaluate(
            pairings_under(self.county),
            D(2025, 3, 1),
            D(2025, 4, 30),
            regime_codes={"activity_day"},
            today=D(2025, 4, 1),
        )
        assert cell(evaluation, self.pa, "activity_day", "2025-03").state == MET

    def test_current_status_shows_this_period_and_the_previous_one(self):
        statuses = compliance.current_status(Pairing.objects.filter(pk=self.pa.pk), D(2025, 11, 20))
        rows = [
            (
                s.regime.code,
                s.period.code,
                s.done,
                s.required,
                s.met,
                s.due,
                s.previous.period.code,
                s.previous.state,
                s.previous_missed,
                s.days_left,
            )
            for s in statuses[self.pa.pk]
        ]
        assert rows == [
            # November: the returned activity does not count; October had a draft only.
            ("activity_day", "2025-11", 0, 1, False, True, "2025-10", MISSED, True, 11),
            ("cross_learning", "2025-11", 0, 1, False, True, "2025-10", MISSED, True, 11),
            # Q4 so far: nothing (the December draft does not count); Q3 was late, not missed.
            ("joint_meeting", "2025-Q4", 0, 1, False, True, "2025-Q3", LATE, False, 42),
            # 2025: inspected in June; 2024 was due (paired since 2024-01-01) and missed.
            ("mutual_inspection", "2025", 1, 1, True, True, "2024", MISSED, True, 42),
        ]

    def test_current_status_of_a_suspended_pairing_is_not_due(self):
        statuses = compliance.current_status(Pairing.objects.filter(pk=self.pc.pk), D(2025, 5, 15))
        rows = [
            (s.regime.code, s.period.code, s.done, s.due, s.previous.state, s.previous_missed)
            for s in statuses[self.pc.pk]
        ]
        assert rows == [
            ("activity_day", "2025-05", 1, False, NOT_DUE, False),  # April touched the suspension
            ("cross_learning", "2025-05", 0, False, NOT_DUE, False),
            ("joint_meeting", "2025-Q2", 1, False, MET, False),
            ("mutual_inspection", "2025", 0, False, NOT_DUE, False),  # paired since 2024-06
        ]


# ---------------------------------------------------------------------------------------------
# The command's query count does not grow with the data.


def build_county(code, organs, villages):
    """`organs` × `villages` pairings since 2024-01-01, every tenth suspended for 2025-Q3, each
    with an on-time activity day in January, February and March 2025."""
    county = make_county(code=code)
    committee = make_org(county, code=f"{code}-JG", kind="working_committee")
    township = make_org(county, code=f"{code}-XZ", kind="committee", sector="rural")
    helpers = [make_branch(committee, code=f"{code}-O{i:02d}") for i in range(organs)]
    helped = [
        make_branch(township, sector="rural", code=f"{code}-V{i:02d}") for i in range(villages)
    ]
    pairings = Pairing.objects.bulk_create(
        Pairing(code=f"{code}-P{h.code}-{v.code}", helper=h, helped=v, start_date=D(2024, 1, 1))
        for h in helpers
        for v in helped
    )
    PairingSuspension.objects.bulk_create(
        PairingSuspension(
            pairing=p, start_date=D(2025, 7, 1), end_date=D(2025, 9, 30), reason="换届"
        )
        for p in pairings[::10]
    )
    regime = Regime.objects.get(code="activity_day")
    submitted_at = timezone.make_aware(datetime.datetime(2025, 4, 1, 9))
    Activity.objects.bulk_create(
        Activity(
            pairing=p,
            regime=regime,
            category="study",
            date=D(2025, month, 10),
            title="集体活动日",
            logged_by_branch_id=p.helper_id,
            status="submitted",
            submitted_at=submitted_at,
            on_time=True,
        )
        for p in pairings
        for month in (1, 2, 3)
    )
    return len(pairings)


class CommandQueryCountTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.small = build_county("XA", organs=2, villages=5)
        cls.large = build_county("XB", organs=20, villages=15)

    def capture(self, *args):
        with CaptureQueriesContext(connection) as queries:
            document = run_json(*args)
        return len(queries), document

    def test_same_few_queries_for_10_and_for_300_pairings(self):
        assert (self.small, self.large) == (10, 300)
        small_queries, small = self.capture("--org", "XA", *YEAR_2025)
        large_queries, large = self.capture("--org", "XB", *YEAR_2025)
        # The organization; then the regimes' cadences, the pairings, their suspensions and the
        # activity counts, one query each.
        assert small_queries == large_queries == 5
        # Due per pairing: 12 + 12 + 4 + 1 = 29, or 9 + 9 + 3 + 0 = 21 if suspended in Q3.
        # 10 pairings, 1 suspended: 9 × 29 + 21 = 282 due, 10 × 3 = 30 met.
        assert small["total"]["met"] == ratio(30, 282, 30 / 282)
        # 300 pairings, 30 suspended: 270 × 29 + 30 × 21 = 8460 due, 300 × 3 = 900 met.
        assert large["total"]["met"] == ratio(900, 8460, 900 / 8460)
        assert len(large["cells"]) == 300 * 41

    def test_regime_option_costs_one_more_query(self):
        queries, document = self.capture("--org", "XB", *YEAR_2025, "--regime", "activity_day")
        assert queries == 6
        # Activity day due: 270 × 12 + 30 × 9 = 3510.
        assert document["by_regime"][0]["met"] == ratio(900, 3510, 900 / 3510)


def random_county(seed):
    """The two-pairing county and six more pairings with random activities: pairings that start
    late, end early or are suspended, late and missing periods, a cadence change in 2025.
    Returns the organizations to roll up under."""
    import random

    rng = random.Random(seed)
    w = make_two_pairing_county()
    organs = Organization.objects.get(name="县直机关工委")
    more = [
        make_pairing(
            make_branch(organs, name=f"县第{i}局党支部"),
            make_branch(rng.choice([w.township_a, w.township_b]), sector="rural", name=f"第{i}村"),
            start_date=D(2024, rng.randint(1, 12), 1),
            end_date=rng.choice([None, None, D(2025, rng.randint(1, 12), 28)]),
        )
        for i in range(6)
    ]
    PairingSuspension.objects.create(
        pairing=more[0], start_date=D(2025, 3, 10), end_date=D(2025, 5, 2), reason="村两委换届"
    )
    RegimeCadence.objects.create(
        regime=Regime.objects.get(code="joint_meeting"),
        cadence=Cadence.MONTH,
        required=2,
        valid_from=D(2025, 7, 15),
    )
    codes = ["activity_day", "cross_learning", "joint_meeting", "mutual_inspection", "daily_help"]
    for pairing in [w.pairing_a, w.pairing_b, *more]:
        for _ in range(60):
            day = D(2024, 1, 1) + datetime.timedelta(days=rng.randint(0, 800))
            make_submitted_activity(
                pairing,
                rng.choice(codes),
                day,
                on_time=rng.random() < 0.7,
                status=rng.choice(["submitted", "confirmed", "draft"]),
            )
    return [w.township_a, w.township_b, organs]


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [4, 5])
def test_the_sql_rollup_equals_the_cell_by_cell_evaluation(seed):
    """Wide scopes read compliance rolled up in SQL; it must agree with evaluate() exactly."""
    organizations = random_county(seed)
    pairings = Pairing.objects.all()
    today = D(2026, 2, 10)
    for start, end in [(D(2025, 1, 1), D(2025, 12, 31)), (D(2024, 3, 1), D(2026, 1, 31))]:
        cells = compliance.evaluate(pairings, start, end, today=today)
        rolled = compliance.rollup(pairings, start, end, today=today)
        assert rolled.by_regime() == cells.by_regime()
        assert rolled.total() == cells.total()
        assert rolled.by_pairing() == cells.by_pairing()
        assert rolled.by_organization(organizations) == cells.by_organization(organizations)
        missed = {}
        for cell in cells.missing():
            key = (cell.pairing_id, cell.regime.pk)
            missed[key] = missed.get(key, 0) + 1
        assert rolled.missed_by_regime == missed
        assert rolled.cadenced == {c.regime for c in cells.cells if c.required}
        assert sum(n for n in missed.values()) > 0  # the data did miss periods


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [4, 5])
def test_the_sql_short_lists_equal_each_pairings_current_status(seed):
    """The compliance summary lists, from SQL, what current_status() tells of each pairing: the
    required regimes not done yet this period, those missed last period, in pairing code and
    regime order; the first `limit` of each and the totals."""
    random_county(seed)
    pairings = Pairing.objects.all()
    joint_meeting = Regime.objects.get(code="joint_meeting")
    seen = {"not_done": 0, "missed": 0}
    # Mid-month and a period's last day; before and after the cadence change; a year's first day.
    for today in [D(2025, 6, 15), D(2025, 9, 30), D(2025, 10, 1), D(2026, 1, 1), D(2026, 2, 10)]:
        for codes in [None, {"joint_meeting"}, {"mutual_inspection", "activity_day"}]:
            statuses = compliance.current_status(pairings, today)
            expected = {"not_done": [], "missed": []}
            for pk, rows in statuses.items():
                for s in rows:
                    if codes and s.regime.code not in codes:
                        continue
                    if s.due and not s.met:
                        expected["not_done"].append(
                            (pk, s.regime, s.period, s.done, s.required, s.days_left)
                        )
                    if s.previous_missed:
                        p = s.previous
                        expected["missed"].append((pk, s.regime, p.period, p.count, p.required))
            lists = compliance.short_lists(pairings, today, regime_codes=codes)
            assert [(s.pairing_id, *s[4:]) for s in lists.not_done] == expected["not_done"]
            assert [(s.pairing_id, *s[4:8]) for s in lists.missed] == expected["missed"]
            assert lists.not_done_total == len(expected["not_done"])
            assert lists.missed_total == len(expected["missed"])
            first = compliance.short_lists(pairings, today, regime_codes=codes, limit=3)
            assert first.not_done == lists.not_done[:3]
            assert first.missed == lists.missed[:3]
            assert (first.not_done_total, first.missed_total) == (
                lists.not_done_total,
                lists.missed_total,
            )
            seen["not_done"] += len(expected["not_done"])
            seen["missed"] += len(expected["missed"])
    assert min(seen.values()) > 10  # both lists had rows to compare
    # Monthly, two required, from October 2025: on its first day, Q3 is missed under the old rule.
    assert joint_meeting in {
        s.regime for s in compliance.short_lists(pairings, D(2025, 10, 1)).missed
    }
