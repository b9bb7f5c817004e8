"""Staff redaction of a comment's public text, and the per-account comment limit (issue 10).

Automatic masking catches phones, ID numbers and e-mail addresses, not the names people type. Before publishing,
staff can hide a phrase: every occurrence in the public text becomes ×××; the original stays in
``text_original`` for the department; each redaction is audited (who, when, how many characters, not the phrase).
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _

from app.accounts.models import User
from app.consultations.models import Comment, Consultation, ConsultationError
from app.core.audit import audit
from app.extensions import db

MARK = "×××"
MAX_PHRASE = 200


def redact(actor: User, c: Consultation, comment: Comment, phrase: str) -> int:
    """Hide ``phrase`` in the comment's public text; returns how many occurrences were hidden."""
    if comment.consultation_id != c.id:
        raise ConsultationError(_("找不到该意见。"))
    phrase = (phrase or "").strip()
    if not phrase:
        raise ConsultationError(_("请填写要隐去的文字。"), field="phrase")
    if len(phrase) > MAX_PHRASE:
        raise ConsultationError(_("要隐去的文字最多 %(n)d 个字。", n=MAX_PHRASE), field="phrase")
    n = comment.text_public.count(phrase)
    if n == 0:
        raise ConsultationError(_("公开文本中没有这段文字（须与原文完全一致）。"), field="phrase")
    comment.text_public = comment.text_public.replace(phrase, MARK)
    db.session.flush()
    audit(actor, "consultation.redact_comment", comment, department_id=c.department_id,
          tracking_number=comment.tracking_number, occurrences=n, characters=len(phrase))
    return n


ACCOUNT_LIMIT_WINDOW = timedelta(hours=1)


def check_account_limit(recent: int) -> None:
    """At most COMMENT_ACCOUNT_LIMIT comments per account per hour, from whatever addresses (the per-address
    limit of the view alone lets one account post from many addresses). ``recent``: the account's comments in the
    last ``ACCOUNT_LIMIT_WINDOW`` (a submission counts them with what else it must know, in one query)."""
    limit = int(current_app.config["COMMENT_ACCOUNT_LIMIT"])
    if recent >= limit:
        raise ConsultationError(_("您一小时内已提交 %(n)d 条意见，达到上限。请稍后再提交。", n=limit), field="text")
