"""The machinery of the open-data API: endpoint registry (for the OpenAPI document), JSON errors, strict query
parameters, keyset cursors, ETag / Cache-Control."""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from app.api import bp
from app.core.inputs import DATE_PATTERN, MAX_DATE, MAX_INT, MIN_DATE, parse_date, parse_id
from app.extensions import db

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# The shape of every query parameter is in the OpenAPI document, and the API refuses (400) exactly what does not
# fit it: schemathesis checks both ways (tests/api/test_contract.py).
TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\ufffe\\uffff]*$"  # no control characters (app.core.inputs)
PERIOD_PATTERN = "^20[0-9]{2}(-(Q[1-4]|0[1-9]|1[0-2]))?$"
# Keyset cursors: "<microseconds since 1970>.<id>" (lists ordered by a time, then id) or "<id>".
CURSOR_PATTERNS = {"time": "^[0-3]?[0-9]{1,15}\\.[0-9]{1,9}$", "id": "^[0-9]{1,9}$"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MALFORMED_CURSOR = "Malformed cursor: pass next_cursor from a previous page unchanged."


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
    pattern: str | None = None

    def schema(self) -> dict:
        if self.kind == "integer":
            return {"type": "integer", "minimum": 1, "maximum": MAX_INT}
        if self.kind == "date":
            return {"type": "string", "format": "date", "pattern": DATE_PATTERN}
        if self.enum:
            return {"type": "string", "enum": list(self.enum)}
        return {"type": "string", "pattern": self.pattern or TEXT_PATTERN}

    @property
    def empty_means_absent(self) -> bool:
        """Is an empty value the same as none (a free-text filter), rather than malformed?"""
        return self.kind == "string" and not self.enum and self.pattern is None

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
        if self.pattern and not re.fullmatch(self.pattern.strip("^$"), raw):
            raise ApiError(400, f"Parameter '{self.name}' is malformed: {self.description}")
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
    cursor: str = "time"


ENDPOINTS: list[Endpoint] = []


def page_params(cursor: str) -> list[Param]:
    return [Param("limit", "integer", f"Page size, 1–{MAX_LIMIT} (default {DEFAULT_LIMIT})."),
            Param("cursor", "string", "Cursor from a previous page's next_cursor.", pattern=CURSOR_PATTERNS[cursor])]


# OpenAPI paths declared by other modules for endpoints that are not read-only GETs (messages' forwarding API):
# {path: {method: operation}}, merged into the document as they are.
EXTRA_PATHS: dict[str, dict] = {}


def page_schema(item: dict) -> dict:
    return {"type": "object", "required": ["items", "next_cursor"], "additionalProperties": False,
            "properties": {"items": {"type": "array", "items": item},
                           "next_cursor": {"type": ["string", "null"]}}}


def endpoint(rule: str, summary: str, schema: dict, params: list[Param] | None = None, paginated: bool = False,
             cursor: str = "time") -> Callable[[Callable], Callable]:
    """Declare a read-only JSON endpoint: route, documented parameters and response schema in one place.
    ``cursor``: "time" when pages are ordered by (a time, id), "id" when by id alone."""

    def decorate(view: Callable):
        declared = list(params or []) + (page_params(cursor) if paginated else [])
        path_params = tuple(part[part.index(":") + 1:-1] if ":" in part else part[1:-1]
                            for part in rule.split("/") if part.startswith("<"))
        ep = Endpoint(rule, view.__name__, summary, page_schema(schema) if paginated else schema, declared,
                      paginated, path_params, cursor)
        ENDPOINTS.append(ep)

        @wraps(view)
        def wrapped(**kwargs):
            allowed = {p.name: p for p in declared}
            unknown = sorted(set(request.args) - set(allowed))
            if unknown:
                raise ApiError(400, f"Unknown parameter(s): {', '.join(unknown)}.",
                               allowed=sorted(allowed))
            args = {name: allowed[name].parse(request.args[name]) for name in request.args
                    if name not in ("limit", "cursor")
                    and not (request.args[name] == "" and allowed[name].empty_means_absent)}
            if paginated:
                args["limit"] = parse_limit(request.args.get("limit"))
                args["cursor"] = decode_cursor(request.args.get("cursor"), cursor)
            return json_response(view(args, **kwargs))

        bp.add_url_rule(rule, view.__name__, wrapped)
        return wrapped

    return decorate


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not re.fullmatch("-?[0-9]{1,10}", raw):
        raise ApiError(400, "Parameter 'limit' must be an integer.")
    value = int(raw)
    if not 1 <= value <= MAX_LIMIT:
        raise ApiError(422, f"Parameter 'limit' must be between 1 and {MAX_LIMIT}.")
    return value


def encode_cursor(values: list) -> str:
    """The cursor after a row whose keyset is [time, id] (a datetime or its ISO text) or [id]."""
    if len(values) == 1:
        return str(values[0])
    at = values[0] if isinstance(values[0], datetime) else datetime.fromisoformat(values[0])
    return f"{(at - _EPOCH) // timedelta(microseconds=1)}.{values[1]}"


def decode_cursor(raw: str | None, kind: str = "time") -> list | None:
    """[datetime, id] or [id] from a cursor of ``kind``; 400 when it does not fit the documented pattern."""
    if raw is None:
        return None
    if not re.fullmatch(CURSOR_PATTERNS[kind].strip("^$"), raw):
        raise ApiError(400, MALFORMED_CURSOR)
    if kind == "id":
        return [int(raw)]
    micros, _, ident = raw.partition(".")
    return [_EPOCH + timedelta(microseconds=int(micros)), int(ident)]


def cursor_datetime(value) -> datetime:
    if not isinstance(value, datetime):
        raise ApiError(400, MALFORMED_CURSOR)
    return value


def cursor_int(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
        raise ApiError(400, MALFORMED_CURSOR)
    return value


def newest_first(stmt: Any, at: Any, id: Any, args: dict) -> list:
    """Up to limit + 1 rows of ``stmt`` ordered by (``at``, ``id``), newest first, after the request's cursor
    (keyset: the cursor holds the last row's time and id)."""
    if args["cursor"]:
        last_at, last_id = cursor_datetime(args["cursor"][0]), cursor_int(args["cursor"][-1])
        stmt = stmt.where(sa.or_(at < last_at, sa.and_(at == last_at, id < last_id)))
    return db.session.scalars(stmt.order_by(at.desc(), id.desc()).limit(args["limit"] + 1)).all()


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
    response = error_response(exc.code or 500, messages.get(exc.code, exc.description or exc.name))
    if exc.code == 405:
        response.headers["Allow"] = allowed_methods()  # set again after every request (_allow)
    return response


CATCH_ALL = "api.not_found"  # /api/v1/<path:anything>: a JSON 404 for unknown addresses, no method of its own


def allowed_methods() -> str:
    """The Allow header of an API address: the methods its own routes take (never the catch-all's GET)."""
    adapter = current_app.create_url_adapter(request)
    methods = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            rule, _args = adapter.match(request.path, method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.endpoint != CATCH_ALL:
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods | {"OPTIONS"}))


@bp.after_app_request
def _allow(response: Response) -> Response:
    if request.path.startswith("/api/") and "Allow" in response.headers and (
            request.method == "OPTIONS" or response.status_code == 405):
        response.headers["Allow"] = allowed_methods()
    return response


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
