"""Security headers, friendly error pages, CSRF and body-size limits."""
import pytest

from app import create_app
from config import ProductionConfig, TestingConfig


def test_every_page_carries_the_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_inline_script_or_external_asset_in_the_layout(client):
    page = client.get("/").get_data(as_text=True)
    assert "<script>" not in page and "http://" not in page.replace("http://localhost", "")
    assert "https://" not in page


def assert_error_page(response, status: int, text: str) -> None:
    assert response.status_code == status
    assert text in response.get_data(as_text=True)


@pytest.mark.parametrize("query, text", [("", "页面不存在"), ("?lang=en", "Page not found")])
def test_unknown_page_is_a_friendly_404_in_each_language(client, query, text):
    assert_error_page(client.get(f"/no-such-page{query}"), 404, text)


def test_missing_csrf_token_gives_the_400_page_and_signs_in_nobody(app, client, resident):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/accounts/login", data={"email": resident.email, "password": "x"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "安全令牌" in body
    assert "退出" not in body  # not signed in


def test_oversize_body_gives_the_413_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post("/accounts/login", data={"email": "a@b.cn", "password": "x" * 5000})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = TestingConfig.MAX_CONTENT_LENGTH
    assert_error_page(response, 413, "上传内容过大")


def test_unexpected_error_gives_the_500_page(app, client, monkeypatch):
    def boom():
        raise RuntimeError("boom")

    monkeypatch.setitem(app.view_functions, "core.healthz", boom)
    monkeypatch.setitem(app.config, "TEST_ERROR_PAGES", True)
    assert_error_page(client.get("/healthz"), 500, "系统出错")


def test_api_errors_are_json(client):
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_production_refuses_to_start_without_a_real_secret_key(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "dev")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config_class=ProductionConfig)


def test_production_starts_with_a_real_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")  # production refuses to start without it
    monkeypatch.setenv("BASE_URL", "https://canyu.example.gov.cn")
    # The limiter is one object for every app of the process: keep it off (and off Redis) for the other tests.
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", "UPLOAD_DIR": str(tmp_path),
                      "RATELIMIT_ENABLED": False, "RATELIMIT_STORAGE_URI": "memory://"},
                     config_class=ProductionConfig)
    assert app.config["SESSION_COOKIE_SECURE"] is True
