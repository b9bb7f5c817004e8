"""Working days of the official China calendar, with its make-up workdays (调休): shared by every module that
counts time limits (consultation periods, message deadlines). Decided by the maintained ``holidays`` library,
never by a hand list: ``holidays.China`` counts make-up Saturdays such as 2026-02-14 as working days."""
from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=32)
def _china_calendar(year: int) -> holidays.HolidayBase:
    return holidays.China(years=year)


@lru_cache(maxsize=8192)
def is_working_day(d: date) -> bool:
    """Working day of the official calendar: weekdays that are not holidays, plus make-up workdays."""
    return _china_calendar(d.year).is_working_day(d)


@lru_cache(maxsize=8192)
def add_working_days(start: date, n: int) -> date:
    """The ``n``-th working day after ``start`` (``start`` itself not counted); ``n`` = 0 gives ``start``.
    Three working days after Wednesday 2026-09-30 is Saturday 2026-10-10: the National Day holiday does not
    count, the make-up Saturday does."""
    d = start
    left = n
    while left > 0:
        d += timedelta(days=1)
        if is_working_day(d):
            left -= 1
    return d


def working_days_between(first: date, last: date) -> int:
    """Working days after ``first`` up to and including ``last`` (0 when ``last`` is not after ``first``)."""
    count = 0
    d = first
    while d < last:
        d += timedelta(days=1)
        if is_working_day(d):
            count += 1
    return count
