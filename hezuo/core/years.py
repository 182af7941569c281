"""The years the platform accepts, in one place.

FISCAL: the years a rating, a plan's target, a compliance check or a report can be for (the federations'
records begin in the 1990s; 2100 keeps hand-typed nonsense such as 20230 out). DATES: the years a date
filter may name (registration dates reach back before the Farmer Cooperatives Law of 2007); both stay
inside what the databases' date functions hold.
"""

from __future__ import annotations

FISCAL_FIRST, FISCAL_LAST = 1990, 2100
DATES_FIRST, DATES_LAST = 1900, 2100


def is_fiscal_year(value: object) -> bool:
    """An int (not a bool) within FISCAL_FIRST..FISCAL_LAST."""
    return isinstance(value, int) and not isinstance(value, bool) and FISCAL_FIRST <= value <= FISCAL_LAST
