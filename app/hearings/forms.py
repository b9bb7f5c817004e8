"""Forms of the hearings module: input shape and field rules. Domain rules live in services.py."""
from __future__ import annotations

import re
from datetime import datetime

from flask_babel import lazy_gettext as _l
from app.core.forms import Form
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, URL

from app.accounts.models import AGE_BANDS, DISTRICTS, GENDERS
from app.core.timeutil import SHANGHAI
from app.hearings.models import ACCOUNT_TYPES, CATEGORIES, OBSERVER_HISTORY, Disposition

CATEGORY_VALUES = {"district": DISTRICTS, "age_band": AGE_BANDS, "gender": GENDERS, "account_type": ACCOUNT_TYPES,
                   "observer_history": OBSERVER_HISTORY}
QUOTA_LINE = re.compile(r"^\s*([a-z_]+)\s*[:：]\s*([a-z0-9_]+)\s+(\d+)\s*[-–~ ]\s*(\d+)\s*$")


def local_to_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=SHANGHAI)


def parse_topics(text: str) -> list[tuple[str, str]]:
    """Blocks separated by a blank line: the first line is the topic, the rest its background."""
    topics = []
    for block in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n").strip()):
        lines = block.strip().split("\n")
        if lines and lines[0].strip():
            topics.append((lines[0].strip()[:200], "\n".join(lines[1:]).strip()))
    return topics


def format_topics(topics) -> str:
    return "\n\n".join(f"{t.title}\n{t.background}".strip() for t in topics)


def parse_quotas(text: str) -> list[dict]:
    quotas = []
    for n, line in enumerate((text or "").strip().splitlines(), start=1):
        if not line.strip():
            continue
        m = QUOTA_LINE.match(line)
        if not m:
            raise ValidationError(_l("第%(n)d行格式不对，应为“类别:取值 最少-最多”，例如“gender:female 2-3”。", n=n))
        category, value, lo, hi = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        if category not in CATEGORIES:
            raise ValidationError(_l("第%(n)d行：没有“%(category)s”这个类别。", n=n, category=category))
        if value not in CATEGORY_VALUES[category]:
            raise ValidationError(_l("第%(n)d行：“%(value)s”不是这个类别的取值。", n=n, value=value))
        if lo > hi:
            raise ValidationError(_l("第%(n)d行：最少人数不能大于最多人数。", n=n))
        quotas.append({"category": category, "value": value, "min": lo, "max": hi})
    return quotas


def format_quotas(quotas) -> str:
    return "\n".join(f"{q.category}:{q.value} {q.minimum}-{q.maximum}" for q in quotas)


class MeetingForm(Form):
    title = StringField(_l("会议名称"), validators=[DataRequired(_l("请填写会议名称。")), Length(max=200)])
    summary = TextAreaField(_l("会议简介"), validators=[Length(max=5000)])
    topics = TextAreaField(_l("议题和背景材料"), validators=[DataRequired(_l("请至少填写一个议题。"))],
                           description=_l("每个议题之间空一行：第一行是议题，下面是背景材料。"))
    starts_at = DateTimeLocalField(_l("会议时间（北京时间）"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(_l("请填写会议时间。"))])
    place = StringField(_l("会议地点"), validators=[Length(max=300)])
    online_link = StringField(_l("线上参会链接"), validators=[Optional(), URL(message=_l("请填写完整的网址。")),
                                                          Length(max=500)])
    seats = IntegerField(_l("列席名额"), default=5,
                         validators=[InputRequired(_l("请填写名额。")), NumberRange(1, 50, _l("名额须为1至50。"))])
    alternates = IntegerField(_l("候补名额"), default=2,
                              validators=[InputRequired(_l("请填写候补名额。")), NumberRange(0, 20, _l("候补须为0至20。"))])
    eligibility = TextAreaField(_l("报名条件"), default="年满18周岁；在本市居住或工作；与会议议题无利害关系（由申请人声明）。",
                                validators=[DataRequired(_l("请填写报名条件。"))])
    quotas = TextAreaField(_l("配额"), validators=[Optional()],
                           description=_l("每行一个：类别:取值 最少-最多。类别：district（区）、age_band（年龄段）、gender（性别）、"
                                          "account_type（resident / enterprise）、observer_history（first_time / returning）。"
                                          "例如 gender:female 2-3。"))
    method = TextAreaField(_l("遴选办法"), validators=[DataRequired(_l("请填写遴选办法。"))],
                           default="资格审查后，符合条件的申请人按随机编号组成候选池（公开各人的类别，不公开姓名）；"
                                   "用 sortition-algorithms 的 maximin 算法计算1000个满足配额的方案并在抽签前公开；"
                                   "按 RFC 3797，用事先公布的将来开奖号码公开抽取其中一个方案，并按同一序列确定候补顺序。")
    opens_at = DateTimeLocalField(_l("报名开始（北京时间）"), format="%Y-%m-%dT%H:%M",
                                  validators=[InputRequired(_l("请填写报名开始时间。"))])
    closes_at = DateTimeLocalField(_l("报名截止（北京时间）"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(_l("请填写报名截止时间。"))])
    response_days = IntegerField(_l("被选中者确认期限（天）"), default=3,
                                 validators=[InputRequired(), NumberRange(1, 30, _l("须为1至30天。"))])

    def validate_quotas(self, field) -> None:
        self.parsed_quotas = parse_quotas(field.data)

    def validate_topics(self, field) -> None:
        if not parse_topics(field.data):
            raise ValidationError(_l("请至少填写一个议题。"))


class ApplicationForm(Form):
    statement = TextAreaField(_l("报名理由"), validators=[DataRequired(_l("请填写报名理由。")),
                                                     Length(max=2000, message=_l("报名理由不能超过2000字。"))],
                              description=_l("为什么想列席，您与议题的关系，您希望提出的建议。"))
    confirms_categories = BooleanField(_l("以上个人资料准确无误"),
                                       validators=[DataRequired(_l("请确认以上资料准确无误。"))])
    lives_or_works_in_city = BooleanField(_l("我在本市居住或工作"),
                                          validators=[DataRequired(_l("列席人须在本市居住或工作。"))])
    has_conflict = BooleanField(_l("我与会议议题存在利益关系"),
                                description=_l("例如您或家人受雇于相关企业、拥有直接经济利益。"))
    conflict_details = TextAreaField(_l("利益关系说明"), validators=[Length(max=1000)])
    consents_to_publication = BooleanField(
        _l("如被选中，同意公开我的姓名（隐去名字，如“张**”）"),
        validators=[DataRequired(_l("列席代表名单须公开（姓名隐去），请勾选同意。"))])

    def validate_conflict_details(self, field) -> None:
        if self.has_conflict.data and not (field.data or "").strip():
            raise ValidationError(_l("请说明利益关系。"))


class ReviewForm(Form):
    decision = RadioField(_l("审查结果"), choices=[("eligible", _l("符合条件")), ("ineligible", _l("不符合条件"))],
                          validators=[InputRequired(_l("请选择审查结果。"))])
    reason = TextAreaField(_l("不符合条件的理由"), validators=[Length(max=1000)])

    def validate_reason(self, field) -> None:
        if self.decision.data == "ineligible" and not (field.data or "").strip():
            raise ValidationError(_l("请说明不符合条件的理由。"))


class AnnounceDrawForm(Form):
    descriptions = TextAreaField(
        _l("将使用的随机数来源"), validators=[DataRequired(_l("请至少写明一个将来公开的随机数来源。"))],
        description=_l("每行一个，写明名称、期号和开奖日期，例如“中国福利彩票3D 第2026150期（2026年6月5日开奖）开奖号码”。"))
    expected_on = DateField(_l("开奖日期"), validators=[InputRequired(_l("请填写开奖日期。"))])
    times = StringField(
        _l("开奖时间（北京时间）"), validators=[DataRequired(_l("请填写开奖时间。")), Length(max=100)],
        description=_l("号码公布的时刻，例如“21:30”；来源不止一个且时间不同时，按顺序每个来源写一个，用空格或逗号分隔。"
                       "号码公布之后才能抽签。"))


def draw_form(descriptions: list[str]) -> type[Form]:
    """A form with one field per announced source."""

    class DrawForm(Form):
        pass

    for i, text in enumerate(descriptions):
        setattr(DrawForm, f"source_{i}", StringField(
            text, validators=[DataRequired(_l("请填写这个来源的开奖号码。")), Length(max=500)],
            description=_l("只填数字，用空格或逗号分隔，例如“3 12 25 31”。")))
    return DrawForm


class MaterialsForm(Form):
    materials = TextAreaField(_l("会议材料"), validators=[DataRequired(_l("请填写会议材料。"))],
                              description=_l("议程、背景材料和参会须知，会通过电子邮件发给确认列席的代表。"))


class SuggestionForm(Form):
    topic_id = SelectField(_l("针对的议题"), coerce=int, choices=[])
    text = TextAreaField(_l("建议"), validators=[DataRequired(_l("请填写建议。")),
                                               Length(max=5000, message=_l("建议内容须为1至5000字。"))])


class AnswerForm(Form):
    disposition = RadioField(_l("处理结果"), choices=[(k.value, k.lazy_label) for k in Disposition],
                             validators=[InputRequired(_l("请选择处理结果。"))])
    answer = TextAreaField(_l("答复（未采纳须说明理由）"), validators=[DataRequired(_l("请填写答复。"))])
    follow_up = TextAreaField(_l("督办事项（承诺办理的事项）"), validators=[Length(max=1000)])
    due_on = DateField(_l("督办完成期限"), validators=[Optional()])

    def validate_due_on(self, field) -> None:
        if (self.follow_up.data or "").strip() and not field.data:
            raise ValidationError(_l("督办事项需要完成期限。"))


class RecordForm(Form):
    decisions = TextAreaField(_l("会议决定（总体）"), validators=[DataRequired(_l("请先填写会议决定。"))])
