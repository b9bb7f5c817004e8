"""Scheduled jobs of accounts."""
from __future__ import annotations

from app.accounts import sessions, signin
from app.extensions import db


def purge_sessions() -> int:
    """Delete sign-in sessions that ended or expired more than 30 days ago, and sign-in throttle rows no longer
    in their window."""
    n = sessions.purge() + signin.purge()
    db.session.commit()
    return n
