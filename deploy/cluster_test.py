"""Two app hosts behind a balancer, on this machine: the cluster test (run it as root through deploy/cluster-test.sh).

What it builds (and removes again, whatever happens):
- a bridge ``cyb<N>`` with 10.231.0.1/24 (``CLUSTER_SUBNET`` changes the /24) and two network namespaces, each
  an "app host" with its own address (.11 and .12) on a veth pair;
- a private PostgreSQL cluster (initdb in a temporary folder, listening on the bridge address) and a private
  Redis, both on the host side of the bridge; the app's migrations and a little data of its own;
- gunicorn (production settings, files in the database backend, rate limits in Redis, one upload folder per host
  to show nothing is shared through the disk) in each namespace, HAProxy on 127.0.0.1 with /healthz checks, and
  one scheduler.

What it checks:
1. each host is ready (/readyz: database reachable, migrations current) and /metrics answers the operator;
2. a comment with an attachment posted through host 1 downloads, byte for byte, through host 2;
3. the sign-up rush through the balancer with one host, then with two (per-host requests per second);
4. the rush again, with ``kill -9`` of host 1's gunicorn master in the middle: exactly the seats confirmed, every
   accepted sign-up present, waitlist positions consecutive, and HAProxy marks the dead host down within its
   health-check window (``inter`` × ``fall``, plus one interval of slack).

Every address is on this machine: loopback and the bridge's private /24 that this script creates.
"""
from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import time as dtime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT))

USER_AGENT = "canyu-cluster-test/1.0"
ADMIN = ("admin@cluster.example", secrets.token_urlsafe(12))
RESIDENT = ("resident@cluster.example", secrets.token_urlsafe(12))
CHECK_INTER_MS = 500
CHECK_FALL = 2
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n" + bytes(range(256)) * 2000 + b"\n%%EOF\n"  # ~0.5 MB, 2 chunks


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(*cmd: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, **kw)


class Cluster:
    """Everything the test makes, so that cleanup() can undo all of it."""

    def __init__(self, subnet: str, port_base: int, workers: int):
        net = ipaddress.ip_network(subnet)
        tag = f"{os.getpid() % 10000}"
        self.bridge = f"cyb{tag}"
        self.gateway = str(net.network_address + 1)
        self.prefix = net.prefixlen
        self.hosts = [
            {"name": f"cyns{tag}a", "veth": f"cyv{tag}a", "peer": f"cyp{tag}a", "ip": str(net.network_address + 11)},
            {"name": f"cyns{tag}b", "veth": f"cyv{tag}b", "peer": f"cyp{tag}b", "ip": str(net.network_address + 12)},
        ]
        self.app_port = 8000
        self.lb_port = port_base
        self.pg_port = port_base + 1
        self.redis_port = port_base + 2
        self.workers = workers
        self.tmp = Path(tempfile.mkdtemp(prefix="canyu-cluster-"))
        self.secret = secrets.token_hex(32)
        self.procs: dict[str, subprocess.Popen] = {}
        self.made_bridge = False
        self.made_ns: list[dict] = []
        self.pg_started = False

    # ---------------------------------------------------------------- network
    def make_network(self) -> None:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        self.made_bridge = True
        run("ip", "addr", "add", f"{self.gateway}/{self.prefix}", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        for h in self.hosts:
            run("ip", "netns", "add", h["name"])
            self.made_ns.append(h)
            run("ip", "link", "add", h["veth"], "type", "veth", "peer", "name", h["peer"])
            run("ip", "link", "set", h["peer"], "netns", h["name"])
            run("ip", "link", "set", h["veth"], "master", self.bridge, "up")
            ns = ("ip", "netns", "exec", h["name"])
            run(*ns, "ip", "addr", "add", f"{h['ip']}/{self.prefix}", "dev", h["peer"])
            run(*ns, "ip", "link", "set", h["peer"], "up")
            run(*ns, "ip", "link", "set", "lo", "up")
        log(f"bridge {self.bridge} {self.gateway}/{self.prefix}; hosts "
            + ", ".join(f"{h['name']}={h['ip']}" for h in self.hosts))

    # ---------------------------------------------------------------- services
    def start_postgres(self) -> None:
        data = self.tmp / "pg"
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
        os.chmod(self.tmp, 0o755)
        as_pg = ("runuser", "-u", "postgres", "--")
        run(*as_pg, "initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        with open(data / "postgresql.conf", "a") as fh:
            fh.write(f"listen_addresses = '127.0.0.1,{self.gateway}'\nport = {self.pg_port}\n"
                     f"unix_socket_directories = '{data}'\nfsync = off\nsynchronous_commit = off\n"
                     "full_page_writes = off\nmax_connections = 200\nshared_buffers = 128MB\n")
        with open(data / "pg_hba.conf", "a") as fh:
            fh.write(f"host all all {self.gateway}/{self.prefix} trust\n")
        run(*as_pg, "pg_ctl", "-D", str(data), "-l", str(data / "log"), "-w", "start")
        self.pg_started = True
        run("psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-c", "CREATE DATABASE canyu")
        log(f"PostgreSQL on {self.gateway}:{self.pg_port} (private cluster in {data})")

    def start_redis(self) -> None:
        self.procs["redis"] = subprocess.Popen(
            ["redis-server", "--bind", self.gateway, "--port", str(self.redis_port), "--save", "",
             "--appendonly", "no", "--protected-mode", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if self.redis_ping():
                break
            time.sleep(0.05)
        log(f"Redis on {self.gateway}:{self.redis_port}")

    def redis_ping(self) -> bool:
        try:
            with socket.create_connection((self.gateway, self.redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://postgres@{self.gateway}:{self.pg_port}/canyu"

    def app_env(self, extra: dict | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "CANYU_"))}
        env.update(CANYU_ENV="production", SECRET_KEY=self.secret, DATABASE_URL=self.database_url,
                   REDIS_URL=f"redis://{self.gateway}:{self.redis_port}/0", STORAGE_BACKEND="database",
                   BASE_URL=f"http://127.0.0.1:{self.lb_port}", SESSION_COOKIE_SECURE="0", PROXY_COUNT="1",
                   MAIL_SUPPRESS_SEND="1", LOG_FORMAT="json", LOG_REQUESTS=os.environ.get("CLUSTER_LOG_REQUESTS", "0"), FLASK_APP="wsgi.py",
                   METRICS_ALLOWED_IPS=f"127.0.0.1/32,{self.gateway}/32")
        env.update(extra or {})
        return env

    def migrate(self) -> None:
        env = self.app_env({"UPLOAD_DIR": str(self.tmp / "uploads-cli")})
        run(str(VENV / "flask"), "db", "upgrade", cwd=ROOT, env=env)
        log("migrated to head")

    def start_host(self, h: dict) -> None:
        upload = self.tmp / f"uploads-{h['name']}"
        prom = self.tmp / f"prom-{h['name']}"
        upload.mkdir()
        prom.mkdir()
        env = self.app_env({"UPLOAD_DIR": str(upload), "PROMETHEUS_MULTIPROC_DIR": str(prom),
                            "GUNICORN_BIND": f"{h['ip']}:{self.app_port}", "GUNICORN_WORKERS": str(self.workers),
                            "FORWARDED_ALLOW_IPS": self.gateway})
        h["upload_dir"] = upload
        h["log"] = open(self.tmp / f"{h['name']}.log", "w")
        # `ip netns exec` execs gunicorn: the Popen pid is the gunicorn master's.
        self.procs[h["name"]] = subprocess.Popen(
            ["ip", "netns", "exec", h["name"], str(VENV / "gunicorn"), "--config", str(ROOT / "deploy" /
             "gunicorn.conf.py"), "wsgi:app"], cwd=ROOT, env=env, stdout=h["log"], stderr=subprocess.STDOUT)

    def wait_ready(self, h: dict, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                r = requests.get(f"http://{h['ip']}:{self.app_port}/readyz", timeout=2)
                last = r.json()
                if r.status_code == 200:
                    return last
            except (requests.RequestException, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise AssertionError(f"{h['name']} not ready: {last}")

    def start_haproxy(self) -> None:
        cfg = self.tmp / "haproxy.cfg"
        self.haproxy_sock = self.tmp / "haproxy.sock"
        servers = "\n".join(
            f"    server app{i + 1} {h['ip']}:{self.app_port} check inter {CHECK_INTER_MS} fall {CHECK_FALL} rise 2"
            for i, h in enumerate(self.hosts))
        cfg.write_text(f"""global
    maxconn 4000
    stats socket {self.haproxy_sock} mode 600 level admin
defaults
    mode http
    option forwardfor
    option redispatch
    retries 3
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    # A busy sync worker answers /healthz late but answers (on this shared 2-core machine, seconds late); a dead
    # host refuses at once, so this does not slow the detection of one.
    timeout check 10s
frontend canyu
    bind 127.0.0.1:{self.lb_port}
    unique-id-format %{{+X}}o%ci%cp%fi%fp%Ts%rt%pid
    http-request set-header X-Request-ID %[unique-id] unless {{ req.hdr(x-request-id) -m found }}
    http-request deny deny_status 404 if {{ path /metrics }}
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server on-marked-down shutdown-sessions
{servers}
""")
        run("haproxy", "-c", "-q", "-f", str(cfg))
        self.procs["haproxy"] = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL,
                                                 stderr=open(self.tmp / "haproxy.log", "w"))
        for _ in range(100):
            if self.haproxy_sock.exists():
                break
            time.sleep(0.05)
        log(f"HAProxy on 127.0.0.1:{self.lb_port}, checks GET /healthz every {CHECK_INTER_MS} ms, fall {CHECK_FALL}")

    def haproxy(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.haproxy_sock))
            s.sendall(command.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out.decode()

    def server_status(self) -> dict[str, str]:
        lines = self.haproxy("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "app" and row.get("svname", "").startswith("app"):
                out[row["svname"]] = row["status"]
        return out

    def start_scheduler(self) -> None:
        env = self.app_env({"UPLOAD_DIR": str(self.tmp / "uploads-cli")})
        self.procs["scheduler"] = subprocess.Popen([str(VENV / "flask"), "scheduler", "run"], cwd=ROOT, env=env,
                                                   stdout=open(self.tmp / "scheduler.log", "w"),
                                                   stderr=subprocess.STDOUT, start_new_session=True)
        log("one scheduler started")

    # ---------------------------------------------------------------- cleanup
    def cleanup(self) -> None:
        for h in self.made_ns:  # every process in a namespace (the gunicorn master and any orphaned worker)
            pids = run("ip", "netns", "pids", h["name"], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self.pg_started:
            run("runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(self.tmp / "pg"), "-m", "immediate", "-w",
                "stop", check=False)
        for h in self.made_ns:
            run("ip", "link", "del", h["veth"], check=False)
            run("ip", "netns", "del", h["name"], check=False)
        if self.made_bridge:
            run("ip", "link", "del", self.bridge, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


# -------------------------------------------------------------------- CPU spent per request

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def cpu_snapshot(cluster: Cluster) -> dict[str, float]:
    """CPU seconds used so far by the app hosts' processes and by the PostgreSQL cluster's backends."""
    app = 0.0
    for h in cluster.hosts:
        for pid in run("ip", "netns", "pids", h["name"], check=False).stdout.split():
            app += _cpu_seconds(int(pid))
    postmaster = int((cluster.tmp / "pg" / "postmaster.pid").read_text().split()[0])
    db = _cpu_seconds(postmaster)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                db += _cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return {"app": app, "db": db}


def cpu_per_request(before: dict, after: dict, n: int) -> dict[str, float]:
    return {k: round((after[k] - before[k]) / n * 1000, 2) for k in before}  # CPU milliseconds per request


# -------------------------------------------------------------------- data: sessions and signed-in clients

def signed_in_credentials(app, user) -> tuple[str, str]:
    """The session cookie and CSRF token of ``user`` signed in as a browser is: a server-side session row (issue 10:
    a cookie naming no live row is signed out) and the cookie that names it, signed with SECRET_KEY. The caller
    commits the row."""
    from flask import g, session as flask_session
    from flask_login.utils import _create_identifier
    from flask_wtf.csrf import generate_csrf

    from app.accounts import sessions as user_sessions

    serializer = app.session_interface.get_signing_serializer(app)
    with app.test_request_context("/", headers={"User-Agent": USER_AGENT}):
        user_sessions.start(user)
        flask_session["_user_id"] = user.get_id()
        flask_session["_fresh"] = True
        flask_session["_id"] = _create_identifier()
        g.pop("csrf_token", None)
        token = generate_csrf()
        return serializer.dumps(dict(flask_session)), token


def prepare_rush(cluster: Cluster, users: int, seats: int, phases: int) -> tuple[list[int], list[list[tuple]]]:
    """``phases`` sessions of ``seats`` seats and ``users`` new verified residents per phase; each resident is
    signed in the ordinary way a browser is (a server-side session row, the session cookie that names it signed with
    SECRET_KEY, and a CSRF token)."""
    os.environ.update(cluster.app_env({"UPLOAD_DIR": str(cluster.tmp / "uploads-cli")}))
    import sqlalchemy as sa
    from app import create_app
    from app.accounts.models import Department, Role, User
    from app.accounts.services import create_admin, set_password
    from app.consultations.models import DocumentType
    from app.consultations.services import ConsultationData, create_consultation
    from app.core.timeutil import from_local, utcnow
    from app.extensions import db
    from app.openday.models import Activity, ActivitySession
    from config import ProductionConfig

    app = create_app(config_class=ProductionConfig)
    session_ids, creds = [], []
    with app.app_context(), app.test_request_context("/"):
        now = utcnow()
        dept = Department(code="cluster", name="集群测试局", name_en="Cluster test bureau")
        db.session.add(dept)
        db.session.flush()
        admin = create_admin(email=ADMIN[0], name="管理员", password=ADMIN[1])
        resident = User(email=RESIDENT[0], name="张伟", role=Role.RESIDENT, email_verified_at=now, age_band="30_44")
        set_password(resident, RESIDENT[1])
        db.session.add(resident)
        c = create_consultation(admin, dept.id, ConsultationData(
            title="集群测试征询", summary="用于集群测试。", document_type=DocumentType.OTHER,
            concerns_enterprises=False, draft_text="第一条 测试。", interpretation="测试。", contact="测试",
            opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=40)))
        c.published_at = now - timedelta(days=1)
        db.session.commit()
        cluster.consultation_id = c.id
        for phase in range(phases):
            activity = Activity(department_id=dept.id, title=f"集群测试 {phase + 1}", description="cluster test",
                                address="测试路 1 号", signup_opens_at=now - timedelta(days=1),
                                signup_closes_at=now + timedelta(days=10), published_at=now, max_companions=0)
            db.session.add(activity)
            db.session.flush()
            day = (now + timedelta(days=20 + phase)).date()
            s = ActivitySession(activity_id=activity.id, starts_at=from_local(day, dtime(9)),
                                ends_at=from_local(day, dtime(11)), capacity=seats, has_waitlist=True)
            db.session.add(s)
            db.session.flush()
            activity.first_starts_at = s.starts_at
            db.session.execute(sa.insert(User), [
                {"email": f"rush{phase}-{i:05d}@example.com", "name": f"压测{i}", "role": Role.RESIDENT,
                 "locale": "zh", "email_verified_at": now, "created_at": now, "age_band": "30_44"}
                for i in range(users)])
            db.session.commit()
            session_ids.append(s.id)
            phase_creds = []
            for user in db.session.scalars(sa.select(User).where(User.email.like(f"rush{phase}-%"))
                                           .order_by(User.id)):
                phase_creds.append((user.id, *signed_in_credentials(app, user)))
            db.session.commit()
            creds.append(phase_creds)
        db.session.remove()
        db.engine.dispose()
    return session_ids, creds


def rush(port: int, session_id: int, creds, clients: int, kill_at: int | None = None, on_kill=None,
         host: str = "127.0.0.1") -> dict:
    """Each client sends one sign-up at a time; a request that fails at the network or with 502/503 is sent again
    after a moment (as a person would press again), at most 3 more times."""
    work: queue.Queue = queue.Queue()
    for item in creds:
        work.put(item)
    lock = threading.Lock()
    done = {"n": 0, "killed": False}
    result = {"latencies": [], "tickets": {}, "errors": 0, "retries": 0, "refused_after_retry": 0, "samples": []}
    path = f"/openday/sessions/{session_id}/sign-up"

    def attempt(cookie: str, token: str):
        body = urlencode({"csrf_token": token, f"s{session_id}-companions": "0"})
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            conn.request("POST", path, body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"session={cookie}",
                "User-Agent": USER_AGENT, "Connection": "close"})
            resp = conn.getresponse()
            resp.read()
            return resp.status, resp.getheader("Location") or ""
        finally:
            conn.close()

    def client() -> None:
        while True:
            try:
                user_id, cookie, token = work.get_nowait()
            except queue.Empty:
                return
            started = time.perf_counter()
            outcome, last = None, None
            for tries in range(4):
                if tries:
                    time.sleep(0.5 * tries)  # as a person would press again after a moment
                try:
                    status, location = attempt(cookie, token)
                except OSError as exc:
                    status, location = 0, repr(exc)
                if status in (0, 502, 503, 504):
                    last = (status, location[:120])
                    with lock:
                        result["retries"] += 1
                    continue
                outcome = (status, location, tries)
                break
            elapsed = time.perf_counter() - started
            with lock:
                result["latencies"].append(elapsed)
                match = re.search(r"/openday/tickets/(\d+)", outcome[1]) if outcome else None
                if outcome and outcome[0] == 302 and match:
                    result["tickets"][user_id] = int(match.group(1))
                elif outcome and outcome[0] == 302 and outcome[2] > 0:
                    # A retry refused ("already signed up"): the first try was accepted but its answer was lost.
                    result["refused_after_retry"] += 1
                else:
                    result["errors"] += 1
                    if len(result["samples"]) < 5:
                        result["samples"].append(outcome or last)
                done["n"] += 1
                fire_kill = kill_at is not None and done["n"] >= kill_at and not done["killed"]
                if fire_kill:
                    done["killed"] = True
            if fire_kill:
                on_kill()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result["elapsed"] = time.perf_counter() - started
    lat = sorted(result["latencies"])
    result["rps"] = len(lat) / result["elapsed"]
    result["p50"] = statistics.median(lat)
    result["p99"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return result


def comment_rush(port: int, consultation_id: int, creds, clients: int) -> dict:
    """Each resident posts one comment through the balancer. Clients use several loopback source addresses
    (127.0.1.x: still this machine), as many people would, so the per-address comment limit (Redis) holds."""
    work: queue.Queue = queue.Queue()
    for i, item in enumerate(creds):
        work.put((i, *item))
    lock = threading.Lock()
    result = {"latencies": [], "accepted": 0, "errors": 0, "samples": []}

    def client() -> None:
        while True:
            try:
                i, _user_id, cookie, token = work.get_nowait()
            except queue.Empty:
                return
            body = urlencode({"csrf_token": token, "idempotency_key": secrets.token_hex(16), "article_id": "0",
                              "stance": "", "text": f"集群测试意见 {i}：建议公布数据更新频率。"})
            started = time.perf_counter()
            status, location = 0, ""
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                              source_address=(f"127.0.1.{1 + i % 50}", 0))
            try:
                conn.request("POST", f"/consultations/{consultation_id}/comments", body=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"session={cookie}",
                    "User-Agent": USER_AGENT, "Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                status, location = resp.status, resp.getheader("Location") or ""
            except OSError as exc:
                location = repr(exc)
            finally:
                conn.close()
            with lock:
                result["latencies"].append(time.perf_counter() - started)
                if status == 302 and "/consultations/track/" in location:
                    result["accepted"] += 1
                else:
                    result["errors"] += 1
                    if len(result["samples"]) < 3:
                        result["samples"].append((status, location[:100]))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result["elapsed"] = time.perf_counter() - started
    lat = sorted(result["latencies"])
    result["rps"] = len(lat) / result["elapsed"]
    result["p50"] = statistics.median(lat)
    result["p99"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return result


def check_rush(cluster: Cluster, session_id: int, seats: int, result: dict) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(cluster.database_url)
    problems = []
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, user_id, state, waitlist_position FROM openday_registration "
                                    "WHERE session_id = :s"), {"s": session_id}).all()
    engine.dispose()
    confirmed = [r for r in rows if r.state == "CONFIRMED"]
    positions = sorted(r.waitlist_position for r in rows if r.state == "WAITLISTED")
    by_id = {r.id: r for r in rows}
    if len(confirmed) != seats:
        problems.append(f"{len(confirmed)} confirmed, expected exactly {seats}")
    if positions != list(range(1, len(positions) + 1)):
        problems.append("waitlist positions are not 1..n")
    missing = [(u, t) for u, t in result["tickets"].items() if t not in by_id or by_id[t].user_id != u]
    if missing:
        problems.append(f"{len(missing)} accepted sign-ups missing from the database, e.g. {missing[:3]}")
    if len({r.user_id for r in rows}) != len(rows):
        problems.append("someone holds two registrations for one session")
    result["confirmed"], result["waitlisted"], result["rows"] = len(confirmed), len(positions), len(rows)
    return problems


def login(base: str, email: str, password: str) -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = USER_AGENT
    page = s.get(f"{base}/accounts/login", timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    r = s.post(f"{base}/accounts/login", data={"csrf_token": token, "email": email, "password": password},
               allow_redirects=False, timeout=30)
    assert r.status_code == 302, f"login of {email} failed: {r.status_code}"
    return s


def check_attachment_across_hosts(cluster: Cluster) -> list[str]:
    """Post a comment with a PDF through host 1; staff download it through host 2."""
    import sqlalchemy as sa

    a, b = (f"http://{h['ip']}:{cluster.app_port}" for h in cluster.hosts)
    engine = sa.create_engine(cluster.database_url)
    cid = cluster.consultation_id
    resident = login(a, *RESIDENT)
    page = resident.get(f"{a}/consultations/{cid}", timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    r = resident.post(f"{a}/consultations/{cid}/comments", timeout=30, allow_redirects=False,
                      data={"csrf_token": token, "idempotency_key": key, "article_id": "0",
                            "text": "集群测试：附件经一台主机上传，经另一台下载。"},
                      files=[("attachments", ("集群 测试.pdf", PDF, "application/pdf"))])
    problems = []
    if r.status_code != 302:
        return [f"comment through host 1 answered {r.status_code}"]
    with engine.connect() as conn:
        att_id, name = conn.execute(sa.text(
            "SELECT a.id, a.filename FROM consultation_comment_attachment a JOIN consultation_comment c "
            "ON c.id = a.comment_id WHERE c.consultation_id = :c ORDER BY a.id DESC LIMIT 1"), {"c": cid}).one()
    engine.dispose()
    admin = login(b, *ADMIN)
    d = admin.get(f"{b}/manage/consultations/attachments/{att_id}", timeout=30)
    if d.status_code != 200 or d.content != PDF:
        problems.append(f"download through host 2: {d.status_code}, {len(d.content)} bytes (sent {len(PDF)})")
    if d.headers.get("Content-Type") != "application/pdf":
        problems.append(f"served as {d.headers.get('Content-Type')}")
    if "%E9%9B%86%E7%BE%A4" not in d.headers.get("Content-Disposition", ""):
        problems.append(f"served with name {d.headers.get('Content-Disposition')}")
    for h in cluster.hosts:
        on_disk = [p for p in h["upload_dir"].rglob("*") if p.is_file()]
        if on_disk:
            problems.append(f"{h['name']} kept files on its own disk: {on_disk}")
    log(f"attachment ({len(PDF)} bytes, {name}) posted through {cluster.hosts[0]['ip']}, downloaded through "
        f"{cluster.hosts[1]['ip']}: {'ok' if not problems else problems}")
    return problems


def check_metrics(cluster: Cluster) -> list[str]:
    h = cluster.hosts[0]
    r = requests.get(f"http://{h['ip']}:{cluster.app_port}/metrics", timeout=10)  # from the bridge: allowed
    outside = requests.get(f"http://127.0.0.1:{cluster.lb_port}/metrics", timeout=10,
                           headers={"X-Forwarded-For": "198.51.100.7"})
    problems = []
    if r.status_code != 200 or "canyu_http_requests_total" not in r.text or "canyu_outbox_backlog" not in r.text:
        problems.append(f"/metrics from the operator: {r.status_code}")
    if outside.status_code != 404:
        problems.append(f"/metrics for an outside client through the balancer: {outside.status_code}")
    return problems


def fmt(result: dict) -> str:
    return (f"{result['rps']:.1f} req/s, p50 {result['p50'] * 1000:.0f} ms, p99 {result['p99'] * 1000:.0f} ms, "
            f"{len(result['tickets'])} accepted, {result['errors']} errors, {result['retries']} retries"
            + (f" (e.g. {result['samples'][:3]})" if result["samples"] else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subnet", default=os.environ.get("CLUSTER_SUBNET", "10.231.0.0/24"))
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("CLUSTER_PORT_BASE", "6300")))
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers per host")
    parser.add_argument("--requests", type=int, default=300, help="sign-ups per rush")
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--comments", type=int, default=150, help="comments posted through the balancer")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the cluster test needs root (network namespaces, a bridge, a PostgreSQL cluster)")
    net = ipaddress.ip_network(args.subnet)
    if not net.is_private or net.prefixlen > 28:
        raise SystemExit("use a private subnet of at least 16 addresses, e.g. 10.231.0.0/24")
    if run("ip", "-o", "addr", "show", "to", str(net), check=False).stdout.strip():
        raise SystemExit(f"{net} is already in use on this machine; choose another with --subnet")

    cluster = Cluster(args.subnet, args.port_base, args.workers)
    problems: list[str] = []
    figures: dict = {"load_before": os.getloadavg(), "cpus": os.cpu_count()}
    started = time.monotonic()

    def interrupted(signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        cluster.make_network()
        cluster.start_postgres()
        cluster.start_redis()
        cluster.migrate()
        session_ids, creds = prepare_rush(cluster, args.requests, args.seats, phases=3)
        log(f"{3 * args.requests} residents signed in, 3 sessions of {args.seats} seats, an open consultation")
        for h in cluster.hosts:
            cluster.start_host(h)
        for h in cluster.hosts:
            ready = cluster.wait_ready(h)
            log(f"{h['name']} ready: {ready}")
        cluster.start_haproxy()
        cluster.start_scheduler()
        deadline = time.monotonic() + 10
        while set(cluster.server_status().values()) != {"UP"} and time.monotonic() < deadline:
            time.sleep(0.1)
        log(f"balancer sees {cluster.server_status()}")
        problems += check_metrics(cluster)
        problems += check_attachment_across_hosts(cluster)

        # One host: the other taken out of rotation at the balancer.
        cluster.haproxy("disable server app/app2")
        cpu = cpu_snapshot(cluster)
        one = rush(cluster.lb_port, session_ids[0], creds[0], args.clients)
        one["cpu_ms"] = cpu_per_request(cpu, cpu_snapshot(cluster), len(one["latencies"]))
        problems += [f"one host: {p}" for p in check_rush(cluster, session_ids[0], args.seats, one)]
        cluster.haproxy("enable server app/app2")
        log(f"rush, one host:  {fmt(one)}")
        while set(cluster.server_status().values()) != {"UP"}:
            time.sleep(0.1)
        cpu = cpu_snapshot(cluster)
        two = rush(cluster.lb_port, session_ids[1], creds[1], args.clients)
        two["cpu_ms"] = cpu_per_request(cpu, cpu_snapshot(cluster), len(two["latencies"]))
        problems += [f"two hosts: {p}" for p in check_rush(cluster, session_ids[1], args.seats, two)]
        log(f"rush, two hosts: {fmt(two)}")
        cpu = cpu_snapshot(cluster)
        comments = comment_rush(cluster.lb_port, cluster.consultation_id, creds[0][:args.comments], args.clients)
        comments["cpu_ms"] = cpu_per_request(cpu, cpu_snapshot(cluster), len(comments["latencies"]))
        if comments["errors"]:
            problems.append(f"comments: {comments['errors']} errors, e.g. {comments['samples']}")
        log(f"comments, two hosts: {comments['rps']:.1f} req/s, p50 {comments['p50'] * 1000:.0f} ms, "
            f"p99 {comments['p99'] * 1000:.0f} ms, {comments['accepted']} accepted, {comments['errors']} errors")
        log(f"CPU per request (app hosts / PostgreSQL): sign-up {one['cpu_ms']} (one host), {two['cpu_ms']} "
            f"(two hosts); comment {comments['cpu_ms']}")

        # Two hosts, and host 1's gunicorn master killed with SIGKILL in the middle.
        master = cluster.procs[cluster.hosts[0]["name"]]
        kill = {}

        def watch_down():
            while cluster.server_status().get("app1") == "UP":
                time.sleep(0.02)
            kill["down_after"] = time.monotonic() - kill["at"]

        def on_kill():
            kill["at"] = time.monotonic()
            os.kill(master.pid, signal.SIGKILL)
            log(f"kill -9 {master.pid} (gunicorn master of {cluster.hosts[0]['name']})")
            kill["watcher"] = threading.Thread(target=watch_down)
            kill["watcher"].start()

        failover = rush(cluster.lb_port, session_ids[2], creds[2], args.clients, kill_at=args.requests // 3,
                        on_kill=on_kill)
        kill["watcher"].join(timeout=30)
        problems += [f"failover: {p}" for p in check_rush(cluster, session_ids[2], args.seats, failover)]
        window = (CHECK_INTER_MS * (CHECK_FALL + 1)) / 1000
        down_after = kill.get("down_after")
        log(f"rush with a host killed: {fmt(failover)}; {failover['refused_after_retry']} retries found "
            f"the sign-up already taken")
        log(f"balancer marked host 1 down {down_after:.2f} s after the kill (window {window:.1f} s)"
            if down_after is not None else "balancer never marked host 1 down")
        if down_after is None or down_after > window:
            problems.append(f"dead host dropped after {down_after} s, window {window} s")
        deadline = time.monotonic() + 15
        while cluster.server_status().get("app2") != "UP" and time.monotonic() < deadline:
            time.sleep(0.1)
        if cluster.server_status().get("app2") != "UP":
            problems.append("host 2 is not up after the kill")
        text = requests.get(f"http://{cluster.hosts[1]['ip']}:{cluster.app_port}/metrics", timeout=10).text
        if 'canyu_scheduler_job_last_run_ok{job="app.notifications.jobs.send_pending_email"} 1.0' not in text:
            problems.append("the scheduler did not run its jobs (no last run in /metrics)")
        accepted = re.search(r"^canyu_comments_accepted_total (\S+)", text, re.M)
        if not accepted or float(accepted.group(1)) < comments["accepted"]:
            problems.append(f"/metrics counts {accepted and accepted.group(1)} comments")
        for label, r in (("one host", one), ("two hosts", two), ("failover", failover)):
            # Requests refused after every retry (the balancer had no healthy host: it happens only when the machine
            # is so loaded that /healthz takes over `timeout check`). A few are tolerated; more fail the test.
            if r["errors"] > 0.1 * len(r["latencies"]):
                problems.append(f"{label}: {r['errors']} of {len(r['latencies'])} sign-ups failed after every retry, "
                                f"e.g. {r['samples'][:3]} (load average {os.getloadavg()[0]:.1f})")
        figures.update({
            "one_host": {k: one[k] for k in ("rps", "p50", "p99", "errors", "confirmed", "waitlisted", "cpu_ms")},
            "two_hosts": {k: two[k] for k in ("rps", "p50", "p99", "errors", "confirmed", "waitlisted", "cpu_ms")},
            "comments": {k: comments[k] for k in ("rps", "p50", "p99", "errors", "accepted", "cpu_ms")},
            "failover": {k: failover[k] for k in ("rps", "p50", "p99", "errors", "retries", "confirmed",
                                                  "waitlisted", "refused_after_retry")},
            "down_after_seconds": down_after, "workers_per_host": args.workers, "requests": args.requests,
            "clients": args.clients, "seats": args.seats, "load_after": os.getloadavg(),
        })
        print()
        print("| sign-up rush | gunicorn workers | requests/s | per host | p50 | p99 | confirmed | errors "
              "| CPU ms per request: app / PostgreSQL |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for label, n, r in (("1 host", 1, one), ("2 hosts", 2, two), ("2 hosts, one killed mid-rush", 2, failover)):
            cpu = f"{r['cpu_ms']['app']} / {r['cpu_ms']['db']}" if "cpu_ms" in r else "—"
            print(f"| {label} | {args.workers} per host | {r['rps']:.1f} | {r['rps'] / n:.1f} | "
                  f"{r['p50'] * 1000:.0f} ms | {r['p99'] * 1000:.0f} ms | {r['confirmed']} | {r['errors']} | {cpu} |")
        print(f"comments through 2 hosts: {comments['rps']:.1f} requests/s, p99 {comments['p99'] * 1000:.0f} ms, "
              f"{comments['accepted']} accepted, CPU ms per comment app / PostgreSQL: "
              f"{comments['cpu_ms']['app']} / {comments['cpu_ms']['db']}")
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
              "(both hosts, PostgreSQL, Redis, HAProxy and the clients share these cores)")
    except KeyboardInterrupt:
        problems.append("interrupted")
    except Exception as exc:  # noqa: BLE001 - report, then clean up
        problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        for h in cluster.hosts if problems else ():
            path = cluster.tmp / f"{h['name']}.log"
            if path.exists():
                print(f"--- {h['name']} log (last lines)\n" + "\n".join(path.read_text().splitlines()[-15:]))
        if os.environ.get("CLUSTER_KEEP_LOGS"):
            keep = Path(os.environ["CLUSTER_KEEP_LOGS"])
            keep.mkdir(parents=True, exist_ok=True)
            for path in cluster.tmp.glob("*.log"):
                shutil.copy(path, keep / path.name)
        log("cleaning up")
        cluster.cleanup()
        left = run("ip", "-o", "link", "show", check=False).stdout
        if cluster.bridge in left or any(h["name"] in run("ip", "netns", "list", check=False).stdout
                                         for h in cluster.hosts):
            problems.append("cleanup left a bridge or namespace behind")
    figures["seconds"] = round(time.monotonic() - started, 1)
    figures["problems"] = problems
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    print()
    if problems:
        print("CLUSTER TEST FAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"cluster test passed in {figures['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
