"""A confirmation step for destructive or public actions that works without JavaScript.

A view of such an action starts with::

    if (page := confirm.ask(_("确定要取消报名吗？"), back=url_for(...), button=_("取消报名"))) is not None:
        return page

A POST without ``confirmed=1`` carries nothing out: it answers a page that asks the question, with the submitted
fields kept in hidden inputs and a button that posts them again with ``confirmed=1`` (and a link back). With
JavaScript, a button with ``data-confirm`` asks in a dialog and adds ``confirmed=1`` itself (static/js/site.js),
so the page is skipped. The step belongs to the page, not to the rule: services stay free of it.
"""
from __future__ import annotations

from typing import Any

from flask import render_template, request

CONFIRMED = "confirmed"


def is_confirmed() -> bool:
    return request.form.get(CONFIRMED) == "1"


def ask(question: Any, *, back: str, button: Any, detail: Any = None, danger: bool = True):
    """None when the request is confirmed; otherwise the confirmation page (status 200) to return."""
    if is_confirmed():
        return None
    fields = [(k, v) for k, v in request.form.items(multi=True) if k not in ("csrf_token", CONFIRMED)]
    return render_template("core/confirm.html", question=question, detail=detail, fields=fields,
                           action=request.full_path.rstrip("?") if request.query_string else request.path,
                           back=back, button=button, danger=danger)
