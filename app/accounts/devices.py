"""The signed-in person's sessions: where the account is signed in, ending one, signing out everywhere."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from app.accounts import bp, sessions
from app.accounts.forms import ConfirmForm
from app.accounts.permissions import login_required
from app.extensions import db


bp.after_app_request(sessions.touch_after_request)


@bp.route("/accounts/sessions")
@login_required
def my_sessions() -> ResponseReturnValue:
    return render_template("accounts/sessions.html", rows=sessions.live_sessions(current_user),
                           this=sessions.current(), form=ConfirmForm())


@bp.route("/accounts/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def end_session(session_id: int) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    this = sessions.current()
    if not sessions.end(current_user, session_id):
        abort(404)
    db.session.commit()
    if this is not None and this.id == session_id:
        logout_user()
        flash(_("您已退出登录。"), "success")
        return redirect(url_for("core.home"))
    flash(_("该设备已退出登录。"), "success")
    return redirect(url_for("accounts.my_sessions"))


@bp.route("/accounts/sessions/end-all", methods=["POST"])
@login_required
def end_all_sessions() -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    n = sessions.end_all(current_user)
    db.session.commit()
    logout_user()
    flash(_("已在所有设备上退出登录（%(n)d 处）。", n=n), "success")
    return redirect(url_for("accounts.login"))
