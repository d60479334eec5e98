"""Numbers as the county's reports write them (DOMAIN.md, "Number style").

Person-times, yuan and counts are plain integers (130人次, 73710元); an area of 10,000 or more
is written in 万 with at most two decimals, rounded half up on decimals, trailing zeros dropped
(9.3万亩, 22.36万亩); smaller ones stay plain (2500亩).
"""

from decimal import ROUND_HALF_UP, Decimal

WAN = Decimal(10000)


def _plain(value, places="1"):
    return format(Decimal(value).quantize(Decimal(places), rounding=ROUND_HALF_UP).normalize(), "f")


def quantity(value, unit="", style="plain"):
    """`value` (a Decimal, int or numeric string) in the report's style, with its unit."""
    value = Decimal(value if value is not None else 0)
    if style == "wan" and value >= WAN:
        return f"{_plain(value / WAN, '0.01')}万{unit}"
    return f"{_plain(value)}{unit}"


def metric_quantity(value, metric):
    return quantity(value, metric.unit, metric.style)


def percent(ratio):
    """A Ratio as the report writes it: 87.5%, or 一 when nothing was due."""
    return "—" if ratio.percent is None else f"{ratio.percent:g}%"
