"""Keyset cursors for paged lists: a time and an id, written as "<microseconds since 1970>.<id>" (or, in older
lists, "<seconds since 1970>_<id>"). A cursor outside 1970..2099 or with an id beyond 2^31-1 is malformed."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

from app.core.inputs import parse_id

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_END_SECONDS = int((datetime(2100, 1, 1, tzinfo=timezone.utc) - _EPOCH).total_seconds())
_NUMBER = re.compile(r"[0-9]{1,17}")


def time_cursor(at: datetime, ident: int) -> str:
    """The cursor after a row whose keyset is (``at``, ``ident``), e.g. "1764300000000000.42"."""
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}.{ident}"


def parse_time_cursor(value: str | None) -> tuple[datetime, int] | None:
    """The (time, id) a cursor names; None for a missing or malformed one."""
    micros, _, ident = (value or "").partition(".")
    if not _NUMBER.fullmatch(micros) or int(micros) >= _END_SECONDS * 1_000_000 or parse_id(ident) is None:
        return None
    return _EPOCH + timedelta(microseconds=int(micros)), int(ident)


def parse_stamp_cursor(value: str | None, tz: tzinfo) -> tuple[datetime, int] | None:
    """The (time in ``tz``, id) of a "<seconds>_<id>" cursor; None for a missing or malformed one."""
    seconds, _, ident = (value or "").partition("_")
    if not _NUMBER.fullmatch(seconds) or int(seconds) >= _END_SECONDS or parse_id(ident) is None:
        return None
    return datetime.fromtimestamp(int(seconds), tz), int(ident)
