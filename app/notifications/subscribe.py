"""Pages of subscriptions: choosing what news to follow and how it arrives (/me/subscriptions), and the one-click
unsubscribe link of every e-mail (/notifications/unsubscribe/<token>)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.models import DISTRICTS, Department, Tag
from app.accounts.permissions import login_required
from app.core.errors import form_status
from app.extensions import db
from app.i18n import current_language
from app.notifications import bp
from app.notifications import subscriptions as subs
from app.notifications.forms import NEWS_KINDS, SubscriptionForm


def _subscription_form() -> SubscriptionForm:
    lang = current_language()
    departments = db.session.scalars(sa.select(Department).order_by(Department.kind, Department.name)).all()
    tags = db.session.scalars(sa.select(Tag).where(Tag.is_active).order_by(Tag.kind, Tag.name)).all()
    return SubscriptionForm(
        departments=[(d.id, d.display_name(lang)) for d in departments],
        tags=[(t.id, t.display_name(lang)) for t in tags],
        districts=[(code, en if lang == "en" else zh) for code, (zh, en) in DISTRICTS.items()],
    )


@bp.route("/me/subscriptions", methods=["GET", "POST"])
@login_required
def subscriptions() -> ResponseReturnValue:
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
        return redirect(url_for("notifications.subscriptions"))
    return render_template("notifications/subscriptions.html", form=form), form_status(form)


@bp.route("/notifications/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> ResponseReturnValue:
    """One click, no sign-in: the signed token names the person (and the kind of news, or all)."""
    try:
        _user, kind = subs.unsubscribe(token)
    except subs.UnsubscribeError:
        db.session.rollback()
        return render_template("notifications/subscriptions_unsubscribed.html", ok=False), 400
    db.session.commit()
    return render_template("notifications/subscriptions_unsubscribed.html", ok=True, kind=kind)
