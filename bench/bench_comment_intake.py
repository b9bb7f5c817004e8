"""Benchmark: comment intake on PostgreSQL against its floor, a bare INSERT, in the same run.

    .venv/bin/python bench/bench_comment_intake.py                 # 64 clients, 2,000 comments, 2 workers
    .venv/bin/python bench/bench_comment_intake.py --comments 3000 --rounds 3   # medians of 3 alternating rounds

What it does:
1. Empties its OWN PostgreSQL database (default canyu_intake_bench; created when missing) and creates the tables,
   one open consultation and one verified resident per comment, each signed in the way a browser is (a Flask session
   cookie signed with the app's SECRET_KEY holding the user id and a CSRF token).
2. Canyu: gunicorn (production settings, CSRF on, rate limits off as for a load test) with WORKERS sync workers;
   CLIENTS httpx asyncio clients post the comment form (text, article, idempotency key), as a browser does.
3. The floor: the same gunicorn and clients against bench/intake_floor.py, a bare Flask app doing only the INSERT a
   comment row needs and a commit.
4. With --rounds N, steps 2 and 3 alternate N times in the same window (each Canyu round posts new comments).
5. Prints requests/s and p50/p99 of both for each round, the medians and the ratio; checks that every comment Canyu
   accepted is in the database (0 lost) and that the kept comment count equals the rows.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench_openday import USER_AGENT, free_port, wait_for  # noqa: E402
from benchdb import ensure_database  # noqa: E402

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/canyu_intake_bench"
TEXT = "建议在第三条中明确社区停车位的分配办法，优先保障老年人和残疾人的需要，并公开分配结果。" * 3


def pct(vals: list[float], p: int) -> float:
    k = max(1, -(-len(vals) * p // 100))
    return vals[int(k) - 1]


def prepare(db_url: str, secret: str, users: int) -> tuple[int, int, list[tuple[int, str, str]]]:
    """Fresh tables, one open consultation with one article, ``users`` residents: (consultation, article, creds)."""
    os.environ.update(DATABASE_URL=db_url, SECRET_KEY=secret, RATELIMIT_ENABLED="0", SESSION_COOKIE_SECURE="0")
    os.environ.setdefault("BASE_URL", "http://127.0.0.1")
    import sqlalchemy as sa
    from flask import g, session as flask_session
    from flask_login.utils import _create_identifier
    from flask_wtf.csrf import generate_csrf

    from app import create_app
    from app.accounts import sessions as user_sessions
    from app.accounts.models import Department, Role, User
    from app.consultations.models import Article, Consultation, DocumentType
    from app.core.timeutil import utcnow
    from app.extensions import db
    from config import ProductionConfig

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url}, config_class=ProductionConfig)
    with app.app_context():
        db.drop_all()
        db.create_all()
        dept = Department(code="bench", name="压测局", name_en="Bench bureau")
        db.session.add(dept)
        db.session.flush()
        now = utcnow()
        c = Consultation(department_id=dept.id, title="基准征询", summary="基准", draft_text="",
                         document_type=DocumentType.OTHER, interpretation="解读",
                         opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=30), published_at=now)
        c.articles.append(Article(position=1, label="第一条", chapter="", body="条文内容"))
        db.session.add(c)
        db.session.execute(sa.insert(User), [
            {"email": f"intake{i:05d}@example.com", "name": f"压测{i}", "role": Role.RESIDENT, "locale": "zh",
             "email_verified_at": now, "created_at": now} for i in range(users)])
        db.session.commit()
        cid, aid = c.id, c.articles[0].id
        serializer = app.session_interface.get_signing_serializer(app)
        creds = []
        users = db.session.scalars(sa.select(User).order_by(User.id)).all()
        for user in users:  # signed in as a browser is: a server-side session row each (app/accounts/sessions.py)
            user_sessions.start(user, now=now)
        ids = [(user.id, user.get_id()) for user in users]
        db.session.commit()
        for user_id, login_id in ids:
            with app.test_request_context("/", headers={"User-Agent": USER_AGENT},
                                          environ_base={"REMOTE_ADDR": "127.0.0.1"}):
                flask_session["_user_id"] = login_id
                flask_session["_fresh"] = True
                flask_session["_id"] = _create_identifier()
                g.pop("csrf_token", None)
                token = generate_csrf()
                creds.append((user_id, serializer.dumps(dict(flask_session)), token))
        db.session.remove()
        db.engine.dispose()
    return cid, aid, creds


async def _fire(port: int, requests: list[tuple[str, str, dict]], clients: int):
    latencies: list[float] = []
    errors: list[str] = []
    accepted: list[str] = []
    todo = list(reversed(requests))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60.0) as client:
        async def worker() -> None:
            while todo:
                path, body, headers = todo.pop()
                started = time.perf_counter()
                try:
                    resp = await client.post(path, content=body, headers=headers)
                    location = resp.headers.get("location", "")
                    if resp.status_code == 303 or (resp.status_code == 302 and "/consultations/track/" in location):
                        accepted.append(location)
                    else:
                        errors.append(f"{resp.status_code} {location}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {"req_per_s": len(latencies) / wall, "p50_ms": pct(latencies, 50) * 1000, "p99_ms": pct(latencies, 99) * 1000,
            "errors": errors, "accepted": accepted}


def serve(app_spec: str, env: dict, workers: int, cwd: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--backlog", "2048", "--log-level", "warning", app_spec],
        cwd=str(cwd), env=env, start_new_session=True, stderr=subprocess.DEVNULL)
    return server, port


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--comments", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1, help="Canyu then the floor, this many times (medians)")
    args = parser.parse_args()
    if not args.database_url.rstrip("/").endswith("_bench"):
        raise SystemExit("refusing to empty a database whose name does not end in _bench")
    ensure_database(args.database_url)
    secret = secrets.token_hex(32)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average before: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; {args.comments} comments "
          f"from {args.clients} httpx clients; gunicorn {args.workers} sync workers", flush=True)
    cid, aid, creds = prepare(args.database_url, secret, args.comments)
    # prepare() built the app here, which set up its JSON logging: httpx would log every request of the client.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    env = dict(os.environ, DATABASE_URL=args.database_url, SECRET_KEY=secret, CANYU_ENV="production",
               SESSION_COOKIE_SECURE="0", RATELIMIT_ENABLED="0", COMMENT_ACCOUNT_LIMIT="1000")

    def canyu_requests() -> list:  # new idempotency keys each round: every request is a new comment
        out = []
        for _uid, cookie, token in creds:
            body = urlencode({"csrf_token": token, "idempotency_key": uuid.uuid4().hex, "article_id": str(aid),
                              "stance": "", "text": TEXT})
            out.append((f"/consultations/{cid}/comments", body, {
                "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"session={cookie}",
                "User-Agent": USER_AGENT}))
        return out

    floor_requests = [(f"/floor/{cid}/{uid}", urlencode({"text": TEXT}),
                       {"Content-Type": "application/x-www-form-urlencoded"}) for uid, _c, _t in creds]

    rounds = []  # per round: {"Canyu": result, "floor (bare INSERT)": result}, alternating in one window
    for _ in range(args.rounds):
        results = {}
        for name, spec, cwd, reqs in (("Canyu", "wsgi:app", ROOT, canyu_requests()),
                                      ("floor (bare INSERT)", "intake_floor:app", ROOT / "bench", floor_requests)):
            server, port = serve(spec, env, args.workers, cwd)
            try:
                if name == "Canyu":
                    wait_for(port)
                else:
                    time.sleep(2)
                results[name] = asyncio.run(_fire(port, reqs, args.clients))
            finally:
                stop(server)
        rounds.append(results)

    import sqlalchemy as sa
    engine = sa.create_engine(args.database_url)
    with engine.connect() as conn:
        stored = set(conn.execute(sa.text("SELECT tracking_number FROM consultation_comment "
                                          "WHERE consultation_id = :c AND tracking_number NOT LIKE 'F%'"),
                                  {"c": cid}).scalars())
        kept = conn.execute(sa.text("SELECT comment_count FROM consultation WHERE id = :c"), {"c": cid}).scalar()
    engine.dispose()
    told = {urlsplit(loc).path.rstrip("/").rsplit("/", 1)[-1] for r in rounds for loc in r["Canyu"]["accepted"]}
    lost = len(told - stored)

    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| round | server | requests/s | p50 | p99 | errors |\n| --- | --- | --- | --- | --- | --- |")
    for n, results in enumerate(rounds, 1):
        for name, r in results.items():
            print(f"| {n} | {name} | {r['req_per_s']:.1f} | {r['p50_ms']:,.0f} ms | {r['p99_ms']:,.0f} ms | "
                  f"{len(r['errors'])} |")

    def med(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in rounds)

    c, f = med("Canyu", "req_per_s"), med("floor (bare INSERT)", "req_per_s")
    ratios = [f"{r['Canyu']['req_per_s'] / r['floor (bare INSERT)']['req_per_s']:.2f}×" for r in rounds]
    print(f"Medians of {len(rounds)} round(s): Canyu {c:.1f} requests/s, p99 {med('Canyu', 'p99_ms'):,.0f} ms; floor "
          f"{f:.1f} requests/s, p99 {med('floor (bare INSERT)', 'p99_ms'):,.0f} ms; Canyu / floor: {c / f:.2f}× the "
          f"requests/s (rounds: {', '.join(ratios)})")
    print(f"accepted {len(told)}, stored {len(stored)}, lost {lost}; kept count {kept} = rows {len(stored)}: "
          f"{kept == len(stored)}")
    errors = [e for r in rounds for e in r["Canyu"]["errors"]]
    for e in errors[:3]:
        print(f"  e.g. {e}")
    return 0 if lost == 0 and not errors and kept == len(stored) else 1


if __name__ == "__main__":
    raise SystemExit(main())
