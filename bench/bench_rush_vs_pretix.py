"""Side by side: Canyu's Open Month sign-up rush against pretix's order rush, alternating, in one window.

    .venv/bin/python bench/bench_rush_vs_pretix.py                  # 2 rounds, 2,000 attempts, 100 clients, 100 seats
    .venv/bin/python bench/bench_rush_vs_pretix.py --rounds 3 --workers 3

Both sides get the same shape: ATTEMPTS sign-ups for SEATS seats from CLIENTS concurrent clients, gunicorn with
WORKERS sync workers, PostgreSQL, and the same kind of client (httpx with asyncio: one AsyncClient, CLIENTS tasks, each
sending one request at a time, as the peer's rush.py does), and the same warm-up first: the peer's rush.py sends 8
simulated orders before its rush, and each server here gets 8 sign-ups (for another session, by people not in the
rush) before its rush, not counted. Each round runs Canyu first, then pretix (the peer's own
run.sh, RUNS=1, with its private PostgreSQL cluster on 127.0.0.1:5544), then a do-nothing WSGI app
(bench/rush_ceiling_app.py: reads the form, answers the redirect) under the same gunicorn and clients, which shows
what this machine allows any server with this client; the table prints every round, then the medians and the
ratios Canyu/pretix and Canyu/do-nothing. Canyu's database is its own (canyu_openday_bench on the PostgreSQL server at
127.0.0.1:5432) and is emptied each round.

The peer lives in ../shared/peers/pretix (set PEER_DIR to move it); its first run installs pretix into
/tmp/pretix-peer (minutes).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from bench.benchdb import ensure_database  # noqa: E402
from bench_openday import DEFAULT_DB, USER_AGENT, count_states, free_port, prepare, wait_for  # noqa: E402

PEER_DIR = Path(os.environ.get("PEER_DIR", ROOT.parent / "shared" / "peers" / "pretix"))
PEER_STATE = Path(os.environ.get("STATE", "/tmp/pretix-peer"))
SERVER_LOG = Path(os.environ.get("SERVER_LOG", "/tmp/canyu-rush-server.log"))


def pct(sorted_vals: list[float], p: int) -> float:
    """Nearest-rank percentile, as the peer's rush.py computes it."""
    k = max(1, -(-len(sorted_vals) * p // 100))
    return sorted_vals[int(k) - 1]


async def _rush(port: int, session_id: int, creds, clients: int) -> tuple[float, list[float], dict, list[str]]:
    path = f"/openday/sessions/{session_id}/sign-up"
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: list[float] = []
    outcomes = {"ok": 0, "errors": 0}
    samples: list[str] = []
    todo = list(reversed(creds))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                 timeout=httpx.Timeout(60.0)) as client:
        async def worker() -> None:
            while todo:
                cookie, token = todo.pop()
                body = urlencode({"csrf_token": token, f"s{session_id}-companions": "0"})
                started = time.perf_counter()
                try:
                    resp = await client.post(path, content=body, headers={
                        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"session={cookie}",
                        "User-Agent": USER_AGENT})
                    location = resp.headers.get("location", "")
                    ok = resp.status_code == 302 and "/openday/tickets/" in location
                    note = f"{resp.status_code} {location}"
                except httpx.HTTPError as exc:
                    ok, note = False, repr(exc)
                latencies.append(time.perf_counter() - started)
                outcomes["ok" if ok else "errors"] += 1
                if not ok and len(samples) < 5:
                    samples.append(note)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return wall, latencies, outcomes, samples


# As the peer's rush.py does before its rush (8 simulated orders, not counted): requests that warm both workers (their
# first statements compiled and prepared), here real sign-ups for another session of the same activity, by people
# who are not in the rush.
WARM = 8


def _warm_up_session(db_url: str, session_id: int) -> int:
    """A second session of the rush's activity, a day later, for the warm-up's sign-ups."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        warm_id = conn.execute(sa.text(
            "INSERT INTO openday_session (activity_id, starts_at, ends_at, capacity, has_waitlist, confirmed_seats, "
            "offered_seats, waitlist_count, waitlist_tail, checked_in_count, no_show_count, cancelled_count, "
            "rating_count, rating_sum) SELECT activity_id, starts_at + interval '1 day', ends_at + interval '1 day', "
            "capacity, has_waitlist, 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM openday_session WHERE id = :s RETURNING id"),
            {"s": session_id}).scalar_one()
    engine.dispose()
    return warm_id


def _warm_up(port: int, session_id: int, creds) -> None:
    """The warm-up's sign-ups, one at a time; each must be accepted."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0) as client:
        for cookie, token in creds:
            resp = client.post(f"/openday/sessions/{session_id}/sign-up",
                               content=urlencode({"csrf_token": token, f"s{session_id}-companions": "0"}),
                               headers={"Content-Type": "application/x-www-form-urlencoded",
                                        "Cookie": f"session={cookie}", "User-Agent": USER_AGENT})
            if resp.status_code != 302:
                raise SystemExit(f"warm-up sign-up answered {resp.status_code}")


# One secret for every round: the app's settings are read once per process, so the cookies prepared for a later
# round must be signed with the same key the gunicorn of that round is given.
SECRET = secrets.token_hex(32)


def run_canyu(args: argparse.Namespace) -> dict:
    secret = SECRET
    session_id, creds = prepare(args.database_url, secret, args.attempts + WARM, args.seats)
    creds, warm = creds[:args.attempts], (_warm_up_session(args.database_url, session_id), creds[args.attempts:])
    # prepare() built the app here, which set up its JSON logging: the client's own per-request lines (httpx logs
    # every request at INFO) would cost this process CPU that the peer's rush.py does not spend.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    env = dict(os.environ, DATABASE_URL=args.database_url, SECRET_KEY=secret, CANYU_ENV="production",
               SESSION_COOKIE_SECURE="0", RATELIMIT_ENABLED="0")
    wall, latencies, outcomes, samples = _serve_and_rush("wsgi:app", env, args, session_id, creds, warm)
    counts = count_states(args.database_url, session_id)
    latencies.sort()
    return {"req_per_s": len(latencies) / wall, "p50_ms": pct(latencies, 50) * 1000,
            "p99_ms": pct(latencies, 99) * 1000, "ok": counts.get("confirmed", 0), "errors": outcomes["errors"],
            "consecutive": counts["positions_consecutive"], "samples": samples}


def _serve_and_rush(app: str, env: dict, args: argparse.Namespace, session_id: int, creds, warm=None) -> tuple:
    """Start gunicorn with ``app``, warm it (``warm``: a session id and the credentials of its sign-ups), rush it,
    stop it. The server's log lines (Canyu writes one JSON line per request, as in production) go to SERVER_LOG, not
    over the table."""
    port = free_port()
    with open(SERVER_LOG, "a") as log:
        server = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(args.workers), "--threads", str(args.threads),
             "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning", app],
            cwd=str(ROOT), env=env, start_new_session=True, stdout=log, stderr=log)
    try:
        wait_for(port)
        if warm is not None:
            _warm_up(port, *warm)
        return asyncio.run(_rush(port, session_id, creds, args.clients))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def run_ceiling(args: argparse.Namespace) -> dict:
    """The do-nothing app (bench/rush_ceiling_app.py) under the same gunicorn and clients: the most this machine
    gives any server with this client."""
    creds = [("none", "none")] * args.attempts
    wall, latencies, outcomes, samples = _serve_and_rush("bench.rush_ceiling_app:app", dict(os.environ), args, 1,
                                                         creds, (2, [("none", "none")] * WARM))
    latencies.sort()
    return {"req_per_s": len(latencies) / wall, "p50_ms": pct(latencies, 50) * 1000,
            "p99_ms": pct(latencies, 99) * 1000, "ok": "(none to confirm)", "errors": outcomes["errors"],
            "consecutive": None, "samples": samples}


def same_client_stack() -> None:
    """Give the peer's client what ours has: httpcore retries `import sniffio` on every request when it is missing
    (16% of a client's CPU), so both venvs get the sniffio that requirements-dev.txt pins. On a fresh machine the
    peer is installed first by one small run of its run.sh (not counted)."""
    python = PEER_STATE / "venv" / "bin" / "python"
    if not python.exists():
        print("installing the peer (one small run of its run.sh, not counted; minutes)", flush=True)
        subprocess.run(["bash", str(PEER_DIR / "run.sh")], env=dict(os.environ, RUNS="1", ATTEMPTS="50",
                       STATE=str(PEER_STATE)), capture_output=True, text=True)
    if subprocess.run([str(python), "-c", "import sniffio"], capture_output=True).returncode != 0:
        pin = next(line.strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
                   if line.startswith("sniffio=="))
        print(f"the peer's client gets {pin} too (same client stack on both sides)", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", pin], check=True)


def run_pretix(args: argparse.Namespace) -> dict:
    results = PEER_STATE / "results.jsonl"
    before = results.read_text().count("\n") if results.exists() else 0
    env = dict(os.environ, RUNS="1", ATTEMPTS=str(args.attempts), CONCURRENCY=str(args.clients),
               QUOTA=str(args.seats), WORKERS=str(args.workers), STATE=str(PEER_STATE))
    proc = subprocess.run(["bash", str(PEER_DIR / "run.sh")], env=env, capture_output=True, text=True)
    lines = results.read_text().splitlines() if results.exists() else []
    if len(lines) <= before:
        raise SystemExit(f"pretix's run.sh gave no result (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    res = json.loads(lines[-1])
    return {"req_per_s": res["req_per_s"], "p50_ms": res["p50_ms"], "p99_ms": res["p99_ms"],
            "ok": res["created"], "errors": res["other_errors"], "consecutive": None, "samples": []}


def row(name: str, r: dict) -> str:
    return (f"| {name} | {r['req_per_s']:.1f} | {r['p50_ms']:,.0f} ms | {r['p99_ms']:,.0f} ms | {r['ok']} | "
            f"{r['errors']} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per Canyu worker (gunicorn gthread when > 1); pretix keeps its sync workers")
    parser.add_argument("--canyu-only", action="store_true", help="skip pretix (for quick comparisons)")
    parser.add_argument("--no-ceiling", action="store_true",
                        help="skip the do-nothing app's round (bench/rush_ceiling_app.py) that shows this machine's limit")
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument("--clients", type=int, default=100)
    args = parser.parse_args()
    if not args.database_url.rstrip("/").endswith("_bench"):
        raise SystemExit("refusing to empty a database whose name does not end in _bench")
    if ensure_database(args.database_url):  # a fresh machine has none yet
        print(f"Created the database {args.database_url.rsplit('/', 1)[-1]}", flush=True)

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average before: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; {args.attempts} sign-ups for "
          f"{args.seats} seats from {args.clients} httpx clients; gunicorn {args.workers} workers each side "
          f"(Canyu {args.threads} thread(s) per worker)",
          flush=True)
    if not args.canyu_only:
        same_client_stack()
    canyu, pretix, ceiling = [], [], []
    print("| run | requests/s | p50 | p99 | confirmed | errors |\n| --- | --- | --- | --- | --- | --- |", flush=True)
    for n in range(1, args.rounds + 1):
        c = run_canyu(args)
        canyu.append(c)
        print(row(f"Canyu {n}", c), flush=True)
        for note in c["samples"]:
            print(f"  e.g. {note}", flush=True)
        if not args.canyu_only:
            p = run_pretix(args)
            pretix.append(p)
            print(row(f"pretix {n}", p), flush=True)
        if not args.no_ceiling:
            z = run_ceiling(args)
            ceiling.append(z)
            print(row(f"do-nothing app {n}", z), flush=True)

    def med(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    if ceiling:
        print(f"\nCanyu reached {med(canyu, 'req_per_s') / med(ceiling, 'req_per_s'):.2f}× the do-nothing app's "
              f"requests/s ({med(ceiling, 'req_per_s'):.1f}) under the same gunicorn and clients")
    if args.canyu_only:
        return 0
    rc, rp = med(canyu, "req_per_s"), med(pretix, "req_per_s")
    pc, pp = med(canyu, "p99_ms"), med(pretix, "p99_ms")
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("| workers | Canyu req/s | pretix req/s | ratio | Canyu p99 | pretix p99 | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {args.workers} | {rc:.1f} | {rp:.1f} | {rc / rp:.1f}× | {pc:,.0f} ms | {pp:,.0f} ms | {pc / pp:.2f}× |")
    exact = all(c["ok"] == args.seats and c["errors"] == 0 and c["consecutive"] for c in canyu)
    print(f"Canyu: exactly {args.seats} confirmed, 0 errors, waitlist consecutive in every round: {exact}")
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
