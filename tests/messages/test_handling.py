"""Handling rules, at controlled instants: assignment, return, extension, review, release, rating, reopening."""
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import Role
from app.messages import handling, rules
from app.messages.models import ExtensionDecision, MessageError, MessageSource, MessageState, Resolution
from app.notifications.models import OutboxEmail
from app.notifications.notices import Notice

from tests.messages.conftest import RECEIVED

LATER = RECEIVED + timedelta(days=9)  # Friday 9 October


def _mail_to(db, user):
    return [m.subject for m in db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.recipient == user.email)
                                                  .order_by(OutboxEmail.id))]


def test_assign_return_and_reassign(db, make_message, resident, admin, staff, make_department, make_user):
    other = make_department(name="市交通委")
    message = make_message(resident)
    with time_machine.travel(RECEIVED + timedelta(hours=1), tick=False):
        handling.assign(admin, message, staff.department_id, [other.id])
    assert message.state is MessageState.ASSIGNED and message.co_department_ids == [other.id]
    assert rules.last_day(message.ack_due_at) == date(2026, 10, 9)  # 2 working days after the holiday
    assert any("新交办留言" in s for s in _mail_to(db, staff))
    with pytest.raises(MessageError, match="退回理由"):
        handling.return_message(staff, message, " ")
    handling.return_message(staff, message, "属于交通部门职责")
    assert message.state is MessageState.RETURNED and message.return_count == 1 and message.co_handlers == []
    assert any("重新分办" in s for s in _mail_to(db, admin))
    with pytest.raises(MessageError):
        handling.acknowledge(staff, message)  # no longer theirs
    handling.assign(admin, message, other.id)
    assert message.state is MessageState.ASSIGNED and message.department_id == other.id
    db.session.commit()
    notices = db.session.scalars(sa.select(Notice.text).where(Notice.user_id == resident.id)).all()
    assert any("已退回" in t for t in notices)


def test_one_extension_moves_the_deadline_by_working_days(db, make_message, resident, admin, staff):
    message = make_message(resident)
    handling.assign(admin, message, staff.department_id)
    before = message.reply_due_at
    with pytest.raises(MessageError, match="最多10个工作日"):
        handling.request_extension(staff, message, 11, "需要现场调查")
    handling.request_extension(staff, message, 3, "需要现场调查")
    assert message.extension_decision is ExtensionDecision.PENDING and message.reply_due_at == before
    with pytest.raises(MessageError):
        handling.decide_extension(staff, message, True)  # only the office decides
    handling.decide_extension(admin, message, True)
    assert rules.last_day(message.reply_due_at) == date(2026, 10, 23)  # 20 October plus 21, 22, 23
    with pytest.raises(MessageError, match="只能申请一次"):
        handling.request_extension(staff, message, 2, "再延期")


def test_review_release_consent_and_notices(db, make_message, resident, admin, staff):
    public = make_message(resident, allow_publish=True)
    private = make_message(resident, subject="私下咨询", allow_publish=False)
    for message in (public, private):
        handling.assign(admin, message, staff.department_id)
        with time_machine.travel(LATER, tick=False):
            handling.write_reply(staff, message, "已安排排水改造，预计11月完工。")
        assert message.state is MessageState.UNDER_REVIEW and message.published_at is None
    with pytest.raises(MessageError, match="说明原因"):
        handling.review_reply(admin, public, False, "")
    handling.review_reply(admin, public, False, "请写明完工时间")
    assert public.state is MessageState.HANDLING and public.draft_reply.review_note == "请写明完工时间"
    with time_machine.travel(LATER, tick=False):
        handling.write_reply(staff, public, "已安排排水改造，11月30日前完工。")
        handling.review_reply(admin, public, True)
        handling.review_reply(admin, private, True)
    assert public.state is MessageState.REPLIED and public.is_public and public.replied_on_time
    assert private.state is MessageState.REPLIED and not private.is_public
    db.session.commit()
    assert sum("已答复" in s for s in _mail_to(db, resident)) == 2
    assert db.session.scalar(sa.select(sa.func.count(Notice.id)).where(Notice.user_id == resident.id,
                                                                        Notice.text.contains("已答复"))) == 2


def test_rating_reopens_once_within_the_window(db, make_message, resident, admin, staff, make_user):
    message = make_message(resident)
    handling.assign(admin, message, staff.department_id)
    with time_machine.travel(LATER, tick=False):
        handling.write_reply(staff, message, "答复一")
        handling.review_reply(admin, message, True)
        with pytest.raises(MessageError):
            handling.rate(make_user(), message, resolution=Resolution.RESOLVED, satisfied=True)
        with pytest.raises(MessageError, match="重新办理的理由"):
            handling.rate(resident, message, resolution=Resolution.NOT_RESOLVED, satisfied=False, reopen_reason="")
        handling.rate(resident, message, resolution=Resolution.NOT_RESOLVED, satisfied=False,
                      reopen_reason="积水仍未解决")
    assert message.state is MessageState.HANDLING and message.reopened_at is not None
    assert rules.last_day(message.reply_due_at) == date(2026, 10, 22)  # 10 working days after Friday 9 October
    with time_machine.travel(LATER + timedelta(days=1), tick=False):
        handling.write_reply(staff, message, "答复二")
        handling.review_reply(admin, message, True)
        with pytest.raises(MessageError, match="只能重新办理一次"):
            handling.rate(resident, message, resolution=Resolution.PARTLY, satisfied=False, reopen_reason="还是不行")
    with time_machine.travel(LATER + timedelta(days=17), tick=False):
        assert not handling.can_rate(message, datetime.now(timezone.utc))  # the 15-day window has passed
    assert [r.text for r in message.replies] == ["答复一", "答复二"]


def test_a_platform_reply_without_review_goes_out_at_once(db, make_forwarded, make_user, admin, staff):
    message = make_forwarded("12345-0009", source=MessageSource.HOTLINE_12345)
    handling.assign(admin, message, staff.department_id)
    handling.write_reply(staff, message, "已处理。")
    assert message.state is MessageState.REPLIED and message.acknowledged_at is not None
    assert not handling.can_rate(message, message.replied_at)  # forwarded: rated at the source, not here
    with pytest.raises(MessageError):
        handling.assign(admin, message, staff.department_id)  # replied: nothing to reassign
    assert staff.role is Role.STAFF


def test_replied_queue_pages_newest_reply_first_with_co_handled(db, make_forwarded, admin, staff, make_department,
                                                                make_user):
    """The "replied" view: a department sees the replied messages it leads or co-handles, the office all of them,
    newest reply first, page after page, each once (queues._replied_ids merges the led and the co-handled)."""
    from app.messages.queues import queue_page

    other = make_department(name="市水务局")
    other_staff = make_user(Role.STAFF, department=other)
    led = [make_forwarded(f"L-{i}") for i in range(3)]
    co_handled, others_own, waiting = make_forwarded("C-1"), make_forwarded("O-1"), make_forwarded("W-1")
    with time_machine.travel(RECEIVED + timedelta(hours=1), tick=False):
        for m in led + [waiting]:
            handling.assign(admin, m, staff.department_id)
        handling.assign(admin, co_handled, other.id, [staff.department_id])
        handling.assign(admin, others_own, other.id)
    # Replies an hour apart, in this order: led[0], co_handled, led[1], others_own, led[2] (the newest).
    for hour, (writer, m) in enumerate([(staff, led[0]), (other_staff, co_handled), (staff, led[1]),
                                        (other_staff, others_own), (staff, led[2])], start=2):
        with time_machine.travel(RECEIVED + timedelta(hours=hour), tick=False):
            handling.write_reply(writer, m, "已处理。")
            handling.review_reply(admin, m, True)
    db.session.commit()

    def walk(user) -> list[int]:
        seen, after = [], None
        while True:
            rows, key = queue_page(user, "replied", after, 2)
            assert key == "replied_at"
            seen += [m.id for m in rows]
            if len(rows) < 2:
                return seen
            after = (rows[-1].replied_at, rows[-1].id)

    assert walk(staff) == [led[2].id, led[1].id, co_handled.id, led[0].id]
    assert walk(admin) == [led[2].id, others_own.id, led[1].id, co_handled.id, led[0].id]
    assert walk(other_staff) == [others_own.id, co_handled.id]


def test_queues_merge_waiting_reopened_and_co_handled_by_deadline(db, make_message, make_forwarded, resident, admin,
                                                                  staff, make_department, make_user):
    from app.messages.queues import queue_page

    other = make_department(name="市水务局")
    reopened = make_message(resident)  # platform: 10 working days
    hotline = make_forwarded("H-77", source=MessageSource.HOTLINE_12345)  # 5 working days: due first
    co_handled = make_forwarded("M-77", source=MessageSource.MAILBOX)
    with time_machine.travel(RECEIVED + timedelta(hours=2), tick=False):
        handling.assign(admin, reopened, staff.department_id)
        handling.assign(admin, hotline, staff.department_id)
        handling.assign(admin, co_handled, other.id, [staff.department_id])
        handling.write_reply(staff, reopened, "答复")
        handling.review_reply(admin, reopened, True)
        handling.rate(resident, reopened, resolution=Resolution.NOT_RESOLVED, satisfied=False, reopen_reason="未解决")
    db.session.commit()
    rows, key = queue_page(staff, "open", None, 10)
    # hotline due 13 Oct, reopened 20 Oct (10 working days from the reopening), mailbox 21 Oct
    assert [m.id for m in rows] == [hotline.id, reopened.id, co_handled.id] and key == "reply_due_at"
    office, _key = queue_page(admin, "open", None, 2)
    assert [m.id for m in office] == [hotline.id, reopened.id]
    rest, _key = queue_page(admin, "open", (office[-1].reply_due_at, office[-1].id), 2)
    assert [m.id for m in rest] == [co_handled.id]
    assert queue_page(make_user(Role.STAFF, department=other), "open", None, 10)[0] == [co_handled]
