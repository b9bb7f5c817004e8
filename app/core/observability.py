"""What operators expect of each app host: a request id, JSON logs (one line per request), /metrics for
Prometheus, /readyz (migrations current) beside the cheap /healthz, and the client's address behind a proxy.

- Request id: taken from the balancer's ``X-Request-ID`` when it looks like one, else made here; returned in the
  ``X-Request-ID`` response header, written in every log line of the request and shown on error pages.
- Logs: with ``LOG_FORMAT=json`` (the production default) every record is one JSON object per line on stderr;
  the ``canyu.request`` logger writes one line per request (method, path, endpoint, status, duration, bytes).
- Proxies: ``PROXY_COUNT`` proxies in front (nginx, HAProxy) are trusted for X-Forwarded-For/-Proto/-Host, so rate
  limits and the /metrics allow-list see the real client address.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import Flask, g, has_request_context, request, session
from flask.logging import default_handler
from werkzeug.middleware.proxy_fix import ProxyFix

from app.core import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
request_log = logging.getLogger("canyu.request")


def request_id() -> str | None:
    """This request's id (None outside a request)."""
    if not has_request_context():
        return None
    rid = request.environ.get("canyu.request_id")  # the request's own, never shared like `g` can be
    if rid is None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        rid = request.environ["canyu.request_id"] = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
    return rid


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id()
        if rid:
            entry["request_id"] = rid
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(app: Flask) -> None:
    """Production and the cluster: JSON lines on stderr (journald keeps them). Development: readable text.
    Only this app's own handler is replaced, so a test runner's or a server's handlers stay."""
    if app.testing:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name("canyu")
    if app.config.get("LOG_FORMAT") == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "canyu"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    app.logger.removeHandler(default_handler)  # records reach the root handler once, in its format


def _user_id() -> int | None:
    """The signed-in user's id, without a query: from the user this request loaded (its row may be expired after
    the commit, and touching its attributes would load it again), else from the signed session cookie."""
    state = sa.inspect(g.get("_login_user"), raiseerr=False)
    identity = state.identity if state is not None else None
    if identity:
        return identity[0]
    # dict.get: read without marking the session accessed (which would add "Vary: Cookie" to every response).
    claimed = str(dict.get(session._get_current_object(), "_user_id") or "").split(".", 1)[0]
    return int(claimed) if claimed.isdigit() else None


def init_app(app: Flask) -> None:
    configure_logging(app)
    metrics.init_app(app)
    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    @app.before_request
    def _start_request():
        request.environ["canyu.started"] = time.perf_counter()
        request_id()

    @app.after_request
    def _finish_request(response):
        rid = request_id()
        response.headers[REQUEST_ID_HEADER] = rid
        started = request.environ.get("canyu.started")
        duration = time.perf_counter() - started if started is not None else 0.0
        endpoint = request.endpoint or "none"
        metrics.observe_request(endpoint, request.method, response.status_code, duration)
        if app.config.get("LOG_REQUESTS", True):
            request_log.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": {
                "request_id": rid, "method": request.method, "path": request.path, "endpoint": endpoint,
                "status": response.status_code, "duration_ms": round(duration * 1000, 1),
                "bytes": response.calculate_content_length(), "remote_addr": request.remote_addr,
                "user_id": _user_id(), "user_agent": request.user_agent.string[:200],
            }})
        return response

    @app.context_processor
    def _request_id():
        return {"request_id": request_id()}
