"""Settings, read from the environment. See the README's "Settings" section for each one."""
from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

_INSECURE_KEYS = {"", "dev", "change-me", "dev-insecure-key"}


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _database_url(default: str) -> str:
    url = os.environ.get("DATABASE_URL", default)
    # psycopg v3 is the driver; accept the common short forms.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-insecure-key")
    SQLALCHEMY_DATABASE_URI = _database_url(f"sqlite:///{INSTANCE_DIR / 'canyu.db'}")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SITE_NAME = "参与 Canyu"
    # Absolute address used in e-mailed links (verification, reset, tickets). `make run` passes the address it
    # serves (http://HOST:PORT); production refuses to start without it.
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")

    # Uploads: 5 attachments of 10 MB each plus form overhead.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 55 * 1024 * 1024)
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    # Where uploaded files live: "filesystem" (UPLOAD_DIR, one host) or "database" (shared by every app host).
    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "filesystem")

    # Sessions and cookies.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # A remembered sign-in lasts this many days (at most 30); a session not remembered ends after
    # SESSION_IDLE_HOURS without a request. Both are rows of user_session, ended by signing out.
    REMEMBER_COOKIE_DAYS = min(_int("REMEMBER_COOKIE_DAYS", 30), 30)
    REMEMBER_COOKIE_DURATION = timedelta(days=REMEMBER_COOKIE_DAYS)
    SESSION_IDLE_HOURS = _int("SESSION_IDLE_HOURS", 24)
    WTF_CSRF_TIME_LIMIT = None

    # Languages: Chinese first, English complete.
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh", "en")
    DISPLAY_TIMEZONE = "Asia/Shanghai"

    # Mail: written to the outbox, sent by the scheduler.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "参与平台 <noreply@canyu.example.gov.cn>")
    MAIL_TIMEOUT = _int("MAIL_TIMEOUT", 10)
    # Development: keep a copy of sent mail readable at /manage/mail (staff only).
    MAIL_SHOW_IN_APP = _bool("MAIL_SHOW_IN_APP", False)
    # Development: do not contact a mail server at all; mark mail sent and keep it in the app.
    MAIL_SUPPRESS_SEND = _bool("MAIL_SUPPRESS_SEND", False)
    # Temporary failures (server down, 4xx) are retried for this long after the mail was queued, with a back-off
    # doubling from OUTBOX_BACKOFF_SECONDS to OUTBOX_MAX_BACKOFF_SECONDS; then the mail fails (logged as an error,
    # shown to the oversight admin, who can send it again).
    OUTBOX_RETRY_HOURS = _float("OUTBOX_RETRY_HOURS", 48)
    OUTBOX_BACKOFF_SECONDS = _int("OUTBOX_BACKOFF_SECONDS", 60)
    OUTBOX_MAX_BACKOFF_SECONDS = _int("OUTBOX_MAX_BACKOFF_SECONDS", 1800)
    # A message whose sending kills the sender this many times fails.
    OUTBOX_MAX_ATTEMPTS = _int("OUTBOX_MAX_ATTEMPTS", 8)
    # Sent and failed mail older than this is deleted by a daily job.
    OUTBOX_KEEP_DAYS = _int("OUTBOX_KEEP_DAYS", 90)

    # Rate limits (Flask-Limiter): Redis when REDIS_URL is set, else memory of one process.
    REDIS_URL = os.environ.get("REDIS_URL")
    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL") or "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)

    # Sign-in throttling: after this many failures a growing delay applies.
    LOGIN_FREE_FAILURES = _int("LOGIN_FREE_FAILURES", 5)
    LOGIN_BASE_DELAY_SECONDS = _int("LOGIN_BASE_DELAY_SECONDS", 30)

    # Links sent by e-mail.
    VERIFY_LINK_HOURS = _int("VERIFY_LINK_HOURS", 48)
    RESET_LINK_HOURS = _int("RESET_LINK_HOURS", 2)
    INVITE_LINK_HOURS = _int("INVITE_LINK_HOURS", 168)
    EMAIL_UNDO_HOURS = _int("EMAIL_UNDO_HOURS", 168)  # the old address may undo a change of address

    # Operations: logs, proxies, metrics.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")  # "json": one JSON object per line
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    LOG_REQUESTS = _bool("LOG_REQUESTS", True)  # one log line per request
    PROXY_COUNT = _int("PROXY_COUNT", 0)  # proxies in front (nginx, HAProxy) trusted for X-Forwarded-*
    METRICS_ALLOWED_IPS = os.environ.get("METRICS_ALLOWED_IPS", "127.0.0.1/32,::1/128")
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN")  # or "Authorization: Bearer <token>"

    # Scheduler.
    SCHEDULER_TICK_SECONDS = _int("SCHEDULER_TICK_SECONDS", 30)
    # How often the scheduler shows it still holds the lock (and notices it lost it: a database restart).
    SCHEDULER_HEARTBEAT_SECONDS = _float("SCHEDULER_HEARTBEAT_SECONDS", 10)
    # A waiting scheduler asks for the lock this often; an unreachable database is retried with a back-off
    # doubling from 0.5 s up to SCHEDULER_RECONNECT_MAX_SECONDS.
    SCHEDULER_POLL_SECONDS = _float("SCHEDULER_POLL_SECONDS", 5)
    SCHEDULER_RECONNECT_MAX_SECONDS = _float("SCHEDULER_RECONNECT_MAX_SECONDS", 15)
    # Every job's interval is multiplied by this (a test or a demo runs them more often).
    SCHEDULER_INTERVAL_SCALE = _float("SCHEDULER_INTERVAL_SCALE", 1)

    # Consultations: feedback report due this many days after closing.
    FEEDBACK_REPORT_DUE_DAYS = _int("FEEDBACK_REPORT_DUE_DAYS", 30)
    # Messages' time limits per source, overriding the defaults in app/messages/rules.py, e.g.
    # {"hotline_12345": {"ack_days": 1, "reply_days": 3, "review_required": false, "rule_name": "..."}}
    MESSAGE_TIME_LIMITS = json.loads(os.environ.get("MESSAGE_TIME_LIMITS") or "{}")
    # Comments per account per hour (besides the per-address limit of the comment form).
    COMMENT_ACCOUNT_LIMIT = _int("COMMENT_ACCOUNT_LIMIT", 10)
    # Open Month: check-in opens this many minutes before a session starts, on the session's day only.
    OPENDAY_CHECK_IN_OPENS_MINUTES = _int("OPENDAY_CHECK_IN_OPENS_MINUTES", 120)
    # Hearings: the lottery's time limit.
    LOTTERY_TIME_LIMIT_SECONDS = _int("LOTTERY_TIME_LIMIT_SECONDS", 600)
    # The random source of a hearing draw is announced at least this many full days before its numbers come out.
    HEARING_ANNOUNCE_MIN_DAYS = _int("HEARING_ANNOUNCE_MIN_DAYS", 1)


class DevelopmentConfig(Config):
    DEBUG = False
    MAIL_SHOW_IN_APP = _bool("MAIL_SHOW_IN_APP", True)
    MAIL_SUPPRESS_SEND = _bool("MAIL_SUPPRESS_SEND", True)


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key"
    SQLALCHEMY_DATABASE_URI = _database_url("sqlite://")
    WTF_CSRF_ENABLED = False
    PASSWORD_HASH_FAST = True  # cheap Argon2id parameters for test accounts
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    COMMENT_ACCOUNT_LIMIT = 100000  # tests of the limit set their own
    # Tests sign in and then move the clock on by weeks; the idle-expiry test sets its own.
    SESSION_IDLE_HOURS = 24 * 365 * 10
    MAIL_SHOW_IN_APP = True
    MAIL_SUPPRESS_SEND = False
    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = 8025
    SERVER_NAME = None
    BASE_URL = "http://localhost"


class ProductionConfig(Config):
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def check(cls) -> None:
        key = os.environ.get("SECRET_KEY", "")
        if key in _INSECURE_KEYS or len(key) < 32:
            raise RuntimeError(
                "ProductionConfig needs SECRET_KEY set to a random value of at least 32 characters "
                "(for example: python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        if _bool("RATELIMIT_ENABLED", True) and not os.environ.get("REDIS_URL"):
            # Limits kept in one process's memory would not hold across workers and hosts.
            raise RuntimeError("ProductionConfig needs REDIS_URL (rate limits shared by every worker and host), "
                               "or RATELIMIT_ENABLED=0.")
        base_url = os.environ.get("BASE_URL", "")
        if not base_url.startswith(("https://", "http://")):
            # Every e-mailed link is built from it; a default would send people to the wrong host.
            raise RuntimeError("ProductionConfig needs BASE_URL, the public address e-mailed links point to "
                               "(for example https://canyu.example.gov.cn).")
        if os.environ.get("STORAGE_BACKEND", "filesystem") not in {"filesystem", "database"}:
            raise RuntimeError("STORAGE_BACKEND must be 'filesystem' or 'database'.")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    return CONFIGS[os.environ.get("CANYU_ENV", "development")]
