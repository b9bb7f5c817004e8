"""User-facing labels for subscriptions, notices and invitations (kept here so that this module's catalogue
holds their English translations)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

NEWS_KIND_LABELS = {
    "new_consultation": _l("新的征询意见"),
    "closing_soon": _l("征询即将截止"),
    "feedback_report": _l("意见采纳情况反馈发布"),
    "new_meeting": _l("新的决策会议"),
    "new_activity": _l("新的开放活动"),
    "change": _l("我的参与有新进展"),
    "invitation": _l("定向邀请"),
}

DELIVERY_LABELS = {
    "now": _l("立即发送邮件"),
    "digest": _l("每周摘要"),
    "none": _l("不通知"),
}

TARGET_GROUP_LABELS = {
    "enterprises": _l("企业"),
    "associations": _l("行业协会和商会"),
    "grassroots": _l("基层群众"),
    "named": _l("指定群体"),
}


def news_text(kind: str, title: str) -> str:
    """The one-line text of a notice, in the current language."""
    from flask_babel import gettext as _

    return _("%(kind)s：%(title)s", kind=str(NEWS_KIND_LABELS.get(kind, kind)), title=title)
