"""Numbers are written as the county's report writes them."""

from decimal import Decimal

from django.test import SimpleTestCase

from activities.compliance import Ratio
from reports.numbers import percent, quantity


class NumberStyleTests(SimpleTestCase):
    def test_the_source_reports_figures(self):
        assert quantity(130, "人次") == "130人次"
        assert quantity(73710, "元") == "73710元"
        assert quantity(2500, "亩", "wan") == "2500亩"
        assert quantity(93000, "亩", "wan") == "9.3万亩"
        assert quantity(223600, "亩", "wan") == "22.36万亩"

    def test_wan_from_ten_thousand_rounds_half_up_on_decimals_and_drops_trailing_zeros(self):
        assert quantity(10000, "亩", "wan") == "1万亩"
        assert quantity(9999, "亩", "wan") == "9999亩"
        assert quantity(Decimal("223650"), "亩", "wan") == "22.37万亩"  # half up, not half even
        assert quantity(Decimal("223649.99"), "亩", "wan") == "22.36万亩"
        assert quantity(Decimal("100049.99"), "亩", "wan") == "10万亩"
        assert quantity("12345.5", "亩", "wan") == "1.23万亩"

    def test_plain_figures_are_integers_rounded_half_up(self):
        assert quantity(Decimal("12.5"), "件") == "13件"
        assert quantity(Decimal("2.5"), "件") == "3件"  # a binary float would give 2
        assert quantity(Decimal("73710.00"), "元") == "73710元"
        assert quantity(None, "元") == "0元"
        assert quantity(150000, "元") == "150000元"  # yuan stay plain, however large

    def test_percent_says_when_nothing_was_due(self):
        assert percent(Ratio(7, 8)) == "87.5%"
        assert percent(Ratio(1, 1)) == "100%"
        assert percent(Ratio(0, 0)) == "—"
