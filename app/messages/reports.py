"""The periodic report on message handling (定期开展办理情况通报): per department and per source, for a month or a
quarter. Counted over the messages received in the period, except "returned" and "extended", which count the acts
done in the period. Three queries whatever the number of messages; no personal data.

- received, replied (on time / late: the first reply), overdue now (waiting past the deadline), waiting (not yet due),
- reopened (after an unsatisfied rating) and the second replies they got, on time or late against the deadline the
  reopening set: counted apart from the first replies, so a second reply neither hides nor doubles a first one,
- returned (as not its own), extended (approved extensions),
- median working days from receipt to the first reply,
- ratings: how many were rated, satisfied, resolved.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import Department
from app.core.periods import Period
from app.core.timeutil import local, local_today, utcnow
from app.core.workdays import working_days_between
from app.extensions import db
from app.messages.models import CommonProblem, EventKind, Message, MessageEvent, MessageSource, Resolution
from app.oversight.charts import bar_chart

FIGURES = ("received", "replied", "on_time", "late", "overdue", "waiting", "returned", "extended",
           "median_days", "rated", "satisfied", "resolved", "on_time_share", "satisfaction_share",
           "reopened", "second_replied", "second_on_time", "second_late")


def _blank() -> dict:
    return {"received": 0, "replied": 0, "on_time": 0, "late": 0, "overdue": 0, "waiting": 0, "returned": 0,
            "extended": 0, "days": [], "rated": 0, "satisfied": 0, "resolved": 0, "reopened": 0,
            "second_replied": 0, "second_on_time": 0, "second_late": 0}


def _finish(row: dict) -> dict:
    days = row.pop("days")
    row["median_days"] = statistics.median(days) if days else None
    row["on_time_share"] = row["on_time"] / row["replied"] if row["replied"] else None
    row["satisfaction_share"] = row["satisfied"] / row["rated"] if row["rated"] else None
    return row


def figures(period: Period, now: datetime | None = None, department_id: int | None = None) -> dict:
    """{"departments": [row per department], "sources": [row per source], "total": row}; a row holds FIGURES
    and, for departments, "department" (the name) and "department_id" (None: not yet assigned)."""
    now = now or utcnow()
    start, end = period.starts_at, period.ends_at
    stmt = sa.select(Message.department_id, Message.source, Message.received_at, Message.first_replied_at,
                     Message.replied_on_time, Message.reply_due_at, Message.replied_at, Message.reopened_at,
                     Message.rated_at, Message.is_satisfied, Message.resolution).where(
        Message.received_at >= start, Message.received_at < end)
    acts = (sa.select(MessageEvent.department_id, Message.source, MessageEvent.kind, sa.func.count())
            .join(Message, Message.id == MessageEvent.message_id)
            .where(MessageEvent.at >= start, MessageEvent.at < end,
                   MessageEvent.kind.in_([EventKind.RETURNED, EventKind.EXTENSION_APPROVED]))
            .group_by(MessageEvent.department_id, Message.source, MessageEvent.kind))
    if department_id is not None:
        stmt = stmt.where(Message.department_id == department_id)
        acts = acts.where(MessageEvent.department_id == department_id)
    by_dept: dict = defaultdict(_blank)
    by_source: dict = defaultdict(_blank)
    total = _blank()
    for r in db.session.execute(stmt):
        for row in (by_dept[r.department_id], by_source[r.source], total):
            row["received"] += 1
            if r.first_replied_at is not None:
                row["replied"] += 1
                row["on_time" if r.replied_on_time else "late"] += 1
                row["days"].append(working_days_between(local(r.received_at).date(),
                                                        local(r.first_replied_at).date()))
            waiting = r.replied_at is None or (r.reopened_at is not None and r.reopened_at >= r.replied_at)
            if r.reopened_at is not None:
                row["reopened"] += 1
                if not waiting:  # the second reply, against the deadline the reopening set
                    row["second_replied"] += 1
                    on_time = r.reply_due_at is None or r.replied_at < r.reply_due_at
                    row["second_on_time" if on_time else "second_late"] += 1
            if waiting and r.reply_due_at is not None:
                row["overdue" if now >= r.reply_due_at else "waiting"] += 1
            if r.rated_at is not None:
                row["rated"] += 1
                row["satisfied"] += 1 if r.is_satisfied else 0
                row["resolved"] += 1 if r.resolution is Resolution.RESOLVED else 0
    for dept_id, source, kind, count in db.session.execute(acts):
        key = "returned" if kind is EventKind.RETURNED else "extended"
        for row in (by_dept[dept_id], by_source[source], total):
            row[key] += count
    names = {d.id: d for d in db.session.scalars(sa.select(Department))}
    departments = []
    for dept_id, row in by_dept.items():
        dept = names.get(dept_id)
        departments.append(dict(_finish(row), department_id=dept_id, department=dept, code=dept.code if dept else ""))
    departments.sort(key=lambda r: (r["department"] is None, r["department"].id if r["department"] else 0))
    sources = [dict(_finish(by_source[s]), source=s) for s in MessageSource if s in by_source]
    return {"period": period, "departments": departments, "sources": sources, "total": _finish(total)}


def default_period() -> str:
    """The month before this one: the report a city office prints at the start of a month."""
    first = local_today().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def charts(data: dict, lang: str = "zh") -> list:
    """Server-drawn SVG bars (as the oversight dashboard draws them): on-time and satisfaction shares."""
    rows = [{"department": r["department"].display_name(lang) if r["department"] else _("未分办"),
             "on_time_share": r["on_time_share"], "satisfaction_share": r["satisfaction_share"]}
            for r in data["departments"]]
    return [bar_chart(rows, "on_time_share", _("按时答复率")), bar_chart(rows, "satisfaction_share", _("满意率"))]


def problems_in(period: Period) -> list[CommonProblem]:
    """The common problems confirmed in the period, with their source actions (listed by the report)."""
    return list(db.session.scalars(sa.select(CommonProblem).where(
        CommonProblem.confirmed_at >= period.starts_at, CommonProblem.confirmed_at < period.ends_at)
        .order_by(CommonProblem.confirmed_at)))


EXPORT_HEADER = ["period", "department_code", "department", "received", "replied", "on_time", "late", "overdue_now",
                 "waiting", "returned", "extended", "median_working_days", "rated", "satisfied", "resolved",
                 "reopened", "second_replied", "second_on_time", "second_late"]


def export_rows(data: dict, locale: str = "zh"):
    """The per-department rows of a report for CSV/XLSX (core.exports): figures only, nothing personal."""
    for r in data["departments"]:
        dept = r["department"]
        name = dept.display_name(locale) if dept is not None else _("未分办")
        yield [data["period"].key, r["code"], name, r["received"], r["replied"], r["on_time"], r["late"],
               r["overdue"], r["waiting"], r["returned"], r["extended"], r["median_days"], r["rated"],
               r["satisfied"], r["resolved"], r["reopened"], r["second_replied"], r["second_on_time"],
               r["second_late"]]
