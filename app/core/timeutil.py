"""Time: stored in UTC, shown in Asia/Shanghai."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def local(dt: datetime | None) -> datetime | None:
    """The same instant in Shanghai time."""
    if dt is None:
        return None
    return dt.astimezone(SHANGHAI)


def local_today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


def from_local(d: date, t: time = time(0, 0)) -> datetime:
    """A Shanghai wall-clock date and time as an aware UTC datetime."""
    return datetime.combine(d, t, tzinfo=SHANGHAI).astimezone(timezone.utc)


def format_local(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if dt is None:
        return ""
    return dt.astimezone(SHANGHAI).strftime(fmt)
