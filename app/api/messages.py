"""Open-data API v1 for messages (留言): the published messages with their replies, and the periodic handling
figures per department and source. Nothing personal: the writer's name only masked as fixed at intake, the text
as published (masked, redacted by staff), no contact details, no staff names."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.accounts.models import DISTRICTS, Tag
from app.api.core import PERIOD_PATTERN, ApiError, Param, endpoint, iso, newest_first, page
from app.api.views import DEPARTMENT, DT, NUMN, SN, TAGS, I, S, _dept, _department_id, _tag_id, _tags, obj
from app.core.periods import PeriodError, parse_period
from app.core.timeutil import utcnow
from app.messages import reports
from app.messages.models import Message, MessageSource, MessageState

STATES = ("replied", "handling")
REPLY = obj({"department": DEPARTMENT, "text": S, "released_at": DT})
MESSAGE = obj({
    "tracking_number": S, "source": {"type": "string", "enum": [s.value for s in MessageSource]},
    "subject": S, "text": S, "public_name": S, "district": SN, "received_at": DT, "published_at": DT,
    "state": {"type": "string", "enum": [s.value for s in MessageState]}, "department": {
        "anyOf": [DEPARTMENT, {"type": "null"}]}, "tags": TAGS,
    "replies": {"type": "array", "items": REPLY}, "common_problem": SN, "url": S,
})
FIGURE_ROW = {
    "received": I, "replied": I, "on_time": I, "late": I, "overdue": I, "waiting": I, "returned": I, "extended": I,
    "median_days": NUMN, "rated": I, "satisfied": I, "resolved": I, "on_time_share": NUMN,
    "satisfaction_share": NUMN, "reopened": I, "second_replied": I, "second_on_time": I, "second_late": I,
}
FIGURES = obj({
    "period": S, "generated_at": DT,
    "departments": {"type": "array", "items": obj({"department": {"anyOf": [DEPARTMENT, {"type": "null"}]},
                                                   **FIGURE_ROW})},
    "sources": {"type": "array", "items": obj({"source": S, **FIGURE_ROW})},
    "total": obj(FIGURE_ROW),
})


def _message(m: Message) -> dict:
    return {
        "tracking_number": m.tracking_number, "source": m.source.value, "subject": m.subject, "text": m.text_public,
        "public_name": m.public_name, "district": m.district, "received_at": iso(m.received_at),
        "published_at": iso(m.published_at), "state": m.state.value,
        "department": _dept(m.department) if m.department else None, "tags": _tags(m.tags),
        "replies": [{"department": _dept(r.department), "text": r.text, "released_at": iso(r.released_at)}
                    for r in m.replies if r.released_at is not None],
        "common_problem": m.problem.title if m.problem is not None and m.problem.is_confirmed else None,
        "url": f"/messages/{m.id}",
    }


@endpoint("/api/v1/messages", "Published messages with their replies, newest first.", MESSAGE,
          [Param("department", description="Department code."), Param("tag", description="Tag name."),
           Param("district", enum=tuple(DISTRICTS), description="District code."),
           Param("state", enum=STATES, description="replied, or handling (reopened after a reply).")],
          paginated=True)
def messages(args) -> dict:
    stmt = sa.select(Message).where(Message.published_at.is_not(None), Message.hidden_at.is_(None))
    if "department" in args:
        stmt = stmt.where(Message.department_id == _department_id(args["department"]))
    if "tag" in args:
        stmt = stmt.where(Message.tags.any(Tag.id == _tag_id(args["tag"])))
    if "district" in args:
        stmt = stmt.where(Message.district == args["district"])
    if "state" in args:
        stmt = stmt.where(Message.state_clause(MessageState(args["state"])))
    rows = newest_first(stmt.options(selectinload(Message.replies), selectinload(Message.department),
                                     selectinload(Message.problem)), Message.published_at, Message.id, args)
    return page(rows, args["limit"], lambda m: [iso(m.published_at), m.id], _message)


@endpoint("/api/v1/messages/figures", "How departments handle messages in a month or quarter (定期通报).", FIGURES,
          [Param("period", description="A month (2026-11) or a quarter (2026-Q4); default the last month.",
                 pattern=PERIOD_PATTERN)])
def message_figures(args) -> dict:
    try:
        period = parse_period(args.get("period") or reports.default_period())
    except PeriodError:
        raise ApiError(400, "Parameter 'period' must be a month (2026-11) or a quarter (2026-Q4).") from None
    data = reports.figures(period)
    keys = list(FIGURE_ROW)
    return {
        "period": period.key, "generated_at": iso(utcnow()),
        "departments": [{"department": _dept(r["department"]) if r["department"] else None,
                         **{k: r[k] for k in keys}} for r in data["departments"]],
        "sources": [{"source": r["source"].value, **{k: r[k] for k in keys}} for r in data["sources"]],
        "total": {k: data["total"][k] for k in keys},
    }

