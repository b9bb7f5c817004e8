"""Atom feeds (new consultations, feedback reports, activities, a meeting's selection record) and an iCal feed of
Open Month activities."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from xml.sax.saxutils import escape as _escape

import sqlalchemy as sa
from flask import Response, abort, current_app, request
from flask.typing import ResponseReturnValue
from icalendar import Calendar, Event
from sqlalchemy.orm import joinedload, selectinload

from app.api import bp
from app.core.inputs import strip_controls
from app.consultations.models import Consultation, FeedbackReport
from app.extensions import db
from app.hearings import record
from app.hearings.models import Meeting
from app.hearings.selection import canonical
from app.openday.models import Activity

FEED_SIZE = 50


def escape(text: str) -> str:
    """Text for the feed's XML: escaped, and without the control characters XML 1.0 refuses (rows stored before
    forms refused them would otherwise break the whole feed)."""
    return _escape(strip_controls(text))


def _atom(feed_id: str, title: str, entries: list[dict]) -> Response:
    base = current_app.config["BASE_URL"].rstrip("/")
    updated = max((e["updated"] for e in entries), default=datetime(2026, 1, 1, tzinfo=timezone.utc))
    parts = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<id>{base}/api/v1/feeds/{feed_id}</id>", f"<title>{escape(title)}</title>",
             f"<updated>{updated.isoformat()}</updated>",
             f'<link rel="self" href="{base}{escape(request.path)}"/>',
             "<author><name>上海市人民政府办公厅</name></author>"]
    for e in entries:
        parts += ["<entry>", f"<id>{base}{e['link']}#{e['key']}</id>", f"<title>{escape(e['title'])}</title>",
                  f'<link href="{base}{e["link"]}"/>', f"<updated>{e['updated'].isoformat()}</updated>",
                  f"<summary>{escape(e.get('summary') or '')}</summary>", "</entry>"]
    parts.append("</feed>")
    return _conditional(Response("\n".join(parts), mimetype="application/atom+xml"))


def _conditional(response: Response) -> Response:
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.headers["Cache-Control"] = "public, max-age=300"
    return response.make_conditional(request)


@bp.route("/api/v1/feeds/consultations.atom")
def feed_consultations() -> ResponseReturnValue:

    rows = db.session.scalars(sa.select(Consultation).where(Consultation.published_at.is_not(None))
                              .order_by(Consultation.published_at.desc(), Consultation.id.desc()).limit(FEED_SIZE))
    return _atom("consultations", "征询意见 · Consultations",
                 [{"key": f"consultation-{c.id}", "title": c.title, "link": f"/consultations/{c.id}",
                   "updated": c.published_at, "summary": c.summary} for c in rows])


@bp.route("/api/v1/feeds/feedback-reports.atom")
def feed_reports() -> ResponseReturnValue:

    rows = db.session.scalars(sa.select(FeedbackReport).where(FeedbackReport.published_at.is_not(None))
                              .options(joinedload(FeedbackReport.consultation))
                              .order_by(FeedbackReport.published_at.desc()).limit(FEED_SIZE))
    return _atom("feedback-reports", "意见采纳情况反馈 · Feedback reports",
                 [{"key": f"report-{r.id}", "title": r.consultation.title, "link": f"/consultations/{r.consultation_id}",
                   "updated": r.published_at, "summary": r.main_points} for r in rows])


@bp.route("/api/v1/feeds/activities.atom")
def feed_activities() -> ResponseReturnValue:

    rows = db.session.scalars(sa.select(Activity).where(Activity.published_at.is_not(None))
                              .order_by(Activity.published_at.desc(), Activity.id.desc()).limit(FEED_SIZE))
    return _atom("activities", "政府开放月 · Open Month",
                 [{"key": f"activity-{a.id}", "title": a.title, "link": f"/openday/{a.id}", "updated": a.published_at,
                   "summary": a.description[:500]} for a in rows])


@bp.route("/api/v1/feeds/hearings/<int:id>/record.atom")
def feed_hearing_record(id: int) -> ResponseReturnValue:
    """A meeting's public selection record, one entry per event, so outsiders can archive each commitment as it
    appears. The summary is the entry itself in canonical JSON (its SHA-256 is the entry's hash)."""
    meeting = db.session.scalar(sa.select(Meeting).where(Meeting.id == id, Meeting.published_at.is_not(None)))
    if meeting is None:
        abort(404)
    entries = [e.as_dict() for e in record.entries(meeting.id)]
    return _atom(f"hearings/{meeting.id}/record", f"{meeting.title} · 公开遴选记录 · Selection record",
                 [{"key": f"record-{e['seq']}-{e['sha256']}",
                   "title": f"{e['seq']}. {record.kind_label(e['kind'])} · {record.kind_label(e['kind'], 'en')}",
                   "link": f"/hearings/{meeting.id}/selection",
                   "updated": record.parse_stamp(e["at"]),
                   "summary": canonical(e).decode("utf-8").strip()} for e in reversed(entries)])


@bp.route("/api/v1/feeds/openday.ics")
def feed_openday_ics() -> ResponseReturnValue:

    base = current_app.config["BASE_URL"].rstrip("/")
    cal = Calendar()
    cal.add("prodid", "-//Canyu//Open Month//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "政府开放月 Open Month")
    activities = db.session.scalars(sa.select(Activity).where(Activity.published_at.is_not(None))
                                    .options(selectinload(Activity.sessions)).order_by(Activity.id))
    for a in activities:
        for s in a.sessions:
            event = Event()
            event.add("uid", f"openday-session-{s.id}@canyu")
            event.add("summary", a.title)
            event.add("dtstart", s.starts_at)
            event.add("dtend", s.ends_at)
            event.add("dtstamp", a.published_at)
            event.add("url", f"{base}/openday/{a.id}")
            if a.address:
                event.add("location", a.address)
            if a.cancelled_at is not None:
                event.add("status", "CANCELLED")
            cal.add_component(event)
    return _conditional(Response(cal.to_ical(), mimetype="text/calendar"))
