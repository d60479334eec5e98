"""Turn what real Excel files hold into clean values, or say in Chinese why not.

Real ledgers hold full-width digits and letters (ＡＢ１２), spaces and line breaks around values,
dates as Excel dates, serial numbers or text in five spellings, and numbers stored as text. Every
function takes a raw cell value (as openpyxl reads it) and returns the clean value, None for an
empty cell, or raises Invalid with the reason.
"""

import datetime
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from openpyxl.utils.datetime import from_excel

from pairings.models import code_validator


class Invalid(ValueError):
    """A cell's value cannot be used; the message is the reason, in Chinese."""


def text(value):
    """NFKC-normalised text (full-width → half-width), stripped; None when empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime.datetime):
        value = value.date() if value.time() == datetime.time() else value
    cleaned = unicodedata.normalize("NFKC", str(value)).strip()
    return cleaned or None


def plain(value):
    """Free text (names, titles, places) as typed, stripped: Chinese punctuation stays (，：（）)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    cleaned = str(value).strip()
    return cleaned or None


def header(value):
    """A header as matched: normalised text without any whitespace inside, or ""."""
    cleaned = text(value) or ""
    return re.sub(r"\s+", "", cleaned)


def code(value):
    """A code (组织编码, 党员编号, 对子编号): letters, digits, _ and -; a number cell is its digits."""
    if isinstance(value, float) and not value.is_integer():
        raise Invalid("编码不能是小数，请把该列设为文本格式后重新填写。")
    if isinstance(value, float) and abs(value) >= 1e15:
        raise Invalid("编码位数过长，被Excel按数字保存后已失真，请把该列设为文本格式后重新填写。")
    cleaned = text(value)
    if cleaned is None:
        return None
    if len(cleaned) > 32:
        raise Invalid("编码不能超过32个字符。")
    try:
        code_validator(cleaned)
    except Exception as error:
        raise Invalid("编码只能包含字母、数字、下划线和短横线。") from error
    return cleaned


DATE_PATTERNS = [
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]
EXCEL_MIN_SERIAL, EXCEL_MAX_SERIAL = 1, 2958465  # 1900-01-01 … 9999-12-31


def _make_date(year, month, day):
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError as error:
        raise Invalid("日期不存在，请检查年、月、日。") from error


def date(value):
    """A date from an Excel date, a serial number or text: 2025-03-05, 2025/3/5, 2025.3.5,
    2025年3月5日, 20250305. A time of day after it (2025-03-05 00:00:00) is ignored."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if float(value).is_integer() and 19000101 <= value <= 29991231:
            digits = str(int(value))
            return _make_date(digits[:4], digits[4:6], digits[6:])
        if EXCEL_MIN_SERIAL <= value <= EXCEL_MAX_SERIAL:
            return from_excel(value).date()
        raise Invalid("日期格式不正确，应为 2025-03-05 这样的日期。")
    cleaned = text(value)
    if cleaned is None:
        return None
    cleaned = re.sub(r"\s+\d{1,2}:\d{2}(:\d{2})?$", "", cleaned).replace(" ", "")
    for pattern in DATE_PATTERNS:
        match = pattern.match(cleaned)
        if match:
            return _make_date(*match.groups())
    raise Invalid("日期格式不正确，应为 2025-03-05、2025/3/5、2025.3.5、2025年3月5日 或 20250305。")


def decimal(value, *, places=2):
    """A non-negative decimal with at most `places` decimals, from a number or text ("1,200")."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Invalid("应填写数字。")
    if isinstance(value, (int, float)):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        cleaned = text(value)
        if cleaned is None:
            return None
        cleaned = cleaned.replace(",", "").replace(" ", "")
        try:
            number = Decimal(cleaned)
        except InvalidOperation as error:
            raise Invalid("应填写数字。") from error
    if not number.is_finite():
        raise Invalid("应填写数字。")
    if number < 0:
        raise Invalid("数值不能为负数。")
    if number >= Decimal(10) ** 12:
        raise Invalid("数值过大。")
    if places == 0:
        if number % 1:
            raise Invalid("应填写整数。")
        return int(number)
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step):
        raise Invalid(f"最多保留{places}位小数。")
    return number.quantize(step)


def integer(value):
    """A non-negative whole number, from a number or text."""
    return decimal(value, places=0)


def choice(value, choices, *, aliases=None):
    """The stored value of a fixed label (男 → male); None when empty."""
    cleaned = text(value)
    if cleaned is None:
        return None
    cleaned = cleaned.replace(" ", "")
    if cleaned in choices:
        return choices[cleaned]
    if aliases and cleaned in aliases:
        return aliases[cleaned]
    raise Invalid(f"应为以下之一：{'、'.join(choices)}。")


def split_codes(value, separators):
    """Member codes listed in one cell, separated by 、 , ; or line breaks."""
    cleaned = text(value)
    if cleaned is None:
        return []
    parts = re.split("[" + re.escape(separators) + r"\s]+", cleaned)
    return [part for part in parts if part]
