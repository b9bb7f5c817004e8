"""Keyset cursors for paged lists: a time and an id, written as "<microseconds since 1970>.<id>"."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def time_cursor(at: datetime, ident: int) -> str:
    """The cursor after a row whose keyset is (``at``, ``ident``), e.g. "1764300000000000.42"."""
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}.{ident}"


def parse_time_cursor(value: str | None) -> tuple[datetime, int] | None:
    """The (time, id) a cursor names; None for a missing or malformed one."""
    try:
        micros, _, ident = (value or "").partition(".")
        return _EPOCH + timedelta(microseconds=int(micros)), int(ident)
    except (ValueError, OverflowError):
        return None
