"""Staff pages for a selection whose quotas the frozen pool cannot meet: relax quotas, or cancel the round and
reopen applications (rules in relax.py)."""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.permissions import staff_required
from app.core.errors import submit
from app.extensions import db
from app.hearings import bp, relax
from app.hearings.forms import CancelRoundForm, local_to_utc, relax_form
from app.hearings.manage import _managed, _render_manage
from app.hearings.models import HearingError, Meeting


def _open_to_change(view: Callable[[Meeting], ResponseReturnValue]) -> Callable[[int], ResponseReturnValue]:
    """A staff page that changes the quotas or the round of a managed meeting: past the point where they may
    change, back to the meeting's page with the reason."""
    @functools.wraps(view)
    def checked(id: int) -> ResponseReturnValue:
        meeting = _managed(id)
        try:
            relax.ensure_open_to_change(meeting)
        except HearingError as exc:
            flash(str(exc.message), "error")
            return redirect(url_for("hearings.manage_meeting", id=meeting.id) + "#lottery")
        return view(meeting)
    return checked


@bp.route("/manage/hearings/<int:id>/relax-quotas", methods=["POST"])
@staff_required
@_open_to_change
def manage_relax_quotas(meeting: Meeting) -> ResponseReturnValue:
    quotas = list(meeting.quotas)
    form = relax_form(quotas, request.form)
    if form.validate_on_submit():
        try:
            relax.relax_quotas(current_user, meeting, form.changes(quotas))
            db.session.commit()
            flash(_("配额已放宽，并已记入公开的遴选记录。候选池文件已按新配额重新发布，请重新计算抽签方案。"), "success")
            return redirect(url_for("hearings.manage_meeting", id=meeting.id) + "#lottery")
        except HearingError as exc:
            db.session.rollback()
            form.form_errors = [*getattr(form, "form_errors", []), str(exc.message)]
    return _render_manage(meeting, 422, relax_form=form)


@bp.route("/manage/hearings/<int:id>/cancel-round", methods=["POST"])
@staff_required
@_open_to_change
def manage_cancel_round(meeting: Meeting) -> ResponseReturnValue:
    form = CancelRoundForm(prefix="cancel")
    if submit(form, lambda: relax.cancel_round(current_user, meeting, reason=form.reason.data,
                                               closes_at=local_to_utc(form.closes_at.data)),
              _("本轮遴选已取消并记入公开记录，报名重新开放。已审查的申请人仍在其中。"), field="reason"):
        return redirect(url_for("hearings.manage_meeting", id=meeting.id))
    return _render_manage(meeting, 422, cancel_form=form)
