"""Tracking numbers (comments ZX-…, messages LY-…): PREFIX-YYYY-NNNNNNNN-C, a free random number of the year, its
check character, and the page that looks one up.

The check character C is ISO 7064 MOD 11-2 (0-9 or X, as in the Chinese resident ID number) over the 12 digits
YYYYNNNNNNNN. It catches every single wrong digit and every swap of two adjacent digits, so a mistyped number is
refused instead of showing someone else's record."""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.core.timeutil import local
from app.extensions import db


def mod11_2_check(digits: str) -> str:
    total = 0
    for ch in digits:
        total = (total + int(ch)) * 2 % 11
    check = (12 - total) % 11
    return "X" if check == 10 else str(check)


@dataclass(frozen=True)
class TrackingFormat:
    """The numbers of one kind of record: ``prefix``-YYYY-NNNNNNNN-C."""

    prefix: str

    def make(self, year: int, serial: int) -> str:
        return f"{self.prefix}-{year:04d}-{serial:08d}-{mod11_2_check(f'{year:04d}{serial:08d}')}"

    def random(self, year: int) -> str:
        """A random serial, so numbers cannot be walked to find other people's records."""
        return self.make(year, secrets.randbelow(10**8))

    def is_valid(self, value: str) -> bool:
        m = re.fullmatch(rf"{self.prefix}-(\d{{4}})-(\d{{8}})-([0-9X])", (value or "").strip().upper())
        return bool(m) and mod11_2_check(m.group(1) + m.group(2)) == m.group(3)


def lookup_page(template: str, endpoint: str, is_valid: Callable[[str], bool]) -> ResponseReturnValue:
    """The page where a number is typed in (``template``, extending core/track_lookup.html): a well-formed number
    goes to its status page (``endpoint``); a malformed one is shown again with the reason (422)."""
    number = request.args.get("number", "").strip().upper()
    if not number:
        return render_template(template, number="", error=None)
    if not is_valid(number):
        return render_template(template, number=number, error=_("编号格式或校验位不正确，请核对后重新输入。")), 422
    return redirect(url_for(endpoint, number=number))


def tracking_year(now: datetime) -> int:
    """The year of a number given at ``now``: the year the writer reads on the receipt (Shanghai's)."""
    return local(now).year


def new_tracking_number(column: sa.orm.InstrumentedAttribute | sa.Column, random_number: Callable[[int], str],
                        now: datetime) -> str:
    """A random tracking number of ``now``'s year (``tracking_year``) that ``column`` does not hold yet. The serial is
    random, so numbers cannot be walked to find other people's records."""
    year = tracking_year(now)
    for _attempt in range(20):
        number = random_number(year)
        if db.session.scalar(sa.select(column).where(column == number)) is None:
            return number
    raise RuntimeError("no free tracking number")  # pragma: no cover - 10^8 numbers a year
