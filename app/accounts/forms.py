"""Account forms: shape and field rules. Messages are in the visitor's language (lazy_gettext)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, EmailField, PasswordField, RadioField, SelectField, StringField, \
    SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp, ValidationError

from app.accounts.models import AGE_BANDS, DISTRICTS, GENDERS, DepartmentKind, TagKind
from app.accounts.validators import password_problem, uscc_problem
from app.core.forms import Form, MultiCheckboxField
from app.i18n import current_language


def _choices(table: dict[str, tuple[str, str]], blank: bool = True, blank_label=None):
    lang = current_language()
    choices = [(code, en if lang == "en" else zh) for code, (zh, en) in table.items()]
    return ([("", blank_label or _l("请选择"))] if blank else []) + choices


def district_choices(blank: bool = True) -> list[tuple[str, str]]:
    return _choices(DISTRICTS, blank)


class ChoiceField(SelectField):
    """A select whose "not one of the choices" message names what to choose."""

    def __init__(self, *args, invalid_message=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.invalid_message = invalid_message

    def pre_validate(self, form) -> None:
        if self.data and self.data not in {str(v) for v, _label in (self.choices or [])}:
            raise ValidationError(self.invalid_message or _l("请从列表中选择。"))


class TagCheckboxField(MultiCheckboxField):
    """Checkboxes of tags: a tag that is not offered (unknown or deactivated meanwhile) is refused."""

    def pre_validate(self, form) -> None:
        values = {str(v) for v, _label in (self.choices or [])}
        for item in self.data or []:
            if str(item) not in values:
                raise ValidationError(_l("所选标签不存在或已停用。"))


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
    """The password rules; the form's e-mail field (or its ``known_email`` attribute) must not be the password."""

    def __init__(self, email_field: str | None = "email"):
        self.email_field = email_field

    def __call__(self, form, field):
        email = getattr(form, self.email_field).data if self.email_field and hasattr(form, self.email_field) else None
        email = email or getattr(form, "known_email", None)
        problem = password_problem(field.data or "", email)
        if problem:
            raise ValidationError(PASSWORD_MESSAGES[problem])


def validate_uscc(form, field) -> None:
    problem = uscc_problem(field.data or "")
    if problem:
        raise ValidationError(USCC_MESSAGES[problem])


class RegisterForm(Form):
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


class LoginForm(Form):
    email = EmailField(_l("电子邮箱"), validators=[DataRequired(_l("请填写电子邮箱。")), Length(max=254)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码。"))])
    remember = BooleanField(_l("在这台设备上保持登录"))
    submit = SubmitField(_l("登录"))


class ResendVerificationForm(Form):
    submit = SubmitField(_l("重新发送验证邮件"))


class ConfirmForm(Form):
    """A form with only the CSRF token and a button (sign out, confirmations)."""

    submit = SubmitField(_l("确认"))


def _new_password_fields():
    password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请设置密码。")), StrongPassword()],
                             description=_l("至少 10 个字符，同时包含字母和数字。"))
    again = PasswordField(_l("再次输入新密码"), validators=[DataRequired(_l("请再次输入密码。")),
                                                       EqualTo("password", _l("两次输入的密码不一致。"))])
    return password, again


class ForgotPasswordForm(Form):
    email = EmailField(_l("电子邮箱"), validators=[DataRequired(_l("请填写电子邮箱。")),
                                               Email(_l("电子邮箱格式不正确。")), Length(max=254)])
    submit = SubmitField(_l("发送重置链接"))


class SigninLinkForm(Form):
    email = EmailField(_l("电子邮箱"), validators=[DataRequired(_l("请填写电子邮箱。")),
                                               Email(_l("电子邮箱格式不正确。")), Length(max=254)])
    submit = SubmitField(_l("发送登录链接"))


class ResetPasswordForm(Form):
    password, password_again = _new_password_fields()
    submit = SubmitField(_l("设置新密码"))

    def __init__(self, *args, known_email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.known_email = known_email


class ProfileForm(Form):
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=60)],
                       description=_l("公开显示时会隐去姓名，例如“张**”。"))
    district = ChoiceField(_l("所在区"), choices=[], validators=[Optional()],
                           description=_l("报名列席会议时需要，用于分层遴选。"),
                           invalid_message=_l("请从列表中选择所在区。"))
    age_band = ChoiceField(_l("年龄段"), choices=[], validators=[Optional()],
                           description=_l("报名列席会议时用于核对年龄条件和分层遴选。"),
                           invalid_message=_l("请从列表中选择年龄段。"))
    gender = ChoiceField(_l("性别"), choices=[], validators=[Optional()],
                         description=_l("报名列席会议时需要，用于分层遴选；可以选择“其他 / 不愿透露”。"),
                         invalid_message=_l("请从列表中选择性别。"))
    occupation = StringField(_l("职业（选填）"), validators=[Optional(), Length(max=100)])
    industry_tags = TagCheckboxField(_l("行业"), coerce=int, choices=[], validators=[Optional()],
                                       description=_l("选择与您相关的行业，我们会据此邀请您参与相关的征询和活动。"))
    group_tags = TagCheckboxField(_l("人群"), coerce=int, choices=[], validators=[Optional()])
    locale = RadioField(_l("界面和邮件语言"), choices=[("zh", "中文"), ("en", "English")], default="zh",
                        validators=[DataRequired(_l("请选择界面语言。"))])

    def validate_locale(self, field) -> None:
        if field.data not in ("zh", "en"):
            raise ValidationError(_l("请选择界面语言。"))
    submit = SubmitField(_l("保存"))

    def __init__(self, *args, tags=(), **kwargs):
        super().__init__(*args, **kwargs)
        lang = current_language()
        self.district.choices = _choices(DISTRICTS)
        self.age_band.choices = _choices(AGE_BANDS)
        self.gender.choices = _choices(GENDERS, blank_label=_l("不填写"))
        self.industry_tags.choices = [(t.id, t.display_name(lang)) for t in tags if t.kind is TagKind.INDUSTRY]
        self.group_tags.choices = [(t.id, t.display_name(lang)) for t in tags if t.kind is TagKind.GROUP]


class ChangeEmailForm(Form):
    new_email = EmailField(_l("新电子邮箱"), validators=[DataRequired(_l("请填写电子邮箱。")),
                                                    Email(_l("电子邮箱格式不正确。")), Length(max=254)],
                           description=_l("我们会向新邮箱发送确认链接；点击链接后才会更改。"))
    password = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入密码。"))])
    submit = SubmitField(_l("发送确认链接"))


class ChangePasswordForm(Form):
    current_password = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请输入当前密码。"))])
    password, password_again = _new_password_fields()
    submit = SubmitField(_l("修改密码"))

    def __init__(self, *args, known_email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.known_email = known_email


class DeleteAccountForm(Form):
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码以确认注销。"))])
    confirm = BooleanField(_l("我了解注销后无法恢复，我发表的意见将以“已注销用户”的名义保留"),
                           validators=[DataRequired(_l("请勾选确认。"))])
    submit = SubmitField(_l("注销账户"))


class AcceptInvitationForm(Form):
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=60)])
    password, password_again = _new_password_fields()
    submit = SubmitField(_l("设置密码并启用账户"))

    def __init__(self, *args, known_email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.known_email = known_email


# Administration ------------------------------------------------------------------------------------------------

class DepartmentForm(Form):
    code = StringField(_l("代码"), validators=[
        DataRequired(_l("请填写代码。")), Length(min=2, max=40, message=_l("代码应为 2–40 个字符。")),
        Regexp(r"^[a-zA-Z0-9][a-zA-Z0-9-]*$", message=_l("代码只能包含英文字母、数字和连字符。"))],
        description=_l("英文短代码，例如 housing。"))
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称。")), Length(max=120)])
    name_en = StringField(_l("英文名称"), validators=[Optional(), Length(max=200)])
    kind = RadioField(_l("类型"), choices=[(DepartmentKind.BUREAU.value, _l("委办局")),
                                         (DepartmentKind.DISTRICT.value, _l("区政府"))],
                      default=DepartmentKind.BUREAU.value, validators=[DataRequired(_l("请选择类型。"))])
    submit = SubmitField(_l("保存"))


class TagForm(Form):
    kind = RadioField(_l("类别"), choices=[(TagKind.INDUSTRY.value, _l("行业")), (TagKind.GROUP.value, _l("人群"))],
                      default=TagKind.GROUP.value, validators=[DataRequired(_l("请选择类别。"))])
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称。")), Length(max=60)])
    name_en = StringField(_l("英文名称"), validators=[Optional(), Length(max=120)])
    submit = SubmitField(_l("添加标签"))


class TagRenameForm(Form):
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称。")), Length(max=60)])
    name_en = StringField(_l("英文名称"), validators=[Optional(), Length(max=120)])
    submit = SubmitField(_l("保存"))


class InviteStaffForm(Form):
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=60)])
    email = EmailField(_l("电子邮箱"), validators=[DataRequired(_l("请填写电子邮箱。")),
                                               Email(_l("电子邮箱格式不正确。")), Length(max=254)],
                       description=_l("邀请链接会发送到这个地址。"))
    submit = SubmitField(_l("发送邀请"))


class AuditFilterForm(Form):
    """Filters for the audit log; read from the query string, no CSRF (GET)."""

    class Meta:
        csrf = False

    actor = StringField(_l("操作人"), validators=[Optional(), Length(max=200)],
                        description=_l("电子邮箱或其中一部分"))
    action = StringField(_l("操作"), validators=[Optional(), Length(max=80)], description=_l("例如 accounts.invite_staff"))
    object_type = SelectField(_l("对象类型"), choices=[], validators=[Optional()])
    department = SelectField(_l("部门"), choices=[], validators=[Optional()])
    date_from = DateField(_l("起始日期"), validators=[Optional()])
    date_to = DateField(_l("截止日期"), validators=[Optional()])
    submit = SubmitField(_l("筛选"))

    def validate_date_to(self, field) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("截止日期不能早于起始日期。"))
