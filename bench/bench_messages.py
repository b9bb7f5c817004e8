"""Benchmark: messages (留言) at 100 and at 100,000 messages — the department's queue and the office's queue (by
deadline), the public list (first and deep keyset page, one department's, one district's), the queue of replied
messages (a department's, the office's) — and a batch import of 10,000 forwarded rows.

    .venv/bin/python bench/bench_messages.py                       # SQLite files in a temporary folder
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/canyu_bench_messages .venv/bin/python bench/bench_messages.py

Prints, per size, the median time of ROUNDS requests through the Flask test client (templates rendered) with the
SQL statements each request ran, the ratio 100,000 / 100, and the import time of 10,000 CSV rows.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "100,100000").split(",")]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))
IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "10000"))


def _load(db, n: int, departments, writer, now) -> None:
    """``n`` messages over 90 days: 40 % replied and published (spread over four departments), 60 % open, nine in
    ten of these led by the staff member's department. So at every size, 100 included, each measured page is full
    (50 rows in a queue, 20 in the public list): the sizes are compared on the same work per page, and a cost per
    row (a query per row) would show in the statements counted, not hide behind a shorter page."""
    import sqlalchemy as sa

    from app.messages import rules
    from app.messages.models import Message, MessageSource, Reply

    sources = list(MessageSource)
    batch, replies = [], []
    for i in range(n):
        received = now - timedelta(minutes=90 * 24 * 60 * (n - i) // n)
        source = sources[i % 4]
        replied = i % 5 < 2
        lead = departments[i % 4] if replied or i % 10 == 9 else departments[1]
        row = {"tracking_number": f"LY-B-{i:010d}", "source": source, "user_id": writer.id,
               "idempotency_key": f"bench-{i}", "writer_name": "王芳", "public_name": "王**",
               "subject": f"关于第{i % 50}个问题的留言", "text_original": f"第{i}号留言：建议改进。",
               "text_public": f"第{i}号留言：建议改进。", "district": "xuhui", "allow_publish": True,
               "received_at": received, "created_at": received, "department_id": lead.id,
               "assigned_at": received, "acknowledged_at": received,
               "reply_due_at": rules.reply_due(source, received), "return_count": 0, "extension_days": 0}
        if replied:
            at = received + timedelta(days=3)
            row.update(replied_at=at, first_replied_at=at, replied_on_time=True, published_at=at)
        batch.append(row)
        if len(batch) == 5000:
            db.session.execute(sa.insert(Message), batch)
            batch = []
    if batch:
        db.session.execute(sa.insert(Message), batch)
    for mid, dept, at in db.session.execute(sa.select(Message.id, Message.department_id, Message.replied_at)
                                            .where(Message.replied_at.is_not(None))):
        replies.append({"message_id": mid, "department_id": dept, "text": "已处理。", "written_at": at,
                        "released_at": at})
        if len(replies) == 5000:
            db.session.execute(sa.insert(Reply), replies)
            replies = []
    if replies:
        db.session.execute(sa.insert(Reply), replies)
    db.session.commit()


def _measure(setups: dict, url: str, login: str | None = None) -> dict:
    """Median time and SQL statements of ``url`` for each size, the sizes' requests alternating, so that a change
    in the machine's load weighs on every size alike."""
    import sqlalchemy as sa

    from app.extensions import db

    counts, times = {}, {n: [] for n in setups}
    for n, (app, client, emails) in setups.items():
        if login:
            client.post("/accounts/logout")
            client.post("/accounts/login", data={"email": emails[login], "password": PASSWORD})
        client.get(url(n) if callable(url) else url)  # warm up
    for _ in range(ROUNDS):
        for n, (app, client, _emails) in setups.items():
            with app.app_context():
                engine = db.engine
            count = [0]

            def counter(*_args, **_kw):
                count[0] += 1

            sa.event.listen(engine, "before_cursor_execute", counter)
            try:
                t0 = time.perf_counter()
                response = client.get(url(n) if callable(url) else url)
                times[n].append(time.perf_counter() - t0)
            finally:
                sa.event.remove(engine, "before_cursor_execute", counter)
            assert response.status_code == 200, (url, response.status_code)
            body = response.get_data(as_text=True)
            counts[n] = (count[0], body.count('<li class="card">') + body.count('<tr><td><a href="/manage/messages/'))
    return {n: (statistics.median(times[n]) * 1000, counts[n]) for n in setups}


PASSWORD = "bench-password-1"


def setup(n: int, url: str) -> tuple:
    import sqlalchemy as sa

    from app import create_app
    from app.accounts.models import Department, Role, User
    from app.accounts.services import set_password
    from app.core.timeutil import utcnow
    from app.extensions import db
    from app.core.paging import time_cursor
    from app.messages.models import Message
    from bench.benchdb import ensure_database
    from config import TestingConfig

    ensure_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": tempfile.mkdtemp(), "RATELIMIT_ENABLED": False},
                     config_class=TestingConfig)
    results: dict = {}
    with app.app_context():
        db.drop_all()
        db.create_all()
        now = utcnow()
        departments = [Department(code=f"d{i}", name=f"基准局{i}") for i in range(4)]
        writer = User(email="writer@example.com", name="王芳", email_verified_at=now)
        staff = User(email="staff@example.com", name="刘洋", role=Role.STAFF, email_verified_at=now)
        admin = User(email="admin@example.com", name="周敏", role=Role.ADMIN, email_verified_at=now)
        for person in (writer, staff, admin):
            set_password(person, PASSWORD)
        db.session.add_all(departments + [writer, staff, admin])
        db.session.flush()
        staff.department_id = departments[1].id
        db.session.commit()
        t0 = time.perf_counter()
        _load(db, n, departments, writer, now)
        load_s = time.perf_counter() - t0
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))
        deep = db.session.execute(sa.select(Message.published_at, Message.id).where(Message.published_at.is_not(None))
                                  .order_by(Message.published_at, Message.id).offset(max(n // 10, 20)).limit(1)).first()
        emails = {"staff": staff.email, "admin": admin.email}
        admin_id = admin.id
    results["deep"] = time_cursor(*deep)
    results["admin_id"] = admin_id
    results["load"] = load_s
    return app, app.test_client(), emails, results


def bench_import(app, admin_id: int) -> tuple:
    """Import IMPORT_ROWS forwarded rows from a CSV file, then the same file again (which adds nothing)."""
    from app.accounts.models import User
    from app.extensions import db
    from app.messages import imports
    from app.messages.models import MessageSource

    header = "source_id,forwarded_at,subject,text,writer_name,writer_phone,district,allow_publish\n"
    rows = "".join(f"GOV-B-{i},2026-11-03 14:20,关于第{i % 50}个问题,第{i}号转办留言：请处理。,李四,13900001111,"
                   f"徐汇区,是\n" for i in range(IMPORT_ROWS))
    data = (header + rows).encode("utf-8")
    with app.app_context():
        actor = db.session.get(User, admin_id)
        t0 = time.perf_counter()
        report = imports.import_file(actor, MessageSource.CENTRAL_PORTAL, "bench.csv", data)
        db.session.commit()
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = imports.import_file(actor, MessageSource.CENTRAL_PORTAL, "bench.csv", data)
        db.session.commit()
        second = time.perf_counter() - t0
    return first, report.imported, second, again.imported, again.duplicates


def main() -> None:
    base = os.environ.get("BENCH_DATABASE_URL")
    folder = tempfile.mkdtemp()
    setups, results = {}, {}
    for n in SIZES:
        url = f"{base}_{n}" if base else f"sqlite:///{folder}/bench-{n}.db"
        app, client, emails, results[n] = setup(n, url)
        setups[n] = (app, client, emails)
        print(f"{n:>7} messages loaded in {results[n]['load']:.1f} s")
    pages = {
        "public list, first page": _measure(setups, "/messages/"),
        "public list, deep page": _measure(setups, lambda n: f"/messages/?before={results[n]['deep']}"),
        "department queue (by deadline)": _measure(setups, "/manage/messages/", "staff"),
        "office queue (every department)": _measure(setups, "/manage/messages/", "admin"),
        "public list, one department": _measure(setups, "/messages/?department=2"),
        "public list, one district": _measure(setups, "/messages/?district=xuhui"),
        "replied queue, department": _measure(setups, "/manage/messages/?view=replied", "staff"),
        "replied queue, office": _measure(setups, "/manage/messages/?view=replied", "admin"),
    }
    small, large = min(SIZES), max(SIZES)
    print(f"\ndatabase: {'PostgreSQL' if base and base.startswith('postgresql') else 'SQLite'}; median of {ROUNDS}, "
          f"sizes alternating; load average {os.getloadavg()[0]:.1f}")
    print(f"{'page (rows shown, SQL statements)':36} {small:>8} {'':12} {large:>8} {'':12} ratio")
    for key, by_size in pages.items():
        (ms_s, (q_s, r_s)), (ms_l, (q_l, r_l)) = by_size[small], by_size[large]
        print(f"{key:36} {ms_s:7.1f}ms {r_s:3d} r {q_s:2d} q {ms_l:7.1f}ms {r_l:3d} r {q_l:2d} q {ms_l / ms_s:5.2f}")
    if IMPORT_ROWS:
        first, imported, second, again, dup = bench_import(setups[large][0], results[large]["admin_id"])
        print(f"\nimport of {IMPORT_ROWS} CSV rows into {large} messages: {first:.1f} s ({imported} imported); "
              f"the same file again: {second:.1f} s ({again} imported, {dup} duplicates)")


if __name__ == "__main__":
    main()
