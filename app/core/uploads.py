"""Checking uploaded attachments before they are stored, the same way for every module (comments, messages): at
most five files, each at most 10 MB, and of an allowed type recognised from the content (magic numbers), never
from the name. Only the first bytes are read; the file is stored later, streamed in chunks (core.storage)."""
from __future__ import annotations

import filetype
from flask_babel import gettext as _

from app.core.errors import DomainError
from app.core.storage import MIME_TYPES, Upload, clean_name

MAX_ATTACHMENTS = 5
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = dict(MIME_TYPES)  # pdf, docx, jpg, png
DOCUMENT_TYPES = {k: v for k, v in MIME_TYPES.items() if k in ("pdf", "docx")}


def check_uploads(uploads: list[Upload], allowed: dict[str, str] | None = None,
                  error: type[DomainError] = DomainError, field: str = "attachments"
                  ) -> list[tuple[Upload, str, str]]:
    """The non-empty uploads with their checked extension and type; raises ``error`` (with the message next to
    ``field``) for more than five files, a file over 10 MB, or a file whose content is not of an allowed type."""
    allowed = allowed or ATTACHMENT_TYPES
    uploads = [u for u in uploads if not u.is_empty()]
    if len(uploads) > MAX_ATTACHMENTS:
        raise error(_("最多上传%(n)s个附件。", n=MAX_ATTACHMENTS), field=field)
    checked = []
    for u in uploads:
        name = clean_name(u.filename)[:100]  # as shown in a message: no control characters
        if u.size > MAX_ATTACHMENT_BYTES:
            raise error(_("附件“%(name)s”超过10 MB。", name=name), field=field)
        kind = filetype.guess(u.head())
        if kind is None or kind.extension not in allowed:
            if set(allowed) == set(DOCUMENT_TYPES):
                msg = _("文件“%(name)s”不是PDF或DOCX文件（按文件内容检查）。", name=name)
            else:
                msg = _("附件“%(name)s”不是PDF、DOCX、JPG或PNG文件（按文件内容检查）。", name=name)
            raise error(msg, field=field)
        checked.append((u, kind.extension, allowed[kind.extension]))
    return checked
