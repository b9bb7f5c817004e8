from datetime import date, datetime, timezone

from app.core.timeutil import local
from app.core.workdays import add_working_days, working_days_between
from app.messages import rules
from app.messages.models import MessageSource

from tests.messages.conftest import RECEIVED


def test_tracking_numbers_carry_their_own_prefix_and_check_character():
    number = rules.make_tracking_number(2026, 1234)
    assert number.startswith("LY-2026-00001234-") and rules.is_valid_tracking_number(number)
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    assert not rules.is_valid_tracking_number(wrong)
    assert not rules.is_valid_tracking_number(number.replace("LY", "ZX"))  # a comment's number is not a message's


def test_working_days_skip_the_holiday_and_count_the_make_up_saturday():
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)  # 8, 9 and the make-up Saturday 10 Oct
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)  # make-up Saturday before Spring Festival
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3


def test_reply_deadline_is_the_end_of_the_nth_working_day_in_shanghai():
    due = rules.reply_due(MessageSource.CENTRAL_PORTAL, RECEIVED)  # 10 working days
    assert local(due) == datetime(2026, 10, 21, 0, 0, tzinfo=local(due).tzinfo)  # end of Tuesday 20 October
    extended = rules.reply_due(MessageSource.CENTRAL_PORTAL, RECEIVED, extension_days=2)
    assert rules.last_day(extended) == date(2026, 10, 22)
    hotline = rules.reply_due(MessageSource.HOTLINE_12345, RECEIVED)  # 5 working days: 8, 9, 10, 12, 13 Oct
    assert rules.last_day(hotline) == date(2026, 10, 13)


def test_the_reminder_comes_two_working_days_before_the_last_day():
    due = rules.reply_due(MessageSource.HOTLINE_12345, RECEIVED)  # last day Tuesday 13 October
    assert local(rules.remind_from(due)).date() == date(2026, 10, 10)  # make-up Saturday, then Monday 12


def test_time_limits_are_settings_with_the_rule_named(app):
    assert "10个工作日" in str(rules.time_limit(MessageSource.CENTRAL_PORTAL).rule_name)
    before = app.config.get("MESSAGE_TIME_LIMITS", {})
    app.config["MESSAGE_TIME_LIMITS"] = {"hotline_12345": {"reply_days": 3, "review_required": True}}
    try:
        limit = rules.time_limit(MessageSource.HOTLINE_12345)
        assert limit.reply_days == 3 and limit.review_required and limit.ack_days == 1
        assert "3个工作日内答复" in str(limit.rule_name)
        due = rules.reply_due(MessageSource.HOTLINE_12345, datetime(2026, 9, 30, 2, tzinfo=timezone.utc))
        assert rules.last_day(due) == date(2026, 10, 10)
    finally:
        app.config["MESSAGE_TIME_LIMITS"] = before
