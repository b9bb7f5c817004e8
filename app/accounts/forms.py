"""Account forms: shape and field rules. Messages are in the visitor's language (lazy_gettext)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, ValidationError

from app.accounts.models import DISTRICTS
from app.accounts.validators import password_problem, uscc_problem
from app.i18n import current_language


def district_choices(blank: bool = True):
    lang = current_language()
    choices = [(code, en if lang == "en" else zh) for code, (zh, en) in DISTRICTS.items()]
    return ([("", _l("请选择"))] if blank else []) + choices


PASSWORD_MESSAGES = {
    "short": _l("密码至少需要 10 个字符。"),
    "long": _l("密码不能超过 200 个字符。"),
    "common": _l("这个密码太常见，容易被猜到，请换一个。"),
    "email": _l("密码不能与电子邮箱相同。"),
    "mix": _l("密码需要同时包含字母和数字。"),
}

USCC_MESSAGES = {
    "length": _l("统一社会信用代码应为 18 位。"),
    "characters": _l("统一社会信用代码只能包含数字和大写字母（不含 I、O、S、V、Z）。"),
    "check": _l("统一社会信用代码的校验位不正确，请核对后重新输入。"),
}


class StrongPassword:
    def __init__(self, email_field: str | None = "email"):
        self.email_field = email_field

    def __call__(self, form, field):
        email = getattr(form, self.email_field).data if self.email_field and hasattr(form, self.email_field) else None
        problem = password_problem(field.data or "", email)
        if problem:
            raise ValidationError(PASSWORD_MESSAGES[problem])


def validate_uscc(form, field):
    problem = uscc_problem(field.data or "")
    if problem:
        raise ValidationError(USCC_MESSAGES[problem])


class RegisterForm(FlaskForm):
    account_type = RadioField(_l("账户类型"), choices=[("resident", _l("居民")), ("enterprise", _l("企业代表"))],
                              default="resident", validators=[DataRequired()])
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=60)],
                       description=_l("公开显示时会隐去姓名，例如“张**”。"))
    email = EmailField(_l("电子邮箱"), validators=[DataRequired(_l("请填写电子邮箱。")),
                                               Email(_l("电子邮箱格式不正确。")), Length(max=254)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请设置密码。")), StrongPassword()],
                             description=_l("至少 10 个字符，同时包含字母和数字。"))
    password_again = PasswordField(_l("再次输入密码"), validators=[DataRequired(_l("请再次输入密码。")),
                                                            EqualTo("password", _l("两次输入的密码不一致。"))])
    district = SelectField(_l("所在区"), choices=[], validators=[Optional()])
    organisation_name = StringField(_l("企业名称"), validators=[Optional(), Length(max=200)],
                                    description=_l("企业代表必填。"))
    uscc = StringField(_l("统一社会信用代码"), validators=[Optional(), Length(max=30)],
                       description=_l("企业代表必填，18 位，含校验位。"))
    accept_terms = BooleanField(_l("我已阅读并同意用户协议和个人信息保护政策"),
                                validators=[DataRequired(_l("请阅读并同意用户协议和个人信息保护政策。"))])
    submit = SubmitField(_l("注册"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.district.choices = district_choices()

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.account_type.data == "enterprise":
            if not (self.organisation_name.data or "").strip():
                self.organisation_name.errors.append(_l("企业代表请填写企业名称。"))
                ok = False
            if not (self.uscc.data or "").strip():
                self.uscc.errors.append(_l("企业代表请填写统一社会信用代码。"))
                ok = False
            else:
                try:
                    validate_uscc(self, self.uscc)
                except ValidationError as exc:
                    self.uscc.errors.append(str(exc))
                    ok = False
        return ok


class LoginForm(FlaskForm):
    email = EmailField(_l("电子邮箱"), validators=[DataRequired(_l("请填写电子邮箱。")), Length(max=254)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码。"))])
    remember = BooleanField(_l("在这台设备上保持登录"))
    submit = SubmitField(_l("登录"))


class ResendVerificationForm(FlaskForm):
    submit = SubmitField(_l("重新发送验证邮件"))


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token and a button (sign out, confirmations)."""

    submit = SubmitField(_l("确认"))
