"""Forms of this module and of the pages it serves for other folders (subscriptions)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField, SubmitField
from wtforms.widgets import CheckboxInput, ListWidget

from app.oversight.labels import DELIVERY_LABELS, NEWS_KIND_LABELS


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


NEWS_KINDS = ("new_consultation", "closing_soon", "feedback_report", "new_meeting", "new_activity")


class SubscriptionForm(FlaskForm):
    departments = MultiCheckboxField(_l("部门"), coerce=int, validate_choice=True)
    tags = MultiCheckboxField(_l("行业和人群标签"), coerce=int, validate_choice=True)
    districts = MultiCheckboxField(_l("区"), validate_choice=True)
    submit = SubmitField(_l("保存订阅"))

    def __init__(self, *, departments, tags, districts, **kwargs):
        super().__init__(**kwargs)
        self.departments.choices = departments
        self.tags.choices = tags
        self.districts.choices = districts
        for kind in NEWS_KINDS:
            getattr(self, f"delivery_{kind}").choices = [(k, str(v)) for k, v in DELIVERY_LABELS.items()]

    def delivery_fields(self):
        return [getattr(self, f"delivery_{kind}") for kind in NEWS_KINDS]


for _kind in NEWS_KINDS:
    setattr(SubscriptionForm, f"delivery_{_kind}",
            RadioField(NEWS_KIND_LABELS[_kind], default="digest",
                       choices=[(k, v) for k, v in DELIVERY_LABELS.items()]))
