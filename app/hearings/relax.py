"""When the quotas cannot be met by the frozen pool: staff relax them (each change with a reason) or cancel the round
and reopen applications. Both are audited, appended to the public selection record and mailed to everyone in the pool; nothing is silent.

Only before the panels are computed and before a random source is announced, so neither can be used to steer a
draw whose inputs are already committed. A relaxation may only loosen a quota (a lower minimum, a higher maximum,
or no quota): tightening quotas after the pool is public could single people out.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app.accounts.models import User
from app.core.audit import audit
from app.core.timeutil import utcnow
from app.extensions import db
from app.hearings import record, selection
from app.hearings import quotas as quota_rules
from app.hearings.models import HearingError, LotteryRun, LotteryStatus, Meeting, Pool, Quota
from app.hearings.services import notify

QUOTAS_RELAXED = record.Kind.QUOTAS_RELAXED
ROUND_CANCELLED = record.Kind.ROUND_CANCELLED


def ensure_open_to_change(meeting: Meeting) -> None:
    if meeting.pool is None:
        raise HearingError(_l("候选池尚未冻结，配额问题会在冻结后显示。"))
    if meeting.draw is not None:
        raise HearingError(_l("随机数来源已经公布，遴选的输入已经锁定，不能再放宽配额或重新报名。"))
    runs = db.session.scalars(sa.select(LotteryRun).where(LotteryRun.meeting_id == meeting.id)).all()
    if any(r.status is LotteryStatus.SUCCEEDED for r in runs):
        raise HearingError(_l("抽签方案已经计算并公布，配额可以满足，不能再修改。"))
    if any(r.is_active for r in runs):
        raise HearingError(_l("抽签方案正在计算中，请等计算结束。"))


def relax_quotas(actor: User, meeting: Meeting, changes: list[dict], now: datetime | None = None) -> None:
    """``changes``: [{"category", "value", "min", "max", "reason"}] for quotas of the meeting; "min"/"max" None
    removes the quota. The pool file is reissued with the new quotas (same people, same numbers)."""
    now = (now or utcnow()).replace(microsecond=0)
    ensure_open_to_change(meeting)
    current = {(q.category, q.value): q for q in meeting.quotas}
    effective = []
    for c in changes:
        q = current.get((c["category"], c["value"]))
        if q is None:
            raise HearingError(_l("只能放宽已有的配额。"), "quotas")
        removed = c["min"] is None and c["max"] is None
        lo, hi = (0, meeting.seats) if removed else (c["min"], c["max"])
        if (lo, hi) == (q.minimum, q.maximum):
            continue
        if lo > q.minimum or hi < q.maximum:
            raise HearingError(_l("只能放宽配额：最少人数不能提高，最多人数不能降低。"), "quotas")
        if not (c.get("reason") or "").strip():
            raise HearingError(_l("请说明每项放宽的理由。"), "quotas")
        effective.append({"category": q.category, "value": q.value, "old_min": q.minimum, "old_max": q.maximum,
                          "new_min": None if removed else lo, "new_max": None if removed else hi,
                          "reason": c["reason"].strip()})
    if not effective:
        raise HearingError(_l("没有放宽任何配额：请至少降低一项最少人数或提高一项最多人数。"), "quotas")
    new_quotas = []
    for (category, value), q in current.items():
        change = next((e for e in effective if (e["category"], e["value"]) == (category, value)), None)
        if change is None:
            new_quotas.append(q.as_dict())
        elif change["new_min"] is not None:
            new_quotas.append({"category": category, "value": value, "min": change["new_min"],
                               "max": change["new_max"]})
    problems = quota_rules.problems(new_quotas, meeting.seats)
    if problems:
        raise HearingError(problems[0].message, "quotas")
    for e in effective:
        q = current[(e["category"], e["value"])]
        if e["new_min"] is None:
            meeting.quotas.remove(q)
        else:
            q.minimum, q.maximum = e["new_min"], e["new_max"]
    db.session.flush()
    pool = meeting.pool
    old_sha = pool.sha256
    _reissue_pool(meeting, pool)
    data = {"changes": effective, "old_pool_sha256": old_sha, "pool_sha256": pool.sha256}
    audit(actor, "hearing.quotas_relaxed", meeting, **data)
    record.append(meeting.id, QUOTAS_RELAXED, data, at=now)
    record.append(meeting.id, record.Kind.POOL_FROZEN, {"pool_sha256": pool.sha256, "size": pool.size}, at=now)
    for entry in sorted(pool.entries, key=lambda e: e.number):  # everyone in the pool is told, by their number
        notify(entry.application.user, "quotas_relaxed", meeting=meeting, number=entry.number, changes=effective)


def _reissue_pool(meeting: Meeting, pool: Pool) -> None:
    from app.hearings.selection_services import pool_document

    db.session.expire(meeting, ["quotas"])
    doc = pool_document(meeting, list(pool.entries), pool.frozen_at)
    pool.content = selection.canonical(doc).decode("utf-8")
    pool.sha256 = selection.sha256(pool.content)
    db.session.flush()


def cancel_round(actor: User, meeting: Meeting, *, reason: str, closes_at: datetime,
                 now: datetime | None = None) -> None:
    """Set the frozen pool aside and reopen applications until ``closes_at``: everyone found eligible stays in,
    new applicants can join, and the pool is frozen again after the new closing time."""
    now = (now or utcnow()).replace(microsecond=0)
    ensure_open_to_change(meeting)
    reason = (reason or "").strip()
    if not reason:
        raise HearingError(_l("请说明取消本轮遴选、重新报名的理由。"), "reason")
    if closes_at <= now:
        raise HearingError(_l("新的报名截止时间必须晚于现在。"), "closes_at")
    if closes_at >= meeting.starts_at:
        raise HearingError(_l("新的报名截止时间必须早于会议时间。"), "closes_at")
    pool = meeting.pool
    data = {"pool_sha256": pool.sha256, "size": pool.size, "reason": reason,
            "applications_close_at": record.stamp(closes_at)}
    audit(actor, "hearing.round_cancelled", meeting, pool_content=pool.content, **data)
    record.append(meeting.id, ROUND_CANCELLED, data, at=now)
    applicants = [e.application.user for e in sorted(pool.entries, key=lambda e: e.number)]
    db.session.delete(pool)
    meeting.closes_at = closes_at
    db.session.flush()
    for user in applicants:  # everyone whose pool was set aside is told, with the reason and the new closing time
        notify(user, "round_cancelled", meeting=meeting, reason=reason)
    db.session.expire(meeting, ["pool"])


def relaxations(meeting_id: int) -> list[dict]:
    """The public record's quota relaxations and cancelled rounds, oldest first, for the selection page."""
    out = []
    for e in record.entries(meeting_id):
        if e.kind in (QUOTAS_RELAXED, ROUND_CANCELLED):
            out.append(e.as_dict())
    return out


def quota_dicts(meeting: Meeting) -> list[dict]:
    return [{**q.as_dict(), "reason": q.reason} for q in meeting.quotas]


__all__ = ["cancel_round", "quota_dicts", "relax_quotas", "relaxations", "Quota"]
