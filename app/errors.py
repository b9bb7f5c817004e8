"""Friendly error pages in the visitor's language; JSON for the API."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.core.observability import request_id
from app.extensions import db


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


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error) -> ResponseReturnValue:
        return render_error(400, _("表单已过期或缺少安全令牌，请返回上一页，刷新后重新提交。"))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
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
        app.logger.exception("unhandled error on %s", request.path)
        db.session.rollback()
        return render_error(500)
