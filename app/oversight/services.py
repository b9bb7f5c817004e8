"""Oversight use cases: targeted invitations to comment, and what the invited did with them."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from itsdangerous import BadSignature, URLSafeSerializer

from app.accounts.models import Role, Tag, TagKind, User, user_tag
from app.consultations.models import Consultation
from app.core import rows
from app.core.timeutil import format_local, utcnow
from app.extensions import db
from app.notifications.notices import add_notice
from app.notifications.services import queue_email
from app.notifications.tokens import unsubscribe_url
from app.oversight.labels import TARGET_GROUP_LABELS
from app.oversight.models import Invitation

# A tag whose name holds one of these marks an association or chamber of commerce.
ASSOCIATION_MARKS = ("协会", "商会")


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="canyu-invitation-open")


def open_token(consultation_id: int, user_id: int) -> str:
    return _serializer().dumps([consultation_id, user_id])


def read_open_token(token: str) -> tuple[int, int] | None:
    try:
        value = _serializer().loads(token)
    except BadSignature:
        return None
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return value[0], value[1]
    return None


def _base_query():
    return sa.select(User.id).where(User.deleted_at.is_(None), User.email_verified_at.is_not(None),
                                    User.email.is_not(None), User.role.in_([Role.RESIDENT, Role.ENTERPRISE]))


def _with_tag(condition):
    return sa.select(user_tag.c.user_id).join(Tag, Tag.id == user_tag.c.tag_id).where(condition)


def group_members(group: str, *, industry_tag_ids: list[int], group_tag_ids: list[int], named: str = "") -> list[int]:
    """The ids of the accounts that make up one target group (one query).

    - enterprises: enterprise accounts, narrowed to the consultation's 行业 tags when it has any;
    - associations: accounts carrying an association / chamber tag (行业协会商会);
    - grassroots: resident accounts, narrowed to the consultation's 人群 tags when it has any;
    - named:<text>: accounts carrying a tag of that name (Chinese or English).
    """
    stmt = _base_query()
    if group == "enterprises":
        stmt = stmt.where(User.role == Role.ENTERPRISE)
        if industry_tag_ids:
            stmt = stmt.where(User.id.in_(_with_tag(Tag.id.in_(industry_tag_ids))))
    elif group == "associations":
        stmt = stmt.where(User.id.in_(_with_tag(sa.or_(*[Tag.name.contains(m) for m in ASSOCIATION_MARKS]))))
    elif group == "grassroots":
        stmt = stmt.where(User.role == Role.RESIDENT)
        if group_tag_ids:
            stmt = stmt.where(User.id.in_(_with_tag(Tag.id.in_(group_tag_ids))))
    elif group == "named":
        if not named.strip():
            return []
        stmt = stmt.where(User.id.in_(_with_tag(sa.or_(Tag.name == named.strip(), Tag.name_en == named.strip()))))
    else:
        return []
    return list(db.session.scalars(stmt.order_by(User.id)))


def invite_target_groups(consultation) -> dict[str, int]:
    """Record, once, an invitation for each account matching the consultation's target groups. Returns the count
    per group.

    Only the rows are written here, in the publishing transaction, so that nothing is lost and publishing stays
    quick however many people match; ``send_invitations`` (a scheduled job) writes the e-mails and notices.
    A person in several groups is invited once, under the first group listed. Flushes, never commits.
    """
    groups = [g for g in (consultation.target_groups or []) if g in ("enterprises", "associations", "grassroots")]
    named = (getattr(consultation, "target_group_other", "") or "").strip()
    if named:
        groups.append("named")
    if not groups:
        return {}
    industry = [t.id for t in consultation.tags if t.kind is TagKind.INDUSTRY]
    people = [t.id for t in consultation.tags if t.kind is TagKind.GROUP]
    already = set(db.session.scalars(sa.select(Invitation.user_id)
                                     .where(Invitation.consultation_id == consultation.id)))
    chosen: dict[int, str] = {}
    for group in groups:
        for user_id in group_members(group, industry_tag_ids=industry, group_tag_ids=people, named=named):
            if user_id not in already and user_id not in chosen:
                chosen[user_id] = f"named:{named}"[:80] if group == "named" else group
    if not chosen:
        return {}
    now = utcnow()
    db.session.execute(sa.insert(Invitation), [
        {"consultation_id": consultation.id, "user_id": user_id, "target_group": group, "invited_at": now}
        for user_id, group in chosen.items()])
    counts: dict[str, int] = {}
    for group in chosen.values():
        counts[group] = counts.get(group, 0) + 1
    return counts


def send_invitations(batch_size: int = 500) -> int:
    """E-mail and notify the invitations not yet mailed, one batch; each is marked in the same transaction as its
    mail, so running this twice sends nothing twice. Returns how many were sent. Flushes, never commits."""
    pending = db.session.scalars(sa.select(Invitation).where(Invitation.mailed_at.is_(None))
                                 .order_by(Invitation.id).limit(batch_size)).all()
    if not pending:
        return 0
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_({i.user_id for i in pending})))}
    consultations = {c.id: c for c in db.session.scalars(
        sa.select(Consultation).where(Consultation.id.in_({i.consultation_id for i in pending}))
        .options(sa.orm.joinedload(Consultation.department)))}
    base = current_app.config["BASE_URL"].rstrip("/")
    now = utcnow()
    for invitation in pending:
        invitation.mailed_at = now
        user, consultation = users.get(invitation.user_id), consultations.get(invitation.consultation_id)
        if user is None or user.email is None or consultation is None or consultation.withdrawn_at is not None:
            continue  # deleted account, or a consultation withdrawn before the mail went out
        group = invitation.target_group
        locale = user.locale or "zh"
        with force_locale(locale):
            group_label = group.split(":", 1)[1] if group.startswith("named:") else str(TARGET_GROUP_LABELS[group])
            dept_name = consultation.department.display_name(locale) if consultation.department else ""
            add_notice(user.id, "invitation", link=f"/consultations/{consultation.id}", message="invitation",
                       title=consultation.title)
        queue_email(user.email, "oversight/emails/invitation", user=user, title=consultation.title,
                    department=dept_name, group=group_label, closes=format_local(consultation.closes_at),
                    open_url=f"{base}/invitations/{open_token(consultation.id, user.id)}",
                    unsubscribe_url=unsubscribe_url(user.id))
    db.session.flush()
    return len(pending)


def mark_opened(consultation_id: int, user_id: int) -> Invitation | None:
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.consultation_id == consultation_id,
                                                               Invitation.user_id == user_id))
    if invitation is not None and invitation.opened_at is None:
        invitation.opened_at = utcnow()
        db.session.flush()
    return invitation


def _mark_commented() -> sa.Update:
    t = Invitation.__table__  # a Core statement: no loaded invitation needs to follow it
    now = sa.bindparam("now", type_=t.c.commented_at.type)
    # (An UPDATE's parameters may not be named after its table's columns.)
    return (sa.update(t).where(t.c.consultation_id == sa.bindparam("consultation"),
                               t.c.user_id == sa.bindparam("user"), t.c.commented_at.is_(None))
            .values(commented_at=now, opened_at=sa.func.coalesce(t.c.opened_at, now)))


# Built once: it runs with every comment, and a prebuilt statement's compiled form is found without building and
# cache-keying it again.
_MARK_COMMENTED = _mark_commented()


def mark_commented(consultation_id: int, user_id: int | None) -> None:
    if user_id is None:
        return
    rows.run(_MARK_COMMENTED, {"consultation": consultation_id, "user": user_id, "now": utcnow()})


def reach_by_group(consultation_id: int) -> list[dict]:
    """Invited, opened and commented per target group (one query)."""
    rows = db.session.execute(
        sa.select(Invitation.target_group, sa.func.count(Invitation.id), sa.func.count(Invitation.opened_at),
                  sa.func.count(Invitation.commented_at))
        .where(Invitation.consultation_id == consultation_id)
        .group_by(Invitation.target_group).order_by(Invitation.target_group)).all()
    return [{"group": g, "invited": i, "opened": o, "commented": c} for g, i, o, c in rows]
