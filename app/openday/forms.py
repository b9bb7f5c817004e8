"""Forms of the Open Month: shape and field rules; the rules that need the database live in services."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import URL, DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.accounts.forms import district_choices
from app.core.forms import Form, MultiCheckboxField
from app.core.timeutil import from_local, local_today
from app.openday.models import ActivityMode, Eligibility, RegistrationState


def _mode_choices():
    return [(m.value, m.label) for m in ActivityMode]


def _eligibility_choices():
    return [(e.value, e.label) for e in Eligibility]


class ActivityForm(Form):
    department_id = SelectField(_l("主办部门"), coerce=int, validators=[Optional()])
    title = StringField(_l("活动名称"), validators=[DataRequired(_l("请填写活动名称。")), Length(max=200)])
    description = TextAreaField(_l("活动介绍"), validators=[DataRequired(_l("请填写活动介绍。")), Length(max=5000)])
    mode = RadioField(_l("参加方式"), choices=_mode_choices, default="offline")
    district = SelectField(_l("所在区"), validators=[Optional()])
    address = StringField(_l("地址"), validators=[Length(max=300)])
    access_notes = TextAreaField(_l("交通与无障碍说明"), validators=[Length(max=1000)],
                                 description=_l("例如：无障碍通道、最近的地铁站。"))
    online_url = StringField(_l("线上参加链接"), validators=[Optional(), URL(message=_l("请填写有效的网址。")),
                                                          Length(max=500)],
                             description=_l("只向已确认的参加者显示。"))
    signup_opens_at = DateTimeLocalField(_l("报名开始时间"), format="%Y-%m-%dT%H:%M",
                                         validators=[InputRequired(_l("请填写报名开始时间。"))])
    signup_closes_at = DateTimeLocalField(_l("报名截止时间"), format="%Y-%m-%dT%H:%M",
                                          validators=[InputRequired(_l("请填写报名截止时间。"))])
    eligibility = SelectField(_l("谁可以报名"), choices=_eligibility_choices, default="everyone")
    max_companions = SelectField(_l("每人可携带同行人数"), choices=[("0", "0"), ("1", "1"), ("2", "2")], default="0")
    tags = MultiCheckboxField(_l("标签"), coerce=int)
    image = FileField(_l("活动图片（JPG 或 PNG，最大 10 MB）"))
    image_alt = StringField(_l("图片说明（替代文本）"), validators=[Length(max=200)])

    def __init__(self, *args, tags=(), departments=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.district.choices = district_choices()
        self.tags.choices = [(t.id, t.name) for t in tags]
        if departments:
            self.department_id.choices = [(d.id, d.name) for d in departments]
        else:
            del self.department_id

    def validate_address(self, field) -> None:
        if self.mode.data in ("offline", "both") and not (field.data or "").strip():
            raise ValidationError(_l("线下活动请填写地址。"))

    def validate_online_url(self, field) -> None:
        if self.mode.data in ("online", "both") and not (field.data or "").strip():
            raise ValidationError(_l("线上活动请填写参加链接。"))

    def validate_signup_closes_at(self, field) -> None:
        if field.data and self.signup_opens_at.data and field.data <= self.signup_opens_at.data:
            raise ValidationError(_l("报名截止时间必须晚于报名开始时间。"))


class SessionForm(Form):
    day = DateField(_l("日期"), validators=[InputRequired(_l("请填写日期。"))])
    start = TimeField(_l("开始时间"), validators=[InputRequired(_l("请填写开始时间。"))])
    end = TimeField(_l("结束时间"), validators=[InputRequired(_l("请填写结束时间。"))])
    capacity = IntegerField(_l("名额"), validators=[InputRequired(_l("请填写名额。")),
                                                  NumberRange(min=1, max=10000, message=_l("名额须在 1 到 10000 之间。"))])
    has_waitlist = BooleanField(_l("名额满后开放候补"), default=True)

    def validate_end(self, field) -> None:
        if field.data and self.start.data and field.data <= self.start.data:
            raise ValidationError(_l("结束时间必须晚于开始时间。"))


class SignUpForm(Form):
    # The limit is checked by the service, with a message that names it.
    companions = SelectField(_l("同行人数"), coerce=int, choices=[(0, "0")], default=0, validate_choice=False)

    def __init__(self, *args, max_companions: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.companions.choices = [(n, str(n)) for n in range(0, max_companions + 1)]


class RatingForm(Form):
    stars = RadioField(_l("评分"), coerce=int, choices=[(n, str(n)) for n in range(1, 6)],
                       validators=[InputRequired(_l("请选择 1 到 5 星。"))])
    comment = TextAreaField(_l("评价（可选）"), validators=[Length(max=1000, message=_l("评价内容最多 1000 字。"))])


class CancelActivityForm(Form):
    reason = TextAreaField(_l("取消原因（会告知所有报名者）"),
                           validators=[DataRequired(_l("请填写取消原因，它会告知所有报名者。")), Length(max=1000)])


class MessageForm(Form):
    recipients = MultiCheckboxField(_l("发送给"), choices=[
        (RegistrationState.CONFIRMED.value, _l("已确认")), (RegistrationState.WAITLISTED.value, _l("候补中")),
        (RegistrationState.OFFERED.value, _l("待接受名额")), (RegistrationState.CHECKED_IN.value, _l("已签到"))],
        default=[RegistrationState.CONFIRMED.value],
        validators=[DataRequired(_l("请至少选择一类收件人。"))])
    subject = StringField(_l("标题"), validators=[DataRequired(_l("请填写标题。")), Length(max=200)])
    body = TextAreaField(_l("内容"), validators=[DataRequired(_l("请填写内容。")), Length(max=5000)])


class CheckInForm(Form):
    code = StringField(_l("票码或短码"), validators=[DataRequired(_l("请输入票码或短码。")), Length(max=200)],
                       description=_l("扫描二维码，或输入电子票上的 8 位短码。"))


class VotingWindowForm(Form):
    year = IntegerField(_l("年份"), validators=[InputRequired(_l("请填写年份。")),
                                              NumberRange(min=2020, max=2100, message=_l("请填写有效的年份。"))],
                        default=lambda: local_today().year)  # the Open Month's year in Shanghai
    opens_at = DateTimeLocalField(_l("投票开始时间"), format="%Y-%m-%dT%H:%M",
                                  validators=[InputRequired(_l("请填写投票开始时间。"))])
    closes_at = DateTimeLocalField(_l("投票截止时间"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(_l("请填写投票截止时间。"))])
    live_ranking = BooleanField(_l("投票期间公开实时排名"))

    def validate_closes_at(self, field) -> None:
        if field.data and self.opens_at.data and field.data <= self.opens_at.data:
            raise ValidationError(_l("投票截止时间必须晚于开始时间。"))


def local_to_utc(value: datetime) -> datetime | None:

    return from_local(value.date(), value.time())
