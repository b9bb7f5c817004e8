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
    FieldList,
    FormField,
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
from app.hearings import quotas as quota_rules
from app.hearings.models import Disposition
from app.i18n import current_language


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


class QuotaRowForm(Form):
    """One category value: at least ``minimum`` and at most ``maximum`` seats, and why. Both empty: no quota."""

    class Meta:
        csrf = False

    minimum = IntegerField(_l("最少"), validators=[Optional(), NumberRange(0, 50, _l("请填写0至50的整数。"))])
    maximum = IntegerField(_l("最多"), validators=[Optional(), NumberRange(0, 50, _l("请填写0至50的整数。"))])
    reason = StringField(_l("理由"), validators=[Length(max=500, message=_l("理由不能超过500字。"))])


QUOTA_ROWS = quota_rules.rows()


def fill_quota_rows(field, quotas) -> None:
    """Show ``quotas`` (dicts with category, value, min, max and reason) in the fixed rows."""
    by_key = {(q["category"], q["value"]): q for q in quotas}
    for (category, value), entry in zip(QUOTA_ROWS, field.entries):
        q = by_key.get((category, value))
        entry.form.minimum.data = q["min"] if q else None
        entry.form.maximum.data = q["max"] if q else None
        entry.form.reason.data = (q.get("reason") or "") if q else ""


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
    quotas = FieldList(FormField(QuotaRowForm), label=_l("配额"), min_entries=len(QUOTA_ROWS),
                       max_entries=len(QUOTA_ROWS))
    method = TextAreaField(_l("遴选办法"), validators=[DataRequired(_l("请填写遴选办法。"))],
                           default="资格审查后，符合条件的申请人按随机编号组成候选池（公开各人的类别，不公开姓名）；"
                                   "用 maximin 算法计算约1000个满足配额的方案（每人的实际入选机会 = 包含他的方案数 ÷ 方案数）并在抽签前公开；"
                                   "按 RFC 3797，用事先公布的将来开奖号码公开抽取其中一个方案，并按同一序列确定候补顺序。")
    opens_at = DateTimeLocalField(_l("报名开始（北京时间）"), format="%Y-%m-%dT%H:%M",
                                  validators=[InputRequired(_l("请填写报名开始时间。"))])
    closes_at = DateTimeLocalField(_l("报名截止（北京时间）"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(_l("请填写报名截止时间。"))])
    response_days = IntegerField(_l("被选中者确认期限（天）"), default=3,
                                 validators=[InputRequired(), NumberRange(1, 30, _l("须为1至30天。"))])

    def validate_quotas(self, field) -> None:
        """Collect the rows that set a quota; put each problem next to its row (or its category) in the reader's
        language. The rules themselves are app.hearings.quotas.problems, which the service applies again."""
        self.parsed_quotas, self.quota_category_errors = [], {}
        rows = {}
        for (category, value), entry in zip(QUOTA_ROWS, field.entries):
            row = entry.form
            lo, hi = row.minimum.data, row.maximum.data
            if lo is None and hi is None:
                continue
            if lo is None or hi is None:
                (row.minimum if lo is None else row.maximum).errors.append(_l("请同时填写最少和最多人数。"))
                continue
            rows[(category, value)] = row
            self.parsed_quotas.append({"category": category, "value": value, "min": lo, "max": hi,
                                       "reason": (row.reason.data or "").strip()})
        seats = self.seats.data if isinstance(self.seats.data, int) else 0
        for p in quota_rules.problems(self.parsed_quotas, seats) if seats else []:
            if p.value:
                row = rows[(p.category, p.value)]
                {"min": row.minimum, "max": row.maximum, "reason": row.reason}[p.field].errors.append(p.message)
            else:
                self.quota_category_errors.setdefault(p.category, []).append(p.message)
        if self.quota_category_errors or any(e.form.errors for e in field.entries):
            raise ValidationError(_l("配额有误，请看下面标出的地方。"))

    def validate_topics(self, field) -> None:
        if not parse_topics(field.data):
            raise ValidationError(_l("请至少填写一个议题。"))


class RelaxRowForm(Form):
    """A new, looser bound for one of the meeting's quotas; both empty removes it."""

    class Meta:
        csrf = False

    minimum = IntegerField(_l("新的最少人数"), validators=[Optional(), NumberRange(0, 50, _l("请填写0至50的整数。"))])
    maximum = IntegerField(_l("新的最多人数"), validators=[Optional(), NumberRange(0, 50, _l("请填写0至50的整数。"))])
    reason = StringField(_l("放宽的理由"), validators=[Length(max=500, message=_l("理由不能超过500字。"))])


class RelaxQuotasForm(Form):
    rows = FieldList(FormField(RelaxRowForm), min_entries=0)

    def changes(self, quotas) -> list[dict]:
        """The rows that change a quota, as dicts for relax.relax_quotas (``quotas`` in the rows' order)."""
        out = []
        for q, entry in zip(quotas, self.rows.entries):
            lo, hi, reason = entry.form.minimum.data, entry.form.maximum.data, (entry.form.reason.data or "").strip()
            if (lo, hi) != (q.minimum, q.maximum):
                out.append({"category": q.category, "value": q.value, "min": lo, "max": hi, "reason": reason})
        return out


def relax_form(quotas, formdata=None) -> RelaxQuotasForm:
    form = RelaxQuotasForm(prefix="relax") if formdata is None else RelaxQuotasForm(prefix="relax",
                                                                                     formdata=formdata)
    while len(form.rows.entries) < len(quotas):
        form.rows.append_entry()
    if formdata is None:
        for q, entry in zip(quotas, form.rows.entries):
            entry.form.minimum.data, entry.form.maximum.data = q.minimum, q.maximum
    return form


class CancelRoundForm(Form):
    reason = TextAreaField(_l("取消本轮遴选、重新报名的理由"), validators=[DataRequired(_l("请说明取消本轮遴选、重新报名的理由。")),
                                                          Length(max=1000)])
    closes_at = DateTimeLocalField(_l("新的报名截止时间（北京时间）"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(_l("请填写新的报名截止时间。"))])


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
    # Asked only when the profile lacks them (then required, and saved to the profile): see require_profile().
    district = SelectField(_l("所在区"), choices=[], validate_choice=False)
    age_band = SelectField(_l("年龄段"), choices=[], validate_choice=False)
    gender = SelectField(_l("性别"), choices=[], validate_choice=False)
    consents_to_publication = BooleanField(
        _l("如被选中，同意公开我的姓名（隐去名字，如“张**”）"),
        validators=[DataRequired(_l("列席代表名单须公开（姓名隐去），请勾选同意。"))])

    def validate_conflict_details(self, field) -> None:
        if self.has_conflict.data and not (field.data or "").strip():
            raise ValidationError(_l("请说明利益关系。"))

    def require_profile(self, missing: list[str]) -> None:
        """Ask on the form itself for the profile's missing quota categories: required, with their choices."""
        lang = current_language()
        for name, table in (("district", DISTRICTS), ("age_band", AGE_BANDS), ("gender", GENDERS)):
            field = getattr(self, name)
            field.choices = [("", _l("请选择"))] + [(code, en if lang == "en" else zh) for code, (zh, en) in table.items()]
            field.description = _l("报名列席需要填写，也会保存到您的个人资料。")
            field.validators = [DataRequired(_l("报名列席需要填写此项。"))] if name in missing else []


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
