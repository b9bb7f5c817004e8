"""The signed-in person's own account: profile, e-mail address, password, my data, deleting the account."""
from __future__ import annotations

import json

import sqlalchemy as sa
from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from app.accounts import bp, email_undo, services, sessions
from app.accounts.forms import ChangeEmailForm, ConfirmForm, ChangePasswordForm, DeleteAccountForm, ProfileForm
from app.accounts.models import Tag
from app.accounts.permissions import login_required
from app.accounts.tokens import LinkError
from app.core import exports
from app.accounts.views import link_problem
from app.core.errors import form_status, submit
from app.core.timeutil import local, utcnow
from app.extensions import db, limiter
from app.i18n import LANG_COOKIE, YEAR


def _active_tags() -> list[Tag]:
    return list(db.session.scalars(sa.select(Tag).where(Tag.is_active.is_(True)).order_by(Tag.id)))


@bp.route("/accounts/profile", methods=["GET", "POST"])
@login_required
def profile() -> ResponseReturnValue:
    user = current_user
    tags = _active_tags()
    if request.method == "GET":
        chosen = [t.id for t in user.tags]
        form = ProfileForm(tags=tags, data={
            "name": user.name, "district": user.district or "", "age_band": user.age_band or "",
            "gender": user.gender or "", "occupation": user.occupation or "", "locale": user.locale or "zh",
            "industry_tags": chosen, "group_tags": chosen,
        })
        # Each group shows only its own tags as ticked; the choices limit what is rendered.
    else:
        form = ProfileForm(tags=tags)
    if submit(form, lambda: services.update_profile(
            user, name=form.name.data, district=form.district.data, age_band=form.age_band.data,
            gender=form.gender.data, occupation=form.occupation.data,
            tag_ids=list(form.industry_tags.data or []) + list(form.group_tags.data or []), locale=form.locale.data,
    ), _("个人资料已保存。"), field="name") is not None:
        response = redirect(url_for("accounts.profile"))
        # The chosen language applies at once (the cookie would otherwise win over the profile).
        response.set_cookie(LANG_COOKIE, user.locale, max_age=YEAR, samesite="Lax", httponly=True,
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
        return response
    return render_template("accounts/profile.html", form=form), form_status(form)


@bp.route("/accounts/email", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per hour", methods=["POST"])
def change_email() -> ResponseReturnValue:
    form = ChangeEmailForm()
    new_email = submit(form, lambda: services.request_email_change(current_user, form.new_email.data,
                                                                   form.password.data), field="new_email")
    if new_email is not None:
        flash(_("我们已向 %(email)s 发送了确认链接。点击链接后，您的登录邮箱才会更改。", email=new_email), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_email.html", form=form), form_status(form)


@bp.route("/accounts/email/confirm/<token>")
def confirm_email_change(token: str) -> ResponseReturnValue:
    try:
        user = services.confirm_email_change(token)
    except (LinkError, services.AccountError) as exc:
        return link_problem(exc)
    db.session.commit()
    flash(_("您的登录邮箱已改为 %(email)s。", email=user.email), "success")
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    return redirect(url_for("accounts.login"))


@bp.route("/accounts/email/undo/<token>", methods=["GET", "POST"])
def undo_email_change(token: str) -> ResponseReturnValue:
    """From the notice sent to the old address: a confirmation page, then the old address is back."""
    try:
        user, data = email_undo.check(token)
        if request.method == "POST" and ConfirmForm().validate_on_submit():
            email_undo.undo(token)
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            flash(_("登录邮箱已恢复为 %(email)s，所有设备都已退出登录。我们已向该邮箱发送重置密码的链接，请设置新密码。",
                    email=user.email), "success")
            return redirect(url_for("accounts.login"))
    except (LinkError, services.AccountError) as exc:
        return link_problem(exc)
    return render_template("accounts/email_undo.html", old_email=data.get("o", ""), new_email=user.email,
                           form=ConfirmForm())


@bp.route("/accounts/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm(known_email=current_user.email)
    if submit(form, lambda: _change_password(form), _("密码已修改。"), field="current_password") is not None:
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_password.html", form=form), form_status(form)


def _change_password(form: ChangePasswordForm) -> None:
    services.change_password(current_user, form.current_password.data, form.password.data)
    # Every session has ended (services.set_password); this browser carries on in a new one.
    previous = sessions.current()
    sessions.sign_in(current_user._get_current_object(), remember=bool(previous and previous.remember))


@bp.route("/accounts/data")
@login_required
def my_data() -> ResponseReturnValue:
    return render_template("accounts/my_data.html", delete_form=DeleteAccountForm())


@bp.route("/accounts/data.json")
@login_required
def download_my_data() -> ResponseReturnValue:
    data = services.export_user_data(current_user)
    exports.audit_export(current_user, "accounts.data_export", current_user, "json")  # personal data: audited
    db.session.commit()
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    filename = f"canyu-my-data-{local(utcnow()):%Y%m%d}.json"  # the day in Shanghai
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


@bp.route("/accounts/delete", methods=["GET", "POST"])
@login_required
def delete_account() -> ResponseReturnValue:
    form = DeleteAccountForm()
    if submit(form, lambda: services.delete_account(current_user, form.password.data), field="password") is not None:
        logout_user()
        flash(_("您的账户已注销。您发表的内容以“已注销用户”的名义保留。"), "success")
        return redirect(url_for("core.home"))
    return render_template("accounts/delete_account.html", form=form), form_status(form)
