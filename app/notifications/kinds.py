"""The kinds of news a person can follow. Apart from subscriptions.py, because notices.py names them too (a notice
about news keeps its kind and renders the label in the reader's language), and subscriptions.py uses notices.py."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.core.enums import LabelledEnum


class NewsKind(LabelledEnum):
    NEW_CONSULTATION = "new_consultation", _l("新的征询意见")
    CLOSING_SOON = "closing_soon", _l("征询即将截止")
    FEEDBACK_REPORT = "feedback_report", _l("意见采纳情况反馈发布")
    NEW_MEETING = "new_meeting", _l("新的决策会议")
    NEW_ACTIVITY = "new_activity", _l("新的开放活动")
