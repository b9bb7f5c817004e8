"""Subscriptions: what news a person follows (departments, tags, districts) and, per kind of news, how it reaches
them (e-mail now, the weekly digest, or nothing).

``notify_news`` is the one entry point other code calls (through signal receivers): it finds the subscribers of a
piece of news with one query, and for each writes an in-app notice and queues an e-mail now or a digest item.
It is idempotent per (kind, key), so a signal sent twice or a job run twice notifies once.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import User
from app.core.enums import LabelledEnum
from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db
from app.notifications.digest import DigestItem
from app.notifications.kinds import NewsKind
from app.notifications.notices import add_notice, news_text
from app.notifications.services import queue_email
from app.notifications.tokens import (  # noqa: F401  (unsubscribe_token is part of this module's interface)
    UnsubscribeError,
    read_unsubscribe_token,
    unsubscribe_token,
    unsubscribe_url,
)


class Delivery(LabelledEnum):
    NOW = "now", _l("立即发送邮件")
    DIGEST = "digest", _l("每周摘要")
    NONE = "none", _l("不通知")


DEFAULT_DELIVERY = Delivery.DIGEST


class Subscription(db.Model):
    """One followed topic: exactly one of department, tag or district is set."""

    __tablename__ = "subscription"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "department_id", "tag_id", "district", name="uq_subscription_topic"),
        sa.CheckConstraint(
            "(CASE WHEN department_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN tag_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN district IS NULL THEN 0 ELSE 1 END) = 1", name="one_topic"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"), index=True)
    tag_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tag.id", ondelete="CASCADE"), index=True)
    district: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryPreference(db.Model):
    """How one kind of news reaches one person; no row means DEFAULT_DELIVERY."""

    __tablename__ = "delivery_preference"
    __table_args__ = (sa.UniqueConstraint("user_id", "kind", name="uq_delivery_preference_user_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[NewsKind] = mapped_column(sa.Enum(NewsKind, native_enum=False, length=30))
    delivery: Mapped[Delivery] = mapped_column(sa.Enum(Delivery, native_enum=False, length=10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NewsEvent(db.Model):
    """A piece of news already announced: makes notify_news idempotent per (kind, key)."""

    __tablename__ = "news_event"
    __table_args__ = (sa.UniqueConstraint("kind", "key", name="uq_news_event_kind_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[NewsKind] = mapped_column(sa.Enum(NewsKind, native_enum=False, length=30))
    key: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipients: Mapped[int] = mapped_column(default=0)


# ----------------------------------------------------------------------------------------------------------------
# Reading and changing one person's subscriptions

def topics_of(user_id: int) -> dict[str, set]:
    rows = db.session.execute(sa.select(Subscription.department_id, Subscription.tag_id, Subscription.district)
                              .where(Subscription.user_id == user_id)).all()
    return {
        "departments": {r.department_id for r in rows if r.department_id is not None},
        "tags": {r.tag_id for r in rows if r.tag_id is not None},
        "districts": {r.district for r in rows if r.district is not None},
    }


def deliveries_of(user_id: int) -> dict[NewsKind, Delivery]:
    found = dict(db.session.execute(sa.select(DeliveryPreference.kind, DeliveryPreference.delivery)
                                    .where(DeliveryPreference.user_id == user_id)).all())
    return {kind: found.get(kind, DEFAULT_DELIVERY) for kind in NewsKind}


def set_delivery(user_id: int, kind: NewsKind, delivery: Delivery) -> None:
    pref = db.session.scalar(sa.select(DeliveryPreference).where(DeliveryPreference.user_id == user_id,
                                                                 DeliveryPreference.kind == kind))
    if pref is None:
        db.session.add(DeliveryPreference(user_id=user_id, kind=kind, delivery=delivery))
    else:
        pref.delivery = delivery


def update_subscriptions(actor: User, *, department_ids: Iterable[int] = (), tag_ids: Iterable[int] = (),
                         districts: Iterable[str] = (), deliveries: dict[NewsKind, Delivery] | None = None) -> None:
    """Replace the actor's topics with the given ones and store the given deliveries. Flushes, never commits."""
    wanted = {("department_id", int(d)) for d in department_ids}
    wanted |= {("tag_id", int(t)) for t in tag_ids}
    wanted |= {("district", str(d)) for d in districts}
    existing = db.session.scalars(sa.select(Subscription).where(Subscription.user_id == actor.id)).all()
    have = {}
    for sub in existing:
        key = ("department_id", sub.department_id) if sub.department_id is not None else (
            ("tag_id", sub.tag_id) if sub.tag_id is not None else ("district", sub.district))
        have[key] = sub
    for key, sub in have.items():
        if key not in wanted:
            db.session.delete(sub)
    for field, value in wanted - set(have):
        db.session.add(Subscription(user_id=actor.id, **{field: value}))
    for kind, delivery in (deliveries or {}).items():
        set_delivery(actor.id, kind, delivery)
    db.session.flush()


# ----------------------------------------------------------------------------------------------------------------
# One-click unsubscribe

def unsubscribe(token: str) -> tuple[User, NewsKind | None]:
    """Stop e-mail for one kind of news (or all kinds) for the person the signed token names."""
    user_id, value = read_unsubscribe_token(token)
    try:
        kind = None if value == "all" else NewsKind(value)
    except ValueError as exc:
        raise UnsubscribeError("invalid") from exc
    user = db.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise UnsubscribeError("invalid")
    for k in ([kind] if kind else list(NewsKind)):
        set_delivery(user.id, k, Delivery.NONE)
    db.session.flush()
    return user, kind


# ----------------------------------------------------------------------------------------------------------------
# Announcing news

def subscribers(kind: NewsKind, *, department_id: int | None = None, tag_ids: Iterable[int] = (),
                districts: Iterable[str] = ()) -> list[tuple[User, Delivery]]:
    """Every active, verified person following one of the topics, with how this kind reaches them (one query)."""
    tag_ids, districts = list(tag_ids), list(districts)
    conditions = []
    if department_id is not None:
        conditions.append(Subscription.department_id == department_id)
    if tag_ids:
        conditions.append(Subscription.tag_id.in_(tag_ids))
    if districts:
        conditions.append(Subscription.district.in_(districts))
    if not conditions:
        return []
    matching = sa.select(Subscription.user_id).where(sa.or_(*conditions))
    rows = db.session.execute(
        sa.select(User, DeliveryPreference.delivery)
        .outerjoin(DeliveryPreference, sa.and_(DeliveryPreference.user_id == User.id, DeliveryPreference.kind == kind))
        .where(User.id.in_(matching), User.deleted_at.is_(None), User.email_verified_at.is_not(None),
               User.email.is_not(None))
        .order_by(User.id)
    ).all()
    return [(user, pref or DEFAULT_DELIVERY) for user, pref in rows]


def notify_news(kind: NewsKind, key: str, *, title: str, link: str, department_id: int | None = None,
                tag_ids: Iterable[int] = (), districts: Iterable[str] = (), when: str = "") -> int:
    """Tell every subscriber about one piece of news, once. Returns how many people were told.

    ``title`` is the object's own title (not translated); ``link`` a path on this site; ``when`` an optional date.
    """
    if db.session.scalar(sa.select(NewsEvent.id).where(NewsEvent.kind == kind, NewsEvent.key == key)):
        return 0
    event = NewsEvent(kind=kind, key=key)
    db.session.add(event)
    told = 0
    for user, delivery in subscribers(kind, department_id=department_id, tag_ids=tag_ids, districts=districts):
        if delivery is Delivery.NONE:
            continue
        with force_locale(user.locale or "zh"):
            text = news_text(kind, title)
        add_notice(user.id, kind.value, link=link, message="news", news=kind.value, title=title)
        if delivery is Delivery.NOW:
            queue_email(user.email, "oversight/emails/news", user=user, kind=kind, title=title, link=link, text=text,
                        when=when, unsubscribe_url=unsubscribe_url(user.id, kind))
        else:
            db.session.add(DigestItem(user_id=user.id, kind=kind.value, text=text, link=link))
        told += 1
    event.recipients = told
    db.session.flush()
    return told



