"""Signed-in pages and exports are never cached (issue 10)."""
from __future__ import annotations

import pytest

from app.accounts.models import Role


@pytest.mark.parametrize("path", ["/", "/accounts/profile", "/accounts/sessions", "/consultations/", "/openday/",
                                  "/hearings/", "/manage/", "/accounts/data.json"])
def test_every_signed_in_page_is_no_store(client, auth, make_user, department, path):
    auth.login(make_user(Role.STAFF, department=department))
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.headers["Cache-Control"] == "no-store", path


def test_public_pages_for_visitors_are_not_marked(client):
    response = client.get("/consultations/")
    assert "no-store" not in (response.headers.get("Cache-Control") or "")
