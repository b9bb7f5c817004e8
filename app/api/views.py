"""The endpoints of the open-data API v1. Each declares its parameters and response schema next to the view; the
OpenAPI document is assembled from these declarations (see openapi.py). Nothing personal is ever returned: names
appear only masked, as fixed when the comment was published."""
from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from flask import url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from werkzeug.exceptions import MethodNotAllowed

from app.accounts.models import Department, Tag
from app.api import bp
from app.api.core import (ENDPOINTS, PERIOD_PATTERN, ApiError, Param, allowed_methods, cursor_int, endpoint, iso,
                          newest_first, page)
from app.consultations.models import (
    Comment,
    CommentGroup,
    Consultation,
    ConsultationState,
    FeedbackReport,
    ModerationState,
    consultation_tag,
)
from app.core.timeutil import from_local, local, utcnow
from app.extensions import db
from app.hearings import record, selection
from app.hearings.models import LotteryRun, LotteryStatus, Meeting
from app.openday.models import Activity, Vote, VotingWindow, activity_tag
from app.oversight import metrics

S = {"type": "string"}
SN = {"type": ["string", "null"]}
I = {"type": "integer"}
IN = {"type": ["integer", "null"]}
NUMN = {"type": ["number", "null"]}
DT = {"type": "string", "format": "date-time"}
DTN = {"type": ["string", "null"], "format": "date-time"}
B = {"type": "boolean"}


def obj(properties: dict, required: list | None = None) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": list(properties) if required is None else required}


DEPARTMENT = obj({"code": S, "name": S, "name_en": S})
TAGS = {"type": "array", "items": obj({"name": S, "name_en": S, "kind": S})}


def _dept(d) -> dict:
    return {"code": d.code, "name": d.name, "name_en": d.name_en}


def _tags(tags) -> list:
    return [{"name": t.name, "name_en": t.name_en, "kind": t.kind.value} for t in tags]


DATE_PARAMS = [Param("since", "date", "On or after this day (Shanghai)."), Param("until", "date", "On or before this day (Shanghai).")]


def _dates(stmt, column, args):
    if "since" in args:
        stmt = stmt.where(column >= from_local(args["since"]))
    if "until" in args:
        stmt = stmt.where(column < from_local(args["until"] + timedelta(days=1)))
    return stmt


def _tagged(stmt, column, link_column, args):
    """``stmt`` limited, when a tag is asked for, to the rows whose ``column`` the tag link table of ``link_column``
    (its item column) links to that tag."""
    if "tag" not in args:
        return stmt
    tag_id = _tag_id(args["tag"])
    return stmt.where(column.in_(sa.select(link_column).where(link_column.table.c.tag_id == tag_id)))


def _department_id(code: str) -> int:
    dept_id = db.session.scalar(sa.select(Department.id).where(Department.code == code))
    if dept_id is None:
        raise ApiError(404, f"Unknown department '{code}'.")
    return dept_id


def _tag_id(name: str) -> int:
    tag_id = db.session.scalar(sa.select(Tag.id).where(sa.or_(Tag.name == name, Tag.name_en == name)))
    if tag_id is None:
        raise ApiError(404, f"Unknown tag '{name}'.")
    return tag_id


@endpoint("/api/v1/", "The API's entry points.", obj({"name": S, "version": S, "openapi": S,
                                                       "endpoints": {"type": "array", "items": S}}))
def index(args) -> dict:

    return {"name": "Canyu open data API", "version": "v1", "openapi": url_for("api.openapi_document"),
            "endpoints": [e.rule for e in ENDPOINTS]}


# ---------------------------------------------------------------------------------------------------------------
# Consultations

CONSULTATION_STATES = ("scheduled", "open", "closed", "feedback_published", "withdrawn")
ARTICLE = obj({"id": I, "chapter": S, "label": S, "body": S})
CONSULTATION = obj({
    "id": I, "title": S, "summary": S, "document_type": S, "state": {"type": "string", "enum": list(CONSULTATION_STATES)},
    "department": DEPARTMENT, "tags": TAGS, "opens_at": DT, "closes_at": DT, "published_at": DT,
    "short_period_reason": S, "published_comment_count": I, "feedback_report_published_at": DTN, "url": S,
})
CONSULTATION_DETAIL = obj({**CONSULTATION["properties"], "interpretation": S,
                           "articles": {"type": "array", "items": ARTICLE}})


def _consultation(c, detail: bool = False) -> dict:
    data = {
        "id": c.id, "title": c.title, "summary": c.summary, "document_type": c.document_type.value,
        "state": c.state.value, "department": _dept(c.department), "tags": _tags(c.tags),
        "opens_at": iso(c.opens_at), "closes_at": iso(c.closes_at), "published_at": iso(c.published_at),
        "short_period_reason": c.short_period_reason, "published_comment_count": c.published_comment_count,
        "feedback_report_published_at": iso(c.report.published_at) if c.report else None,
        "url": f"/consultations/{c.id}",
    }
    if detail:
        data["interpretation"] = c.interpretation
        data["articles"] = [{"id": a.id, "chapter": a.chapter, "label": a.label, "body": a.body}
                            for a in c.articles if not a.is_removed]
    return data


def _public_consultations():

    now = utcnow()
    return (sa.select(Consultation).where(Consultation.published_at.is_not(None), Consultation.published_at <= now)
            .options(joinedload(Consultation.department), joinedload(Consultation.report),
                     selectinload(Consultation.tags)))


def _state_condition(state: str):

    return Consultation.state_clause(ConsultationState(state), utcnow())


FILTERS = [Param("department", description="Department code."), Param("tag", description="Tag name (Chinese or English)."),
           Param("since", "date", "Published on or after this day (Shanghai)."),
           Param("until", "date", "Published before the end of this day (Shanghai).")]


@endpoint("/api/v1/consultations", "Published consultations, newest first.", CONSULTATION,
          FILTERS + [Param("state", enum=CONSULTATION_STATES, description="Current state.")], paginated=True)
def consultations(args) -> dict:

    stmt = _public_consultations()
    if "department" in args:
        stmt = stmt.where(Consultation.department_id == _department_id(args["department"]))
    stmt = _tagged(stmt, Consultation.id, consultation_tag.c.consultation_id, args)
    if "state" in args:
        stmt = stmt.where(_state_condition(args["state"]))
    if "since" in args:
        stmt = stmt.where(Consultation.published_at >= from_local(args["since"]))
    if "until" in args:
        stmt = stmt.where(Consultation.published_at < from_local(args["until"] + timedelta(days=1)))
    rows = newest_first(stmt, Consultation.published_at, Consultation.id, args)
    return page(rows, args["limit"], lambda c: [iso(c.published_at), c.id], _consultation)


@endpoint("/api/v1/consultations/<int:consultation_id>", "One consultation with its articles.", CONSULTATION_DETAIL)
def consultation(args, consultation_id: int) -> dict:

    c = db.session.scalar(_public_consultations().where(Consultation.id == consultation_id))
    if c is None:
        raise ApiError(404, f"No published consultation {consultation_id}.")
    return _consultation(c, detail=True)


# ---------------------------------------------------------------------------------------------------------------
# Comments

ANSWER = {"type": ["object", "null"], "additionalProperties": False, "required": ["disposition", "response", "reason"],
          "properties": {"disposition": S, "response": S, "reason": S}}
COMMENT = obj({"tracking_number": S, "consultation_id": I, "article_id": IN, "public_name": S, "commenter_type": S,
               "stance": SN, "text": S, "published_at": DTN, "answer": ANSWER})


def _comment_rows(stmt, limit):
    """The page of ``stmt``'s comments (newest first, one more than ``limit``) with what each shows. The page's ids
    are found first by a query of the comment ids alone, then only those rows are joined to their consultation and
    answers (one statement): a database that must sort the matching comments (SQLite, when a consultation or a
    department has 100,000 of them) sorts ids from an index, instead of every joined row."""
    page_ids = (stmt.with_only_columns(Comment.id).join(Consultation, Consultation.id == Comment.consultation_id)
                .order_by(Comment.id.desc()).limit(limit + 1))
    return db.session.scalars(
        sa.select(Comment).where(Comment.id.in_(page_ids.scalar_subquery()))
        .join(Consultation, Consultation.id == Comment.consultation_id)
        .options(contains_eager(Comment.consultation).joinedload(Consultation.report),
                 joinedload(Comment.disposition), joinedload(Comment.group).joinedload(CommentGroup.disposition))
        .order_by(Comment.id.desc())).unique().all()


def _comment(c) -> dict:
    answer = c.answer if c.consultation.is_feedback_published else None
    return {"tracking_number": c.tracking_number, "consultation_id": c.consultation_id, "article_id": c.article_id,
            "public_name": c.public_name, "commenter_type": c.commenter_type.value,
            "stance": c.stance.value if c.stance else None, "text": c.text_public, "published_at": iso(c.published_at),
            "answer": {"disposition": answer.kind.value, "response": answer.response, "reason": answer.reason}
            if answer is not None else None}


@endpoint("/api/v1/comments", "Published comments with their answers (once the feedback report is out), newest "
          "first. Names are masked.", COMMENT,
          [Param("consultation", "integer", "Consultation id."), Param("department", description="Department code."),
           Param("tag", description="Tag name of the consultation (Chinese or English).")] + DATE_PARAMS,
          paginated=True, cursor="id")
def comments(args) -> dict:

    stmt = sa.select(Comment).where(Comment.moderation_state == ModerationState.PUBLISHED)
    if "consultation" in args:
        stmt = stmt.where(Comment.consultation_id == args["consultation"])
    if "department" in args:
        stmt = stmt.where(Consultation.department_id == _department_id(args["department"]))
    stmt = _tagged(stmt, Comment.consultation_id, consultation_tag.c.consultation_id, args)
    stmt = _dates(stmt, Comment.published_at, args)
    if args["cursor"]:
        stmt = stmt.where(Comment.id < cursor_int(args["cursor"][0]))
    rows = _comment_rows(stmt, args["limit"])
    return page(rows, args["limit"], lambda c: [c.id], _comment)


# ---------------------------------------------------------------------------------------------------------------
# Feedback reports

REPORT = obj({"consultation_id": I, "consultation_title": S, "department": DEPARTMENT, "closes_at": DT,
              "published_at": DT, "days_after_close": NUMN, "main_points": S, "changes": S,
              "statistics": {"type": "object"}, "url": S})


@endpoint("/api/v1/feedback-reports", "Published feedback reports (意见采纳情况反馈), newest first.", REPORT,
          [Param("department", description="Department code.")] + DATE_PARAMS, paginated=True)
def feedback_reports(args) -> dict:

    stmt = (sa.select(FeedbackReport).join(Consultation, Consultation.id == FeedbackReport.consultation_id)
            .where(FeedbackReport.published_at.is_not(None))
            .options(joinedload(FeedbackReport.consultation).joinedload(Consultation.department)))
    if "department" in args:
        stmt = stmt.where(Consultation.department_id == _department_id(args["department"]))
    stmt = _dates(stmt, FeedbackReport.published_at, args)
    rows = newest_first(stmt, FeedbackReport.published_at, FeedbackReport.id, args)

    def render(r) -> dict:
        c = r.consultation
        return {"consultation_id": c.id, "consultation_title": c.title, "department": _dept(c.department),
                "closes_at": iso(c.closes_at), "published_at": iso(r.published_at),
                "days_after_close": round((r.published_at - c.closes_at).total_seconds() / 86400, 1)
                if c.closes_at else None,
                "main_points": r.main_points, "changes": r.changes, "statistics": r.statistics or {},
                "url": f"/consultations/{c.id}"}

    return page(rows, args["limit"], lambda r: [iso(r.published_at), r.id], render)


# ---------------------------------------------------------------------------------------------------------------
# Meetings

MEETING = obj({"id": I, "title": S, "summary": S, "department": DEPARTMENT, "state": S, "starts_at": DT,
               "place": S, "seats": I, "alternates": I, "method": S, "applications_open_at": DT,
               "applications_close_at": DT, "application_count": I, "url": S})
SELECTION = obj({
    "quotas": {"type": "array", "items": obj({"category": S, "value": S, "min": I, "max": I, "reason": S})},
    "pool": {"type": ["object", "null"], "additionalProperties": False, "required": ["frozen_at", "size", "sha256", "file"],
             "properties": {"frozen_at": DT, "size": I, "sha256": S, "file": S}},
    "panels": {"type": ["object", "null"], "additionalProperties": False,
               "required": ["sha256", "file", "number_of_panels", "lowest_chance", "highest_chance",
                            "optimum_lowest_chance"],
               "properties": {"sha256": S, "file": SN, "number_of_panels": I,
                              "lowest_chance": {**NUMN, "description": "true lowest chance in the draw: (published "
                                                "panels containing the person) / number_of_panels"},
                              "highest_chance": {**NUMN, "description": "true highest chance in the draw"},
                              "optimum_lowest_chance": {**NUMN, "description": "lowest chance in the solver's "
                                                        "optimal distribution, before rounding to the panels"}}},
    "draw": {"type": ["object", "null"], "additionalProperties": False,
             "required": ["announced_at", "source_descriptions", "sources", "key_string", "panel_index",
                          "drawn_at", "sha256", "file"],
             "properties": {"announced_at": DT, "source_descriptions": {"type": "array"}, "sources": {"type": ["array", "null"]},
                            "key_string": S, "panel_index": IN, "drawn_at": DTN, "sha256": S, "file": SN}},
})
RECORD_ENTRY = obj({"seq": I, "kind": S, "at": S, "data": {"type": "object"}, "prev_sha256": S, "sha256": S})
SELECTION["properties"]["record"] = {
    "type": "array", "items": RECORD_ENTRY,
    "description": "The append-only public selection record: every event in order; each entry's sha256 is the SHA-256 "
                   "of its canonical JSON without sha256, and prev_sha256 is the previous entry's (64 zeros first)."}
SELECTION["required"].append("record")
MEETING_DETAIL = obj({**MEETING["properties"], "selection": SELECTION})


def _panels(run) -> dict:
    """The published panels with their headline chances counted from the file itself (as the page does)."""
    summary = selection.chance_summary(json.loads(run.panels_content))
    return {"sha256": run.panels_sha256, "file": run.panels_content,
            **{k: summary[k] for k in ("number_of_panels", "lowest_chance", "highest_chance", "optimum_lowest_chance")}}


def _meeting(m, detail: bool = False) -> dict:
    data = {"id": m.id, "title": m.title, "summary": m.summary, "department": _dept(m.department),
            "state": m.phase().value, "starts_at": iso(m.starts_at), "place": m.place, "seats": m.seats,
            "alternates": m.alternates, "method": m.method, "applications_open_at": iso(m.opens_at),
            "applications_close_at": iso(m.closes_at), "application_count": m.application_count,
            "url": f"/hearings/{m.id}"}
    if detail:
        pool, draw = m.pool, m.draw
        run = draw.lottery_run if draw is not None and draw.lottery_run is not None else db.session.scalar(
            sa.select(LotteryRun).where(LotteryRun.meeting_id == m.id, LotteryRun.status == LotteryStatus.SUCCEEDED)
            .order_by(LotteryRun.id.desc()).limit(1))  # the panels are published as soon as they are computed
        data["selection"] = {
            "quotas": [{**q.as_dict(), "reason": q.reason or ""} for q in m.quotas],
            "pool": {"frozen_at": iso(pool.frozen_at), "size": pool.size, "sha256": pool.sha256,
                     "file": pool.content} if pool is not None else None,
            "panels": _panels(run) if run is not None else None,
            "draw": {"announced_at": iso(draw.announced_at), "source_descriptions": draw.source_descriptions or [],
                     "sources": draw.sources, "key_string": draw.key_string, "panel_index": draw.panel_index,
                     "drawn_at": iso(draw.drawn_at), "sha256": draw.sha256, "file": draw.content}
            if draw is not None else None,
            "record": [e.as_dict() for e in record.entries(m.id)],
        }
    return data


@endpoint("/api/v1/meetings", "Announced decision meetings, latest meeting first (dates filter the meeting day).",
          MEETING, [Param("department", description="Department code.")] + DATE_PARAMS, paginated=True)
def meetings(args) -> dict:

    stmt = (sa.select(Meeting).where(Meeting.published_at.is_not(None))
            .options(joinedload(Meeting.department), joinedload(Meeting.pool), joinedload(Meeting.draw)))
    if "department" in args:
        stmt = stmt.where(Meeting.department_id == _department_id(args["department"]))
    stmt = _dates(stmt, Meeting.starts_at, args)
    rows = newest_first(stmt, Meeting.starts_at, Meeting.id, args)
    return page(rows, args["limit"], lambda m: [iso(m.starts_at), m.id], _meeting)


@endpoint("/api/v1/meetings/<int:meeting_id>", "One meeting with its public selection record.", MEETING_DETAIL)
def meeting(args, meeting_id: int) -> dict:

    m = db.session.scalar(sa.select(Meeting).where(Meeting.id == meeting_id, Meeting.published_at.is_not(None)))
    if m is None:
        raise ApiError(404, f"No announced meeting {meeting_id}.")
    return _meeting(m, detail=True)


# ---------------------------------------------------------------------------------------------------------------
# Open Month activities

SESSION = obj({"id": I, "starts_at": DT, "ends_at": DT, "capacity": I, "seats_left": I, "has_waitlist": B,
               "waitlist_count": I})
ACTIVITY = obj({"id": I, "title": S, "description": S, "department": DEPARTMENT, "mode": S, "district": SN,
                "address": S, "signup_opens_at": DT, "signup_closes_at": DT, "cancelled": B, "tags": TAGS,
                "average_rating": NUMN, "sessions": {"type": "array", "items": SESSION}, "url": S})


def _activity(a) -> dict:
    return {"id": a.id, "title": a.title, "description": a.description, "department": _dept(a.department),
            "mode": a.mode.value, "district": a.district, "address": a.address,
            "signup_opens_at": iso(a.signup_opens_at), "signup_closes_at": iso(a.signup_closes_at),
            "cancelled": a.cancelled_at is not None, "tags": _tags(a.tags),
            "average_rating": a.average_rating,
            "sessions": [{"id": s.id, "starts_at": iso(s.starts_at), "ends_at": iso(s.ends_at), "capacity": s.capacity,
                          "seats_left": s.seats_left, "has_waitlist": s.has_waitlist,
                          "waitlist_count": s.waitlist_count} for s in a.sessions],
            "url": f"/openday/{a.id}"}


@endpoint("/api/v1/activities", "Published Open Month activities with sessions and seats left.", ACTIVITY,
          [Param("department", description="Department code."), Param("district", description="District code."),
           Param("tag", description="Tag name (Chinese or English).")] + DATE_PARAMS, paginated=True,
          cursor="id")
def activities(args) -> dict:

    stmt = (sa.select(Activity).where(Activity.published_at.is_not(None))
            .options(selectinload(Activity.sessions), selectinload(Activity.tags), selectinload(Activity.department)))
    if "department" in args:
        stmt = stmt.where(Activity.department_id == _department_id(args["department"]))
    if "district" in args:
        stmt = stmt.where(Activity.district == args["district"])
    stmt = _tagged(stmt, Activity.id, activity_tag.c.activity_id, args)
    stmt = _dates(stmt, Activity.first_starts_at, args)
    if args["cursor"]:
        stmt = stmt.where(Activity.id < cursor_int(args["cursor"][0]))
    rows = db.session.scalars(stmt.order_by(Activity.id.desc()).limit(args["limit"] + 1)).all()
    return page(rows, args["limit"], lambda a: [a.id], _activity)


@endpoint("/api/v1/activities/<int:activity_id>", "One Open Month activity.", ACTIVITY)
def activity(args, activity_id: int) -> dict:

    a = db.session.scalar(sa.select(Activity).where(Activity.id == activity_id, Activity.published_at.is_not(None)))
    if a is None:
        raise ApiError(404, f"No published activity {activity_id}.")
    return _activity(a)


VOTE_RESULTS = obj({"year": I, "opens_at": DT, "closes_at": DT,
                    "results": {"type": "array", "items": obj({"activity_id": I, "title": S, "votes": I})}})


@endpoint("/api/v1/votes/<int:year>", "Results of the popular vote of one year, once public.", VOTE_RESULTS)
def vote_results(args, year: int) -> dict:

    window = db.session.scalar(sa.select(VotingWindow).where(VotingWindow.year == year))
    if window is None or not window.results_visible():
        raise ApiError(404, f"No public vote results for {year}.")
    rows = db.session.execute(
        sa.select(Activity.id, Activity.title, sa.func.count(Vote.id))
        .join(Vote, Vote.activity_id == Activity.id)
        .where(Vote.window_id == window.id, Vote.withdrawn_at.is_(None))
        .group_by(Activity.id, Activity.title).order_by(sa.func.count(Vote.id).desc(), Activity.id)).all()
    return {"year": year, "opens_at": iso(window.opens_at), "closes_at": iso(window.closes_at),
            "results": [{"activity_id": i, "title": t, "votes": n} for i, t, n in rows]}


# ---------------------------------------------------------------------------------------------------------------
# Compliance

COMPLIANCE = obj({"period": S, "departments": {"type": "array", "items": obj({
    "department": S, "period": S, "closed": I, "reports": I, "on_time_share": NUMN, "median_days_to_report": NUMN,
    "comments": I, "answered_share": NUMN, "adoption_rate": NUMN, "reports_late": I, "reports_not_yet_due": I})}})


@endpoint("/api/v1/compliance", "Deadline compliance per department for a quarter (2026-Q4) or month (2026-11).",
          COMPLIANCE, [Param("period", description="2026-Q4 or 2026-11; default the current quarter.",
                            pattern=PERIOD_PATTERN)])
def compliance(args) -> dict:

    key = args.get("period") or metrics.quarter_of(local(utcnow()).date())
    try:
        period = metrics.parse_period(key)
    except metrics.PeriodError:
        raise ApiError(400, "Parameter 'period' must look like 2026-Q4 or 2026-11.") from None
    rows = [{k: v for k, v in row.items() if k != "department_id"} for row in metrics.compliance(period)]
    return {"period": period.key, "departments": rows}


@bp.route("/api/v1/<path:anything>")
def not_found(anything: str) -> ResponseReturnValue:
    allowed = allowed_methods()
    if allowed != "OPTIONS":  # the address exists for other methods (POST /api/v1/messages/forwarded)
        raise MethodNotAllowed(valid_methods=allowed.split(", "))
    raise ApiError(404, "No such API address; see /api/v1/openapi.json.")



