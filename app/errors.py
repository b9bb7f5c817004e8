"""Friendly error pages in the visitor's language; JSON for the API.

An error page never needs the database: the signed-in user is not loaded for it (the page renders as for a
visitor; the language comes from the ``lang`` cookie or Accept-Language), so that when the database is gone the
visitor still gets a page in their language. A database that cannot be reached answers 503 with Retry-After.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.core.observability import request_id
from app.extensions import db, login_manager

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "30"


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("请求无效"), _("提交的内容无法处理。如果您是在提交表单，请返回上一页，刷新后重新提交。")),
        403: (_("无权访问"), _("您没有访问此页面的权限。")),
        404: (_("页面不存在"), _("您要找的页面不存在或已被移除。")),
        405: (_("请求方式不支持"), _("此页面不接受这种请求方式。")),
        413: (_("上传内容过大"), _("提交的内容超过了大小限制：每个附件最大 10 MB，最多 5 个。")),
        429: (_("请求过于频繁"), _("您的操作过于频繁，请稍后再试。")),
        500: (_("系统出错"), _("服务器处理您的请求时出错，我们已记录此问题。请稍后再试。")),
        503: (_("服务暂不可用"), _("服务暂时不可用，请稍后再试。")),
    }


def render_error(code: int, detail: str | None = None) -> ResponseReturnValue:
    title, message = _messages().get(code, (_("出错了"), ""))
    if request.path.startswith("/api/"):
        return jsonify({"error": {"status": code, "title": title, "message": detail or message,
                                  "request_id": request_id()}}), code
    return render_template("errors/error.html", code=code, title=title, message=message, detail=detail), code


def is_database_unavailable(error: BaseException) -> bool:
    """The database cannot be reached (or is too busy to answer): a temporary state, not a bug."""
    if isinstance(error, (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)):
        return True
    return isinstance(error, sa.exc.DBAPIError) and bool(error.connection_invalidated)


def _forget_user_and_transaction() -> None:
    """Render the error page as for a visitor, and leave the (possibly dead) transaction without raising."""
    g._login_user = login_manager.anonymous_user()
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone; the session is discarded at teardown
        log.debug("rollback after an error failed", exc_info=True)


_BARE = ("<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1><p>{message}</p>"
         "<p>{rid}</p>")


def server_error(code: int) -> ResponseReturnValue:
    """A 500 or 503 page that needs nothing but the request (a last, template-free page if even that fails)."""
    _forget_user_and_transaction()
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if code == 503 else {}
    try:
        body, status = render_error(code)
    except Exception:  # noqa: BLE001 - the page itself failed: a plain one, still in the visitor's language
        log.exception("error page %s could not be rendered", code)
        title, message = _messages()[code]
        body, status = _BARE.format(title=title, message=message, rid=request_id() or ""), code
    return body, status, headers


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error) -> ResponseReturnValue:
        return render_error(400, _("表单已过期或缺少安全令牌，请返回上一页，刷新后重新提交。"))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        if error.code in (500, 503):
            return server_error(error.code)
        response = render_error(error.code or 500)
        if error.code == 429:
            body, code = response
            return body, code, {"Retry-After": getattr(error, "retry_after", None) or "60"}
        if error.code == 405:  # RFC 9110: a 405 says which methods the resource allows
            body, code = response
            return body, code, {"Allow": ", ".join(sorted(getattr(error, "valid_methods", None) or ["GET"]))}
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> ResponseReturnValue:
        if isinstance(error, HTTPException):
            return http_error(error)
        if app.testing and not app.config.get("TEST_ERROR_PAGES"):
            raise error  # tests see the traceback; a test of the 500 page sets TEST_ERROR_PAGES
        if is_database_unavailable(error):
            app.logger.error("database unavailable on %s: %s", request.path,
                             str(error).splitlines()[0][:300] if str(error) else type(error).__name__)
            return server_error(503)
        app.logger.exception("unhandled error on %s", request.path)
        return server_error(500)
