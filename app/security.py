"""Response headers every page carries."""
from __future__ import annotations

from flask import Flask, Response, g, request

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        # The check-in page uses the phone camera on this origin only.
        response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        # A page made for a signed-in person is never kept by the browser or a proxy (a shared computer's back
        # button, a cache between). Static files and responses marked public stay cacheable.
        user = g.get("_login_user")
        # (is_anonymous, not is_authenticated: the latter reads the account's row, which may be gone with the
        # database by now)
        if (user is not None and not getattr(user, "is_anonymous", True) and request.endpoint != "static"
                and "public" not in (response.headers.get("Cache-Control") or "")):
            response.headers["Cache-Control"] = "no-store"
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
