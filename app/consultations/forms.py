"""Forms of consultations: input shape and field rules. The rules of the domain live in services.py."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.consultations.models import TARGET_GROUPS, DispositionKind, DocumentType, RejectionReason, Stance
from app.consultations.services import MAX_COMMENT_LENGTH
from app.core.forms import Form, MultiCheckboxField
from app.core.timeutil import SHANGHAI


def local_to_utc(value: datetime | None) -> datetime | None:
    """A wall-clock value typed in Shanghai time, as an aware UTC datetime."""
    if value is None:
        return None
    return value.replace(tzinfo=SHANGHAI)


class ConsultationForm(Form):
    title = StringField(_l("标题"), validators=[DataRequired(_l("请填写标题。")), Length(max=200)])
    summary = TextAreaField(_l("简介"), validators=[Length(max=2000)])
    document_type = SelectField(_l("文件类型"), choices=[(k.value, k.lazy_label) for k in DocumentType])
    concerns_enterprises = BooleanField(_l("涉及企业切身利益"),
                                        description=_l("涉企规范性文件征询期不少于30日。"))
    draft_text = TextAreaField(_l("草案全文"), validators=[DataRequired(_l("请粘贴草案全文。"))],
                               description=_l("粘贴全文，系统按“第X章”“第X条”自动分条；修改后原有条文保留编号。"))
    interpretation = TextAreaField(_l("起草说明 / 政策解读"))
    contact = StringField(_l("联系方式"), validators=[Length(max=300)])
    target_groups = MultiCheckboxField(_l("征询对象"), choices=[(k, v) for k, v in TARGET_GROUPS.items()])
    target_group_other = StringField(_l("其他特定群体"), validators=[Length(max=100)])
    tags = MultiCheckboxField(_l("标签"), coerce=int, choices=[])
    opens_at = DateTimeLocalField(_l("开始时间（北京时间）"), format="%Y-%m-%dT%H:%M",
                                  validators=[InputRequired(_l("请填写开始时间。"))])
    closes_at = DateTimeLocalField(_l("截止时间（北京时间）"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(_l("请填写截止时间。"))])
    short_period_reason = TextAreaField(_l("征询期少于法定期限的理由"),
                                        description=_l("征询期短于法定最短期限时必填，将在征询页面公开。"))
    submit = SubmitField(_l("保存"))


class CommentForm(Form):
    idempotency_key = HiddenField()
    # The service checks the article chosen (one of this consultation's, not removed), with a message next to it.
    article_id = SelectField(_l("针对"), coerce=int, choices=[], validate_choice=False)
    stance = RadioField(_l("态度（可选）"), choices=[("", _l("不选择"))] + [(k.value, k.lazy_label) for k in Stance],
                        default="", validators=[Optional()])
    text = TextAreaField(_l("意见内容"), validators=[
        DataRequired(_l("请填写意见内容。")),
        Length(max=MAX_COMMENT_LENGTH, message=_l("意见内容不能超过5000个字。"))],
        description=_l("1至5000字。电话号码、身份证号和电子邮箱会在公开时隐去。"))
    attachments = MultipleFileField(_l("附件（可选）"),
                                    description=_l("最多5个，每个不超过10 MB，限PDF、DOCX、JPG、PNG。"))
    show_organisation = BooleanField(_l("公开显示本单位名称"))
    submit = SubmitField(_l("提交意见"))


class ModerationForm(Form):
    comment_ids = MultiCheckboxField(_l("选择意见"), coerce=int, choices=[])
    action = SelectField(_l("操作"), choices=[("publish", _l("公开")), ("reject", _l("不予公开"))])
    reason = SelectField(_l("不予公开的原因"), choices=[("", "—")] + [(k.value, k.lazy_label) for k in RejectionReason],
                         validators=[Optional()])
    note = TextAreaField(_l("说明（可选）"), validators=[Length(max=1000)])
    submit = SubmitField(_l("执行"))


class RedactForm(Form):
    phrase = StringField(_l("要隐去的文字"), validators=[DataRequired(_l("请填写要隐去的文字。")), Length(max=200)],
                         description=_l("与公开文本中完全一致，例如评论者写下的姓名；每处都会显示为 ×××。"))
    submit = SubmitField(_l("隐去"))


class AnswerForm(Form):
    kind = SelectField(_l("处理结果"), choices=[(k.value, k.lazy_label) for k in DispositionKind])
    response = TextAreaField(_l("答复"), validators=[Length(max=5000)])
    reason = TextAreaField(_l("未采纳理由"), validators=[Length(max=5000)], description=_l("未采纳时必填。"))
    submit = SubmitField(_l("保存答复"))


class FaqForm(Form):
    question = TextAreaField(_l("问题"), validators=[DataRequired(_l("请填写问题。")), Length(max=2000)])
    answer = TextAreaField(_l("解答"), validators=[DataRequired(_l("请填写解答。")), Length(max=5000)])
    is_published = BooleanField(_l("在征询页面公开"))
    submit = SubmitField(_l("保存"))


class ReportForm(Form):
    main_points = TextAreaField(_l("意见的主要内容"), validators=[Length(max=20000)])
    changes = TextAreaField(_l("修改情况说明"), validators=[Length(max=20000)])
    final_text = TextAreaField(_l("修改后的文本（可选）"),
                               description=_l("粘贴修改后的全文，按条号与草案并列对照显示。"))
    submit = SubmitField(_l("保存报告"))


class ExtendForm(Form):
    closes_at = DateTimeLocalField(_l("新的截止时间（北京时间）"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired(_l("请填写新的截止时间。"))])
    notice = TextAreaField(_l("延期公告"), validators=[DataRequired(_l("请填写延期公告。")), Length(max=2000)])
    submit = SubmitField(_l("延长征询期"))


class WithdrawForm(Form):
    reason = TextAreaField(_l("撤回原因"), validators=[DataRequired(_l("请填写撤回原因。")), Length(max=2000)])
    submit = SubmitField(_l("撤回"))
