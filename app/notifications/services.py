"""Queue e-mail in the caller's transaction; the scheduler sends it (see jobs.py).

``queue_email`` writes the mail now. ``queue_email_later`` (the busiest paths: a sign-up under its session's lock)
queues the template with the ids it needs, and the sender writes the mail just before sending it (``write_queued``,
with the function a module registered for the template with ``writes_later``): the same row in the same transaction,
so the mail exists exactly when the change that caused it was committed, without rendering it in the request.
"""
from __future__ import annotations

import secrets
from contextlib import ExitStack
from datetime import datetime
from typing import Any, Callable

from flask import current_app, has_request_context
from flask_babel import force_locale
from jinja2 import TemplateNotFound

from app.core import rows
from app.extensions import db
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


def _locale(locale: str, user) -> str:
    if user is not None:
        locale = user.locale or locale
    if locale not in current_app.config["LANGUAGES"]:
        locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    return locale


def _write(template: str, locale: str, user, context: dict) -> tuple[str, str, str | None]:
    """The mail's subject, text and HTML (None: no HTML template) from ``templates/<template>.txt`` (and ``.html``)
    in ``locale``. The first line of the text template is ``Subject: ...``; the rest is the body."""
    base_url = current_app.config["BASE_URL"].rstrip("/")
    context.setdefault("recipient_user", user)
    context.setdefault("base_url", base_url)
    with ExitStack() as stack:
        if not has_request_context():
            # A job writes mail with no request: give the templates (and url_for) one at the public address.
            # It shares the current app context, so the row joins the caller's session and transaction.
            stack.enter_context(current_app.test_request_context("/", base_url=base_url))
        stack.enter_context(force_locale(locale))
        text = _render(f"{template}.txt", context)
        html = _html_part(template, context)
    first, _, body = text.lstrip().partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"mail template {template}.txt must start with 'Subject: '")
    return first[len("Subject:"):].strip(), body.strip() + "\n", html


def _message_id() -> str:
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].strip(">") or "canyu.local"
    return f"<{secrets.token_hex(16)}@{domain}>"


def queue_email(recipient: str, template: str, *, locale: str = "zh", user=None, valid_until: datetime | None = None,
                **context) -> OutboxEmail:
    """Render ``templates/<template>.txt`` (and ``.html`` if present) in ``locale`` (the user's, when given) and add it
    to the outbox.

    ``valid_until``: past this instant the message is out of date (an offer's deadline) and is marked expired
    instead of being sent late.

    Nothing is sent here: the row is part of the caller's transaction, so mail exists exactly when the change that
    caused it was committed.
    """
    locale = _locale(locale, user)
    subject, body, html = _write(template, locale, user, context)
    # One INSERT in the caller's transaction (core.rows): no unit of work at the commit. The detached copy returned
    # shows the row as written.
    return rows.insert(OutboxEmail, recipient=recipient.strip(), user_id=getattr(user, "id", None), template=template,
                       locale=locale, subject=subject, body_text=body, body_html=html, message_id=_message_id(),
                       valid_until=valid_until)


# Templates written when sent: template -> function(**ids) giving the template's values (None: what the mail was
# about is gone, and it is not sent).
_LATER: dict[str, Callable[..., dict | None]] = {}


def writes_later(*templates: str) -> Callable:
    """Register the function that reads a template's values from the ids queued with it (``queue_email_later``)."""
    def register(function: Callable[..., dict | None]) -> Callable[..., dict | None]:
        for template in templates:
            _LATER[template] = function
        return function
    return register


def queue_email_later(recipient: str, template: str, *, user, valid_until: datetime | None = None,
                      **ids: Any) -> OutboxEmail:
    """Queue mail written when it is sent: the row holds ``template`` (registered with ``writes_later``), the
    recipient's language and ``ids`` (JSON values), with no subject or text yet. One INSERT in the caller's
    transaction, and no rendering: for the busiest paths."""
    if template not in _LATER:
        raise ValueError(f"mail template {template} has no writes_later function")
    return rows.insert(OutboxEmail, recipient=recipient.strip(), user_id=user.id, template=template,
                       locale=_locale("zh", user), subject="", body_text="", body_html=None, later=ids,
                       message_id=_message_id(), valid_until=valid_until)


def write_queued(email: OutboxEmail) -> bool:
    """Write a mail queued with ``queue_email_later`` (the sender, just before sending it): its subject and text from
    the values read now. False when what it was about is gone (the row is left as it was)."""
    from app.accounts.models import User  # (accounts' models import nothing of this module; kept local all the same)

    values = _LATER[email.template](**email.later)
    if values is None:
        return False
    user = db.session.get(User, email.user_id) if email.user_id is not None else None
    email.subject, email.body_text, email.body_html = _write(email.template, email.locale, user, dict(values))
    email.later = None
    return True
