"""The popular vote (最受欢迎的政府开放活动): the voting window, votes cast and taken back, and the ranking. Use
cases take the actor, flush, never commit; a refused vote raises OpenDayError."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import User
from app.core.audit import audit
from app.core.timeutil import SHANGHAI, format_local, utcnow
from app.extensions import db
from app.openday.models import Activity, ActivityState, OpenDayError, Vote, VotingWindow
from app.openday.services import lock_user


def set_voting_window(actor: User, year: int, opens_at: datetime, closes_at: datetime, live_ranking: bool,
                      window: VotingWindow | None = None) -> VotingWindow:
    if closes_at <= opens_at:
        raise OpenDayError(_("投票截止时间必须晚于开始时间。"), field="closes_at")
    if window is None:
        if db.session.scalar(sa.select(VotingWindow.id).where(VotingWindow.year == year)) is not None:
            raise OpenDayError(_("%(year)d 年的投票已设置。", year=year), field="year")
        window = VotingWindow(year=year, created_by_id=actor.id)
        db.session.add(window)
    window.opens_at, window.closes_at, window.live_ranking = opens_at, closes_at, live_ranking
    db.session.flush()
    audit(actor, "openday.voting_window", window, year=year, opens_at=opens_at.isoformat(),
          closes_at=closes_at.isoformat(), live_ranking=live_ranking)
    return window


def active_votes(window: VotingWindow, user: User) -> list[Vote]:
    return db.session.scalars(sa.select(Vote).where(Vote.window_id == window.id, Vote.user_id == user.id,
                                                    Vote.withdrawn_at.is_(None))).all()


def cast_vote(actor: User, window: VotingWindow, activity: Activity, *, ip_address: str = "", user_agent: str = "",
              now: datetime | None = None) -> Vote:
    now = now or utcnow()
    if not actor.is_verified:
        raise OpenDayError(_("请先验证您的电子邮箱地址，然后再投票。"))
    if not window.is_open(now):
        raise OpenDayError(_("投票时间为 %(opens)s 至 %(closes)s，现在不能投票。",
                             opens=format_local(window.opens_at), closes=format_local(window.closes_at)))
    if activity.state is not ActivityState.PUBLISHED:
        raise OpenDayError(_("只能为已发布的活动投票。"))
    if activity.first_starts_at is None or activity.first_starts_at.astimezone(SHANGHAI).year != window.year:
        raise OpenDayError(_("只能为 %(year)d 年开放月的活动投票。", year=window.year))
    lock_user(actor.id)
    votes = active_votes(window, actor)
    if any(v.activity_id == activity.id for v in votes):
        raise OpenDayError(_("您已为这个活动投过票。"))
    if len(votes) >= window.max_votes:
        raise OpenDayError(_("每个账户最多为 %(n)d 个活动投票；请先收回一票。", n=window.max_votes))
    created = actor.created_at
    vote = Vote(window_id=window.id, activity_id=activity.id, user_id=actor.id, created_at=now,
                ip_address=(ip_address or "")[:45], user_agent=(user_agent or "")[:300],
                is_flagged=bool(created and created > window.opens_at))
    db.session.add(vote)
    db.session.flush()
    return vote


def withdraw_vote(actor: User, window: VotingWindow, activity: Activity, now: datetime | None = None) -> None:
    now = now or utcnow()
    if not window.is_open(now):
        raise OpenDayError(_("投票已结束，不能收回。"))
    lock_user(actor.id)
    vote = next((v for v in active_votes(window, actor) if v.activity_id == activity.id), None)
    if vote is None:
        raise OpenDayError(_("您没有为这个活动投票。"))
    vote.withdrawn_at = now
    db.session.flush()


def ranking(window: VotingWindow) -> list[tuple[Activity, int]]:
    count = sa.func.count(Vote.id).label("votes")
    rows = db.session.execute(
        sa.select(Activity, count).join(Vote, Vote.activity_id == Activity.id)
        .where(Vote.window_id == window.id, Vote.withdrawn_at.is_(None))
        .group_by(Activity.id).order_by(count.desc(), Activity.id)).all()
    return [(a, n) for a, n in rows]


def current_window(now: datetime | None = None) -> VotingWindow | None:
    """The latest voting window (open, upcoming or closed)."""
    return db.session.scalar(sa.select(VotingWindow).order_by(VotingWindow.opens_at.desc()).limit(1))
