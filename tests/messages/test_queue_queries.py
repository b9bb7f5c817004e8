"""The staff queues run the same SQL statements for a page of 10 rows and a page of 50 (no query per row), for
the office and for a department that leads some messages and co-handles others."""
from datetime import datetime, timezone

import pytest
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


def test_filtered_lists_and_replied_queue_are_read_in_index_order_on_sqlite(client, auth, db, admin, staff,
                                                                            department):
    """The public list by department or district and the replied queue (the office's and a department's) read
    their rows in the order of an index, with the page's limit, instead of reading every matching message and
    sorting them (at 100,000 messages 51–121 ms a page against 9–11 ms: bench/bench_messages.py). SQLite without
    statistics plans the same for 10 rows as for 100,000, so its plan is checked here; PostgreSQL's depends on them."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan checked is SQLite's")
    statements = []

    def capture(_conn, _cursor, statement, parameters, *_):
        statements.append((statement, parameters))

    def sorted_whole(who, url: str) -> list[str]:
        """The statements of ``url`` whose plan sorts a whole table's matching messages."""
        auth.login(who) if who else auth.logout()
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        found = []
        with db.engine.connect() as conn:
            for statement, parameters in statements:
                if "FROM message" not in statement or statement.startswith("EXPLAIN"):
                    continue
                plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                # A sort whose query level reads the message table itself (not a merge of parts read in order).
                for _id, parent, _unused, detail in plan:
                    if detail == "USE TEMP B-TREE FOR ORDER BY" and any(
                            p == parent and d.startswith(("SCAN message", "SEARCH message")) for _i, p, _u, d in plan):
                        found.append(" | ".join(row[3] for row in plan))
        return found

    assert sorted_whole(None, f"/messages/?department={department.id}") == []
    assert sorted_whole(None, "/messages/?district=xuhui") == []
    assert sorted_whole(admin, "/manage/messages/?view=replied") == []
    assert sorted_whole(staff, "/manage/messages/?view=replied") == []
