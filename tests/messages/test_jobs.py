"""Deadline chasing (督办) at controlled instants: each job notifies once, however often it runs."""
from datetime import datetime, timezone

import sqlalchemy as sa
import time_machine

from app.messages import handling, jobs
from app.messages.models import MessageSource
from app.notifications.models import OutboxEmail
from app.notifications.notices import Notice


def _subjects(db, user):
    return [s for s in db.session.scalars(sa.select(OutboxEmail.subject).where(OutboxEmail.recipient == user.email))]


def _at(y, m, d, hour=3):
    return time_machine.travel(datetime(y, m, d, hour, tzinfo=timezone.utc), tick=False)


def test_acknowledgement_reminder_and_overdue_each_once(db, make_forwarded, admin, staff):
    message = make_forwarded("H-9", source=MessageSource.HOTLINE_12345)  # received Wed 30 Sep, 5 working days
    with _at(2026, 9, 30):
        handling.assign(admin, message, staff.department_id)  # acknowledge by Thu 8 Oct (1 working day)
    db.session.commit()
    with _at(2026, 10, 8):
        assert jobs.chase_acknowledgements() == 0  # still within the day
    with _at(2026, 10, 8, 17):  # Fri 9 Oct 01:00 in Shanghai
        assert jobs.chase_acknowledgements() == 2 and jobs.chase_acknowledgements() == 0
        assert jobs.remind_replies() == 0  # reply due Tue 13 Oct: reminded from Sat 10 (make-up working day)
    with _at(2026, 10, 9, 17):
        assert jobs.remind_replies() == 1 and jobs.remind_replies() == 0
        assert jobs.chase_overdue_replies() == 0
    with _at(2026, 10, 13, 16):  # Wed 14 Oct 00:00 in Shanghai: overdue
        assert jobs.chase_overdue_replies() == 2 and jobs.chase_overdue_replies() == 0
    staff_mail = _subjects(db, staff)
    assert sum("签收" in s for s in staff_mail) == 1 and sum("即将到期" in s for s in staff_mail) == 1
    assert sum("已超过答复期限" in s for s in staff_mail) == 1
    assert sum("督办" in s for s in _subjects(db, admin)) == 2
    notices = db.session.scalars(sa.select(Notice.text).where(Notice.user_id == staff.id)).all()
    assert len(notices) == 3 and any("已超过答复期限" in n for n in notices)


def test_an_extension_gives_new_reminders_and_replied_messages_are_left_alone(db, make_forwarded, admin, staff):
    replied = make_forwarded("H-10", source=MessageSource.HOTLINE_12345)
    late = make_forwarded("H-11", source=MessageSource.HOTLINE_12345)
    with _at(2026, 9, 30):
        for m in (replied, late):
            handling.assign(admin, m, staff.department_id)
            handling.acknowledge(staff, m)
        handling.write_reply(staff, replied, "已处理。")
        handling.request_extension(staff, late, 3, "需要调查")
    db.session.commit()
    with _at(2026, 10, 9, 17):
        assert jobs.remind_replies() == 1  # only the open one
    with _at(2026, 10, 10, 3):
        handling.decide_extension(admin, late, True)  # due Fri 16 Oct now: reminders start again
        db.session.commit()
    with _at(2026, 10, 13, 15):  # Tue 13 Oct 23:00 in Shanghai: the old deadline has passed, the new one not
        assert jobs.chase_overdue_replies() == 0 and jobs.remind_replies() == 0
    with _at(2026, 10, 14, 3):
        assert jobs.remind_replies() == 1
    with _at(2026, 10, 16, 16):
        assert jobs.chase_overdue_replies() == 2  # the department and the office, once
