"""Fixtures for the accounts tests: the outbox, links found in mail, and a form-posting helper."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.notifications.models import OutboxEmail

LINK = re.compile(r"https?://\S+")


class Outbox:
    def __init__(self, db):
        self.db = db

    def all(self, recipient: str | None = None, template: str | None = None) -> list[OutboxEmail]:
        stmt = sa.select(OutboxEmail).order_by(OutboxEmail.id)
        if recipient:
            stmt = stmt.where(OutboxEmail.recipient == recipient)
        if template:
            stmt = stmt.where(OutboxEmail.template == template)
        return list(self.db.session.scalars(stmt))

    def count(self) -> int:
        return self.db.session.scalar(sa.select(sa.func.count(OutboxEmail.id)))

    def last(self, recipient: str | None = None, template: str | None = None) -> OutboxEmail:
        rows = self.all(recipient, template)
        assert rows, f"no mail to {recipient} ({template})"
        return rows[-1]

    def link(self, recipient: str | None = None, template: str | None = None) -> str:
        """The path of the first link in the last matching mail's text body."""
        body = self.last(recipient, template).body_text
        match = LINK.search(body)
        assert match, body
        return match.group(0).replace("http://localhost", "")


@pytest.fixture
def outbox(db):
    return Outbox(db)


def errors_of(response) -> str:
    """The error text shown next to fields on a page."""
    page = response.get_data(as_text=True)
    return " ".join(re.findall(r'<p class="error" id="[^"]+">(.*?)</p>', page, re.S))
