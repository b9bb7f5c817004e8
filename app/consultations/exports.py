"""The export of a consultation's comments (CSV and XLSX through app.core.exports): the rows, and on PostgreSQL
the database's own COPY output with formulas neutralised in its SQL."""
from __future__ import annotations

from typing import Iterator

import sqlalchemy as sa

from app.consultations.models import Article, Comment, Disposition
from app.core import exports
from app.core.timeutil import local
from app.extensions import db


# ---------------------------------------------------------------------------------------------------------------
# Export


EXPORT_HEADER = ["tracking_number", "created_at", "article", "commenter_type", "public_name", "stance",
                 "moderation_state", "rejection_reason", "group_id", "disposition", "response", "reason", "text"]


def export_rows(consultation_id: int, batch: int = 5000) -> Iterator[list]:
    """Every comment of a consultation as plain rows, streamed in batches (server-side cursor on PostgreSQL)."""
    own = sa.orm.aliased(Disposition)
    grp = sa.orm.aliased(Disposition)
    stmt = (sa.select(Comment.tracking_number, Comment.created_at, Article.label, Comment.commenter_type,
                      Comment.public_name, Comment.stance, Comment.moderation_state, Comment.rejection_reason,
                      Comment.group_id, sa.func.coalesce(own.kind, grp.kind),
                      sa.func.coalesce(own.response, grp.response), sa.func.coalesce(own.reason, grp.reason),
                      Comment.text_original)
            .select_from(Comment)
            .outerjoin(Article, Article.id == Comment.article_id)
            .outerjoin(own, own.comment_id == Comment.id)
            .outerjoin(grp, grp.group_id == Comment.group_id)
            .where(Comment.consultation_id == consultation_id)
            .order_by(Comment.id)
            .execution_options(yield_per=batch, stream_results=True))
    for row in db.session.execute(stmt):
        yield [
            # created_at in Shanghai time with its offset: staff read the Shanghai day, programs the exact instant
            row[0], local(row[1]).strftime("%Y-%m-%dT%H:%M:%S+08:00") if row[1] else "", row[2] or "",
            row[3].value if row[3] else "", row[4],
            row[5].value if row[5] else "", row[6].value if row[6] else "", row[7].value if row[7] else "",
            row[8] or "", _enum_value(row[9]), row[10] or "", row[11] or "", row[12],
        ]


def _enum_value(v) -> str:
    if v is None:
        return ""
    return v.value if hasattr(v, "value") else str(v)


def _csv_python(consultation_id: int) -> Iterator[bytes]:
    """Portable path: rows from a streamed query, written by the shared CSV writer (cells neutralised)."""
    return exports.csv_chunks(EXPORT_HEADER, export_rows(consultation_id), bom=False)


def _text(column: str) -> str:
    """A text column of the COPY query: neutralised against formulas, empty as NULL (see exports.sql_neutralise)."""
    return exports.sql_neutralise(column)


# The same columns as export_rows(), formatted by PostgreSQL. Enum columns store member names, whose lower case is
# the value; empty strings become NULL so that both paths write an empty unquoted field; text a person typed is
# neutralised as exports.neutralise does.
_COPY_SQL = f"""COPY (
    SELECT c.tracking_number AS tracking_number,
           to_char(c.created_at AT TIME ZONE 'UTC' AT TIME ZONE 'Asia/Shanghai',
                   'YYYY-MM-DD"T"HH24:MI:SS"+08:00"') AS created_at,
           {_text("a.label")} AS article, lower(c.commenter_type) AS commenter_type,
           {_text("c.public_name")} AS public_name, lower(c.stance) AS stance,
           lower(c.moderation_state) AS moderation_state, lower(c.rejection_reason) AS rejection_reason,
           c.group_id AS group_id, lower(coalesce(d.kind, g.kind)) AS disposition,
           {_text("coalesce(d.response, g.response)")} AS response,
           {_text("coalesce(d.reason, g.reason)")} AS reason, {_text("c.text_original")} AS text
    FROM consultation_comment c
    LEFT OUTER JOIN consultation_article a ON a.id = c.article_id
    LEFT OUTER JOIN consultation_disposition d ON d.comment_id = c.id
    LEFT OUTER JOIN consultation_disposition g ON g.group_id = c.group_id
    WHERE c.consultation_id = {{cid}} ORDER BY c.id
) TO STDOUT WITH (FORMAT csv, HEADER)"""


def _csv_copy(consultation_id: int) -> Iterator[bytes]:
    """PostgreSQL path: the database formats the CSV (COPY ... TO STDOUT) and the blocks are passed on as they
    arrive, so memory stays flat and the export runs at the speed of COPY itself."""
    raw = db.session.connection().connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(_COPY_SQL.format(cid=int(consultation_id))) as copy:
        for block in copy:
            yield bytes(block)


def export_csv(consultation_id: int) -> Iterator[bytes]:
    """The CSV export of every comment of a consultation (UTF-8 with a BOM for spreadsheet programs), streamed:
    PostgreSQL's own COPY where there is one, else the shared CSV writer."""
    yield exports.BOM.encode("utf-8")
    if db.session.get_bind().dialect.name == "postgresql":
        yield from _csv_copy(consultation_id)
    else:
        yield from _csv_python(consultation_id)
