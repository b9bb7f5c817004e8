"""The API keeps its contract: schemathesis (``st run --checks all``) against the live app (issue 10).

The app serves on a free local port from a thread of the test (the test's database, SQLite or PostgreSQL, with the
API test's world in it); the schemathesis CLI, pinned in requirements-dev.txt, runs every phase against
/api/v1/openapi.json with valid and invalid data and every check: no server error, every response in the
documented schema, status, content type and headers, invalid data refused with a 4xx, valid data accepted, 405
with an Allow header. 0 failures. ``CONTRACT_MAX_EXAMPLES`` (default 5) bounds the generated examples per
operation so that the test stays under 40 s on a loaded machine; raise it for a deeper run.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from werkzeug.serving import make_server

from tests.api.test_api import world  # noqa: F401  (the fixture: consultations, comments, a meeting...)

pytest.importorskip("schemathesis")
pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "5"))


@pytest.fixture
def live_url(app, world):  # noqa: F811
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_the_api_keeps_its_contract(live_url, tmp_path):
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{live_url}/api/v1/openapi.json",
               "--url", live_url, "--checks", "all", "--mode", "all", "--max-examples", str(MAX_EXAMPLES),
               "--generation-deterministic", "--workers", "1", "--request-timeout", "20",
               "--no-color", "--wait-for-schema", "10"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                            env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "No issues found" in result.stdout or "0 failures" in result.stdout or "passed" in result.stdout, report
