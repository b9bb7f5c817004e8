"""Account pages: register, verify, sign in and out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from app.accounts import bp, services, sessions, signin
from app.accounts.forms import (
    AcceptInvitationForm,
    ConfirmForm,
    ForgotPasswordForm,
    LoginForm,
    RegisterForm,
    ResendVerificationForm,
    ResetPasswordForm,
)
from app.accounts.models import Role, User
from app.accounts.permissions import is_staff_or_admin, login_required
from app.accounts.tokens import LinkError
from app.core.errors import DomainError, commit, form_status
from app.extensions import db, limiter, login_manager
from app.i18n import current_language


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    # A live server-side session of an active account whose password has not changed since it began.
    return sessions.load(session_id)


def safe_next(default: str) -> str:
    target = request.args.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith(("//", "/\\")) and not parts.netloc and not parts.scheme:
        return target
    return default


@bp.route("/accounts/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        role = Role.ENTERPRISE if form.account_type.data == "enterprise" else Role.RESIDENT
        try:
            services.register_user(
                email=form.email.data, password=form.password.data, name=form.name.data, role=role,
                organisation_name=form.organisation_name.data, uscc=form.uscc.data,
                district=form.district.data, locale=current_language(),
            )
        except services.AccountError as exc:
            getattr(form, exc.field or "email").errors.append(exc.message)
        else:
            commit()
            # The same answer whether or not the address already had an account (its owner got a mail).
            flash(_("我们已向 %(email)s 发送了一封邮件。请打开邮件中的链接验证电子邮箱，然后登录。",
                    email=services.normalise_email(form.email.data)), "success")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/register.html", form=form), form_status(form)


@bp.route("/accounts/verify/<token>")
def verify(token: str) -> ResponseReturnValue:
    try:
        services.verify_email(token)
    except LinkError as exc:
        return link_problem(exc)
    commit()
    flash(_("您的电子邮箱已验证。"), "success")
    return redirect(url_for("core.home") if current_user.is_authenticated else url_for("accounts.login"))


@bp.route("/accounts/unverified", methods=["GET", "POST"])
@login_required
@limiter.limit("5 per hour", methods=["POST"])
def unverified() -> ResponseReturnValue:
    if current_user.is_verified:
        return redirect(url_for("core.home"))
    form = ResendVerificationForm()
    if form.validate_on_submit():
        services.send_verification(current_user)
        commit()
        flash(_("验证邮件已重新发送到 %(email)s。", email=current_user.email), "success")
        return redirect(url_for("accounts.unverified"))
    return render_template("accounts/unverified.html", form=form), form_status(form)


@bp.route("/accounts/login", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.manage_home" if is_staff_or_admin(current_user) else "core.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = signin.authenticate(form.email.data, form.password.data, request.remote_addr)
        except services.AccountError as exc:
            commit()  # keep the record of the failure
            form.password.errors.append(exc.message)
        else:
            sessions.sign_in(user, remember=bool(form.remember.data))
            commit()
            flash(_("您已登录。"), "success")
            # Staff and admins work under /manage/; residents go back to the public pages.
            landing = "accounts.manage_home" if is_staff_or_admin(user) else "core.home"
            return redirect(safe_next(url_for(landing)))
    return render_template("accounts/login.html", form=form), form_status(form)


@bp.route("/accounts/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        sessions.end_current()  # replaying this session's cookies (or the remember-me cookie) finds nothing
        commit()
        logout_user()
        flash(_("您已退出登录。"), "success")
    return redirect(url_for("core.home"))


@bp.route("/manage/")
@login_required
def manage_home() -> ResponseReturnValue:

    if not is_staff_or_admin(current_user):
        abort(403)
    return render_template("accounts/manage_home.html")


@bp.route("/accounts/forgot-password", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def forgot_password() -> ResponseReturnValue:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        commit()
        # The same answer whether or not the address has an account.
        flash(_("如果该电子邮箱已注册，我们已发送一封重置密码的邮件，链接 %(hours)s 小时内有效。",
                hours=current_app.config["RESET_LINK_HOURS"]), "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot_password.html", form=form), form_status(form)


def link_problem(error: DomainError) -> ResponseReturnValue:
    """The page for a link that cannot be used: broken, expired or used (a ``LinkError`` says which), or refused by
    a rule when followed (the address it sets was taken meanwhile)."""
    db.session.rollback()
    if isinstance(error, LinkError):
        return render_template("accounts/link_problem.html", reason=error.reason), 400
    return render_template("accounts/link_problem.html", reason="taken", message=error.message), 400


@bp.route("/accounts/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    try:
        user = services.check_reset_token(token)
    except LinkError as exc:
        return link_problem(exc)
    form = ResetPasswordForm(known_email=user.email)
    if form.validate_on_submit():
        try:
            services.reset_password(token, form.password.data)
        except LinkError as exc:
            return link_problem(exc)
        commit()
        if current_user.is_authenticated:
            logout_user()
        flash(_("密码已重置，请用新密码登录。"), "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form), form_status(form)


@bp.route("/accounts/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> ResponseReturnValue:
    try:
        user = services.check_invitation(token)
    except LinkError as exc:
        return link_problem(exc)
    form = AcceptInvitationForm(known_email=user.email, data={"name": user.name} if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            services.accept_invitation(token, name=form.name.data, password=form.password.data)
        except LinkError as exc:
            return link_problem(exc)
        commit()
        logout_user()
        flash(_("账户已启用，请用您的电子邮箱和新密码登录。"), "success")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/accept_invitation.html", form=form, invitee=user), form_status(form)
