"""A confirmation step for destructive or public actions that works without JavaScript.

A view of such an action starts with::

    if (page := confirm.ask(_("确定要取消报名吗？"), back=url_for(...), button=_("取消报名"))) is not None:
        return page

A POST without ``confirmed=1`` carries nothing out: it answers a page that asks the question, with the submitted
fields kept in hidden inputs and a button that posts them again with ``confirmed=1`` (and a link back). With
JavaScript, a button with ``data-confirm`` asks in a dialog and adds ``confirmed=1`` itself (static/js/site.js),
so the page is skipped. The step belongs to the page, not to the rule: services stay free of it.

A single-button action behind the step is ``return confirm.act(question, action, success, back=..., button=...)``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import redirect, render_template, request
from flask.typing import ResponseReturnValue

from app.core.errors import commit_or_explain

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


def act(question: Any, action: Callable[[], Any], success: Any, *, back: str, button: Any, detail: Any = None,
        danger: bool = True, done: str | None = None) -> ResponseReturnValue:
    """A single-button action behind the step: the question's page until confirmed; then ``action`` is run and
    committed, flashing ``success``, and the answer goes to ``done`` (default ``back``); refused, it flashes why and
    goes ``back``."""
    if (page := ask(question, back=back, button=button, detail=detail, danger=danger)) is not None:
        return page
    if commit_or_explain(action, success) is None:
        return redirect(back)
    return redirect(done or back)
