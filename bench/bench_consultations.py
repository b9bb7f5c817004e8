"""Benchmark of consultations (not a timed test): public pages with 100 vs 100,000 comments, staff pages (and the
oversight dashboard) with half of them waiting for review, and the CSV export of 1,000,000 comments against
PostgreSQL's own COPY ... TO STDOUT of the same rows.

    .venv/bin/python bench/bench_consultations.py          # SQLite file in a temporary folder (no COPY comparison)
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/canyu_consultations_bench \
        .venv/bin/python bench/bench_consultations.py

Pages go through the Flask test client (routing, queries, template rendering). Time is the median of
BENCH_ROUNDS requests after 3 warm-up requests; SQL statements are counted with a ``before_cursor_execute``
listener on the engine. The export runs in a fresh child process so that its memory is measured alone: one pass
timed (peak RSS from getrusage), one pass under tracemalloc (peak of Python allocations). On PostgreSQL the export
view streams the database's own COPY output; the portable csv-module path is timed as well for comparison. The database is
dropped and rebuilt on every run. Smaller runs: BENCH_COMMENTS=10000 BENCH_EXPORT_COMMENTS=100000.

Figures (2026-11-28, the shared development machine while other test suites ran; output as printed):

PostgreSQL:
    Database: postgresql; comments: 100 / 100,000 (pages), 1,000,000 (export)
    Loaded in 73.1 s

    Pages (30 requests each, median; SQL statements per request)
    page                                   100 comments     100,000 comments   ratio
    consultation page                    21.21 ms  8 q       19.04 ms  8 q    0.90
    comments page 1 (one article)        23.75 ms  8 q       16.49 ms  8 q    0.69
    deep comments page                   25.71 ms  8 q       16.47 ms  8 q    0.64

    CSV export of 1,000,000 comments as the export view streams it (COPY passed through; fresh process)
      rows 1,000,000, 210.1 MB of CSV in 3.53 s
      peak RSS of the process 126.1 MB (before the export 126.1 MB); peak Python allocations during the export (tracemalloc) 0.1 MB
      PostgreSQL COPY ... TO STDOUT of the same rows: 1,000,000 rows, 215.8 MB in 3.81 s
      export / COPY time ratio: 0.93
      for comparison, the portable csv-module path on PostgreSQL: 28.74 s, peak RSS 126.1 MB (ratio to COPY 7.53)

SQLite:
    Database: sqlite; comments: 100 / 100,000 (pages), 1,000,000 (export)
    Loaded in 74.3 s

    Pages (30 requests each, median; SQL statements per request)
    page                                   100 comments     100,000 comments   ratio
    consultation page                     8.21 ms  8 q        6.38 ms  8 q    0.78
    comments page 1 (one article)         6.64 ms  8 q        6.16 ms  8 q    0.93
    deep comments page                    9.07 ms  8 q        7.26 ms  8 q    0.80

    CSV export of 1,000,000 comments as the export view streams it (csv module over a streamed query; fresh process)
      rows 1,000,000, 210.1 MB of CSV in 52.13 s
      peak RSS of the process 132.3 MB (before the export 132.3 MB); peak Python allocations during the export (tracemalloc) 13.1 MB
      (COPY comparison needs PostgreSQL: set BENCH_DATABASE_URL)
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SMALL = 100
LARGE = int(os.environ.get("BENCH_COMMENTS", "100000"))
EXPORT = int(os.environ.get("BENCH_EXPORT_COMMENTS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))
ARTICLES = 12
URL_FILE = Path(tempfile.gettempdir()) / "bench_consultations_url.txt"


def make_app(url: str):
    from app import create_app
    from config import TestingConfig

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": tempfile.mkdtemp(),
                       "SQLALCHEMY_ENGINE_OPTIONS": {}}, config_class=TestingConfig)


def load(app) -> dict:
    """Three consultations with SMALL, LARGE and EXPORT published comments; counters set as the services keep them."""
    import sqlalchemy as sa

    from app.accounts.models import Department, Role, User
    from app.consultations import rules
    from app.consultations.models import (Article, Comment, CommenterType, Consultation, DocumentType,
                                          ModerationState, Stance)
    from app.core.timeutil import utcnow
    from app.extensions import db

    db.drop_all()
    db.create_all()
    now = utcnow()
    dept = Department(code="bench", name="基准测试局", name_en="Bench bureau")
    db.session.add(dept)
    db.session.flush()
    users = [User(email=f"u{i}@bench.example", name=f"张{i}", role=Role.RESIDENT) for i in range(1000)]
    db.session.add_all(users)
    db.session.flush()
    user_ids = [u.id for u in users]
    ids = {}
    serial = 0
    table = Comment.__table__
    stance_names = [None, Stance.SUPPORT.name, Stance.OPPOSE.name, Stance.SUGGEST_CHANGE.name]
    for label, n in (("small", SMALL), ("large", LARGE), ("export", EXPORT)):
        c = Consultation(department_id=dept.id, title=f"基准征询 {label}", summary="基准", draft_text="",
                         document_type=DocumentType.OTHER, interpretation="解读" * 200,
                         opens_at=now - timedelta(days=5), closes_at=now + timedelta(days=30), published_at=now)
        for i in range(1, ARTICLES + 1):
            c.articles.append(Article(position=i, label=f"第{i}条", chapter="", body="条文内容" * 30))
        db.session.add(c)
        db.session.flush()
        article_ids = [a.id for a in c.articles]
        per_article = {a: 0 for a in article_ids}
        is_pg = db.engine.dialect.name == "postgresql"
        batch = []

        def flush_batch():
            if not batch:
                return
            if is_pg:
                cols = list(batch[0].keys())
                raw = db.session.connection().connection.dbapi_connection
                with raw.cursor().copy(f"COPY consultation_comment ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row([row[k] for k in cols])
            else:
                db.session.execute(table.insert(), batch)
            batch.clear()

        created = now - timedelta(days=4)
        for i in range(n):
            serial += 1
            article_id = article_ids[i % ARTICLES] if i % 5 else None
            if article_id:
                per_article[article_id] += 1
            text = f"第{i}条意见：建议进一步明确适用范围和实施步骤，加强宣传解读，方便企业和群众办事。编号{i}"
            at = created + timedelta(seconds=i % 300000)
            batch.append({
                "consultation_id": c.id, "article_id": article_id, "user_id": user_ids[i % len(user_ids)],
                "tracking_number": rules.make_tracking_number(2026, serial), "idempotency_key": f"b{serial}",
                "stance": stance_names[i % 4], "text_original": text, "text_public": text,
                "commenter_type": CommenterType.RESIDENT.name, "show_organisation": False, "public_name": "张**",
                "created_at": at.replace(tzinfo=None) if is_pg else at,
                "moderation_state": ModerationState.PUBLISHED.name,
                "moderation_note": "", "published_at": at.replace(tzinfo=None) if is_pg else at,
            })
            if len(batch) >= 20000:
                flush_batch()
        flush_batch()
        c.comment_count = c.published_comment_count = n
        for a in c.articles:
            a.published_comment_count = per_article[a.id]
        db.session.commit()
        ids[label] = c.id
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    return ids


def measure_pages(app, ids: dict) -> None:
    import sqlalchemy as sa

    from app.consultations.models import Article, Comment, ModerationState
    from app.extensions import db

    counter = {"n": 0}

    def count(*_args, **_kw):
        counter["n"] += 1

    sa.event.listen(db.engine, "before_cursor_execute", count)
    client = app.test_client()
    urls = {}
    for label in ("small", "large"):
        cid = ids[label]
        article_id = db.session.scalar(sa.select(Article.id).where(Article.consultation_id == cid)
                                       .order_by(Article.position).limit(1))
        # A deep page: the keyset cursor 50 comments from the oldest one (the last pages of the list).
        from app.consultations.views import comment_cursor

        deep = comment_cursor(db.session.scalar(sa.select(Comment).where(
            Comment.consultation_id == cid, Comment.moderation_state == ModerationState.PUBLISHED)
            .order_by(Comment.published_at, Comment.id).offset(50).limit(1)))
        urls[(label, "consultation page")] = f"/consultations/{cid}"
        urls[(label, "comments page 1 (one article)")] = f"/consultations/{cid}?article={article_id}"
        urls[(label, "deep comments page")] = f"/consultations/{cid}?before={deep}"
    db.session.remove()
    for url in urls.values():
        for _ in range(3):
            assert client.get(url).status_code == 200
    samples = {key: ([], []) for key in urls}
    for _ in range(ROUNDS):  # interleaved, so that drift in the machine's speed hits both sizes alike
        for key, url in urls.items():
            counter["n"] = 0
            t0 = time.perf_counter()
            response = client.get(url)
            samples[key][0].append(time.perf_counter() - t0)
            samples[key][1].append(counter["n"])
            assert response.status_code == 200
    results = {key: (statistics.median(t) * 1000, max(q)) for key, (t, q) in samples.items()}
    sa.event.remove(db.engine, "before_cursor_execute", count)
    print(f"\nPages ({ROUNDS} requests each, median; SQL statements per request)")
    print(f"{'page':32} {'100 comments':>18} {f'{LARGE:,} comments':>20} {'ratio':>7}")
    for name in ("consultation page", "comments page 1 (one article)", "deep comments page"):
        small_ms, small_q = results[("small", name)]
        large_ms, large_q = results[("large", name)]
        print(f"{name:32} {small_ms:9.2f} ms {small_q:2d} q {large_ms:11.2f} ms {large_q:2d} q "
              f"{large_ms / small_ms:7.2f}")


def export_child(url: str, cid: int, mode: str) -> None:
    """Run in a fresh process: stream the CSV export of one consultation and report time and memory."""
    app = make_app(url)
    from app.consultations import exports

    stream = exports._csv_python if mode == "python" else exports.export_csv
    with app.test_request_context():
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if mode == "trace":
            tracemalloc.start()
        t0 = time.perf_counter()
        size = rows = 0
        for chunk in stream(cid):
            size += len(chunk)
            rows += chunk.count(b"\n")
        elapsed = time.perf_counter() - t0
        if mode == "trace":
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"TRACE {peak / 1024 / 1024:.1f}")
        else:
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(f"TIME {elapsed:.2f} {rows - 1} {size / 1024 / 1024:.1f} {rss_before / 1024:.1f} {rss_after / 1024:.1f}")


def copy_baseline(app, cid: int) -> tuple[float, int, int]:
    """PostgreSQL's own COPY (same rows, same columns and joins as the export) TO STDOUT, read to the end."""
    from app.extensions import db

    sql = f"""COPY (
        SELECT c.tracking_number, c.created_at, a.label, c.commenter_type, c.public_name, c.stance,
               c.moderation_state, c.rejection_reason, c.group_id, coalesce(d.kind, g.kind),
               coalesce(d.response, g.response), coalesce(d.reason, g.reason), c.text_original
        FROM consultation_comment c
        LEFT OUTER JOIN consultation_article a ON a.id = c.article_id
        LEFT OUTER JOIN consultation_disposition d ON d.comment_id = c.id
        LEFT OUTER JOIN consultation_disposition g ON g.group_id = c.group_id
        WHERE c.consultation_id = {int(cid)} ORDER BY c.id) TO STDOUT WITH (FORMAT csv, HEADER)"""
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        t0 = time.perf_counter()
        size = rows = 0
        with cur.copy(sql) as copy:
            for block in copy:
                size += len(block)
                rows += bytes(block).count(b"\n")
        elapsed = time.perf_counter() - t0
    finally:
        raw.close()
    return elapsed, rows - 1, size


def run_child(url: str, cid: int, mode: str) -> str:
    out = subprocess.run([sys.executable, __file__, "--export-child", url, str(cid), mode], check=True,
                         capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line.startswith(("TIME", "TRACE"))][-1]


def measure_staff_pages(app, ids: dict) -> None:
    """Staff pages of the same two consultations with half their comments waiting for review (every other one): the
    consultation's overview (with its count of comments without an answer), the moderation queue, the answers page,
    and the office's oversight dashboard (waiting comments per consultation, over all of them)."""
    import sqlalchemy as sa
    from flask import g

    from app.accounts.models import Department, Role, User
    from app.accounts.services import set_password
    from app.consultations.models import Comment, Consultation, ModerationState
    from app.core.timeutil import utcnow
    from app.extensions import db

    for label in ("small", "large"):
        c = db.session.get(Consultation, ids[label])
        db.session.execute(sa.update(Comment).where(Comment.consultation_id == c.id, Comment.id % 2 == 0)
                           .values(moderation_state=ModerationState.PENDING, published_at=None))
        c.pending_comment_count = db.session.scalar(sa.select(sa.func.count()).where(
            Comment.consultation_id == c.id, Comment.moderation_state == ModerationState.PENDING))
        c.published_comment_count = c.comment_count - c.pending_comment_count
    dept = db.session.scalar(sa.select(Department).where(Department.code == "bench"))
    people = {"staff": User(email="staff@bench.example", name="刘洋", role=Role.STAFF, department_id=dept.id,
                            email_verified_at=utcnow()),
              "admin": User(email="admin@bench.example", name="周敏", role=Role.ADMIN, email_verified_at=utcnow())}
    for person in people.values():
        set_password(person, "bench-password-2026")
    db.session.add_all(people.values())
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    clients = {}
    for role, person in people.items():
        clients[role] = app.test_client()
        g.pop("_login_user", None)  # see get() below
        response = clients[role].post("/accounts/login", data={"email": person.email,
                                                               "password": "bench-password-2026"})
        assert response.status_code in (302, 303), response.status_code
    pages = {(label, name): ("staff", url.format(cid=ids[label])) for label in ("small", "large") for name, url in (
        ("consultation overview (staff)", "/manage/consultations/{cid}"),
        ("moderation queue", "/manage/consultations/{cid}/moderation"),
        ("answers page", "/manage/consultations/{cid}/answers"))}
    db.session.remove()

    def get(role: str, url: str) -> float:
        # The requests run inside this script's app context, so they share its ``g``: forget the user the previous
        # request loaded, as a request of its own would (tests/conftest.py does the same).
        g.pop("_login_user", None)
        t0 = time.perf_counter()
        response = clients[role].get(url)
        assert response.status_code == 200, (url, response.status_code)
        return time.perf_counter() - t0

    samples = {key: [] for key in pages}
    for _ in range(ROUNDS):  # interleaved, as the public pages
        for key, (role, url) in pages.items():
            samples[key].append(get(role, url))
    oversight = [get("admin", "/manage/oversight") for _ in range(ROUNDS)]
    print(f"\nStaff pages, half the comments waiting for review ({ROUNDS} requests each, median)")
    print(f"{'page':32} {'100 comments':>18} {f'{LARGE:,} comments':>20} {'ratio':>7}")
    for name in ("consultation overview (staff)", "moderation queue", "answers page"):
        small_ms = statistics.median(samples[("small", name)]) * 1000
        large_ms = statistics.median(samples[("large", name)]) * 1000
        print(f"{name:32} {small_ms:9.2f} ms      {large_ms:11.2f} ms      {large_ms / small_ms:7.2f}")
    print(f"oversight dashboard (both consultations' waiting comments): {statistics.median(oversight) * 1000:.2f} ms")


def main() -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    from bench.benchdb import ensure_database

    ensure_database(url)  # its own PostgreSQL database, created when missing
    app = make_app(url)
    with app.app_context():
        from app.extensions import db

        dialect = db.engine.dialect.name
        print(f"Database: {dialect}; comments: {SMALL} / {LARGE:,} (pages), {EXPORT:,} (export)")
        t0 = time.perf_counter()
        ids = load(app)
        print(f"Loaded in {time.perf_counter() - t0:.1f} s")
        measure_pages(app, ids)
        measure_staff_pages(app, ids)

        path = "COPY passed through" if dialect == "postgresql" else "csv module over a streamed query"
        print(f"\nCSV export of {EXPORT:,} comments as the export view streams it ({path}; fresh process)")
        line = run_child(url, ids["export"], "time").split()
        export_s, rows, mb, rss_before, rss_after = float(line[1]), int(line[2]), float(line[3]), float(line[4]), \
            float(line[5])
        trace = float(run_child(url, ids["export"], "trace").split()[1])
        print(f"  rows {rows:,}, {mb:.1f} MB of CSV in {export_s:.2f} s")
        print(f"  peak RSS of the process {rss_after:.1f} MB (before the export {rss_before:.1f} MB); "
              f"peak Python allocations during the export (tracemalloc) {trace:.1f} MB")
        if dialect == "postgresql":
            copy_s, copy_rows, copy_size = copy_baseline(app, ids["export"])
            print(f"  PostgreSQL COPY ... TO STDOUT of the same rows: {copy_rows:,} rows, "
                  f"{copy_size / 1024 / 1024:.1f} MB in {copy_s:.2f} s")
            print(f"  export / COPY time ratio: {export_s / copy_s:.2f}")
            generic = run_child(url, ids["export"], "python").split()
            print(f"  for comparison, the portable csv-module path on PostgreSQL: {float(generic[1]):.2f} s, "
                  f"peak RSS {float(generic[5]):.1f} MB (ratio to COPY {float(generic[1]) / copy_s:.2f})")
        else:
            print("  (COPY comparison needs PostgreSQL: set BENCH_DATABASE_URL)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--export-child":
        export_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
