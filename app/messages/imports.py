"""Forwarded messages in a batch file (CSV or XLSX) uploaded by the office; the column layout is documented in
docs/messages-import.md. A file is read whole and checked before anything is written:

- a file that is not a CSV text or an XLSX workbook (a binary renamed .csv), that lacks a required column, or that
  has more than MAX_ROWS rows is refused with one clear reason and imports nothing;
- every other row is checked on its own: a bad row (missing subject, unreadable date, a source id repeated in the
  file...) is reported with its line number and reason, the good rows are imported;
- a source id already stored (an earlier import, or the forwarding API) is counted as a duplicate and adds
  nothing, so importing the same file twice adds nothing the second time.

Rows are written in chunks (one query for the stored ids, one for tracking-number clashes, one multi-row insert per
chunk), so 10,000 rows import in seconds (bench/bench_messages.py).
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import DISTRICTS, User, mask_name
from app.core.audit import audit
from app.core.inputs import has_control
from app.core.privacy import mask_personal_information
from app.core.timeutil import SHANGHAI, local, utcnow
from app.extensions import db
from app.messages import rules
from app.messages.models import (
    ContactPreference,
    EventKind,
    ImportBatch,
    Message,
    MessageError,
    MessageEvent,
    MessageSource,
    WriterType,
)

MAX_ROWS = 20_000
MAX_BYTES = 20 * 1024 * 1024
CHUNK = 1000
MAX_REPORTED_ERRORS = 1000

# Column names (English, or the Chinese heading an office spreadsheet uses) -> field.
COLUMNS = {
    "source_id": "source_id", "来源编号": "source_id",
    "forwarded_at": "forwarded_at", "转办时间": "forwarded_at",
    "subject": "subject", "主题": "subject",
    "text": "text", "内容": "text", "留言内容": "text",
    "writer_name": "writer_name", "姓名": "writer_name",
    "writer_phone": "writer_phone", "电话": "writer_phone",
    "writer_email": "writer_email", "邮箱": "writer_email",
    "district": "district", "区": "district",
    "allow_publish": "allow_publish", "同意公开": "allow_publish",
}
REQUIRED = ("source_id", "forwarded_at", "subject", "text")
YES = {"1", "y", "yes", "true", "是", "同意"}
NO = {"", "0", "n", "no", "false", "否", "不同意"}
DISTRICT_NAMES = {zh: code for code, (zh, _en) in DISTRICTS.items()} | {en.lower(): code for code, (_zh, en)
                                                                         in DISTRICTS.items()}


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)  # {"line": n, "reason": text}
    batch: ImportBatch | None = None


def N_(msgid: str) -> str:
    """Marks a message id for extraction; it is translated when shown (RowProblem)."""
    return msgid


class RowProblem(ValueError):
    """Why a row is refused: the message id and its values are kept with the batch, so that the report reads in the
    language of whoever opens it, not of whoever imported the file."""

    def __init__(self, msgid: str, **params) -> None:
        super().__init__(msgid)
        self.msgid, self.params = msgid, params

    def __str__(self) -> str:
        return _(self.msgid, **self.params)

    def as_error(self, line: int) -> dict:
        return {"line": line, "reason": str(self), "msgid": self.msgid, "params": self.params}


def row_reason(error: dict) -> str:
    """An error of a batch in the reader's language (batches stored before the message ids: their text)."""
    if error.get("msgid"):
        return _(error["msgid"], **error.get("params", {}))
    return error.get("reason", "")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _read_csv(data: bytes) -> list[list]:
    if b"\x00" in data[:65536]:
        raise MessageError(_("文件不是CSV文本文件（含有二进制内容）。请上传UTF-8或GB18030编码的CSV，或XLSX工作簿。"),
                           field="file")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes almost any bytes
        raise MessageError(_("无法识别文件编码，请另存为UTF-8编码的CSV。"), field="file")
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise MessageError(_("CSV格式有误：%(reason)s", reason=str(error)), field="file") from None


def _read_xlsx(data: bytes) -> list[list]:
    import openpyxl  # only for imports: it costs every web worker memory otherwise

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise MessageError(_("无法读取XLSX工作簿，文件可能已损坏。"), field="file") from None
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append(list(row))
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        workbook.close()


def read_rows(filename: str, data: bytes) -> list[list]:
    """The file's rows (header first), from its content: an XLSX is a zip archive, anything else must be CSV text."""
    if not data:
        raise MessageError(_("文件是空的。"), field="file")
    if len(data) > MAX_BYTES:
        raise MessageError(_("文件超过20 MB，请分批导入。"), field="file")
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    if (filename or "").lower().endswith((".xlsx", ".xls")):
        raise MessageError(_("文件不是XLSX工作簿（按文件内容检查）。"), field="file")
    return _read_csv(data)


def _parse_time(value) -> datetime:
    """A Shanghai date or date and time: an XLSX date cell, "2026-11-03", "2026-11-03 14:20" or "2026/11/03 14:20:05",
    or ISO 8601 with an offset."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value
    if isinstance(value, date):
        return datetime.combine(value, time(9, 0), tzinfo=SHANGHAI)
    text = _cell(value).replace("/", "-").replace("T", " ")
    if not text:
        raise ValueError
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(9, 0), tzinfo=SHANGHAI)
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=SHANGHAI) if parsed.tzinfo is None else parsed


def _check_row(values: dict, now: datetime) -> dict:
    """A row's fields, or raises ValueError with the reason to report."""
    ref = _cell(values.get("source_id"))
    if not ref:
        raise RowProblem(N_("缺少来源编号"))
    if len(ref) > 64:
        raise RowProblem(N_("来源编号超过64个字符"))
    try:
        forwarded_at = _parse_time(values.get("forwarded_at"))
    except (ValueError, TypeError):
        raise RowProblem(N_("转办时间“%(value)s”无法识别，应为2026-11-03或2026-11-03 14:20"),
                         value=_cell(values.get("forwarded_at"))[:40]) from None
    if forwarded_at > now:
        raise RowProblem(N_("转办时间晚于现在"))
    if not rules.is_plausible_forwarded_at(forwarded_at, now):
        raise RowProblem(N_("转办时间早于%(year)s年"), year=rules.EARLIEST_FORWARDED.year)
    for name, value in values.items():
        if has_control(_cell(value), multiline=name == "text"):
            raise RowProblem(N_("“%(column)s”列含有控制字符（如 NUL 或换行符）"), column=name)
    subject, text = _cell(values.get("subject")), _cell(values.get("text"))
    if not subject:
        raise RowProblem(N_("缺少主题"))
    if len(subject) > rules.MAX_SUBJECT_LENGTH:
        raise RowProblem(N_("主题超过%(n)s个字"), n=rules.MAX_SUBJECT_LENGTH)
    if not text:
        raise RowProblem(N_("缺少留言内容"))
    if len(text) > rules.MAX_TEXT_LENGTH:
        raise RowProblem(N_("留言内容超过%(n)s个字"), n=rules.MAX_TEXT_LENGTH)
    district_raw = _cell(values.get("district"))
    district = None
    if district_raw:
        district = district_raw if district_raw in DISTRICTS else DISTRICT_NAMES.get(district_raw.lower()) \
            or DISTRICT_NAMES.get(district_raw)
        if district is None:
            raise RowProblem(N_("区“%(value)s”不是上海市的区"), value=district_raw[:20])
    consent = _cell(values.get("allow_publish")).lower()
    if consent not in YES | NO:
        raise RowProblem(N_("“同意公开”应填“是”或“否”"))
    email = _cell(values.get("writer_email"))
    if email and not rules.is_plausible_email(email):
        raise RowProblem(N_("邮箱“%(value)s”格式不正确"), value=email[:60])
    return {"source_ref": ref, "forwarded_at": forwarded_at.astimezone(SHANGHAI), "subject": subject, "text": text,
            "writer_name": _cell(values.get("writer_name"))[:60], "writer_phone": _cell(values.get("writer_phone"))[:40],
            "writer_email": email, "district": district, "allow_publish": consent in YES}


def import_file(actor: User, source: MessageSource, filename: str, data: bytes) -> ImportReport:
    """Import a batch file of forwarded messages; see the module's description for what is refused and reported."""
    if source is MessageSource.PLATFORM:
        raise MessageError(_("请选择转办来源。"), field="source")
    rows = read_rows(filename, data)
    if not rows:
        raise MessageError(_("文件是空的。"), field="file")
    header = [COLUMNS.get(_cell(h).lower()) or COLUMNS.get(_cell(h)) for h in rows[0]]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise MessageError(_("缺少必需的列：%(columns)s。第一行应为列名，见导入格式说明。", columns="、".join(missing)),
                           field="file")
    body = rows[1:]
    if len(body) > MAX_ROWS:
        raise MessageError(_("文件超过%(n)s行，请分批导入（本次未导入任何内容）。", n=MAX_ROWS), field="file")
    now = utcnow()
    report = ImportReport()
    good: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(body, start=2):
        if not any(_cell(v) for v in row):
            continue
        report.rows += 1
        values = {name: row[i] for i, name in enumerate(header) if name and i < len(row)}
        try:
            fields = _check_row(values, now)
        except RowProblem as problem:
            report.errors.append(problem.as_error(line))
            continue
        if fields["source_ref"] in seen:
            report.errors.append(RowProblem(N_("来源编号%(ref)s与第%(other)s行重复"), ref=fields["source_ref"],
                                            other=seen[fields["source_ref"]]).as_error(line))
            continue
        seen[fields["source_ref"]] = line
        good.append((line, fields))
    batch = ImportBatch(source=source, filename=(filename or "")[:255], uploaded_by_id=actor.id, created_at=now)
    db.session.add(batch)
    db.session.flush()
    for start in range(0, len(good), CHUNK):
        _write_chunk(batch, source, good[start:start + CHUNK], now, report)
    batch.rows_total, batch.rows_imported, batch.rows_duplicate = report.rows, report.imported, report.duplicates
    batch.errors = report.errors[:MAX_REPORTED_ERRORS]
    report.batch = batch
    db.session.flush()
    audit(actor, "message.import", batch, source=source.value, rows=report.rows, imported=report.imported,
          duplicates=report.duplicates, errors=len(report.errors))
    return report


def _write_chunk(batch: ImportBatch, source: MessageSource, chunk: list[tuple[int, dict]], now: datetime,
                 report: ImportReport) -> None:
    refs = [fields["source_ref"] for _line, fields in chunk]
    stored = set(db.session.scalars(sa.select(Message.source_ref).where(Message.source == source,
                                                                        Message.source_ref.in_(refs))))
    fresh = [fields for _line, fields in chunk if fields["source_ref"] not in stored]
    report.duplicates += len(chunk) - len(fresh)
    numbers = _tracking_numbers(len(fresh), now)
    rows = []
    for fields, number in zip(fresh, numbers):
        received = fields["forwarded_at"]
        rows.append({
            "tracking_number": number, "source": source, "source_ref": fields["source_ref"], "forwarded_at": received,
            "import_batch_id": batch.id, "writer_name": fields["writer_name"], "writer_phone": fields["writer_phone"],
            "writer_email": fields["writer_email"], "public_name": mask_name(fields["writer_name"]),
            "subject": fields["subject"], "text_original": fields["text"],
            "text_public": mask_personal_information(fields["text"]), "district": fields["district"],
            "allow_publish": fields["allow_publish"], "received_at": received, "created_at": now,
            "contact_preference": ContactPreference.EMAIL if fields["writer_email"] else ContactPreference.PHONE,
            "writer_type": WriterType.RESIDENT, "return_count": 0, "extension_days": 0,
            "reply_due_at": rules.reply_due(source, received)})
    if not rows:
        return
    # Core multi-row inserts (one statement per chunk, ids returned in order), not one ORM object per row.
    ids = db.session.scalars(sa.insert(Message).returning(Message.id, sort_by_parameter_order=True), rows).all()
    db.session.execute(sa.insert(MessageEvent), [
        {"message_id": mid, "kind": EventKind.RECEIVED, "at": row["received_at"], "note": source.msgid}
        for mid, row in zip(ids, rows)])
    report.imported += len(rows)


def _tracking_numbers(n: int, now: datetime) -> list[str]:
    """``n`` fresh random tracking numbers, checked against the stored ones in one query per round."""
    year = local(now).year
    chosen: set[str] = set()
    while len(chosen) < n:
        candidates = {rules.random_tracking_number(year) for _ in range(n - len(chosen))} - chosen
        taken = set(db.session.scalars(sa.select(Message.tracking_number).where(
            Message.tracking_number.in_(candidates)))) if candidates else set()
        chosen |= candidates - taken
    return list(chosen)

