"""Jobs only notify and are safe to run twice."""
from datetime import timedelta

import sqlalchemy as sa
import time_machine

from app import signals
from app.consultations import jobs
from app.notifications.models import OutboxEmail
from tests.consultations.conftest import CLOSES


def test_closing_soon_signal_sent_once(db, make_consultation):
    c = make_consultation()
    received = []

    def receiver(sender, **kw):
        received.append(sender.id)

    signals.consultation_closing_soon.connect(receiver)
    try:
        with time_machine.travel(CLOSES - timedelta(days=5), tick=False):
            assert jobs.remind_closing_soon() == 0
        with time_machine.travel(CLOSES - timedelta(days=2), tick=False):
            assert jobs.remind_closing_soon() == 1
            assert jobs.remind_closing_soon() == 0
    finally:
        signals.consultation_closing_soon.disconnect(receiver)
    assert received == [c.id]


def test_report_due_and_overdue_reminders_once_each(db, make_consultation, staff, app):
    c = make_consultation()
    due_days = app.config["FEEDBACK_REPORT_DUE_DAYS"]
    subjects = lambda: db.session.scalars(sa.select(OutboxEmail.subject).order_by(OutboxEmail.id)).all()  # noqa: E731
    with time_machine.travel(CLOSES + timedelta(days=1), tick=False):
        jobs.remind_report_due()
        assert subjects() == []
    with time_machine.travel(CLOSES + timedelta(days=due_days - 3), tick=False):
        jobs.remind_report_due()
        jobs.remind_report_due()
        assert len(subjects()) == 1 and "提醒" in subjects()[0]
    with time_machine.travel(CLOSES + timedelta(days=due_days + 1), tick=False):
        jobs.remind_report_due()
        jobs.remind_report_due()
    assert len(subjects()) == 2 and "逾期" in subjects()[1]
    assert all(m.recipient == staff.email for m in db.session.scalars(sa.select(OutboxEmail)))
