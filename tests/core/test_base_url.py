"""E-mailed links point where the app is served: `make run` passes BASE_URL from HOST and PORT; production needs it."""
import os
import subprocess
from pathlib import Path

import pytest

from app import create_app
from config import ProductionConfig

# No date logic here: twice in CI (slow), not nine times (CI budget).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _make_run_dry(**variables: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "BASE_URL"}
    # -B: every step as on a fresh machine, whether or not this checkout has installed its dependencies already
    args = ["make", "-n", "-B", "-C", str(ROOT), "run"] + [f"{k}={v}" for k, v in variables.items()]
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout


def test_make_run_links_follow_the_served_port():
    out = _make_run_dry(PORT="5101")
    assert "BASE_URL=http://127.0.0.1:5101 .venv/bin/flask run --host 127.0.0.1 --port 5101" in out
    assert "BASE_URL=http://127.0.0.1:5101 .venv/bin/flask scheduler run" in out  # digest mail from the scheduler
    assert "BASE_URL=http://127.0.0.1:5101 .venv/bin/flask demo-data" in out
    assert ":5000" not in out
    out = _make_run_dry(PORT="5101", BASE_URL="https://dev.example")
    assert "BASE_URL=https://dev.example .venv/bin/flask run" in out


def test_production_refuses_to_start_without_base_url(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    monkeypatch.setenv("RATELIMIT_ENABLED", "0")
    monkeypatch.delenv("BASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="BASE_URL"):
        create_app(config_class=ProductionConfig)


def test_make_run_says_what_each_step_does():
    out = _make_run_dry(PORT="5101")
    steps = ["== Installing the pinned dependencies", "== Compiling the language catalogues",
             "== Migrating the database", "== Loading the demo data", "Serving on http://127.0.0.1:5101"]
    positions = [out.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions)
