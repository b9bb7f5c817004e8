"""The staff queues run the same SQL statements for a page of 10 rows and a page of 50 (no query per row), for
the office and for a department that leads some messages and co-handles others."""
from datetime import datetime, timezone

import time_machine
from sqlalchemy import event

from app.messages import handling

VIEWS = ("open", "unassigned", "review", "extension", "replied")


def _statements(db, client, url: str) -> tuple[int, str]:
    statements = []

    def count(*args):
        statements.append(args[2])

    db.session.expire_all()  # each measured request loads what it shows, as a fresh request would
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements), response.get_data(as_text=True)


def _add(db, make_forwarded, admin, staff, other, start: int, end: int) -> None:
    for i in range(start, end):
        message = make_forwarded(f"G-{i}")
        with time_machine.travel(datetime(2026, 10, 12, 3, tzinfo=timezone.utc), tick=False):
            lead, co = (staff.department_id, [other.id]) if i % 2 else (other.id, [staff.department_id])
            handling.assign(admin, message, lead, co)
            if i % 3 == 0 and lead == staff.department_id:
                handling.write_reply(staff, message, "已处理。")
                handling.review_reply(admin, message, True)
    db.session.commit()


def test_queue_statements_do_not_grow_with_the_rows_shown(client, auth, db, make_forwarded, admin, staff,
                                                          make_department):
    other = make_department(name="市交通委")
    counts = {}
    for size, (start, end) in ((10, (0, 10)), (60, (10, 60))):
        _add(db, make_forwarded, admin, staff, other, start, end)
        for who in (admin, staff):
            auth.login(who)
            for view in VIEWS:
                counts[size, who.role.value, view] = _statements(db, client, f"/manage/messages/?view={view}")
            auth.logout()
    shown = counts[60, "admin", "open"][1].count('<tr><td><a href="/manage/messages/')
    assert shown == 50 and counts[10, "admin", "open"][1].count('<tr><td><a href="/manage/messages/') == 8
    for (size, role, view), (statements, _page) in counts.items():
        if size == 60:
            assert statements == counts[10, role, view][0], (role, view)
