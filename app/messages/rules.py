"""Pure rules of messages, with no database: tracking numbers, the time limits of each source and the deadlines
they give on the official working-day calendar."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from app.core.timeutil import from_local, local
from app.core.tracking import TrackingFormat
from app.core.workdays import add_working_days, is_working_day
from app.messages.models import MessageSource

MAX_TEXT_LENGTH = 5000
MAX_SUBJECT_LENGTH = 200
# A forwarded message's date: not before this (an older one is a mistake of the sending system), never in the future.
EARLIEST_FORWARDED = date(2000, 1, 1)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def is_plausible_email(value: str) -> bool:
    """An address a reply can be sent to: one mailbox, nothing around it (no spaces, line breaks or second one)."""
    return len(value) <= 254 and bool(_EMAIL.fullmatch(value))


def is_plausible_forwarded_at(at: datetime, now: datetime) -> bool:
    return local(at).date() >= EARLIEST_FORWARDED and at <= now
RATING_WINDOW = timedelta(days=15)  # the writer rates the reply within 15 days of its release
REMIND_WORKING_DAYS = 2  # staff are reminded this many working days before the reply is due

# ---------------------------------------------------------------------------------------------------------------
# Tracking numbers: LY-YYYY-NNNNNNNN-C (留言), the same shape and check character as comments' ZX- numbers.

TRACKING = TrackingFormat("LY")
make_tracking_number = TRACKING.make
random_tracking_number = TRACKING.random
is_valid_tracking_number = TRACKING.is_valid


# ---------------------------------------------------------------------------------------------------------------
# Time limits per source. Defaults below; the setting MESSAGE_TIME_LIMITS (a dict by source value, e.g.
# {"hotline_12345": {"reply_days": 3}}) overrides any part. The rule's name is shown wherever a deadline is.


@dataclass(frozen=True)
class TimeLimit:
    rule_name: Any  # shown with the deadline
    ack_days: int  # working days from assignment to acknowledgement (签收)
    reply_days: int  # working days from receipt (or reopening) to the reply
    review_required: bool  # the office reviews the reply before it is released
    max_extension_days: int = 10


DEFAULT_TIME_LIMITS: dict[MessageSource, TimeLimit] = {
    MessageSource.CENTRAL_PORTAL: TimeLimit(_l("中国政府网转办留言：1个工作日内签收，10个工作日内答复"), 1, 10, True),
    MessageSource.HOTLINE_12345: TimeLimit(_l("12345热线工单：1个工作日内签收，5个工作日内答复"), 1, 5, False, 5),
    MessageSource.MAILBOX: TimeLimit(_l("部门信箱来信：2个工作日内签收，15个工作日内答复"), 2, 15, False),
    MessageSource.PLATFORM: TimeLimit(_l("平台留言：2个工作日内签收，10个工作日内答复"), 2, 10, True),
}


def time_limit(source: MessageSource) -> TimeLimit:
    limit = DEFAULT_TIME_LIMITS[source]
    overrides = current_app.config.get("MESSAGE_TIME_LIMITS", {}) if has_app_context() else {}
    custom = overrides.get(source.value) or {}
    if not custom:
        return limit
    values = {k: custom.get(k, getattr(limit, k)) for k in ("ack_days", "reply_days", "review_required",
                                                            "max_extension_days")}
    rule_name = custom.get("rule_name") or _l("%(source)s：%(ack)s个工作日内签收，%(reply)s个工作日内答复",
                                              source=source.lazy_label, ack=values["ack_days"],
                                              reply=values["reply_days"])
    return TimeLimit(rule_name, **values)


def end_of_local_day(d: date) -> datetime:
    """The instant a Shanghai day ends (midnight after it), in UTC: a deadline "on" a day is met all that day."""
    return from_local(d + timedelta(days=1), time(0, 0))


def due_after(start: datetime, working_days: int) -> datetime:
    """The end of the ``working_days``-th working day after the Shanghai day of ``start``."""
    return end_of_local_day(add_working_days(local(start).date(), working_days))


def ack_due(source: MessageSource, assigned_at: datetime) -> datetime:
    return due_after(assigned_at, time_limit(source).ack_days)


def reply_due(source: MessageSource, received_at: datetime, reopened_at: datetime | None = None,
              extension_days: int = 0) -> datetime:
    """The reply deadline: the source's working days from receipt (or from reopening, for the second reply), plus
    the working days of an approved extension."""
    start = reopened_at or received_at
    return due_after(start, time_limit(source).reply_days + extension_days)


def remind_from(reply_due_at: datetime) -> datetime:
    """When the reminder before a reply deadline is due: the start of the working day REMIND_WORKING_DAYS working
    days before the last day (due on Friday: reminded from Wednesday morning)."""
    d = local(reply_due_at - timedelta(microseconds=1)).date()
    left = REMIND_WORKING_DAYS
    while left > 0:
        d -= timedelta(days=1)
        if is_working_day(d):
            left -= 1
    return from_local(d)


def last_day(due_at: datetime | None) -> date | None:
    """The last Shanghai day on which a deadline is met (a deadline is the midnight after it)."""
    return local(due_at - timedelta(microseconds=1)).date() if due_at is not None else None
