"""The floor for bench_comment_intake.py: a bare Flask app doing the same INSERT a comment does, and nothing else.

No sign-in, no CSRF, no form, no template, no mail, no counter: one connection from a pool, one INSERT of a comment
row with the same columns and values a real comment has, one commit. gunicorn serves it as ``intake_floor:app``.
"""
from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import Flask, request

engine = sa.create_engine(os.environ["DATABASE_URL"], pool_size=5, pool_pre_ping=False)
comments = sa.Table("consultation_comment", sa.MetaData(), autoload_with=engine)
app = Flask(__name__)


@app.post("/floor/<int:consultation_id>/<int:user_id>")
def insert(consultation_id: int, user_id: int):
    text = request.form.get("text", "")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(comments.insert().values(
            consultation_id=consultation_id, user_id=user_id, tracking_number="F" + secrets.token_hex(6).upper(),
            idempotency_key=secrets.token_hex(16), text_original=text, text_public=text, commenter_type="RESIDENT",
            show_organisation=False, public_name="某*", created_at=now, moderation_state="PENDING",
            moderation_note=""))
    return "", 303, {"Location": "/done"}
