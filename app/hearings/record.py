"""The public selection record of a meeting: an append-only chain of events (pool frozen, panels computed, source
announced, numbers entered, draw, each decline, move-in, ...), each entry carrying the SHA-256 of the one before.

An entry's hash is the SHA-256 of its canonical JSON without the ``sha256`` field (the same canonical form as the
published files), so anyone can recompute the chain from the record file with the standard library. Nothing in it
can be changed: the ORM refuses updates and deletes, and on PostgreSQL a trigger does too (see the migration). People
appear by their pool number, never by name.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import utcnow
from app.extensions import db
from app.hearings import selection
from app.hearings.models import Meeting

RECORD_FORMAT = "canyu-hearing-record/1"
GENESIS = "0" * 64  # the "previous hash" of the first entry


class Kind:
    POOL_FROZEN = "pool_frozen"
    PANELS_COMPUTED = "panels_computed"
    SOURCE_ANNOUNCED = "source_announced"
    NUMBERS_ENTERED = "numbers_entered"
    DRAWN = "drawn"
    DECLINED = "declined"  # data.reason: "declined" | "no_answer"
    MOVED_IN = "moved_in"
    NO_ALTERNATE = "no_alternate"
    QUOTAS_RELAXED = "quotas_relaxed"  # data: changes (each with its reason), old_pool_sha256, pool_sha256
    ROUND_CANCELLED = "round_cancelled"  # data: pool_sha256, size, reason, applications_close_at


# What each kind of entry is called, in both languages (the Atom feed shows both, pages the reader's).
KIND_LABELS = {
    Kind.POOL_FROZEN: ("候选池冻结", "Pool frozen"),
    Kind.PANELS_COMPUTED: ("方案计算完成", "Panels computed"),
    Kind.SOURCE_ANNOUNCED: ("公布随机数来源", "Random source announced"),
    Kind.NUMBERS_ENTERED: ("录入开奖号码", "Numbers entered"),
    Kind.DRAWN: ("抽签", "Draw"),
    Kind.DECLINED: ("谢绝或逾期未答复", "Declined or no answer"),
    Kind.MOVED_IN: ("候补递补", "Alternate moved in"),
    Kind.NO_ALTERNATE: ("无候补可递补", "No alternate left"),
    Kind.QUOTAS_RELAXED: ("放宽配额", "Quotas relaxed"),
    Kind.ROUND_CANCELLED: ("取消本轮遴选、重新开放报名", "Round cancelled, applications reopened"),
}


def kind_label(kind: str, language: str = "zh") -> str:
    zh, en = KIND_LABELS.get(kind, (kind, kind))
    return en if language == "en" else zh


class RecordError(Exception):
    """Raised when something tries to change or remove an entry of the record."""


class SelectionEvent(db.Model):
    __tablename__ = "hearing_selection_event"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "seq", name="uq_hearing_selection_event_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_meeting.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column()  # 1, 2, ... within the meeting
    kind: Mapped[str] = mapped_column(sa.String(30))
    at: Mapped[str] = mapped_column(sa.String(20))  # "2026-06-30T13:30:00Z", as hashed
    data: Mapped[str] = mapped_column(sa.Text)  # canonical JSON of the event's facts, as hashed
    prev_sha256: Mapped[str] = mapped_column(sa.String(64))
    sha256: Mapped[str] = mapped_column(sa.String(64))

    def as_dict(self) -> dict:
        return {"seq": self.seq, "kind": self.kind, "at": self.at, "data": json.loads(self.data),
                "prev_sha256": self.prev_sha256, "sha256": self.sha256}


@sa.event.listens_for(SelectionEvent, "before_update")
def _refuse_update(mapper, connection, target) -> None:  # noqa: ARG001 - SQLAlchemy's signature
    raise RecordError("The hearing selection record is append-only: an entry cannot be changed.")


@sa.event.listens_for(SelectionEvent, "before_delete")
def _refuse_delete(mapper, connection, target) -> None:  # noqa: ARG001
    raise RecordError("The hearing selection record is append-only: an entry cannot be removed.")


# The same rule in the database, for anything that bypasses the ORM (created by the migration; here for create_all).
PG_TRIGGER = [
    """CREATE OR REPLACE FUNCTION hearing_selection_event_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'hearing_selection_event is append-only (% refused)', TG_OP;
END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER hearing_selection_event_append_only BEFORE UPDATE OR DELETE ON hearing_selection_event
FOR EACH ROW EXECUTE FUNCTION hearing_selection_event_append_only()""",
]
for _statement in PG_TRIGGER:  # DDL formats with %, hence the doubling
    sa.event.listen(SelectionEvent.__table__, "after_create",
                    sa.DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"))


def stamp(when: datetime) -> str:
    """An instant as the record writes it: UTC with a Z (an aware time in any zone is converted first; a naive one
    is taken as UTC, as the database returns it)."""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def entry_hash(entry: dict) -> str:
    """SHA-256 of the canonical JSON of an entry without its own hash."""
    return selection.sha256(selection.canonical({k: v for k, v in entry.items() if k != "sha256"}))


def entries(meeting_id: int) -> list[SelectionEvent]:
    return list(db.session.scalars(sa.select(SelectionEvent).where(SelectionEvent.meeting_id == meeting_id)
                                   .order_by(SelectionEvent.seq)))


def append(meeting_id: int, kind: str, data: dict, at: datetime | None = None) -> SelectionEvent:
    """Add an event at the end of the meeting's chain. The meeting's row is locked first (PostgreSQL), so two
    simultaneous events (two declines) queue instead of both claiming the same place; the unique (meeting, seq)
    would make the second fail rather than fork the chain."""
    db.session.execute(sa.select(Meeting.id).where(Meeting.id == meeting_id).with_for_update())
    last = db.session.scalar(sa.select(SelectionEvent).where(SelectionEvent.meeting_id == meeting_id)
                             .order_by(SelectionEvent.seq.desc()).limit(1))
    entry = {"seq": (last.seq + 1) if last else 1, "kind": kind, "at": stamp(at or utcnow()), "data": data,
             "prev_sha256": last.sha256 if last else GENESIS}
    event = SelectionEvent(meeting_id=meeting_id, seq=entry["seq"], kind=kind, at=entry["at"],
                           data=selection.canonical(data).decode("utf-8").rstrip("\n"),
                           prev_sha256=entry["prev_sha256"], sha256=entry_hash(entry))
    db.session.add(event)
    db.session.flush()
    return event


def document(meeting_id: int) -> dict:
    """The record file, as published."""
    return {"format": RECORD_FORMAT, "meeting_id": meeting_id, "entries": [e.as_dict() for e in entries(meeting_id)]}


def check_chain(doc: dict) -> list[str]:
    """Problems with a record document's chain (empty when every hash and link holds)."""
    problems, prev = [], GENESIS
    for i, e in enumerate(doc.get("entries", []), start=1):
        if e.get("seq") != i:
            problems.append(f"record entry {i}: seq is {e.get('seq')}, expected {i}")
        if e.get("prev_sha256") != prev:
            problems.append(f"record entry {i}: prev_sha256 is {e.get('prev_sha256')}, expected {prev}")
        actual = entry_hash(e)
        if e.get("sha256") != actual:
            problems.append(f"record entry {i} ({e.get('kind')}): sha256 is {e.get('sha256')}, content hashes to "
                            f"{actual}")
        prev = e.get("sha256")
    return problems


def last_of(meeting_id: int, kind: str) -> SelectionEvent | None:
    return db.session.scalar(sa.select(SelectionEvent).where(SelectionEvent.meeting_id == meeting_id,
                                                             SelectionEvent.kind == kind)
                             .order_by(SelectionEvent.seq.desc()).limit(1))
