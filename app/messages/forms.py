"""Forms of messages: input shape and field rules. The rules of the domain live in services.py and handling.py."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.core.forms import Form, MultiCheckboxField
from app.messages.models import FORWARDED_SOURCES, ActionKind, ContactPreference, Resolution
from app.messages.rules import MAX_SUBJECT_LENGTH, MAX_TEXT_LENGTH


class MessageForm(Form):
    idempotency_key = HiddenField()
    subject = StringField(_l("主题"), validators=[DataRequired(_l("请填写留言主题。")), Length(
        max=MAX_SUBJECT_LENGTH, message=_l("主题不能超过200个字。"))])
    text = TextAreaField(_l("留言内容"), validators=[
        DataRequired(_l("请填写留言内容。")),
        Length(max=MAX_TEXT_LENGTH, message=_l("留言内容不能超过5000个字。"))],
        description=_l("1至5000字。电话号码、身份证号和电子邮箱会在公开时隐去。"))
    district = SelectField(_l("所在区（可选）"), choices=[])
    tags = MultiCheckboxField(_l("相关领域（可选）"), coerce=int, choices=[])
    attachments = MultipleFileField(_l("附件（可选）"),
                                    description=_l("最多5个，每个不超过10 MB，限PDF、DOCX、JPG、PNG。"))
    allow_publish = BooleanField(_l("同意将留言和答复公开（姓名和联系方式会隐去）"))
    contact_preference = RadioField(_l("答复方式"), default=ContactPreference.EMAIL.value, choices=[
        (ContactPreference.EMAIL.value, ContactPreference.EMAIL.lazy_label),
        (ContactPreference.MY_SPACE.value, ContactPreference.MY_SPACE.lazy_label)])
    submit = SubmitField(_l("提交留言"))


class ImportForm(Form):
    source = SelectField(_l("来源"), choices=[(s.value, s.lazy_label) for s in FORWARDED_SOURCES])
    file = FileField(_l("文件（CSV或XLSX）"), description=_l("列的格式见“导入格式说明”。同一来源编号再次导入时不会重复添加。"))
    submit = SubmitField(_l("导入"))


class TokenForm(Form):
    source = SelectField(_l("来源"), choices=[(s.value, s.lazy_label) for s in FORWARDED_SOURCES])
    label = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称。")), Length(max=100)])
    submit = SubmitField(_l("生成令牌"))


class AssignForm(Form):
    department_id = SelectField(_l("主办单位"), coerce=int, choices=[],
                                validators=[InputRequired(_l("请选择主办单位。"))])
    co_department_ids = MultiCheckboxField(_l("会办单位（可选）"), coerce=int, choices=[])
    submit = SubmitField(_l("交办"))


class ReasonForm(Form):
    reason = TextAreaField(_l("理由"), validators=[DataRequired(_l("请填写理由。")), Length(max=2000)])
    submit = SubmitField(_l("提交"))


class ExtensionForm(Form):
    days = IntegerField(_l("延长的工作日数"), validators=[InputRequired(_l("请填写延长的工作日数。")),
                                                   NumberRange(min=1, max=30, message=_l("请填写1至30之间的数字。"))])
    reason = TextAreaField(_l("延期理由"), validators=[DataRequired(_l("请填写延期理由。")), Length(max=2000)])
    submit = SubmitField(_l("申请延期"))


class DecisionForm(Form):
    approve = RadioField(_l("审批意见"), choices=[("yes", _l("同意")), ("no", _l("不同意"))],
                         validators=[InputRequired(_l("请选择。"))])
    note = TextAreaField(_l("说明（可选）"), validators=[Length(max=2000)])
    submit = SubmitField(_l("提交"))


class OpinionForm(Form):
    opinion = TextAreaField(_l("会办意见"), validators=[DataRequired(_l("请填写会办意见。")), Length(max=5000)])
    submit = SubmitField(_l("提交会办意见"))


class ReplyForm(Form):
    text = TextAreaField(_l("答复内容"), validators=[DataRequired(_l("请填写答复内容。")), Length(max=10000)])
    submit = SubmitField(_l("提交答复"))


class RedactForm(Form):
    text_public = TextAreaField(_l("公开文本"), validators=[DataRequired(_l("公开文本不能为空。"))],
                                description=_l("公开时显示的留言内容。可删去可识别个人的信息；原文只有工作人员可见。"))
    submit = SubmitField(_l("保存公开文本"))


class RatingForm(Form):
    resolution = RadioField(_l("问题解决情况"), choices=[(r.value, r.lazy_label) for r in Resolution],
                            validators=[InputRequired(_l("请选择问题解决情况。"))])
    satisfied = RadioField(_l("对答复是否满意"), choices=[("yes", _l("满意")), ("no", _l("不满意"))],
                           validators=[InputRequired(_l("请选择是否满意。"))])
    comment = TextAreaField(_l("意见（可选）"), validators=[Length(max=2000)])
    reopen = BooleanField(_l("不满意，请求重新办理（仅一次）"))
    reopen_reason = TextAreaField(_l("重新办理的理由"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("提交评价"))


class ProblemFilterForm(Form):
    class Meta:
        csrf = False

    start = StringField(_l("开始日期"))
    end = StringField(_l("结束日期"))
    department = SelectField(_l("部门"), coerce=int, choices=[])
    district = SelectField(_l("区"), choices=[])
    tag = SelectField(_l("标签"), coerce=int, choices=[])


class ConfirmProblemForm(Form):
    title = StringField(_l("共性问题"), validators=[DataRequired(_l("请填写共性问题的名称。")), Length(max=200)])
    action_kind = SelectField(_l("源头治理措施"), choices=[(k.value, k.lazy_label) for k in ActionKind])
    action_text = TextAreaField(_l("采取的措施"), validators=[DataRequired(_l("请说明采取的措施。")),
                                                          Length(max=5000)])
    action_link = StringField(_l("相关链接（可选）"), validators=[Optional(), Length(max=300)])
    submit = SubmitField(_l("确认为共性问题并告知留言人"))
