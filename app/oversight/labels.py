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


def change_text(what: str, **values) -> str:
    """The text of a notice about one's own contribution, in the current language."""
    from flask_babel import gettext as _

    texts = {
        "comment_moderated": lambda: _("您的意见 %(number)s 状态更新：%(state)s", **values),
        "comment_answered": lambda: _("“%(title)s”的意见采纳情况反馈已发布，请查看对您意见的答复", **values),
        "application": lambda: _("您对“%(title)s”的列席申请状态更新：%(state)s", **values),
        "registration": lambda: _("您报名的活动“%(title)s”状态更新：%(state)s", **values),
        "invitation": lambda: _("邀请您对“%(title)s”提出意见", **values),
        "record": lambda: _("您列席的“%(title)s”会议记录和决定已公开", **values),
        "cancelled": lambda: _("您报名的活动“%(title)s”已取消", **values),
    }
    return texts[what]()
