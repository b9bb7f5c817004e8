"""The subscriptions form: topics followed (departments, tags, districts) and how each kind of news arrives."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SubmitField
from wtforms.validators import ValidationError

from app.core.forms import Form, MultiCheckboxField
from app.notifications.subscriptions import Delivery, NewsKind


class OfferedCheckboxField(MultiCheckboxField):
    """Checkboxes refusing a value that is not offered with a message (not an error page)."""

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = []
            raise ValueError(str(_l("请只在列出的选项中选择。"))) from None

    def pre_validate(self, form) -> None:
        allowed = {value for value, _label in self.choices}
        if any(value not in allowed for value in self.data or []):
            raise ValidationError(_l("请只在列出的选项中选择。"))


class ChoiceRadioField(RadioField):
    def pre_validate(self, form) -> None:
        if self.data not in {value for value, _label in self.choices}:
            raise ValidationError(_l("请选择一种通知方式。"))


NEWS_KINDS = tuple(kind.value for kind in NewsKind)


class SubscriptionForm(Form):
    departments = OfferedCheckboxField(_l("部门"), coerce=int)
    tags = OfferedCheckboxField(_l("行业和人群标签"), coerce=int)
    districts = OfferedCheckboxField(_l("区"))
    submit = SubmitField(_l("保存订阅"))

    def __init__(self, *, departments, tags, districts, **kwargs):
        super().__init__(**kwargs)
        self.departments.choices = departments
        self.tags.choices = tags
        self.districts.choices = districts
        for kind in NEWS_KINDS:
            getattr(self, f"delivery_{kind}").choices = Delivery.choices()

    def delivery_fields(self) -> list:
        return [getattr(self, f"delivery_{kind}") for kind in NEWS_KINDS]


for _kind in NewsKind:
    setattr(SubscriptionForm, f"delivery_{_kind.value}",
            ChoiceRadioField(_kind.lazy_label, default=Delivery.DIGEST.value,
                             choices=[(d.value, d.lazy_label) for d in Delivery]))
