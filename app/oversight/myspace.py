"""My space (个人 / 企业专属空间): everything a person contributed and what became of it, and their notices.

Oversight builds it, as it builds the staff dashboards, from each module's records (myspace_data). Looking at the
page changes nothing: what is new is what changed since the person last marked it as seen (a POST from the page's
button), which also marks the notices read.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.forms import ConfirmForm
from app.accounts.permissions import login_required
from app.core.timeutil import utcnow
from app.extensions import db
from app.notifications import notices
from app.oversight import bp, myspace_data
from app.oversight.models import MySpaceVisit


@bp.route("/me")
@login_required
def me() -> ResponseReturnValue:
    visit = db.session.get(MySpaceVisit, current_user.id)
    last_visit = visit.visited_at if visit else None
    notice_list = notices.recent_notices(current_user.id)
    return render_template("accounts/me.html", sections=myspace_data.sections_for(current_user, last_visit),
                           notices=notice_list, last_visit=last_visit, seen_form=ConfirmForm(),
                           unread=sum(1 for n in notice_list if n.is_unread))


@bp.route("/me/seen", methods=["POST"])
@login_required
def mark_seen() -> ResponseReturnValue:
    """Everything shown so far counts as seen: notices are read, and only later changes are marked new."""
    if ConfirmForm().validate_on_submit():
        now = utcnow()
        visit = db.session.get(MySpaceVisit, current_user.id)
        if visit is None:
            db.session.add(MySpaceVisit(user_id=current_user.id, visited_at=now))
        else:
            visit.visited_at = now
        notices.mark_all_read(current_user.id, now)
        db.session.commit()
        flash(_("已全部标为已读。"), "success")
    return redirect(url_for("oversight.me"))
