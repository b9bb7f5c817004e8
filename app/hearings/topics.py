"""Editing a meeting's topics (议题) in place.

A topic row keeps its id (and with it the observers' suggestions on it and the decision recorded for it) while its
text is corrected; a topic that observers have made suggestions on cannot be removed, since the suggestion would be
left pointing at nothing. Every change is audited. Like the other use cases: takes ``actor``, flushes, never commits.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.core.audit import audit
from app.extensions import db
from app.hearings.models import HearingError, Meeting, Suggestion, Topic


def match_topics(existing: list[Topic], wanted: list[tuple[str, str]]) -> tuple[list[Topic | None], list[Topic]]:
    """Pair each wanted (title, background) with the row it edits: first a row with the same title, then the
    remaining rows in order (a corrected title keeps its row). Returns the row per wanted topic (None: a new topic)
    and the rows left over (to be removed)."""
    rows: list[Topic | None] = [None] * len(wanted)
    free = list(existing)
    for i, (title, _background) in enumerate(wanted):
        same = next((t for t in free if t.title == title), None)
        if same is not None:
            rows[i] = same
            free.remove(same)
    for i in range(len(wanted)):
        if rows[i] is None and free:
            rows[i] = free.pop(0)
    return rows, free


def update_topics(actor, meeting: Meeting, wanted: list[tuple[str, str]]) -> bool:
    """Make the meeting's topics the ``wanted`` list, updating rows in place. Returns whether anything changed.

    Refused once the record is published, for an empty list, and when a topic to be removed has suggestions."""
    wanted = [(title.strip()[:200], (background or "").strip()) for title, background in wanted if title.strip()]
    current = [(t.title, t.background) for t in meeting.topics]
    if wanted == current:
        return False
    if meeting.record_published_at is not None:
        raise HearingError(_l("会议记录已公开，议题不能再修改。"), "topics")
    if not wanted:
        raise HearingError(_l("请至少填写一个议题。"), "topics")
    rows, leftover = match_topics(list(meeting.topics), wanted)
    if leftover:
        with_suggestions = db.session.scalars(
            sa.select(Suggestion.topic_id).where(Suggestion.topic_id.in_([t.id for t in leftover])).distinct()).all()
        if with_suggestions:
            blocked = next(t for t in leftover if t.id in set(with_suggestions))
            raise HearingError(_l("议题“%(title)s”已有列席代表的建议，不能删除；可以修改它的文字。",
                                  title=blocked.title), "topics")
    changes = {"added": [], "edited": [], "removed": [t.title for t in leftover]}
    for topic in leftover:
        meeting.topics.remove(topic)
    for position, (row, (title, background)) in enumerate(zip(rows, wanted)):
        if row is None:
            row = Topic(title=title, background=background)
            meeting.topics.append(row)
            changes["added"].append(title)
        elif (row.title, row.background) != (title, background):
            changes["edited"].append(title if row.title == title else f"{row.title} → {title}")
        row.position, row.title, row.background = position, title, background
    meeting.topics.sort(key=lambda t: t.position)
    db.session.flush()
    audit(actor, "hearing.topics", meeting, **{k: v for k, v in changes.items() if v})
    return True
