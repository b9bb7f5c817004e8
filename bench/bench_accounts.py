"""Benchmark: the audit log browser with 200,000 entries (first page, a deep keyset page, filters; as the admin and
as staff of one department), and one sign-in (Argon2id verification and the throttling queries).

    .venv/bin/python bench/bench_accounts.py
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/canyu_accounts_bench .venv/bin/python bench/bench_accounts.py

Prints the median time per request through the Flask test client (HTML rendering included).

Figures measured on 2026-11-28 (2-CPU sandbox shared with other jobs, load average about 12):

    database: sqlite; 200000 audit entries                      postgresql; 200000 audit entries
    admin, first page                          10.1 ms          16.0 ms
    admin, deep keyset page                     7.7 ms          11.0 ms
    admin, action prefix + date range           7.9 ms          16.5 ms
    admin, actor contains                       5.8 ms          17.2 ms
    staff of one department, first page         4.4 ms          15.9 ms
    staff of one department, deep keyset page   4.2 ms          12.1 ms
    sign-in (Argon2id verify + throttle)       92.6 ms         257.2 ms (CPU-bound Argon2id; noisy under load)

Before the object-type choices used a loose index scan, SELECT DISTINCT read every entry (about 20 ms of each page
on SQLite at 200,000 entries, growing with the log).
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

ENTRIES = int(os.environ.get("BENCH_ENTRIES", "200000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))
PASSWORD = "bench-password-2026"


def median_ms(fn, rounds: int = ROUNDS) -> float:
    fn()  # warm up
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    import sqlalchemy as sa

    from app import create_app
    from app.accounts.models import Department, Role, User
    from app.accounts.services import set_password
    from app.core.audit import AuditEntry
    from app.core.timeutil import utcnow
    from app.extensions import db
    from app.i18n import compile_catalogs
    from config import TestingConfig

    compile_catalogs()
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    from bench.benchdb import ensure_database

    ensure_database(url)  # its own PostgreSQL database, created when missing
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": tempfile.mkdtemp()}, config_class=TestingConfig)
    with app.app_context():
        db.drop_all()
        db.create_all()
        now = utcnow()
        depts = [Department(code=f"d{n}", name=f"基准局{n}", name_en=f"Bureau {n}") for n in range(20)]
        db.session.add_all(depts)
        db.session.flush()
        admin = User(email="admin@bench.example", name="周敏", role=Role.ADMIN, email_verified_at=now)
        staff = User(email="staff@bench.example", name="刘洋", role=Role.STAFF, department_id=depts[3].id,
                     email_verified_at=now)
        for person in (admin, staff):
            set_password(person, PASSWORD)
        db.session.add_all([admin, staff])
        db.session.commit()
        t0 = time.perf_counter()
        actions = ["consultations.publish", "consultations.moderate", "hearings.announce", "openday.check_in",
                   "accounts.invite_staff"]
        batch = []
        for i in range(ENTRIES):
            batch.append({"created_at": now - timedelta(minutes=ENTRIES - i), "actor_id": staff.id,
                          "actor_label": f"staff: user{i % 50}@bench.example", "action": actions[i % 5],
                          "object_type": "Comment", "object_id": str(i), "department_id": depts[i % 20].id,
                          "details": {"n": i}, "ip_address": "10.0.0.1"})
            if len(batch) == 10000:
                db.session.execute(sa.insert(AuditEntry), batch)
                batch = []
        if batch:
            db.session.execute(sa.insert(AuditEntry), batch)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))
        print(f"database: {db.engine.dialect.name}; {ENTRIES} audit entries inserted in "
              f"{time.perf_counter() - t0:.1f} s")
        deep = db.session.scalar(sa.select(AuditEntry.id).order_by(AuditEntry.id).offset(500).limit(1))
        day = (now - timedelta(days=30)).date()

    def client_for(email):
        client = app.test_client()
        assert client.post("/accounts/login", data={"email": email, "password": PASSWORD}).status_code == 302
        return client

    admin_client, staff_client = client_for("admin@bench.example"), client_for("staff@bench.example")

    def get(client, path):
        def go():
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        return go

    cases = [
        ("admin, first page", admin_client, "/manage/audit"),
        ("admin, deep keyset page (before= an early id)", admin_client, f"/manage/audit?before={deep}"),
        ("admin, action prefix + date range", admin_client,
         f"/manage/audit?action=hearings&date_from={day.isoformat()}&date_to={(day + timedelta(days=3)).isoformat()}"),
        ("admin, actor contains", admin_client, "/manage/audit?actor=user7%40"),
        ("staff of one department, first page", staff_client, "/manage/audit"),
        ("staff of one department, deep keyset page", staff_client, f"/manage/audit?before={deep}"),
    ]
    for label, client, path in cases:
        print(f"{label:50} {median_ms(get(client, path)):8.1f} ms (median of {ROUNDS})")

    def sign_in():
        client = app.test_client()
        assert client.post("/accounts/login", data={"email": "staff@bench.example",
                                                    "password": PASSWORD}).status_code == 302

    print(f"{'sign-in (Argon2id verify + throttle check)':50} {median_ms(sign_in, 10):8.1f} ms (median of 10)")


if __name__ == "__main__":
    main()
