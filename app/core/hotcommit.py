"""Commit a transaction that holds a hot row lock without making the next person wait for the disk.

A sign-up holds its session's row lock from the seat count to the commit, so every sign-up for a popular session
waits for the one before it. With ``synchronous_commit`` on, that includes the WAL flush (an fsync) of each commit:
the disk, not the work, sets the pace. ``commit_then_flush`` commits with ``synchronous_commit = off`` (the lock is
released as soon as the commit record is written to the WAL buffers), then commits a second, tiny transaction with
``synchronous_commit`` on. That commit waits until the WAL is flushed up to its own record, which lies after the
first one, so when it returns the sign-up is on disk, as before. Only then is the person told. Concurrent requests
share those flushes (group commit), and no lock is held while waiting.

If PostgreSQL crashes between the two commits, the sign-up is lost, but nobody was told it was accepted (the request
fails), and every later transaction that saw it is later in the WAL, so it is lost too: the database stays
consistent. On SQLite this is an ordinary commit.
"""
from __future__ import annotations

from app.core import rows
from app.core.errors import commit
from app.extensions import db


# The three steps in one simple-protocol query (one round trip; psycopg sends a query without parameters as is, and
# never prepares one of several statements): the view's transaction is committed without waiting for the disk, then
# the tiny transaction that waits for it runs as the query's own implicit transaction, with synchronous_commit on.
DURABLE_COMMIT = "SET LOCAL synchronous_commit = off; COMMIT; SELECT pg_current_xact_id()"


def commit_then_flush() -> None:
    """Commit the current transaction; return once it is durable, without holding its locks during the flush.
    Loaded values are kept (core.errors.commit): the answer needs no query after the commit."""
    if db.session.get_bind().dialect.name != "postgresql":
        commit()
        return
    db.session.flush()
    # A transaction that is given a transaction id writes a commit record; committed with synchronous_commit on (the
    # default), it waits for the WAL flush up to that record, which includes the commit before it.
    rows.run_plain(DURABLE_COMMIT)
    commit()  # the database has committed already: this ends the session's transaction (and runs its hooks)
