"""Cell values as people type them in Chinese spreadsheets, turned into Python values.

Each parser takes the raw cell (str, float, int, bool, date or datetime, as the readers give it) and
returns the value, or raises `CellError` with a message for the user. Empty cells never reach a parser.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

EXCEL_EPOCH = dt.date(1899, 12, 30)
# Excel serial numbers we accept as dates: 1927-05-18 .. 2119-01-09 (anything else is not a plausible date)
SERIAL_MIN, SERIAL_MAX = 10_000, 80_000
YUAN, WAN = "yuan", "wan"  # money units: 元 and 万元
PERCENT = "percent"
CENT = Decimal("0.01")
TEN_THOUSAND = Decimal(10_000)
ONE = Decimal(1)
NOISE = Decimal("1e-6")


class CellError(ValueError):
    """A cell that cannot be read; the message is shown to the user with the row and column."""


def is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def clean_text(raw: Any) -> str:
    """Text of a cell: numbers that Excel stored as numbers lose their ".0" (phone numbers, codes)."""
    if isinstance(raw, float):
        if raw.is_integer():
            return str(int(raw))
        return repr(raw)
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time(0) else raw.isoformat(sep=" ")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if isinstance(raw, bool):
        return "是" if raw else "否"
    return str(raw).strip()


def normalize(text: str) -> str:
    """Full-width to half-width, no spaces, lower case: how headers and choice labels are compared."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", text).lower()


# dates --------------------------------------------------------------------------------------------------
_DATE_PATTERNS = [
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?(?:\.0+)?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
]


def parse_date(raw: Any, unit: str | None = None) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, bool):
        raise CellError(_("Enter a date such as 2023-05-01."))
    if isinstance(raw, int | float):
        return _serial_date(raw)
    text = unicodedata.normalize("NFKC", str(raw)).strip().replace(" ", " ")
    text = re.sub(r"\s+", " ", text)
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            try:
                return dt.date(year, month, day)
            except ValueError:
                raise CellError(_("%(value)s is not a valid date.") % {"value": text}) from None
    if re.fullmatch(r"\d+(\.0+)?", text):
        return _serial_date(float(text))
    raise CellError(
        _("%(value)s is not a date; write it as 2023-05-01, 2023/5/1 or 2023年5月1日.") % {"value": text}
    )


def _serial_date(number: float) -> dt.date:
    if not float(number).is_integer() or not SERIAL_MIN <= number <= SERIAL_MAX:
        raise CellError(_("%(value)s is not a date; write it as 2023-05-01.") % {"value": clean_text(number)})
    return EXCEL_EPOCH + dt.timedelta(days=int(number))


# numbers ------------------------------------------------------------------------------------------------
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def _number_text(raw: Any) -> tuple[str, str | None]:
    """The digits of a number typed as text, and a unit written in the cell (万元, 元, %), if any."""
    text = unicodedata.normalize("NFKC", str(raw)).strip().replace(" ", "").replace("\u3000", "")
    unit = None
    for suffix, name in (("万元", WAN), ("万", WAN), ("元", YUAN), ("%", PERCENT)):
        if text.endswith(suffix):
            text, unit = text[: -len(suffix)], name
            break
    if _GROUPED.match(text):
        text = text.replace(",", "")
    return text, unit


def parse_decimal(raw: Any, unit: str | None = None) -> Decimal:
    """A decimal number; money in 万元 is turned into yuan (the unit the database keeps)."""
    cell_unit = None
    if isinstance(raw, bool):
        raise CellError(_("Enter a number."))
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw))
    else:
        text, cell_unit = _number_text(raw)
        if not _NUMBER.match(text):
            raise CellError(_("%(value)s is not a number.") % {"value": str(raw).strip()})
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise CellError(_("%(value)s is not a number.") % {"value": str(raw).strip()}) from None
    if cell_unit in (WAN, YUAN) and unit in (WAN, YUAN):
        unit = cell_unit
    if unit == WAN:
        value = value * TEN_THOUSAND
    # money is kept in yuan with two decimals: drop trailing zeros a conversion or a float left behind
    cents = value.quantize(CENT, rounding=ROUND_HALF_UP)
    if value == cents:
        # equal: rounding to cents changed nothing, so any rounding mode gives these cents
        value = cents
        if value == value.to_integral_value():
            value = value.quantize(ONE)
    elif isinstance(raw, float) and abs(value - cents) < NOISE:
        value = cents  # float noise such as 0.30000000000000004
    return value


def parse_integer(raw: Any, unit: str | None = None) -> int:
    if isinstance(raw, bool):
        raise CellError(_("Enter a whole number."))
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if raw.is_integer():
            return int(raw)
        raise CellError(_("%(value)s is not a whole number.") % {"value": clean_text(raw)})
    text, _unit = _number_text(raw)
    text = text.removesuffix("人").removesuffix("户")
    if re.fullmatch(r"[+-]?\d+(\.0*)?", text):
        return int(Decimal(text))
    raise CellError(_("%(value)s is not a whole number.") % {"value": str(raw).strip()})


def parse_year(raw: Any, unit: str | None = None) -> int:
    if isinstance(raw, dt.date):
        return raw.year
    if isinstance(raw, str):
        raw = unicodedata.normalize("NFKC", raw).strip().removesuffix("年度").removesuffix("年")
    return parse_integer(raw)


# yes / no -----------------------------------------------------------------------------------------------
TRUE_WORDS = {
    "是",
    "有",
    "已",
    "√",
    "✓",
    "✔",
    "y",
    "yes",
    "true",
    "t",
    "1",
    "对",
    "已召开",
    "已报送",
    "已备案",
}
FALSE_WORDS = {
    "否",
    "无",
    "未",
    "没有",
    "×",
    "✗",
    "✘",
    "n",
    "no",
    "false",
    "f",
    "0",
    "未召开",
    "未报送",
    "未备案",
}


def parse_bool(raw: Any, unit: str | None = None) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) and raw in (0, 1):
        return bool(raw)
    word = normalize(clean_text(raw))
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError(_("%(value)s is not yes or no; write 是 or 否.") % {"value": clean_text(raw)})


def parse_text(raw: Any, unit: str | None = None) -> str:
    return clean_text(raw)
