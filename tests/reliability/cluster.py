"""Real parts for fault tests: a private PostgreSQL cluster (initdb/pg_ctl in a temporary folder, on a free port)
that a test can restart, scheduler processes it can kill, and an aiosmtpd server that collects mail."""
from __future__ import annotations

import email
import email.policy
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, step: float = 0.1):
    """Poll ``predicate`` until it returns something true; that value, or None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class PgCluster:
    """initdb + pg_ctl in a temporary folder (as the postgres user when run as root: initdb refuses root)."""

    def __init__(self):
        self.bin = PG_BINS[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="canyu-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        self.as_pg: tuple[str, ...] = ()
        self.stopped = False
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_pg = ("runuser", "-u", "postgres", "--")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        with open(self.data / "postgresql.conf", "a") as fh:
            fh.write(f"\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                     "fsync = off\nfull_page_writes = off\nmax_connections = 50\n")
        # PostgreSQL binds its port itself: a free port can be taken by another process before it starts (seconds of
        # initdb, other test workers binding port 0), so the port is chosen just before the start, and again if taken.
        for attempt in range(5):
            self.port = free_port()
            with open(self.data / "postgresql.auto.conf", "a") as fh:
                fh.write(f"port = {self.port}\n")
            try:
                self.start()
                break
            except subprocess.CalledProcessError:
                if attempt == 4:
                    raise
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("CREATE DATABASE canyu"))
        engine.dispose()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_pg, f"{self.bin}/{tool}", *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60)

    def url(self, database: str = "canyu") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-m", mode, "-w", "restart")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def advisory_lock_holders(url: str) -> list[int]:
    """Backend pids holding an advisory lock (the scheduler's) right now; [] when the database is unreachable."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as conn:
            return list(conn.scalars(sa.text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted")))
    except sa.exc.OperationalError:
        return []
    finally:
        engine.dispose()


class _Collector:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


class Smtp:
    """Serves on a socket bound before its port is known, so no other process can take the port in between (a port
    found free, closed and bound again later could be; tests/notifications/conftest.py explains)."""

    def __init__(self):
        from tests.notifications.conftest import _HeldSocketController, held_socket

        self.handler = _Collector()
        sock = held_socket()
        self.port = sock.getsockname()[1]
        self.controller = _HeldSocketController(self.handler, sock)
        self.controller.start()

    def recipients(self) -> list[str]:
        return [m["To"] for m in self.handler.messages]

    def stop(self) -> None:
        self.controller.stop()


def scheduler_env(database_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CANYU_", "TEST_DATABASE", "SCHEDULER_"))}
    env.update(CANYU_ENV="development", DATABASE_URL=database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port),
               MAIL_SUPPRESS_SEND="0", LOG_REQUESTS="0", SCHEDULER_HEARTBEAT_SECONDS="1", SCHEDULER_POLL_SECONDS="0.5",
               SCHEDULER_RECONNECT_MAX_SECONDS="1", SCHEDULER_INTERVAL_SCALE="0.05", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


class SchedulerProcess:
    """`flask scheduler run` in its own process (its own process group, so its solver child dies with it)."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi.py", "scheduler", "run"],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        """End it and anything left in its group (a solver child) at once: the test is over."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(10)
        self.log.close()
