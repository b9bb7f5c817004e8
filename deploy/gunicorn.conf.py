"""gunicorn settings for one app host (systemd starts: gunicorn -c /opt/canyu/deploy/gunicorn.conf.py wsgi:app).

Every value can be overridden from the environment file (/etc/canyu/canyu.env)."""
import ctypes
import os
import signal
import sys

from prometheus_client import multiprocess

PR_SET_PDEATHSIG = 1

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: a sign-up waits on a row lock in PostgreSQL, not on the network; 2-4 per core is the usual range.
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
backlog = 2048
# A worker is replaced after this many requests (with jitter), so slow leaks cannot grow for ever.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# The app writes one JSON line per request itself (with the request id); gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = "warning"
# Uploads of 10 MB must not be cut by gunicorn's own limits (the request line and headers stay limited).
limit_request_line = 8190
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    # Prometheus multi-process mode: forget the metrics files of a worker that ended.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    # When the master dies (a crash, `kill -9`, the OOM killer), its workers die with it, as they would with the
    # machine. Otherwise orphaned sync workers keep answering on the port for as long as requests keep coming (they
    # look for their parent only when idle), the balancer keeps the half-dead host, and systemd's restart cannot
    # bind the port. A request in hand is lost: PostgreSQL rolls its transaction back, and the client's retry
    # goes to another host (a sign-up or a comment with its idempotency key is safe to send again).
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != server.pid:  # the master died before the line above
            os._exit(0)
