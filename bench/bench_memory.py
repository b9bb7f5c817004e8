"""Benchmark: one gunicorn worker's memory through 10,000 mixed requests (it must stay flat, not grow).

    .venv/bin/python bench/bench_memory.py [--requests 10000] [--clients 4]
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/canyu_memory_bench .venv/bin/python ...

What it does:
1. Migrates its OWN database (a temporary SQLite file by default; the PostgreSQL database named by
   BENCH_DATABASE_URL, emptied first) and loads the demo data.
2. Starts gunicorn with ONE sync worker, production settings, on 127.0.0.1.
3. Sends 300 warm-up requests, reads the worker's resident memory (VmRSS), sends the mixed requests (public
   pages in both languages, a consultation's page and comments, hearings, Open Month, the open-data API, the
   sign-in page, a tracking-number lookup, a page that does not exist), reads it again and prints both in MB.
"""
from __future__ import annotations

import argparse
import http.client
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))



def fresh_postgres(url: str) -> str:
    """Drop and create the benchmark's own PostgreSQL database (never the application's)."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    engine = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    engine.dispose()
    return parsed.render_as_string(hide_password=False)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def flask(env: dict, *args: str) -> None:
    subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi.py", *args], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)


def urls(env: dict) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(env["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        consultations = list(conn.scalars(sa.text("SELECT id FROM consultation")))
        meetings = list(conn.scalars(sa.text("SELECT id FROM hearing_meeting")))
        activities = list(conn.scalars(sa.text("SELECT id FROM openday_activity")))
    engine.dispose()
    out = ["/", "/?lang=en", "/consultations/", "/consultations/?lang=en", "/hearings/", "/openday/",
           "/accounts/login", "/api/v1/consultations", "/api/v1/comments?limit=20", "/healthz",
           "/consultations/track?number=ZX-2026-00000000-0", "/no-such-page"]
    out += [f"/consultations/{i}" for i in consultations] + [f"/consultations/{i}/comments" for i in consultations]
    out += [f"/hearings/{i}" for i in meetings] + [f"/openday/{i}" for i in activities]
    return out


def fire(port: int, paths: list[str], n: int, clients: int) -> tuple[int, dict[int, int]]:
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    errors = [0]

    def client(count: int, seed: int) -> None:
        rnd = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(count):
            try:
                conn.request("GET", rnd.choice(paths), headers={"User-Agent": "canyu-bench/1.0"})
                response = conn.getresponse()
                response.read()
                with lock:
                    statuses[response.status] = statuses.get(response.status, 0) + 1
            except (OSError, http.client.HTTPException):
                with lock:
                    errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.close()

    threads = [threading.Thread(target=client, args=(n // clients + (i < n % clients), i)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors[0], statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="canyu-memory-"))
    url = os.environ.get("BENCH_DATABASE_URL")
    url = fresh_postgres(url) if url else f"sqlite:///{tmp / 'bench.db'}"
    env = {**os.environ, "DATABASE_URL": url, "UPLOAD_DIR": str(tmp / "uploads"), "CANYU_ENV": "production",
           "SECRET_KEY": "m" * 48, "RATELIMIT_ENABLED": "0", "BASE_URL": "http://127.0.0.1", "LOG_REQUESTS": "0",
           "SESSION_COOKIE_SECURE": "0"}
    print(f"database: {url.split('@')[-1]}; migrating and loading the demo data ...", flush=True)
    flask(env, "db", "upgrade")
    flask({**env, "CANYU_ENV": "development"}, "demo-data")
    paths = urls(env)
    port = free_port()
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", "1", "--bind",
                               f"127.0.0.1:{port}", "--max-requests", "0", "wsgi:app"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not answer /healthz")
            time.sleep(0.2)
        worker = children(server.pid)[0]
        fire(port, paths, 300, args.clients)
        before = rss_mb(worker)
        started = time.monotonic()
        errors, statuses = fire(port, paths, args.requests, args.clients)
        seconds = time.monotonic() - started
        after = rss_mb(worker)
        assert children(server.pid) == [worker], "the worker was replaced during the run"
        print(f"one sync worker, {args.requests:,} mixed GET requests over {len(paths)} addresses from "
              f"{args.clients} clients in {seconds:.1f} s ({args.requests / seconds:.0f}/s); statuses {statuses}; "
              f"errors {errors}")
        print(f"worker memory (RSS): {before:.1f} MB after warm-up, {after:.1f} MB after the run "
              f"({after - before:+.1f} MB); load average {os.getloadavg()[0]:.1f}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
