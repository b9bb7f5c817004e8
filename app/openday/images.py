"""Activity images: checked by content (JPG or PNG, at most 10 MB) and kept in the app's file storage, so that
every app host serves them and a rolled-back save leaves nothing behind."""
from __future__ import annotations

import re

import filetype
from flask import Response, abort
from flask_babel import gettext as _

from app.core.storage import Upload, storage, store_upload
from app.openday.models import OpenDayError

IMAGE_TYPES = {"jpg": "image/jpeg", "png": "image/png"}
IMAGE_MAX_BYTES = 10 * 1024 * 1024
UPLOAD_AREA = "openday"  # storage keys: openday/<random>.<jpg|png>
_NAME = re.compile(r"^[0-9a-f]{16,64}\.(jpg|png)$")


def store_image(upload: Upload | None) -> str | None:
    """Check and store an uploaded image; returns its name (kept in ``Activity.images``), or None when no file was
    sent. The file follows the current transaction: if it rolls back, the image is removed."""
    if upload is None or upload.is_empty():
        return None
    if upload.size > IMAGE_MAX_BYTES:
        raise OpenDayError(_("图片不能超过 10 MB。"), field="image")
    kind = filetype.guess(upload.head())
    if kind is None or kind.extension not in IMAGE_TYPES:
        raise OpenDayError(_("图片只能是 JPG 或 PNG 格式。"), field="image")
    key, _size = store_upload(UPLOAD_AREA, upload, kind.extension)
    return key.split("/", 1)[1]


def send_image(name: str) -> Response:
    """Serve a stored image with the type it was checked as (inline, cacheable: names are random and never reused)."""
    match = _NAME.match(name)
    if not match:
        abort(404)
    return storage().send(f"{UPLOAD_AREA}/{name}", mimetype=IMAGE_TYPES[match.group(1)], download_name=name,
                          as_attachment=False, max_age=86400)
