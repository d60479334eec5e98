"""Reporting periods: months (2025-03), quarters (2025-Q1), halves (2025-H1) and years (2025)."""

import datetime
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

PERIOD_RE = re.compile(
    r"^(?P<year>\d{4})(?:-(?:(?P<month>\d{2})|Q(?P<quarter>[1-4])|H(?P<half>[12])))?$"
)


@dataclass(frozen=True, order=True)
class Period:
    start: datetime.date
    end: datetime.date
    code: str

    @classmethod
    def parse(cls, code):
        """Parse a period code; raises ValidationError with a Chinese message."""
        match = PERIOD_RE.match((code or "").strip().upper())
        if not match or not 1 <= int(match["year"]) <= 9998:
            raise ValidationError(
                "期间格式应为 2025、2025-H1、2025-Q4 或 2025-06。", code="invalid_period"
            )
        year = int(match["year"])
        if match["month"]:
            month = int(match["month"])
            if not 1 <= month <= 12:
                raise ValidationError("月份应在 01 到 12 之间。", code="invalid_period")
            return cls.month(year, month)
        if match["quarter"]:
            return cls._span(year, 3 * int(match["quarter"]) - 2, 3, f"{year}-Q{match['quarter']}")
        if match["half"]:
            return cls._span(year, 6 * int(match["half"]) - 5, 6, f"{year}-H{match['half']}")
        return cls._span(year, 1, 12, str(year))

    @classmethod
    def month(cls, year, month):
        return cls._span(year, month, 1, f"{year}-{month:02d}")

    @classmethod
    def _span(cls, year, first_month, months, code):
        start = datetime.date(year, first_month, 1)
        last_month = first_month + months - 1
        next_start = (
            datetime.date(year + 1, 1, 1)
            if last_month == 12
            else datetime.date(year, last_month + 1, 1)
        )
        return cls(start, next_start - datetime.timedelta(days=1), code)

    def __str__(self):
        return self.code

    @property
    def label(self):
        """The period as Chinese text: 2025年3月, 2025年第一季度, 2025年上半年, 2025年."""
        year, _, rest = self.code.partition("-")
        if not rest:
            return f"{year}年"
        if rest.startswith("Q"):
            return f"{year}年第{'一二三四'[int(rest[1]) - 1]}季度"
        if rest.startswith("H"):
            return f"{year}年{'上下'[int(rest[1]) - 1]}半年"
        return f"{year}年{int(rest)}月"

    def __contains__(self, day):
        return self.start <= day <= self.end
