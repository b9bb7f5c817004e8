"""The sections of my space, one query per section (never one per row), built from each module's models.

A section is a dict: {"key", "title", "rows": [{"when", "title", "link", "state", "detail", "answer", "is_new"}]}.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

SECTION_TITLES = {
    "comments": _l("我的意见"),
    "applications": _l("我的列席申请"),
    "registrations": _l("我的活动报名"),
    "ratings": _l("我的评价和投票"),
}


def _is_new(changed_at: datetime | None, last_visit: datetime | None) -> bool:
    return changed_at is not None and (last_visit is None or changed_at > last_visit)


def sections_for(user, last_visit: datetime | None) -> list[dict]:
    sections = []
    for key, builder in BUILDERS:
        rows = builder(user, last_visit)
        if rows is not None:
            sections.append({"key": key, "title": SECTION_TITLES[key], "rows": rows})
    return sections


BUILDERS: list = []
