"""Benchmark: 2,000 sign-ups for 100 seats from 100 concurrent clients, against gunicorn on PostgreSQL.

    .venv/bin/python bench/bench_openday.py            # defaults below; see --help

What it does:
1. Empties its OWN PostgreSQL database (default canyu_openday_bench; never the application's) and creates the
   tables, one published activity with one session of 100 seats (waitlist on) and 2,000 verified residents.
2. Signs every resident in the ordinary way a browser would be: a Flask session cookie signed with the app's
   SECRET_KEY holding Flask-Login's user id and a CSRF token (no test-only back door in the app).
3. Starts gunicorn (several sync workers, production settings, CSRF on) on 127.0.0.1 and fires the 2,000 sign-up
   POSTs from 100 client threads (http.client, 127.0.0.1 only; each thread sends one request at a time).
4. Prints requests/s, p50 / p99 latency, confirmed, waitlisted and errors, and checks the database agrees.
"""
from __future__ import annotations

import argparse
import http.client
import os
import queue
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/canyu_openday_bench"
USER_AGENT = "canyu-bench/1.0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(db_url: str, secret: str, users: int, seats: int) -> tuple[int, list[tuple[str, str]]]:
    """Fresh tables, one session, ``users`` residents; returns (session id, [(cookie, csrf token)])."""
    os.environ["DATABASE_URL"] = db_url
    os.environ["SECRET_KEY"] = secret
    os.environ["RATELIMIT_ENABLED"] = "0"  # as for gunicorn below; production otherwise needs REDIS_URL
    os.environ.setdefault("BASE_URL", "http://127.0.0.1")  # production needs it; no mail leaves the benchmark
    from datetime import date, timedelta

    import sqlalchemy as sa
    from flask import g, session as flask_session
    from flask_login.utils import _create_identifier
    from flask_wtf.csrf import generate_csrf

    from app import create_app
    from app.accounts.models import Department, Role, User
    from app.core.timeutil import from_local, utcnow
    from app.extensions import db
    from app.openday.models import Activity, ActivitySession
    from config import ProductionConfig

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url}, config_class=ProductionConfig)
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            raise SystemExit("the benchmark needs PostgreSQL")
        db.drop_all()
        db.create_all()
        dept = Department(code="bench", name="压测局", name_en="Bench bureau")
        db.session.add(dept)
        db.session.flush()
        now = utcnow()
        day = (now + timedelta(days=20)).date()
        activity = Activity(department_id=dept.id, title="压测活动", description="benchmark", address="压测路 1 号",
                            signup_opens_at=now - timedelta(days=1), signup_closes_at=now + timedelta(days=10),
                            published_at=now, max_companions=0)
        db.session.add(activity)
        db.session.flush()
        session = ActivitySession(activity_id=activity.id, starts_at=from_local(day, __import__("datetime").time(9)),
                                  ends_at=from_local(day, __import__("datetime").time(11)), capacity=seats,
                                  has_waitlist=True)
        db.session.add(session)
        db.session.flush()
        activity.first_starts_at = session.starts_at
        db.session.execute(sa.insert(User), [
            {"email": f"bench{i:05d}@example.com", "name": f"压测{i}", "role": Role.RESIDENT, "locale": "zh",
             "email_verified_at": now, "created_at": now, "age_band": "30_44"} for i in range(users)])
        db.session.commit()
        session_id = session.id
        # Each resident signs in as a browser does: a server-side session row (app/accounts/sessions.py), whose
        # id Flask-Login keeps in the cookie as User.get_id() (user id, password fingerprint, session token).
        from app.accounts import sessions as user_sessions

        users = db.session.scalars(sa.select(User).order_by(User.id)).all()
        for u in users:
            user_sessions.start(u, now=now)
        ids = [u.get_id() for u in users]
        db.session.commit()
        serializer = app.session_interface.get_signing_serializer(app)
        creds = []
        for uid in ids:
            with app.test_request_context("/", headers={"User-Agent": USER_AGENT},
                                          environ_base={"REMOTE_ADDR": "127.0.0.1"}):
                flask_session["_user_id"] = uid
                flask_session["_fresh"] = True
                flask_session["_id"] = _create_identifier()
                g.pop("csrf_token", None)  # generate_csrf caches on g, which lives as long as the app context
                token = generate_csrf()
                cookie = serializer.dumps(dict(flask_session))
            creds.append((cookie, token))
        db.session.remove()
        db.engine.dispose()
    return session_id, creds


def wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz")


def fire(port: int, session_id: int, creds, clients: int):
    work: queue.Queue = queue.Queue()
    for item in creds:
        work.put(item)
    latencies: list[float] = []
    outcomes = {"ok": 0, "errors": 0}
    samples: list[str] = []
    lock = threading.Lock()
    path = f"/openday/sessions/{session_id}/sign-up"

    def client() -> None:
        while True:
            try:
                cookie, token = work.get_nowait()
            except queue.Empty:
                return
            body = urlencode({"csrf_token": token, f"s{session_id}-companions": "0"})
            started = time.perf_counter()
            ok, note = False, ""
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("POST", path, body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"session={cookie}",
                    "User-Agent": USER_AGENT, "Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                location = resp.getheader("Location") or ""
                ok = resp.status == 302 and "/openday/tickets/" in location
                note = f"{resp.status} {location}"
                conn.close()
            except OSError as exc:
                note = repr(exc)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                outcomes["ok" if ok else "errors"] += 1
                if not ok and len(samples) < 5:
                    samples.append(note)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies, outcomes, samples


def count_states(db_url: str, session_id: int) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT state, count(*) FROM openday_registration WHERE session_id = :s "
                                    "GROUP BY state"), {"s": session_id}).all()
        positions = conn.execute(sa.text("SELECT waitlist_position FROM openday_registration WHERE session_id = :s "
                                         "AND state = 'WAITLISTED' ORDER BY waitlist_position"),
                                 {"s": session_id}).scalars().all()
    engine.dispose()
    counts = {state.lower(): n for state, n in rows}
    counts["positions_consecutive"] = positions == list(range(1, len(positions) + 1))
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    # 3 sync workers: on this 2-core machine PostgreSQL and the 100 client threads share the cores with gunicorn,
    # and fewer workers contend less. Measured here, idle: 5 workers 154-196/s (p99 0.98-1.17 s),
    # 4 workers 171/s (p99 0.90 s), 3 workers 194-215/s (p99 0.67-0.71 s).
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    if not args.database_url.rstrip("/").endswith("_bench"):
        raise SystemExit("refusing to empty a database whose name does not end in _bench")

    from bench.benchdb import ensure_database

    if ensure_database(args.database_url):
        print(f"Created the database {args.database_url.rsplit('/', 1)[-1]}", flush=True)
    secret = secrets.token_hex(32)
    print(f"Preparing {args.requests} residents and a session of {args.seats} seats ...", flush=True)
    session_id, creds = prepare(args.database_url, secret, args.requests, args.seats)
    port = free_port()
    env = dict(os.environ, DATABASE_URL=args.database_url, SECRET_KEY=secret, CANYU_ENV="production",
               SESSION_COOKIE_SECURE="0", RATELIMIT_ENABLED="0", BASE_URL=os.environ["BASE_URL"],
               LOG_REQUESTS="0")  # a log line per sign-up would bury the figures
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
         "--backlog", "2048", "--log-level", "warning", "wsgi:app"],
        cwd=str(ROOT), env=env, start_new_session=True)
    try:
        wait_for(port)
        print(f"gunicorn: {args.workers} sync workers on 127.0.0.1:{port}; {args.clients} clients ...", flush=True)
        elapsed, latencies, outcomes, samples = fire(port, session_id, creds, args.clients)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    counts = count_states(args.database_url, session_id)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs (after the run)")
    print(f"requests:     {len(latencies)}")
    print(f"requests/s:   {len(latencies) / elapsed:.1f}")
    print(f"p50 latency:  {p50 * 1000:.0f} ms")
    print(f"p99 latency:  {p99 * 1000:.0f} ms")
    print(f"confirmed:    {counts.get('confirmed', 0)}")
    print(f"waitlisted:   {counts.get('waitlisted', 0)} (positions 1..n consecutive: {counts['positions_consecutive']})")
    print(f"errors:       {outcomes['errors']}")
    for note in samples:
        print(f"  e.g. {note}")
    return 0 if counts.get("confirmed", 0) == args.seats and outcomes["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
