"""Every download of rows (CSV and XLSX), the same way: streamed, cells neutralised, personal data audited.

- Cells: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be run as a
  formula by a spreadsheet program (``=HYPERLINK(...)`` in a comment becomes a live link); it is written with a
  leading apostrophe instead, in CSV and XLSX alike (``neutralise``). The PostgreSQL COPY path of the comment CSV
  does the same in SQL (``sql_neutralise``).
- CSV: UTF-8 with a byte-order mark (spreadsheet programs then read Chinese correctly), written in chunks from a
  generator, so memory stays flat however many rows there are.
- XLSX: xlsxwriter's constant-memory mode (one row in memory at a time) into a temporary file that is then
  streamed and deleted; formulas and links are never made from strings.
- Audit: an export of personal data writes an audit entry (who, what, when, which format) before the first byte.
- Responses are not cached anywhere (``Cache-Control: no-store``).
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import xlsxwriter
from flask import Response, abort, stream_with_context

from app.core.audit import audit

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("csv", "xlsx")
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BOM = "\ufeff"
CSV_CHUNK_ROWS = 500
XLSX_CHUNK_BYTES = 64 * 1024


def neutralise(value: Any) -> Any:
    """A cell that a spreadsheet program would not run as a formula: text starting with = + - @ tab or CR gets a
    leading apostrophe; anything else is returned as it is."""
    if isinstance(value, str) and value[:1] in FORMULA_PREFIXES:
        return "'" + value
    return value


def sql_neutralise(expression: str) -> str:
    """The same rule as ``neutralise`` as a PostgreSQL expression over a text column or expression, with empty text
    as NULL (COPY then writes an empty unquoted field, as the csv writer does). ``ascii()`` reads the code of the
    first character (= + - @ tab CR are 61 43 45 64 9 13) without making a new string, which keeps the COPY path
    close to a bare COPY's speed."""
    return (f"CASE WHEN {expression} = '' THEN NULL WHEN ascii({expression}) IN (61, 43, 45, 64, 9, 13) "
            f"THEN '''' || {expression} ELSE {expression} END")


def _quoted(value: Any) -> str:
    text = str(value)
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = True) -> Iterator[bytes]:
    """The CSV of ``header`` and ``rows`` (cells neutralised; None as an empty field), in chunks of bytes.

    Lines end with LF, as PostgreSQL's COPY writes them; a field holding a line break, a carriage return, a comma or
    a quote is quoted (the csv module alone would leave a lone CR unquoted with an LF line ending)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if bom:
        buffer.write(BOM)
    writer.writerow([neutralise(h) for h in header])
    for i, row in enumerate(rows, start=1):
        cells = ["" if v is None else neutralise(v) for v in row]
        if any(isinstance(v, str) and "\r" in v and "\n" not in v for v in cells):
            buffer.write(",".join(_quoted(v) for v in cells) + "\n")
        else:
            writer.writerow(cells)
        if i % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def write_xlsx(path: str, sheet_name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write the rows to an XLSX file at ``path`` in constant memory; returns how many rows were written."""
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False, "strings_to_numbers": False})
    try:
        sheet = workbook.add_worksheet(sheet_name[:31] or "export")
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, [neutralise(h) for h in header], bold)
        count = 0
        for count, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if value is None or value == "":
                    continue
                value = neutralise(value)
                if isinstance(value, str):
                    sheet.write_string(count, col, value)
                else:
                    sheet.write(count, col, value)
    finally:
        workbook.close()
    return count


def xlsx_chunks(sheet_name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The XLSX of the rows: written to a temporary file first (constant memory), then read out in chunks; the
    file is deleted when the download ends, or is abandoned."""
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsx(path, sheet_name, header, rows)
        with open(path, "rb") as fh:
            while chunk := fh.read(XLSX_CHUNK_BYTES):
                yield chunk
    finally:
        os.unlink(path)


def format_or_404(fmt: str) -> str:
    """The export format named in a download's URL (csv or xlsx); 404 for any other."""
    if fmt not in FORMATS:
        abort(404)
    return fmt


def audit_export(actor: Any, action: str, obj: Any, fmt: str, **details: Any) -> None:
    """Record that ``actor`` downloaded personal data (``action`` such as ``openday.export``) in ``fmt``."""
    audit(actor, action, obj, format=fmt, **details)


def download(fmt: str, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]], *,
             sheet_name: str = "export", chunks: Iterator[bytes] | None = None) -> Response:
    """A streamed download of ``filename``.csv or .xlsx. ``chunks`` replaces the CSV writer when the bytes are
    made elsewhere (PostgreSQL's COPY). The rows are read while the response streams, inside the request's
    context (so the database session is still there)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    if chunks is None:
        chunks = csv_chunks(header, rows) if fmt == "csv" else xlsx_chunks(sheet_name, header, rows)
    response = Response(stream_with_context(chunks), content_type=MIMETYPES[fmt])  # as is: no second charset
    response.headers["Content-Disposition"] = f"attachment; filename={filename}.{fmt}"
    response.headers["Cache-Control"] = "no-store"
    return response
