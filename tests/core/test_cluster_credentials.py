"""The cluster test (deploy/cluster_test.py, run by hand as root) signs its residents in by making their cookies;
this checks here, on every run of the suite, that those cookies sign a browser in (they stopped doing so when
sign-ins became server-side rows, and the whole rush was redirected to the sign-in page)."""
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _cluster_module():
    path = Path(__file__).resolve().parents[2] / "deploy" / "cluster_test.py"
    spec = importlib.util.spec_from_file_location("cluster_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cluster_tests_cookies_sign_a_browser_in(app, client, db, resident):
    cookie, csrf_token = _cluster_module().signed_in_credentials(app, resident)
    db.session.commit()
    client.set_cookie("session", cookie)
    page = client.get("/me")
    assert page.status_code == 200 and resident.name in page.get_data(as_text=True)
    signed_out = client.post("/accounts/logout", data={"csrf_token": csrf_token})
    assert signed_out.status_code == 302 and client.get("/me").status_code == 302
