"""Scheduled jobs of accounts."""
from __future__ import annotations

from app.accounts import sessions
from app.extensions import db


def purge_sessions() -> int:
    """Delete sign-in sessions that ended or expired more than 30 days ago."""
    n = sessions.purge()
    db.session.commit()
    return n
