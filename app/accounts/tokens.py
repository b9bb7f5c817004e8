"""Signed, expiring links sent by e-mail. Each is bound to the state it changes, so it works once."""
from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.accounts.models import User
from app.core.errors import DomainError
from app.extensions import db


class LinkError(DomainError):
    """A link that is broken, expired or already used. ``reason`` is 'invalid', 'expired' or 'used' (the page
    link_problem.html explains each)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"canyu-{purpose}")


def state_fingerprint(*parts: object) -> str:
    """A short digest of the state a link may change; when the state moves on, the link stops working."""
    return hashlib.sha256("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:16]


def make_token(purpose: str, user_id: int, fingerprint: str, **extra) -> str:
    return _serializer(purpose).dumps({"u": user_id, "f": fingerprint, **extra})


def read_token(purpose: str, token: str, max_age_hours: int) -> dict:
    try:
        return _serializer(purpose).loads(token, max_age=max_age_hours * 3600)
    except SignatureExpired as exc:
        raise LinkError("expired") from exc
    except BadSignature as exc:
        raise LinkError("invalid") from exc


def load_user_for(purpose: str, token: str, max_age_hours: int, fingerprint_of) -> Any:
    """The user a link is for, when the link is valid and the state it was made for has not changed."""

    data = read_token(purpose, token, max_age_hours)
    user = db.session.get(User, data.get("u"))
    if user is None or user.deleted_at is not None:
        raise LinkError("invalid")
    if fingerprint_of(user, data) != data.get("f"):
        raise LinkError("used")
    return user, data
