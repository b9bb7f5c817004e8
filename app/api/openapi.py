"""The OpenAPI 3.1 document, assembled from the endpoint declarations in views.py (never written by hand)."""
from __future__ import annotations

import re

from flask import current_app
from flask.typing import ResponseReturnValue

from app.api import bp
from app.api.core import ENDPOINTS, EXTRA_PATHS, MAX_LIMIT, json_response
from app.core.inputs import MAX_INT

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["status", "message"],
    "properties": {"status": {"type": "integer"}, "message": {"type": "string"}}}}}

ERROR_STATUSES = {"400": "Bad request: unknown parameter, malformed value or cursor.",
                  "404": "Not found.", "422": "A parameter is out of range (such as a page size above the maximum).",
                  "429": "Too many requests from this address."}


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def document() -> dict:
    paths: dict = {}
    for ep in ENDPOINTS:
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 1, "maximum": MAX_INT}} for name in ep.path_params]
        for p in ep.params:
            schema = p.schema()
            if p.name == "limit":
                schema.update({"minimum": 1, "maximum": MAX_LIMIT})
            parameters.append({"name": p.name, "in": "query", "required": False, "description": p.description,
                               "schema": schema})
        responses = {"200": {"description": "OK", "headers": {"ETag": {"schema": {"type": "string"}}},
                             "content": {"application/json": {"schema": ep.schema}}},
                     "304": {"description": "Not modified (If-None-Match matched the ETag)."}}
        for status, text in ERROR_STATUSES.items():
            responses[status] = {"description": text,
                                 "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        paths[openapi_path(ep.rule)] = {"get": {"operationId": ep.name, "summary": ep.summary,
                                                "parameters": parameters, "responses": responses}}
    paths.update(EXTRA_PATHS)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Canyu open data API", "version": "1.0.0",
                 "description": "Read-only public data of the Shanghai public participation platform. Lists use "
                                "keyset pagination: pass next_cursor back as cursor. Nothing personal is published. "
                                "One write endpoint, for forwarding systems with a token: "
                                "POST /api/v1/messages/forwarded.",
                 "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"}},
        "servers": [{"url": current_app.config["BASE_URL"].rstrip("/")}],
        "paths": paths,
        "components": {"schemas": {"Error": ERROR},
                       "securitySchemes": {"forwardingToken": {
                           "type": "http", "scheme": "bearer",
                           "description": "A forwarding system's token, issued by the General Office per source."}}},
    }


@bp.route("/api/v1/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return json_response(document())
