"""The base of every form: malformed values refused with a message next to the field, never stored (issue 10).

- Text with a control character (NUL, ESC, DEL, C1 controls...; tab always passes, CR and LF only in a text area)
  is refused: PostgreSQL refuses NUL, SQLite would store it and the Atom feed's XML would break on it.
- A whole number outside -2^31..2^31-1 (the database's ``integer``) is refused.
- A date or time outside 1900..2099 is refused (the app computes Shanghai days and deadlines from them).

Every module's forms derive from ``Form`` (``tests/core/test_malformed_input.py`` checks that none is missed).
"""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from babel import support
from flask import current_app, has_request_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path
from wtforms.fields import IntegerField, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget, TextArea

from app.core.inputs import MAX_DATE, MAX_INT, MIN_DATE, has_control

CONTROL_MESSAGE = _l("不能包含控制字符（如 NUL 或换行符）。")
NUMBER_MESSAGE = _l("数字超出允许范围。")
DATE_MESSAGE = _l("日期须在 1900 年至 2099 年之间。")


def field_problem(field) -> str | None:
    """Why ``field``'s submitted value is malformed, or None."""
    multiline = isinstance(field.widget, TextArea)
    for raw in field.raw_data or ():
        if isinstance(raw, str) and has_control(raw, multiline):
            return str(CONTROL_MESSAGE)
    data = field.data
    if isinstance(field, IntegerField) and isinstance(data, int) and not -MAX_INT - 1 <= data <= MAX_INT:
        return str(NUMBER_MESSAGE)
    day = data.date() if isinstance(data, datetime) else data
    if isinstance(day, date) and not MIN_DATE <= day <= MAX_DATE:
        return str(DATE_MESSAGE)
    return None


class MultiCheckboxField(SelectMultipleField):
    """A group of checkboxes (rendered as a fieldset by the field() macro)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


@lru_cache(maxsize=16)
def _wtforms_catalog(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsTranslations:
    """WTForms' own strings (a field's default label, its built-in messages) in the request's language.

    Flask-WTF's translations read and parse WTForms' catalogue from disk once per request that asks for a string, and
    every form with an unlabelled field (a hidden one) asks while it is built: about 0.25 ms of each comment
    submission. Here each language's catalogue is read once per process."""

    @staticmethod
    def _catalog() -> support.Translations | None:
        return _wtforms_catalog(str(get_locale())) if has_request_context() else None

    def gettext(self, string: str) -> str:
        catalog = self._catalog()
        return string if catalog is None else catalog.ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        catalog = self._catalog()
        if catalog is None:
            return singular if n == 1 else plural
        return catalog.ungettext(singular, plural, n)


_WTFORMS_TRANSLATIONS = _WTFormsTranslations()


class Form(FlaskForm):
    """A FlaskForm that refuses control characters, out-of-range numbers and far dates next to their field."""

    class Meta:
        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return _WTFORMS_TRANSLATIONS

    def validate(self, extra_validators=None) -> bool:
        problems = {field.name: field_problem(field) for field in self}
        if not any(problems.values()):
            return super().validate(extra_validators)
        # The other validators (and validate_<field> methods computing with dates) never see a malformed value.
        for field in self:
            field.errors = [problems[field.name]] if problems[field.name] else []
        return False
