"""Figures for the oversight dashboard and deadline compliance, read from each module's models.

Every function takes ``now`` so that figures are reproducible in tests; each is a handful of aggregate queries.
"""
from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import Department
from app.consultations.models import (
    Comment,
    CommentGroup,
    Consultation,
    ConsultationState,
    Disposition,
    DispositionKind,
    FeedbackReport,
    ModerationState,
)
from app.core.periods import Period, PeriodError, parse_period  # noqa: F401  (shared; re-exported)
from app.core.timeutil import SHANGHAI, utcnow
from app.extensions import db
from app.hearings.models import FollowUp, Suggestion
from app.openday.models import Activity, ActivitySession, ActivityState


def _due_days() -> int:
    return current_app.config["FEEDBACK_REPORT_DUE_DAYS"]


# ----------------------------------------------------------------------------------------------------------------
# Lists behind the dashboard figures (each a list of dicts; the dashboard shows their lengths)

def _consultations_in(state: ConsultationState, now: datetime) -> list:
    """Consultations in ``state`` at ``now`` (id, title, closes_at and the department's name), closing first."""
    return db.session.execute(
        sa.select(Consultation.id, Consultation.title, Consultation.closes_at, Department.name)
        .join(Department, Department.id == Consultation.department_id)
        .where(Consultation.state_clause(state, now))
        .order_by(Consultation.closes_at)).all()


def open_consultations(now: datetime) -> list[dict]:
    rows = _consultations_in(ConsultationState.OPEN, now)
    return [{"id": r.id, "title": r.title, "department": r.name, "closes_at": r.closes_at,
             "days_left": max(0, (r.closes_at - now).days), "link": f"/consultations/{r.id}"} for r in rows]


def short_periods(now: datetime) -> list[dict]:

    rows = db.session.execute(
        sa.select(Consultation.id, Consultation.title, Consultation.opens_at, Consultation.closes_at,
                  Consultation.short_period_reason, Department.name)
        .join(Department, Department.id == Consultation.department_id)
        .where(Consultation.published_at.is_not(None), Consultation.short_period_reason != "")
        .order_by(Consultation.opens_at.desc())).all()
    return [{"id": r.id, "title": r.title, "department": r.name, "days": (r.closes_at - r.opens_at).days,
             "reason": r.short_period_reason, "link": f"/consultations/{r.id}"} for r in rows]


def pending_comments(now: datetime) -> list[dict]:
    """Consultations with comments waiting for review: how many and since when, the longest wait first. Counted per
    consultation from the moderation queue's index (consultation, state, created_at), which holds all a count and
    the oldest need, instead of joining every waiting comment to its consultation and department and grouping them
    (57 against 6 ms on SQLite, 34–39 against 16–19 ms on PostgreSQL, for 50,000 waiting comments)."""
    waiting = (Comment.consultation_id == Consultation.id, Comment.moderation_state == ModerationState.PENDING)
    count = sa.select(sa.func.count()).where(*waiting).correlate(Consultation).scalar_subquery()
    oldest = sa.select(sa.func.min(Comment.created_at)).where(*waiting).correlate(Consultation).scalar_subquery()
    rows = db.session.execute(
        sa.select(Consultation.id, Consultation.title, Department.name, count, oldest)
        .join(Department, Department.id == Consultation.department_id)
        .where(sa.exists().where(*waiting))
        .order_by(oldest, Consultation.id)).all()
    out = []
    for cid, title, dept, count, oldest in rows:
        if oldest is not None and oldest.tzinfo is None:  # aggregate results bypass the column type on SQLite
            oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=timezone.utc)
        out.append({"id": cid, "title": title, "department": dept, "count": count, "oldest": oldest,
                    "wait_hours": int((now - oldest).total_seconds() // 3600) if oldest else 0,
                    "link": f"/manage/consultations/{cid}/moderation"})
    return out


def reports_due(now: datetime) -> list[dict]:
    """Closed consultations whose feedback report is not published, with their due date."""
    rows = _consultations_in(ConsultationState.CLOSED, now)
    days = _due_days()
    return [{"id": r.id, "title": r.title, "department": r.name, "due_at": r.closes_at + timedelta(days=days),
             "is_overdue": now > r.closes_at + timedelta(days=days), "link": f"/consultations/{r.id}"}
            for r in rows]


def follow_ups_due(now: datetime) -> list[dict]:

    today = now.astimezone(SHANGHAI).date()
    rows = db.session.execute(
        sa.select(FollowUp.id, FollowUp.description, FollowUp.due_on, Suggestion.meeting_id, Department.name)
        .join(Suggestion, Suggestion.id == FollowUp.suggestion_id)
        .join(Department, Department.id == FollowUp.department_id)
        .where(FollowUp.done_at.is_(None), FollowUp.due_on <= today + timedelta(days=14))
        .order_by(FollowUp.due_on)).all()
    return [{"id": r.id, "title": r.description[:120], "department": r.name, "due_on": r.due_on,
             "is_overdue": r.due_on < today, "link": f"/hearings/{r.meeting_id}"} for r in rows]


def open_month(now: datetime) -> dict:

    row = db.session.execute(
        sa.select(sa.func.count(sa.distinct(Activity.id)), sa.func.coalesce(sa.func.sum(ActivitySession.confirmed_seats), 0),
                  sa.func.coalesce(sa.func.sum(ActivitySession.checked_in_count), 0),
                  sa.func.coalesce(sa.func.sum(ActivitySession.no_show_count), 0),
                  sa.func.coalesce(sa.func.sum(ActivitySession.rating_count), 0),
                  sa.func.coalesce(sa.func.sum(ActivitySession.rating_sum), 0))
        .join(ActivitySession, ActivitySession.activity_id == Activity.id)
        .where(Activity.state_clause(ActivityState.PUBLISHED))).one()
    activities, seats, checked_in, no_show, ratings, rating_sum = row
    attended_base = checked_in + no_show
    return {"activities": activities, "signups": int(seats), "checked_in": int(checked_in),
            "attendance": (checked_in / attended_base) if attended_base else None,
            "ratings": int(ratings), "average_rating": (rating_sum / ratings) if ratings else None}


def open_month_activities(now: datetime) -> list[dict]:
    """Per published activity: seats taken, check-ins, attendance and ratings (kept counts, one query)."""

    rows = db.session.execute(
        sa.select(Activity.id, Activity.title, Department.name,
                  sa.func.coalesce(sa.func.sum(ActivitySession.confirmed_seats), 0),
                  sa.func.coalesce(sa.func.sum(ActivitySession.checked_in_count), 0),
                  sa.func.coalesce(sa.func.sum(ActivitySession.no_show_count), 0),
                  Activity.rating_count, Activity.rating_sum)
        .join(Department, Department.id == Activity.department_id)
        .outerjoin(ActivitySession, ActivitySession.activity_id == Activity.id)
        .where(Activity.published_at.is_not(None))
        .group_by(Activity.id, Activity.title, Department.name, Activity.rating_count, Activity.rating_sum)
        .order_by(Activity.first_starts_at, Activity.id)).all()
    out = []
    for aid, title, dept, seats, checked_in, no_show, ratings, rating_sum in rows:
        base = checked_in + no_show
        out.append({"id": aid, "title": title, "department": dept, "signups": int(seats),
                    "checked_in": int(checked_in),
                    "attendance": round(checked_in / base, 3) if base else None, "ratings": ratings,
                    "average_rating": round(rating_sum / ratings, 2) if ratings else None,
                    "link": f"/openday/{aid}"})
    return out


FIGURES = ("open", "short", "pending", "reports", "followups", "openday")


def figure_list(name: str, now: datetime) -> list[dict]:
    return {"open": open_consultations, "short": short_periods, "pending": pending_comments,
            "reports": reports_due, "followups": follow_ups_due, "openday": open_month_activities}[name](now)


def dashboard(now: datetime) -> dict:
    return {"open": open_consultations(now), "short": short_periods(now), "pending": pending_comments(now),
            "reports": reports_due(now), "followups": follow_ups_due(now), "openday": open_month(now)}


# ----------------------------------------------------------------------------------------------------------------
# Compliance per department and period

def quarters_of(period: Period) -> list[Period]:
    """A year's four quarters; any other period is itself."""
    if len(period.key) == 4:
        return [parse_period(f"{period.key}-Q{q}") for q in range(1, 5)]
    return [period]


def compliance_rows(period: Period, now: datetime | None = None) -> list[dict]:
    """Compliance per department, per quarter when the period is a year."""
    now = now or utcnow()
    return [row for p in quarters_of(period) for row in compliance(p, now)]


def quarter_of(d: date) -> str:
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def compliance(period: Period, now: datetime | None = None) -> list[dict]:
    """Per department, for consultations of the period that have closed by ``now``: reports on time among the
    reports due (published by their due date, against published late or still missing once due; a report not
    yet due and not published counts neither way), median days from close to report, share of published
    comments answered, adoption rate among answers."""

    now = now or utcnow()
    due = timedelta(days=_due_days())
    consultations = db.session.execute(
        sa.select(Consultation.id, Consultation.department_id, Consultation.closes_at, FeedbackReport.published_at)
        .outerjoin(FeedbackReport, FeedbackReport.consultation_id == Consultation.id)
        .where(Consultation.published_at.is_not(None), Consultation.withdrawn_at.is_(None),
               Consultation.closes_at >= period.starts_at, Consultation.closes_at < period.ends_at,
               Consultation.closes_at <= now)).all()
    ids = [c.id for c in consultations]
    # Per published comment: its own answer, else its accepted group's answer (two queries).
    answers: dict[int, tuple[int, int, int]] = {}
    if ids:
        published = db.session.execute(
            sa.select(Comment.id, Comment.consultation_id, Disposition.kind)
            .outerjoin(Disposition, Disposition.comment_id == Comment.id)
            .where(Comment.consultation_id.in_(ids), Comment.moderation_state == ModerationState.PUBLISHED)).all()
        via_group = dict(db.session.execute(
            sa.select(Comment.id, Disposition.kind)
            .join(CommentGroup, CommentGroup.id == Comment.group_id)
            .join(Disposition, Disposition.group_id == CommentGroup.id)
            .where(Comment.consultation_id.in_(ids), CommentGroup.is_accepted.is_(True),
                   Comment.moderation_state == ModerationState.PUBLISHED)).all())
        adopted_kinds = (DispositionKind.ADOPTED, DispositionKind.PARTLY_ADOPTED)
        for comment_id, cid, own_kind in published:
            kind = own_kind or via_group.get(comment_id)
            total, answered, adopted = answers.get(cid, (0, 0, 0))
            answers[cid] = (total + 1, answered + (kind is not None), adopted + (kind in adopted_kinds))
    departments = dict(db.session.execute(sa.select(Department.id, Department.name)).all())
    by_dept: dict[int, dict] = {}
    for c in consultations:
        d = by_dept.setdefault(c.department_id, {"department_id": c.department_id,
                                                 "department": departments.get(c.department_id, ""),
                                                 "closed": 0, "reports": 0, "on_time": 0, "late": 0,
                                                 "not_due": 0, "days": [],
                                                 "comments": 0, "answered": 0, "adopted": 0})
        d["closed"] += 1
        if c.published_at is not None:
            d["reports"] += 1
            d["days"].append((c.published_at - c.closes_at).total_seconds() / 86400)
            d["on_time" if c.published_at <= c.closes_at + due else "late"] += 1
        elif now > c.closes_at + due:
            d["late"] += 1  # due and missing
        else:
            d["not_due"] += 1
        total, answered, adopted = answers.get(c.id, (0, 0, 0))
        d["comments"] += total
        d["answered"] += answered
        d["adopted"] += adopted
    out = []
    for d in sorted(by_dept.values(), key=lambda x: x["department"]):
        out.append({
            "department_id": d["department_id"], "department": d["department"], "period": period.key,
            "closed": d["closed"], "reports": d["reports"],
            "on_time_share": (round(d["on_time"] / (d["on_time"] + d["late"]), 3)
                              if d["on_time"] + d["late"] else None),
            "median_days_to_report": round(statistics.median(d["days"]), 1) if d["days"] else None,
            "comments": d["comments"],
            "answered_share": round(d["answered"] / d["comments"], 3) if d["comments"] else None,
            "adoption_rate": round(d["adopted"] / d["answered"], 3) if d["answered"] else None,
            "reports_late": d["late"], "reports_not_yet_due": d["not_due"],
        })
    return out


COMPLIANCE_COLUMNS = ("department", "period", "closed", "reports", "on_time_share", "median_days_to_report",
                      "comments", "answered_share", "adoption_rate", "reports_late", "reports_not_yet_due")
