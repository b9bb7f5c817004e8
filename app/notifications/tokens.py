"""The signed one-click unsubscribe link every news e-mail carries (no sign-in needed to use it)."""
from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.core.errors import DomainError


class UnsubscribeError(DomainError):
    """An unsubscribe link that is not ours or names no account."""


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="canyu-unsubscribe")


def unsubscribe_token(user_id: int, kind: Any = None) -> str:
    """A token for one kind of news (a NewsKind) or, without one, for all kinds."""
    return _serializer().dumps({"u": user_id, "k": kind.value if kind else "all"})


def unsubscribe_url(user_id: int, kind: Any = None) -> str:
    """The one-click unsubscribe link of an e-mail (all kinds of news when ``kind`` is None)."""
    base = current_app.config["BASE_URL"].rstrip("/")
    return f"{base}/notifications/unsubscribe/{unsubscribe_token(user_id, kind)}"


def read_unsubscribe_token(token: str) -> tuple[int, str]:
    """The account id and the kind's value ("all" for every kind) a token names; UnsubscribeError if forged."""
    try:
        data = _serializer().loads(token)
        return int(data["u"]), str(data["k"])
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise UnsubscribeError("invalid") from exc
