"""What operators rely on: request ids, one JSON log line per request, /metrics (not public), /readyz."""
from __future__ import annotations

import json
import logging

import pytest
from flask_migrate import upgrade

from app import create_app
from app.core.jobruns import SchedulerJobRun
from app.core.observability import JsonFormatter
from app.core.timeutil import utcnow
from app.notifications.models import OutboxEmail, OutboxState
from config import ProductionConfig, TestingConfig


def test_every_response_carries_a_request_id_and_keeps_the_balancers(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first and second and first != second
    given = client.get("/healthz", headers={"X-Request-ID": "lb-0123456789abcdef"})
    assert given.headers["X-Request-ID"] == "lb-0123456789abcdef"
    forged = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert forged.headers["X-Request-ID"] != "<script>alert(1)</script>"


def test_error_pages_show_the_request_id(client):
    response = client.get("/no-such-page?lang=en", headers={"X-Request-ID": "support-case-4711"})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "support-case-4711" in page and "Request ID" in page
    api = client.get("/api/v1/no-such-endpoint", headers={"X-Request-ID": "support-case-4712"})
    assert api.status_code == 404 and api.headers["X-Request-ID"] == "support-case-4712"


def test_one_json_log_line_per_request(client, caplog, monkeypatch, auth, resident):
    # Alembic's logging setup (run in-process by migration tests) disables existing loggers; not so in production.
    monkeypatch.setattr(logging.getLogger("canyu.request"), "disabled", False)
    caplog.set_level(logging.INFO, logger="canyu.request")
    auth.login(resident)
    caplog.clear()
    client.get("/healthz", headers={"X-Request-ID": "log-line-000001"})
    records = [r for r in caplog.records if r.name == "canyu.request"]
    assert len(records) == 1
    line = JsonFormatter().format(records[0])
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "log-line-000001"
    assert entry["status"] == 200 and entry["endpoint"] == "core.healthz" and entry["method"] == "GET"
    assert entry["duration_ms"] >= 0 and entry["user_id"] == resident.id


def test_metrics_are_not_public(client, app):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
    app.config["METRICS_TOKEN"] = "s3cret-token-for-prometheus"
    try:
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"},
                          headers={"Authorization": "Bearer wrong"}).status_code == 404
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"},
                          headers={"Authorization": "Bearer s3cret-token-for-prometheus"}).status_code == 200
    finally:
        app.config["METRICS_TOKEN"] = None
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_metrics_report_requests_outbox_and_scheduler(client, db):
    now = utcnow()
    db.session.add(OutboxEmail(recipient="a@example.com", template="t", subject="s", body_text="b",
                               message_id="<m1@canyu>", state=OutboxState.PENDING, created_at=now))
    db.session.add(OutboxEmail(recipient="b@example.com", template="t", subject="s", body_text="b",
                               message_id="<m2@canyu>", state=OutboxState.FAILED, created_at=now))
    db.session.add(SchedulerJobRun(job="heartbeat", last_started_at=now, last_finished_at=now, last_ok=True))
    db.session.add(SchedulerJobRun(job="app.openday.jobs.expire_offers", last_started_at=now,
                                   last_finished_at=now, last_ok=False))
    db.session.commit()
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'canyu_http_requests_total{endpoint="core.healthz",method="GET",status="200"}' in text
    assert 'canyu_http_request_duration_seconds_bucket{endpoint="core.healthz",le="0.1",method="GET"}' in text
    assert "canyu_outbox_backlog 1.0" in text
    assert "canyu_mail_failed 1.0" in text
    assert 'canyu_scheduler_job_last_run_ok{job="app.openday.jobs.expire_offers"} 0.0' in text
    assert "canyu_scheduler_heartbeat_age_seconds" in text
    assert "canyu_comments_accepted_total 0.0" in text and "canyu_signups_accepted_total 0.0" in text
    assert "canyu_lottery_runs" in text


def test_behind_a_proxy_the_client_address_is_the_forwarded_one(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", "UPLOAD_DIR": str(tmp_path),
                      "PROXY_COUNT": 1}, config_class=TestingConfig)
    with app.app_context():
        upgrade()
    client = app.test_client()
    # nginx on the same host connects from 127.0.0.1 but forwards an outside client: no metrics for it.
    outside = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                         headers={"X-Forwarded-For": "198.51.100.7"})
    assert outside.status_code == 404


def test_readiness_says_whether_migrations_are_current(tmp_path, client):
    # The suite's tables come from create_all, without Alembic's record: not ready.
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["migrations"] == "missing"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'r.db'}", "UPLOAD_DIR": str(tmp_path)},
                     config_class=TestingConfig)
    with app.app_context():
        upgrade(revision="d0215da0ec31")  # the first migration only
    pending = app.test_client().get("/readyz")
    assert pending.status_code == 503 and pending.get_json()["migrations"] == "pending"
    with app.app_context():
        upgrade()
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200 and ready.get_json() == {**ready.get_json(), "status": "ready",
                                                             "migrations": "current", "database": "ok"}
    assert app.test_client().get("/healthz").status_code == 200


def test_production_needs_shared_rate_limits(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RATELIMIT_ENABLED", raising=False)
    with pytest.raises(RuntimeError, match="REDIS_URL"):
        create_app(config_class=ProductionConfig)
