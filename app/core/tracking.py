"""Tracking numbers (comments ZX-…, messages LY-…): a free random number of the year, and its check character.

The check character is ISO 7064 MOD 11-2 (0-9 or X, as in the Chinese resident ID number). It catches every single
wrong digit and every swap of two adjacent digits, so a mistyped number is refused instead of showing someone else's
record."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from app.core.timeutil import local
from app.extensions import db


def mod11_2_check(digits: str) -> str:
    total = 0
    for ch in digits:
        total = (total + int(ch)) * 2 % 11
    check = (12 - total) % 11
    return "X" if check == 10 else str(check)


def new_tracking_number(column: sa.orm.InstrumentedAttribute, random_number: Callable[[int], str],
                        now: datetime) -> str:
    """A random tracking number of ``now``'s year (the year the writer reads on the receipt: Shanghai's) that
    ``column`` does not hold yet. The serial is random, so numbers cannot be walked to find other people's records."""
    year = local(now).year
    for _attempt in range(20):
        number = random_number(year)
        if db.session.scalar(sa.select(column).where(column == number)) is None:
            return number
    raise RuntimeError("no free tracking number")  # pragma: no cover - 10^8 numbers a year
