"""Fixtures of the messages tests: messages written through the services, at a controlled instant."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
import time_machine

from app.messages import services
from app.messages.models import MessageSource

# Wednesday 2026-09-30, 10:00 in Shanghai: the National Day holiday (1-7 October) and the make-up Saturday
# 2026-10-10 follow, so working-day deadlines differ from calendar ones.
RECEIVED = datetime(2026, 9, 30, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def make_message(db):
    def make(user, *, subject="小区门口道路积水", text="每逢下雨小区门口积水严重，联系电话13812345678。",
             at: datetime = RECEIVED, **fields):
        with time_machine.travel(at, tick=False):
            message, _ = services.submit_message(
                user, services.MessageData(subject=subject, text=text, **fields), idempotency_key=uuid.uuid4().hex)
        db.session.commit()
        return message

    return make


@pytest.fixture
def make_forwarded(db):
    def make(ref="GOV-0001", *, source=MessageSource.CENTRAL_PORTAL, at: datetime = RECEIVED, **fields):
        values = dict(source_ref=ref, forwarded_at=at, subject="咨询老旧小区加装电梯补贴",
                      text="请问加装电梯的补贴标准是什么？", writer_name="李四", writer_phone="13900001111")
        values.update(fields)
        with time_machine.travel(at, tick=False):
            message, _ = services.receive_forwarded(None, source, services.ForwardedData(**values))
        db.session.commit()
        return message

    return make
