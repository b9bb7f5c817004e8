"""Benchmark: the API's comment list with 100,000 published comments, first page and a deep keyset page, and the
lists of one consultation and of one department (the one department holds all of them, and one consultation half:
the filters whose matching comments a database may have to sort).

    .venv/bin/python bench/bench_api.py                       # SQLite file in a temporary folder
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/canyu_bench .venv/bin/python bench/bench_api.py

Prints the median time per request (through the Flask test client, JSON rendering included).
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

COMMENTS = int(os.environ.get("BENCH_COMMENTS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "50"))


def main() -> None:
    import sqlalchemy as sa

    from app import create_app
    from app.accounts.models import Department, User
    from app.consultations.models import (Comment, CommenterType, Consultation, DocumentType, FeedbackReport,
                                          ModerationState)
    from app.core.timeutil import utcnow
    from app.extensions import db
    from config import TestingConfig

    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    from bench.benchdb import ensure_database

    ensure_database(url)  # its own PostgreSQL database, created when missing
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": tempfile.mkdtemp()}, config_class=TestingConfig)
    with app.app_context():
        db.drop_all()
        db.create_all()
        now = utcnow()
        dept = Department(code="bench", name="基准测试局", name_en="Bench bureau")
        user = User(email="bench@example.com", name="王芳", email_verified_at=now)
        db.session.add_all([dept, user])
        db.session.flush()
        consultations = []
        for n in range(20):
            c = Consultation(department_id=dept.id, title=f"基准征询{n}", document_type=DocumentType.OTHER,
                             opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=30),
                             published_at=now - timedelta(days=60))
            db.session.add(c)
            consultations.append(c)
        db.session.flush()
        for c in consultations[::2]:
            db.session.add(FeedbackReport(consultation_id=c.id, published_at=now - timedelta(days=5)))
        db.session.commit()
        t0 = time.perf_counter()
        batch = []
        for i in range(COMMENTS):
            text = f"关于第{i % 40}条的意见：建议进一步明确适用范围和执行标准。编号{i}"
            # Half of them on one consultation (the busiest), the other half spread over all twenty.
            busy = consultations[3] if i % 2 == 0 else consultations[i % 20]
            batch.append({"consultation_id": busy.id, "user_id": user.id,
                          "tracking_number": f"B{i:012d}", "idempotency_key": f"bench-{i}",
                          "text_original": text, "text_public": text, "commenter_type": CommenterType.RESIDENT,
                          "public_name": "王**", "created_at": now, "moderation_state": ModerationState.PUBLISHED,
                          "published_at": now, "show_organisation": False, "moderation_note": ""})
            if len(batch) == 5000:
                db.session.execute(sa.insert(Comment), batch)
                batch = []
        if batch:
            db.session.execute(sa.insert(Comment), batch)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("ANALYZE"))  # fresh statistics after the bulk load, as autovacuum would
        print(f"database: {db.engine.dialect.name}; {COMMENTS} published comments inserted in "
              f"{time.perf_counter() - t0:.1f} s")
        some_consultation, quiet_consultation = consultations[3].id, consultations[5].id
        counts = dict(db.session.execute(sa.select(Comment.consultation_id, sa.func.count())
                                         .group_by(Comment.consultation_id)).all())
        deep_id = db.session.scalar(sa.select(Comment.id).order_by(Comment.id).offset(50).limit(1))

    from app.api.core import encode_cursor

    client = app.test_client()
    cases = {
        "first page (limit 20)": "/api/v1/comments?limit=20",
        "deep page (limit 20, cursor near the last comment)": f"/api/v1/comments?limit=20&cursor={encode_cursor([deep_id])}",
        "first page (limit 100)": "/api/v1/comments?limit=100",
        "deep page (limit 100)": f"/api/v1/comments?limit=100&cursor={encode_cursor([deep_id + 60])}",
        f"one consultation's comments (the busiest: {counts[some_consultation]:,}), first page":
            f"/api/v1/comments?consultation={some_consultation}&limit=20",
        f"one consultation's comments ({counts[quiet_consultation]:,}), first page":
            f"/api/v1/comments?consultation={quiet_consultation}&limit=20",
        "one department's comments (all), first page": "/api/v1/comments?department=bench&limit=20",
        "consultations list": "/api/v1/consultations?limit=20",
    }
    for name, path in cases.items():
        assert client.get(path).status_code == 200, path  # warm-up
        times = []
        for _ in range(ROUNDS):
            t = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200
        print(f"{name}: median {statistics.median(times):.2f} ms, p95 "
              f"{sorted(times)[int(len(times) * 0.95) - 1]:.2f} ms over {ROUNDS} requests "
              f"({len(response.get_json()['items'])} items)")


if __name__ == "__main__":
    main()
