"""Scheduled work of oversight: mailing the targeted invitations recorded when consultations were published."""
from __future__ import annotations

from app.extensions import db
from app.oversight.services import send_invitations as send_batch


def send_invitations() -> int:
    """Mail the targeted invitations, a batch per transaction (each marked as mailed with its mail: safe twice)."""
    total = 0
    while True:
        sent = send_batch()
        db.session.commit()
        total += sent
        if not sent:
            return total
