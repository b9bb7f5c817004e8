"""Prometheus metrics at /metrics (text format), for operators only.

Per-process figures (requests by endpoint and status, latency histograms) are kept by prometheus_client; under
gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` (the systemd unit does) so that a scrape sums every worker of the host.
Figures the whole cluster shares (outbox backlog, failed mail, the scheduler's heartbeat and job runs, lottery runs,
sign-ups and comments accepted) are read from the database at scrape time, so every host reports the same value.

Not public: answered only to an address in ``METRICS_ALLOWED_IPS`` (default loopback) or to a request carrying
``Authorization: Bearer <METRICS_TOKEN>``; anyone else gets 404.
"""
from __future__ import annotations

import hmac
import ipaddress
import os

import sqlalchemy as sa
from flask import Flask, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from app.consultations.models import Comment
from app.core import jobruns
from app.core.timeutil import utcnow
from app.extensions import db
from app.hearings.models import LotteryRun
from app.notifications.models import OutboxEmail, OutboxState
from app.openday.models import Registration

REQUESTS = Counter("canyu_http_requests", "HTTP requests answered, by endpoint, method and status.",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("canyu_http_request_duration_seconds", "Time to answer a request, by endpoint and method.",
                    ["endpoint", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(endpoint, method, str(status)).inc()
    LATENCY.labels(endpoint, method).observe(seconds)


class DatabaseCollector:
    """Cluster-wide figures, read from the database when Prometheus scrapes."""

    def collect(self):
        now = utcnow()
        pending_states = (OutboxState.PENDING, OutboxState.SENDING)
        backlog = db.session.scalar(sa.select(sa.func.count()).where(OutboxEmail.state.in_(pending_states)))
        oldest = db.session.scalar(sa.select(sa.func.min(OutboxEmail.created_at))
                                   .where(OutboxEmail.state.in_(pending_states)))
        failed = db.session.scalar(sa.select(sa.func.count()).where(OutboxEmail.state == OutboxState.FAILED))
        yield GaugeMetricFamily("canyu_outbox_backlog", "E-mails waiting to be sent (pending or being sent).",
                                value=backlog or 0)
        yield GaugeMetricFamily("canyu_outbox_oldest_pending_age_seconds",
                                "Age of the oldest e-mail still waiting (0 when none waits).",
                                value=_age(now, oldest))
        yield GaugeMetricFamily("canyu_mail_failed", "E-mails that gave up after every retry.", value=failed or 0)

        runs = jobruns.status()
        beat = runs.get(jobruns.HEARTBEAT)
        yield GaugeMetricFamily("canyu_scheduler_heartbeat_age_seconds",
                                "Seconds since the scheduler last showed it holds the lock (-1: never).",
                                value=_age(now, beat.last_finished_at) if beat else -1)
        last_run = GaugeMetricFamily("canyu_scheduler_job_last_run_timestamp_seconds",
                                     "When each scheduled job last finished (Unix time).", labels=["job"])
        last_ok = GaugeMetricFamily("canyu_scheduler_job_last_run_ok",
                                    "1 when the job's last run succeeded, 0 when it failed.", labels=["job"])
        for job, row in sorted(runs.items()):
            if job == jobruns.HEARTBEAT or row.last_finished_at is None:
                continue
            last_run.add_metric([job], row.last_finished_at.timestamp())
            last_ok.add_metric([job], 1 if row.last_ok else 0)
        yield last_run
        yield last_ok

        lottery = GaugeMetricFamily("canyu_lottery_runs", "Hearing lottery runs by status.", labels=["status"])
        for status, n in db.session.execute(sa.select(LotteryRun.status, sa.func.count())
                                            .group_by(LotteryRun.status)):
            lottery.add_metric([status.value], n)
        yield lottery

        signups = GaugeMetricFamily("canyu_signups", "Open Month sign-ups by their current state.", labels=["state"])
        total = 0
        for state, n in db.session.execute(sa.select(Registration.state, sa.func.count())
                                           .group_by(Registration.state)):
            signups.add_metric([state.value], n)
            total += n
        yield signups
        yield CounterMetricFamily("canyu_signups_accepted", "Open Month sign-ups accepted (every state).",
                                  value=total)
        comments = db.session.scalar(sa.select(sa.func.count()).select_from(Comment))
        yield CounterMetricFamily("canyu_comments_accepted", "Consultation comments accepted.", value=comments or 0)
        db.session.rollback()


def _age(now, then) -> float:
    return max(0.0, (now - then).total_seconds()) if then else 0.0


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    for allowed in (current_app.config.get("METRICS_ALLOWED_IPS") or "").split(","):
        allowed = allowed.strip()
        if allowed and address in ipaddress.ip_network(allowed, strict=False):
            return True
    return False


def metrics_view():
    if not _allowed():
        abort(404)
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # every worker of this host
    else:
        registry.register(_ProcessCollector())
    registry.register(DatabaseCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


class _ProcessCollector:
    """One process (no PROMETHEUS_MULTIPROC_DIR): this process's request metrics."""

    def collect(self):
        yield from REQUESTS.collect()
        yield from LATENCY.collect()


def init_app(app: Flask) -> None:
    app.add_url_rule("/metrics", "metrics", metrics_view)
