"""Instructions per request of the two busiest POSTs, a figure that does not move with the machine's load.

    .venv/bin/python bench/bench_instructions.py                  # sign-up and comment, 60 requests each
    .venv/bin/python bench/bench_instructions.py --only comment --n 100

Wall-clock benchmarks on two shared cores move by a quarter from run to run; an instruction count does not (two runs
of the same code agree within about 1 %). For each path this:
1. prepares the path's own PostgreSQL database as its wall-clock benchmark does (bench_openday.py for the sign-up,
   bench_comment_intake.py for the comment: signed-in people with their cookies and CSRF tokens);
2. runs the app (production settings, CSRF on, rate limits off) in a child process under
   ``valgrind --tool=callgrind`` with counting off, sends WARM requests through Flask's test client, switches counting
   on (``callgrind_control``), sends N more, switches it off;
3. prints the instructions counted divided by N: the app's own work per request with its database round trips, but
   without gunicorn, the HTTP client or PostgreSQL's side.
Needs valgrind (Debian's package).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

SECRET = "instructions-bench-" + "k" * 40
PATHS = ("sign-up", "comment")


def prepare(which: str, n: int) -> dict:
    if which == "sign-up":
        from bench_openday import DEFAULT_DB, prepare as prepare_signups
        session_id, creds = prepare_signups(DEFAULT_DB, SECRET, n, 100)
        return {"db": DEFAULT_DB, "session_id": session_id, "creds": creds}
    from bench_comment_intake import DEFAULT_DB, prepare as prepare_comments
    from benchdb import ensure_database
    ensure_database(DEFAULT_DB)  # its own PostgreSQL database, created when missing (the sign-up's prepare does so)
    consultation_id, article_id, creds = prepare_comments(DEFAULT_DB, SECRET, n)
    return {"db": DEFAULT_DB, "consultation_id": consultation_id, "article_id": article_id, "creds": creds}


def child(which: str, fixtures: dict, warm: int, n: int) -> None:
    """Inside valgrind: the app, WARM requests uncounted, then N counted."""
    os.environ.update(DATABASE_URL=fixtures["db"], SECRET_KEY=SECRET, CANYU_ENV="production",
                      SESSION_COOKIE_SECURE="0", RATELIMIT_ENABLED="0", COMMENT_ACCOUNT_LIMIT="100000")
    os.environ.setdefault("BASE_URL", "http://127.0.0.1")
    from app import create_app
    from bench_comment_intake import TEXT
    from bench_openday import USER_AGENT
    from config import ProductionConfig

    app = create_app({"SQLALCHEMY_DATABASE_URI": fixtures["db"]}, config_class=ProductionConfig)
    logging.getLogger().handlers[:] = [logging.NullHandler()]  # the request log's lines are written, not shown
    client = app.test_client(use_cookies=False)

    def post(cred) -> None:
        if which == "sign-up":
            cookie, token = cred
            sid = fixtures["session_id"]
            path, data, done = (f"/openday/sessions/{sid}/sign-up",
                                {"csrf_token": token, f"s{sid}-companions": "0"}, "/openday/tickets/")
        else:
            _uid, cookie, token = cred
            path, data, done = (f"/consultations/{fixtures['consultation_id']}/comments",
                                {"csrf_token": token, "idempotency_key": uuid.uuid4().hex,
                                 "article_id": str(fixtures["article_id"]), "stance": "", "text": TEXT},
                                "/consultations/track/")
        response = client.post(path, data=data, base_url="http://127.0.0.1",
                               headers={"Cookie": f"session={cookie}", "User-Agent": USER_AGENT})
        if response.status_code not in (302, 303) or done not in response.headers.get("Location", ""):
            raise SystemExit(f"{which}: unexpected answer {response.status_code}")

    creds = iter(fixtures["creds"])
    for _ in range(warm):
        post(next(creds))
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
    for _ in range(n):
        post(next(creds))
    subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)


def measure(which: str, warm: int, n: int) -> float:
    fixtures = prepare(which, warm + n)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "fixtures.json"
        spec.write_text(json.dumps(fixtures))
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={tmp}/callgrind.out",
             sys.executable, __file__, "--child", which, "--fixtures", str(spec), "--warm", str(warm), "--n", str(n)],
            capture_output=True, text=True, cwd=ROOT)
    found = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"{which}: the counted run failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return int(found.group(1)) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=PATHS)
    parser.add_argument("--n", type=int, default=60, help="requests counted per path")
    parser.add_argument("--warm", type=int, default=30, help="requests sent first, not counted")
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--fixtures", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(Path(args.fixtures).read_text()), args.warm, args.n)
        return 0
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for which in ([args.only] if args.only else PATHS):
        per_request = measure(which, args.warm, args.n)
        print(f"{which}: {per_request / 1e6:.2f} M instructions per request ({args.n} counted after {args.warm})",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
