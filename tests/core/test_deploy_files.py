"""The files in deploy/ agree with the app: upload limits, supervised services, configurations the servers accept."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from config import Config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_upload_limits_match_the_apps():
    limit = Config.MAX_CONTENT_LENGTH
    nginx = re.search(r"client_max_body_size (\d+)m;", (DEPLOY / "nginx" / "canyu.conf").read_text())
    assert int(nginx.group(1)) * 1024 * 1024 == limit
    haproxy = re.search(r"content-length\) gt (\d+)", (DEPLOY / "haproxy" / "canyu.cfg").read_text())
    assert int(haproxy.group(1)) == limit
    env = re.search(r"^MAX_CONTENT_LENGTH=(\d+)$", (DEPLOY / "canyu.env.example").read_text(), re.M)
    assert int(env.group(1)) == limit


@pytest.mark.parametrize("unit", ["canyu-web.service", "canyu-scheduler.service"])
def test_services_restart_always(unit):
    text = (DEPLOY / "systemd" / unit).read_text()
    assert "Restart=always" in text and "EnvironmentFile=/etc/canyu/canyu.env" in text


def test_metrics_closed_at_the_web_server_and_static_served_by_it():
    site = (DEPLOY / "nginx" / "canyu.conf").read_text()
    assert re.search(r"location = /metrics \{[^}]*deny all;", site)
    assert "location /static/ {\n        alias /opt/canyu/app/static/;" in site
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in site


@pytest.mark.skipif(not shutil.which("nginx") or not shutil.which("openssl"), reason="nginx is not installed")
def test_nginx_accepts_the_site(tmp_path):
    ssl = tmp_path / "ssl"
    ssl.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t",
                    "-keyout", ssl / "privkey.pem", "-out", ssl / "fullchain.pem"], check=True, capture_output=True)
    site = (DEPLOY / "nginx" / "canyu.conf").read_text().replace("/etc/ssl/canyu", str(ssl)).replace(
        "/etc/nginx/snippets", str(DEPLOY / "nginx"))
    rid = (DEPLOY / "nginx" / "canyu-request-id.conf").read_text().replace("/var/log/nginx", str(tmp_path))
    (tmp_path / "site.conf").write_text(rid + site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ include /etc/nginx/mime.types; include {tmp_path}/site.conf; }}\n")
    result = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy is not installed")
def test_haproxy_accepts_the_balancer(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t",
                    "-keyout", tmp_path / "k.pem", "-out", tmp_path / "c.pem"], check=True, capture_output=True)
    (tmp_path / "canyu.pem").write_text((tmp_path / "c.pem").read_text() + (tmp_path / "k.pem").read_text())
    cfg = (DEPLOY / "haproxy" / "canyu.cfg").read_text().replace("/etc/ssl/canyu", str(tmp_path))
    (tmp_path / "haproxy.cfg").write_text(cfg)
    result = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
