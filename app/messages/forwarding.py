"""The forwarding API: a forwarding system (the central portal's, the 12345 hotline's, a department mailbox's) sends
one message per request to ``POST /api/v1/messages/forwarded`` with ``Authorization: Bearer <token>``.

- A token belongs to one source; only its SHA-256 is stored, the token itself is shown once when created. An
  unknown or revoked token gets 401.
- Idempotent on the source's own id: the same ``source_id`` again answers 200 with the stored message and changes
  nothing (a forwarding system may resend after a timeout).
- The request body's JSON schema is part of the OpenAPI document (/api/v1/openapi.json).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask import Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _

from app.accounts.models import User
from app.api.core import EXTRA_PATHS
from app.core.audit import audit
from app.core.timeutil import utcnow
from app.extensions import csrf, db, limiter
from app.messages import bp, services
from app.messages.models import FORWARDED_SOURCES, ForwardingToken, MessageError, MessageSource

TOKEN_PREFIX = "lyf_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(actor: User, source: MessageSource, label: str) -> tuple[ForwardingToken, str]:
    """A new token for a forwarding source: returns (row, token). The token is shown once and never stored."""
    if source not in FORWARDED_SOURCES:
        raise MessageError(_("请选择转办来源。"), field="source")
    if not (label or "").strip():
        raise MessageError(_("请填写名称。"), field="label")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ForwardingToken(source=source, label=label.strip()[:100], token_hash=token_hash(token),
                          created_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    audit(actor, "message.token_create", row, source=source.value, label=row.label)
    return row, token


def revoke_token(actor: User, row: ForwardingToken) -> None:
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session.flush()
        audit(actor, "message.token_revoke", row, source=row.source.value, label=row.label)


def authenticate(header: str | None) -> ForwardingToken | None:
    """The live token an ``Authorization: Bearer`` header carries, or None."""
    scheme, _sep, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    digest = token_hash(token.strip())
    row = db.session.scalar(sa.select(ForwardingToken).where(ForwardingToken.token_hash == digest))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return row


FIELDS = {"source_id": str, "forwarded_at": str, "subject": str, "text": str, "writer_name": str,
          "writer_phone": str, "writer_email": str, "district": str, "allow_publish": bool}
REQUIRED = ("source_id", "forwarded_at", "subject", "text")

REQUEST_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": list(REQUIRED),
    "properties": {
        "source_id": {"type": "string", "minLength": 1, "maxLength": 64,
                      "description": "The source's own id of the message; the key that makes a resend harmless."},
        "forwarded_at": {"type": "string", "format": "date-time",
                         "description": "When the source forwarded it, ISO 8601 with an offset."},
        "subject": {"type": "string", "minLength": 1, "maxLength": 200},
        "text": {"type": "string", "minLength": 1, "maxLength": 5000},
        "writer_name": {"type": "string", "maxLength": 60},
        "writer_phone": {"type": "string", "maxLength": 40},
        "writer_email": {"type": "string", "maxLength": 254},
        "district": {"type": "string", "description": "A Shanghai district code, e.g. xuhui."},
        "allow_publish": {"type": "boolean", "description": "The writer agreed to publication with the reply."},
    },
}
RESPONSE_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["tracking_number", "created",
                                                                                   "status_url"],
                   "properties": {"tracking_number": {"type": "string"}, "created": {"type": "boolean"},
                                  "status_url": {"type": "string"}}}
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
EXTRA_PATHS["/api/v1/messages/forwarded"] = {"post": {
    "operationId": "forward_message", "summary": "Forward one message (forwarding systems only).",
    "security": [{"forwardingToken": []}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": REQUEST_SCHEMA}}},
    "responses": {
        "201": {"description": "Stored.", "content": {"application/json": {"schema": RESPONSE_SCHEMA}}},
        "200": {"description": "Already stored (same source_id): nothing changed.",
                "content": {"application/json": {"schema": RESPONSE_SCHEMA}}},
        "400": {"description": "Not a JSON object, or unknown fields.", **_ERROR},
        "401": {"description": "Missing, unknown or revoked token.", **_ERROR},
        "422": {"description": "A field is missing or invalid (error.field names it).", **_ERROR},
        "429": {"description": "Too many requests.", **_ERROR},
    }}}


def _error(status: int, message: str, **details) -> Response:
    response = jsonify({"error": {"status": status, "message": message, **details}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _parse(payload) -> services.ForwardedData:
    if not isinstance(payload, dict):
        raise MessageError("The body must be a JSON object.", field=None)
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise MessageError(f"Unknown field(s): {', '.join(unknown)}.", field=unknown[0])
    for name in REQUIRED:
        if not payload.get(name):
            raise MessageError(f"'{name}' is required.", field=name)
    for name, kind in FIELDS.items():
        if name in payload and payload[name] is not None and not isinstance(payload[name], kind):
            raise MessageError(f"'{name}' must be a {'boolean' if kind is bool else 'string'}.", field=name)
    try:
        forwarded_at = datetime.fromisoformat(payload["forwarded_at"].replace("Z", "+00:00"))
    except ValueError:
        raise MessageError("'forwarded_at' must be ISO 8601 with an offset.", field="forwarded_at") from None
    if forwarded_at.tzinfo is None:
        raise MessageError("'forwarded_at' must be ISO 8601 with an offset.", field="forwarded_at")
    return services.ForwardedData(
        source_ref=payload["source_id"], forwarded_at=forwarded_at, subject=payload["subject"], text=payload["text"],
        writer_name=payload.get("writer_name") or "", writer_phone=payload.get("writer_phone") or "",
        writer_email=payload.get("writer_email") or "", district=payload.get("district") or None,
        allow_publish=bool(payload.get("allow_publish")))


@bp.route("/api/v1/messages/forwarded", methods=["POST"])
@csrf.exempt
@limiter.limit(lambda: current_app.config.get("FORWARDING_RATE_LIMIT", "600 per minute"))
def forward() -> ResponseReturnValue:
    row = authenticate(request.headers.get("Authorization"))
    if row is None:
        response = _error(401, "Missing, unknown or revoked forwarding token.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="canyu-forwarding"'
        return response
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # JSON nested deeper than Python parses: not an object either
        payload = None
    with force_locale("en"):  # the caller is a program: messages in English
        try:
            data = _parse(payload)
            message, created = services.receive_forwarded(None, row.source, data)
            row.last_used_at = utcnow()
            db.session.commit()
        except MessageError as error:
            db.session.rollback()
            status = 400 if error.field is None or "Unknown" in str(error) else 422
            return _error(status, str(error), field=error.field)
        except sa.exc.IntegrityError:  # two resends raced: the first one stored it
            db.session.rollback()
            message, created = services.find_forwarded(row.source, data.source_ref), False
            if message is None:
                raise
    body = {"tracking_number": message.tracking_number, "created": created,
            "status_url": f"/messages/track/{message.tracking_number}"}
    response = jsonify(body)
    response.status_code = 201 if created else 200
    response.headers["Cache-Control"] = "no-store"
    return response
