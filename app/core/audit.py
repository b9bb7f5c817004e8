"""The audit log: who changed what, when, on which object. Written by services in the same transaction."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    # A readable label of the actor kept even if the account is later deleted ("staff: 王**").
    actor_label: Mapped[str] = mapped_column(sa.String(200), default="")
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    object_type: Mapped[str] = mapped_column(sa.String(60), index=True)
    object_id: Mapped[str] = mapped_column(sa.String(60), default="")
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"), index=True)
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    ip_address: Mapped[str] = mapped_column(sa.String(45), default="")

    actor = db.relationship("User", foreign_keys=[actor_id])
    department = db.relationship("Department", foreign_keys=[department_id])


def audit(actor, action: str, obj: Any = None, *, object_type: str | None = None, object_id: Any = None,
          department_id: int | None = None, **details: Any) -> AuditEntry:
    """Add an audit entry to the session (the caller's transaction commits it).

    ``action`` is a dotted verb such as ``consultation.publish``; ``obj`` is the changed object, whose class
    name and id are recorded, and whose ``department_id`` is used when none is given.
    """
    if obj is not None:
        object_type = object_type or type(obj).__name__
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
        if department_id is None:
            department_id = getattr(obj, "department_id", None)
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_label=(f"{actor.role.value}: {actor.email}" if actor is not None else "system"),
        action=action,
        object_type=object_type or "",
        object_id="" if object_id is None else str(object_id),
        department_id=department_id,
        details={k: v for k, v in details.items() if v is not None},
        ip_address=(request.remote_addr or "") if has_request_context() else "",
    )
    db.session.add(entry)
    return entry
