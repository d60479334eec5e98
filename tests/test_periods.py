"""Reporting periods: a code (2025, 2025-H1, 2025-Q4, 2025-06) names its first and last day."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import SimpleTestCase, TestCase

from activities.periods import Period
from tests.factories import (
    make_branch,
    make_county,
    make_period_figure,
    make_period_unlock,
    make_user,
)

BAD_FORMAT = "期间格式应为 2025、2025-H1、2025-Q4 或 2025-06。"


def span(code):
    period = Period.parse(code)
    return period.start.isoformat(), period.end.isoformat()


def parse_error(code):
    with pytest.raises(ValidationError) as caught:
        Period.parse(code)
    return caught.value.messages


class PeriodParseTests(SimpleTestCase):
    def test_year_runs_from_january_to_december(self):
        assert span("2025") == ("2025-01-01", "2025-12-31")

    def test_halves_split_the_year_at_june(self):
        assert span("2025-H1") == ("2025-01-01", "2025-06-30")
        assert span("2025-H2") == ("2025-07-01", "2025-12-31")

    def test_quarters_run_three_months(self):
        assert span("2025-Q1") == ("2025-01-01", "2025-03-31")
        assert span("2025-Q2") == ("2025-04-01", "2025-06-30")
        assert span("2025-Q3") == ("2025-07-01", "2025-09-30")
        assert span("2025-Q4") == ("2025-10-01", "2025-12-31")

    def test_month_ends_on_its_last_day(self):
        assert span("2025-06") == ("2025-06-01", "2025-06-30")
        assert span("2025-01") == ("2025-01-01", "2025-01-31")
        assert span("2025-12") == ("2025-12-01", "2025-12-31")

    def test_february_has_29_days_in_a_leap_year(self):
        assert span("2024-02") == ("2024-02-01", "2024-02-29")
        assert span("2025-02") == ("2025-02-01", "2025-02-28")
        assert span("2000-02") == ("2000-02-01", "2000-02-29")
        assert span("2100-02") == ("2100-02-01", "2100-02-28")
        assert span("2024-Q1") == ("2024-01-01", "2024-03-31")

    def test_code_is_normalized(self):
        assert Period.parse(" 2025-q4 ").code == "2025-Q4"
        assert Period.parse("2025-h1").code == "2025-H1"
        assert Period.parse("2025-06").code == "2025-06"

    def test_period_reads_as_chinese(self):
        assert Period.parse("2025").label == "2025年"
        assert Period.parse("2025-H1").label == "2025年上半年"
        assert Period.parse("2025-H2").label == "2025年下半年"
        assert Period.parse("2025-Q1").label == "2025年第一季度"
        assert Period.parse("2025-Q4").label == "2025年第四季度"
        assert Period.parse("2025-03").label == "2025年3月"
        assert str(Period.parse("2025-03")) == "2025-03"

    def test_period_contains_its_first_and_last_day_only(self):
        q2 = Period.parse("2025-Q2")
        assert datetime.date(2025, 4, 1) in q2
        assert datetime.date(2025, 6, 30) in q2
        assert datetime.date(2025, 3, 31) not in q2
        assert datetime.date(2025, 7, 1) not in q2

    def test_periods_sort_by_start(self):
        codes = ["2025-Q2", "2024", "2025-01", "2025-H2"]
        assert [str(p) for p in sorted(map(Period.parse, codes))] == [
            "2024",
            "2025-01",
            "2025-Q2",
            "2025-H2",
        ]

    def test_month_helper_matches_the_parser(self):
        assert Period.month(2024, 2) == Period.parse("2024-02")

    def test_bad_codes_are_refused_in_chinese(self):
        bad = ["", None, "25", "20251", "2025-", "2025/06", "2025-6", "2025-06-01", "2025-W01"]
        bad += ["2025-Q0", "2025-Q5", "2025-H0", "2025-H3", "二〇二五", "0000", "9999"]
        for code in bad:
            with self.subTest(code=code):
                assert parse_error(code) == [BAD_FORMAT]

    def test_month_out_of_range_is_refused_in_chinese(self):
        for code in ["2025-00", "2025-13", "2025-99"]:
            with self.subTest(code=code):
                assert parse_error(code) == ["月份应在 01 到 12 之间。"]

    def test_error_has_a_code_for_forms(self):
        with pytest.raises(ValidationError) as caught:
            Period.parse("2025-13")
        assert caught.value.code == "invalid_period"


class StoredPeriodTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.village = make_branch(make_county(), sector="rural")

    def test_figure_stores_the_canonical_code_and_its_dates(self):
        figure = make_period_figure(self.village, period="2024-h1")
        figure.refresh_from_db()
        assert figure.period == "2024-H1"
        assert (figure.period_start, figure.period_end) == (
            datetime.date(2024, 1, 1),
            datetime.date(2024, 6, 30),
        )

    def test_unlock_stores_the_canonical_code_and_its_dates(self):
        unlock = make_period_unlock(self.village, make_user(), period="2024-02")
        unlock.refresh_from_db()
        assert (unlock.period_start, unlock.period_end) == (
            datetime.date(2024, 2, 1),
            datetime.date(2024, 2, 29),
        )

    def test_figure_with_a_bad_period_is_not_saved(self):
        with pytest.raises(ValidationError):
            make_period_figure(self.village, period="2025-13")

    def test_figure_form_check_names_the_period_field(self):
        figure = make_period_figure(self.village)
        figure.period = "2025-Q5"
        with pytest.raises(ValidationError) as caught:
            figure.clean()
        assert caught.value.message_dict == {"period": [BAD_FORMAT]}
