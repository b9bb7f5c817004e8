"""Queue e-mail in the caller's transaction; the scheduler sends it (see jobs.py)."""
from __future__ import annotations

import secrets
from contextlib import ExitStack
from datetime import datetime

from flask import current_app, has_request_context
from flask_babel import force_locale
from jinja2 import TemplateNotFound

from app.core import rows
from app.i18n import template_gettext
from app.notifications.models import OutboxEmail


def _render(name: str, context: dict) -> str:
    """A mail template rendered with the app's Jinja environment (its globals: ``_``, ``url_for``, ``config``), without
    the page context processors and render signals that ``render_template`` adds for pages (a mail shows neither the
    page's language switch nor its request id). ``_()`` in the template uses the catalogue found once per render
    (``i18n.template_gettext``)."""
    return current_app.jinja_env.get_template(name).render({**template_gettext(), **context})


# Mail templates without an HTML part: looking for a missing template searches the loader and raises each time (Jinja
# keeps only what it finds). Templates do not come and go while the app runs, unless it reloads them (development).
_NO_HTML: set[str] = set()


def _html_part(template: str, context: dict) -> str | None:
    name = f"{template}.html"
    if name in _NO_HTML and not current_app.jinja_env.auto_reload:
        return None
    try:
        return _render(name, context)
    except TemplateNotFound:
        _NO_HTML.add(name)
        return None


def queue_email(recipient: str, template: str, *, locale: str = "zh", user=None, valid_until: datetime | None = None,
                **context) -> OutboxEmail:
    """Render ``templates/<template>.txt`` (and ``.html`` if present) in ``locale`` and add it to the outbox.

    ``valid_until``: past this instant the message is out of date (an offer's deadline) and is marked expired
    instead of being sent late.

    The first line of the text template is ``Subject: ...``; the rest is the body. Nothing is sent here: the row
    is part of the caller's transaction, so mail exists exactly when the change that caused it was committed.
    """
    if user is not None:
        locale = user.locale or locale
    if locale not in current_app.config["LANGUAGES"]:
        locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    base_url = current_app.config["BASE_URL"].rstrip("/")
    context.setdefault("recipient_user", user)
    context.setdefault("base_url", base_url)
    with ExitStack() as stack:
        if not has_request_context():
            # A job queues mail with no request: give the templates (and url_for) one at the public address.
            # It shares the current app context, so the row joins the caller's session and transaction.
            stack.enter_context(current_app.test_request_context("/", base_url=base_url))
        stack.enter_context(force_locale(locale))
        text = _render(f"{template}.txt", context)
        html = _html_part(template, context)
    first, _, body = text.lstrip().partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"mail template {template}.txt must start with 'Subject: '")
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].strip(">") or "canyu.local"
    # One INSERT in the caller's transaction (core.rows): no unit of work at the commit, which for a sign-up comes
    # while its session's row is locked. The detached copy returned shows the row as written.
    return rows.insert(
        OutboxEmail,
        recipient=recipient.strip(),
        user_id=getattr(user, "id", None),
        template=template,
        locale=locale,
        subject=first[len("Subject:"):].strip(),
        body_text=body.strip() + "\n",
        body_html=html,
        message_id=f"<{secrets.token_hex(16)}@{domain}>",
        valid_until=valid_until,
    )
