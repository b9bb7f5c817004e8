"""Sessions: where the account is signed in, ending one, signing out everywhere; the e-mailed sign-in link."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from app.accounts import bp, sessions, signin
from app.accounts.forms import ConfirmForm, SigninLinkForm
from app.accounts.permissions import login_required
from app.accounts.tokens import LinkError
from app.accounts.views import link_problem
from app.core.errors import form_status
from app.extensions import db, limiter


bp.before_app_request(sessions.forget_before_request)
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


@bp.route("/accounts/signin-link", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def request_signin_link() -> ResponseReturnValue:
    """A sign-in link by e-mail: how the owner gets in while the password form is throttled."""
    form = SigninLinkForm()
    if form.validate_on_submit():
        signin.request_signin_link(form.email.data)
        db.session.commit()
        flash(_("如果该电子邮箱已注册，我们已发送一封含登录链接的邮件，链接 %(hours)s 小时内有效。",
                hours=current_app.config["RESET_LINK_HOURS"]), "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/signin_link.html", form=form), form_status(form)


@bp.route("/accounts/signin/<token>", methods=["GET", "POST"])
def signin_with_link(token: str) -> ResponseReturnValue:
    """A page with a button (mail scanners that open links do not sign anyone in), then signed in."""
    try:
        user = signin.check_signin_link(token)
        form = ConfirmForm()
        if form.validate_on_submit():
            signin.sign_in_with_link(token)
            sessions.sign_in(user)
            db.session.commit()
            flash(_("您已登录。"), "success")
            return redirect(url_for("core.home"))
    except LinkError as exc:
        return link_problem(exc)
    return render_template("accounts/signin_with_link.html", form=form, email=user.email), form_status(form)
