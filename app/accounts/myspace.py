"""My space (个人 / 企业专属空间): everything a person contributed and what became of it, their notices and their
subscriptions; and the one-click unsubscribe link of every e-mail."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts import bp
from app.accounts.models import DISTRICTS, Department, Tag
from app.accounts.permissions import login_required
from app.core.errors import form_status
from app.core.timeutil import utcnow
from app.extensions import db
from app.i18n import current_language
from app.notifications import notices
from app.notifications import subscriptions as subs
from app.oversight import myspace_data
from app.oversight.forms import NEWS_KINDS, SubscriptionForm
from app.oversight.models import MySpaceVisit


@bp.route("/me")
@login_required
def me():
    visit = db.session.get(MySpaceVisit, current_user.id)
    last_visit = visit.visited_at if visit else None
    sections = myspace_data.sections_for(current_user, last_visit)
    notice_list = notices.recent_notices(current_user.id)
    response = render_template("accounts/me.html", sections=sections, notices=notice_list, last_visit=last_visit,
                               unread=sum(1 for n in notice_list if n.is_unread))
    # Everything shown now counts as seen at the next visit.
    if visit is None:
        db.session.add(MySpaceVisit(user_id=current_user.id, visited_at=utcnow()))
    else:
        visit.visited_at = utcnow()
    notices.mark_all_read(current_user.id)
    db.session.commit()
    return response


def _subscription_form() -> SubscriptionForm:
    lang = current_language()
    departments = db.session.scalars(sa.select(Department).order_by(Department.kind, Department.name)).all()
    tags = db.session.scalars(sa.select(Tag).where(Tag.is_active).order_by(Tag.kind, Tag.name)).all()
    form = SubscriptionForm(
        departments=[(d.id, d.display_name(lang)) for d in departments],
        tags=[(t.id, t.display_name(lang)) for t in tags],
        districts=[(code, en if lang == "en" else zh) for code, (zh, en) in DISTRICTS.items()],
    )
    return form


@bp.route("/me/subscriptions", methods=["GET", "POST"])
@login_required
def subscriptions():
    form = _subscription_form()
    if request.method == "GET":
        topics = subs.topics_of(current_user.id)
        form.departments.data = sorted(topics["departments"])
        form.tags.data = sorted(topics["tags"])
        form.districts.data = sorted(topics["districts"])
        for kind, delivery in subs.deliveries_of(current_user.id).items():
            getattr(form, f"delivery_{kind.value}").data = delivery.value
    elif form.validate_on_submit():
        subs.update_subscriptions(
            current_user, department_ids=form.departments.data or [], tag_ids=form.tags.data or [],
            districts=form.districts.data or [],
            deliveries={subs.NewsKind(k): subs.Delivery(getattr(form, f"delivery_{k}").data) for k in NEWS_KINDS})
        db.session.commit()
        flash(_("订阅已保存。"), "success")
        return redirect(url_for("accounts.subscriptions"))
    return render_template("notifications/subscriptions.html", form=form), form_status(form)


@bp.route("/notifications/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """One click, no sign-in: the signed token names the person (and the kind of news, or all)."""
    try:
        user, kind = subs.unsubscribe(token)
    except subs.UnsubscribeError:
        db.session.rollback()
        return render_template("notifications/subscriptions_unsubscribed.html", ok=False), 400
    db.session.commit()
    return render_template("notifications/subscriptions_unsubscribed.html", ok=True, kind=kind)
