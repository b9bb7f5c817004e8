"""The machinery of the open-data API: endpoint registry (for the OpenAPI document), JSON errors, strict query
parameters, keyset cursors, ETag / Cache-Control."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import wraps
from typing import Any

from flask import Response, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from app.api import bp
from app.core.inputs import MAX_DATE, MAX_INT, MIN_DATE, parse_date, parse_id
from app.extensions import db

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 400  # a real one is under 100 characters


class ApiError(Exception):
    def __init__(self, status: int, message: str, **details):
        super().__init__(message)
        self.status, self.message, self.details = status, message, details


@dataclass
class Param:
    name: str
    kind: str = "string"  # string, integer, date
    description: str = ""
    enum: tuple[str, ...] | None = None

    def parse(self, raw: str) -> Any:
        if self.kind == "integer":
            value = parse_id(raw)
            if value is None:
                raise ApiError(400, f"Parameter '{self.name}' must be an integer from 1 to {MAX_INT}.")
            return value
        if self.kind == "date":
            day = parse_date(raw)
            if day is None:
                raise ApiError(400, f"Parameter '{self.name}' must be a date (YYYY-MM-DD) from "
                                    f"{MIN_DATE} to {MAX_DATE}.")
            return day
        if self.enum and raw not in self.enum:
            raise ApiError(400, f"Parameter '{self.name}' must be one of: {', '.join(self.enum)}.")
        return raw


@dataclass
class Endpoint:
    rule: str
    name: str
    summary: str
    schema: dict
    params: list[Param] = field(default_factory=list)
    paginated: bool = False
    path_params: tuple[str, ...] = ()


ENDPOINTS: list[Endpoint] = []
# OpenAPI paths declared by other modules for endpoints that are not read-only GETs (messages' forwarding API):
# {path: {method: operation}}, merged into the document as they are.
EXTRA_PATHS: dict[str, dict] = {}
PAGE_PARAMS = [Param("limit", "integer", f"Page size, 1–{MAX_LIMIT} (default {DEFAULT_LIMIT})."),
               Param("cursor", "string", "Opaque cursor from a previous page's next_cursor.")]


def page_schema(item: dict) -> dict:
    return {"type": "object", "required": ["items", "next_cursor"], "additionalProperties": False,
            "properties": {"items": {"type": "array", "items": item},
                           "next_cursor": {"type": ["string", "null"]}}}


def endpoint(rule: str, summary: str, schema: dict, params: list[Param] | None = None, paginated: bool = False) -> Callable[[Callable], Callable]:
    """Declare a read-only JSON endpoint: route, documented parameters and response schema in one place."""

    def decorate(view: Callable):
        declared = list(params or []) + (PAGE_PARAMS if paginated else [])
        path_params = tuple(part[part.index(":") + 1:-1] if ":" in part else part[1:-1]
                            for part in rule.split("/") if part.startswith("<"))
        ep = Endpoint(rule, view.__name__, summary, page_schema(schema) if paginated else schema, declared,
                      paginated, path_params)
        ENDPOINTS.append(ep)

        @wraps(view)
        def wrapped(**kwargs):
            allowed = {p.name: p for p in declared}
            unknown = sorted(set(request.args) - set(allowed))
            if unknown:
                raise ApiError(400, f"Unknown parameter(s): {', '.join(unknown)}.",
                               allowed=sorted(allowed))
            args = {name: allowed[name].parse(request.args[name]) for name in request.args
                    if request.args[name] != "" and name not in ("limit", "cursor")}
            if paginated:
                args["limit"] = parse_limit(request.args.get("limit"))
                args["cursor"] = decode_cursor(request.args.get("cursor"))
            return json_response(view(args, **kwargs))

        bp.add_url_rule(rule, view.__name__, wrapped)
        return wrapped

    return decorate


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "Parameter 'limit' must be an integer.") from None
    if not 1 <= value <= MAX_LIMIT:
        raise ApiError(422, f"Parameter 'limit' must be between 1 and {MAX_LIMIT}.")
    return value


def encode_cursor(values: list) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> list | None:
    if not raw:
        return None
    try:
        if len(raw) > MAX_CURSOR_LENGTH:
            raise ValueError(raw)
        padded = raw + "=" * (-len(raw) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "Malformed cursor: pass next_cursor from a previous page unchanged.") from None
    if not isinstance(values, list) or not values or not all(isinstance(v, (int, str)) for v in values):
        raise ApiError(400, "Malformed cursor: pass next_cursor from a previous page unchanged.")
    return values


def cursor_datetime(value) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ApiError(400, "Malformed cursor: pass next_cursor from a previous page unchanged.") from None
    if parsed.tzinfo is None or not MIN_DATE.year < parsed.year < MAX_DATE.year:
        raise ApiError(400, "Malformed cursor: pass next_cursor from a previous page unchanged.")
    return parsed


def cursor_int(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_INT:
        raise ApiError(400, "Malformed cursor: pass next_cursor from a previous page unchanged.")
    return value


def page(rows: list, limit: int, key: Callable[[Any], list], render: Callable[[Any], dict]) -> dict:
    """``rows`` holds up to limit + 1 rows in keyset order; the extra one only says that a next page exists."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [render(r) for r in rows], "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None}


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def json_response(payload, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    response = Response(body, status=status, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={current_app.config.get('API_CACHE_SECONDS', 60)}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    if status == 200:
        response.make_conditional(request)
    return response


def error_response(status: int, message: str, **details) -> Response:
    body = {"error": {"status": status, "message": message, **details}}
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> ResponseReturnValue:
    return error_response(exc.status, exc.message, **exc.details)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    if not request.path.startswith("/api/"):
        return exc
    if exc.code == 429:
        response = error_response(429, "Too many requests from this address; wait and try again.",
                                  limit=str(getattr(exc, "description", "")))
        retry = getattr(exc, "retry_after", None)
        if retry:
            response.headers["Retry-After"] = str(retry)
        return response
    messages = {404: "Not found.", 405: "Method not allowed: the API is read only."}
    return error_response(exc.code or 500, messages.get(exc.code, exc.description or exc.name))


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> ResponseReturnValue:  # never an HTML 500 from the API
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    from app.errors import RETRY_AFTER_SECONDS, is_database_unavailable

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone
        pass
    if is_database_unavailable(exc):
        current_app.logger.error("API: database unavailable on %s", request.path)
        response = error_response(503, "Temporarily unavailable; try again shortly.")
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    current_app.logger.exception("API error")
    return error_response(500, "Internal error.")
