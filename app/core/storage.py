"""File storage for every upload (comment attachments, consultation documents, Open Month images).

One interface, two backends, chosen by ``STORAGE_BACKEND``:

- ``filesystem`` (the embedded default): files under ``UPLOAD_DIR``, one host only.
- ``database``: files in the application's database as rows of 256 KiB chunks, so several app hosts share them
  with no new service to run. Written and read one chunk at a time; a file is never whole in memory.

Files follow the transaction of the request that stores them. A file stored in a transaction that rolls back (or
that ends without a commit) is removed; on the database backend its rows simply roll back with everything else.
A file deleted in a transaction is removed only after the commit. ``flask storage move`` copies every file from
one backend to the other.

Keys look like ``consultations/3f2a….pdf``: an area, a random name and the extension of the checked type.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import io
import os
import re
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Iterator
from urllib.parse import quote

import sqlalchemy as sa
from flask import Flask, Response, abort, current_app, send_file, stream_with_context
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

CHUNK_SIZE = 256 * 1024
HEAD_BYTES = 8192  # what content sniffing (filetype) looks at
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,30}/[A-Za-z0-9_-]{1,64}\.[a-z0-9]{1,8}$")
# The suffixes a download name may keep for each checked type; otherwise the checked extension is added.
SUFFIXES = {"pdf": (".pdf",), "docx": (".docx",), "jpg": (".jpg", ".jpeg"), "png": (".png",)}
MIME_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg",
              "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}

_NEW = "canyu_storage_new"        # session.info: files stored in the open transaction
_DELETE = "canyu_storage_delete"  # session.info: files to delete once the transaction commits


class StorageError(Exception):
    pass


# ------------------------------------------------------------------------------------------------ uploads

class Upload:
    """One uploaded file as the views hand it to services: its name as sent and a readable stream.

    ``Upload(filename, data=b"...")`` wraps bytes (tests, scripts); views pass the request's spooled stream
    (``Upload(f.filename, stream=f.stream)``), so a 10 MB file is checked and stored without being read whole."""

    def __init__(self, filename: str | None, data: bytes | None = None, stream: BinaryIO | None = None):
        self.filename = filename or ""
        self.stream: BinaryIO = stream if stream is not None else io.BytesIO(data or b"")
        self._size: int | None = None

    @property
    def size(self) -> int:
        if self._size is None:
            position = self.stream.tell()
            self.stream.seek(0, os.SEEK_END)
            self._size = self.stream.tell()
            self.stream.seek(position)
        return self._size

    def head(self, n: int = HEAD_BYTES) -> bytes:
        """The first ``n`` bytes, for content checks; the stream is left at its start."""
        self.stream.seek(0)
        data = self.stream.read(n)
        self.stream.seek(0)
        return data

    def is_empty(self) -> bool:
        return not self.filename and self.size == 0


def clean_name(name: str | None) -> str:
    """A file name as sent, without folders or control characters (a NUL included), for messages and storage."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")


def safe_filename(name: str | None, ext: str, limit: int = 255) -> str:
    """The name a stored file is shown and served with: no folders, no control characters (a NUL included), at
    most ``limit`` characters, ending in a suffix of the type the content was checked as."""
    name = clean_name(name)
    suffixes = SUFFIXES.get(ext, (f".{ext}",))
    if not name.lower().endswith(suffixes):
        name = f"{name or 'file'}.{ext}"
    if len(name) > limit:
        suffix = "." + name.rsplit(".", 1)[-1]
        name = name[:limit - len(suffix)] + suffix
    return name


def new_key(area: str, ext: str) -> str:
    return f"{area}/{secrets.token_hex(16)}.{ext}"


def _check_key(key: str) -> str:
    if not KEY_PATTERN.match(key or ""):
        raise StorageError(f"invalid storage key {key!r}")
    return key


def content_disposition(download_name: str, as_attachment: bool) -> dict[str, str]:
    """Content-Disposition as werkzeug's send_file writes it (an ASCII name plus RFC 5987 UTF-8 name)."""
    value = "attachment" if as_attachment else "inline"
    try:
        download_name.encode("ascii")
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", download_name).encode("ascii", "ignore").decode("ascii")
        quoted = quote(download_name, safe="!#$&+-.^_`|~")
        return {"value": value, "filename": simple or "file", "filename*": f"UTF-8''{quoted}"}
    return {"value": value, "filename": download_name}


# ------------------------------------------------------------------------------------------------ backends

class Storage(ABC):
    """What every backend offers. ``save`` streams from a file object in chunks; ``read`` yields chunks."""

    name = "abstract"

    @abstractmethod
    def save(self, key: str, stream: BinaryIO) -> int:
        """Store the stream's content (from its current position) under ``key``; returns the size in bytes.
        The file belongs to the current transaction: a rollback removes it."""

    @abstractmethod
    def read(self, key: str) -> Iterator[bytes]:
        """The content of ``key`` in chunks."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The size in bytes, or None when there is no such file."""

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    @abstractmethod
    def keys(self) -> Iterator[str]:
        """Every stored key (for moving files between backends and for backups)."""

    @abstractmethod
    def remove_now(self, key: str) -> None:
        """Delete ``key`` at once, whatever the transaction does (cleanup after a rollback)."""

    def delete(self, key: str) -> None:
        """Delete ``key`` once the current transaction commits (nothing happens if it rolls back)."""
        session = db.session()
        session.info.setdefault(_DELETE, []).append((self, key))

    @abstractmethod
    def send(self, key: str, *, mimetype: str, download_name: str, as_attachment: bool = True,
             max_age: int | None = None) -> Response:
        """A response that streams ``key`` to the browser with this type and name."""


class FileSystemStorage(Storage):
    name = "filesystem"

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def path(self, key: str) -> str:
        return os.path.join(self.root, *_check_key(key).split("/"))

    def save(self, key: str, stream: BinaryIO) -> int:
        path = self.path(key)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        session = db.session()
        session.connection()  # open the transaction now, so that its end (commit or not) decides the file's fate
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    out.write(chunk)
                    size += len(chunk)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        session.info.setdefault(_NEW, []).append((self, key))
        return size

    def read(self, key: str) -> Iterator[bytes]:
        with open(self.path(key), "rb") as fh:
            while chunk := fh.read(CHUNK_SIZE):
                yield chunk

    def size(self, key: str) -> int | None:
        try:
            return os.path.getsize(self.path(key))
        except OSError:
            return None

    def keys(self) -> Iterator[str]:
        if not os.path.isdir(self.root):
            return
        for area in sorted(os.listdir(self.root)):
            folder = os.path.join(self.root, area)
            if not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                key = f"{area}/{name}"
                if KEY_PATTERN.match(key):
                    yield key

    def remove_now(self, key: str) -> None:
        try:
            os.unlink(self.path(key))
        except FileNotFoundError:
            pass

    def send(self, key: str, *, mimetype: str, download_name: str, as_attachment: bool = True,
             max_age: int | None = None) -> Response:
        path = self.path(key)
        if not os.path.isfile(path):
            abort(404)
        return send_file(path, mimetype=mimetype, as_attachment=as_attachment, download_name=download_name,
                         max_age=max_age, conditional=True, etag=True)


class StoredFile(db.Model):
    """A file kept by the database backend; its content is in ``StoredFileChunk`` rows."""

    __tablename__ = "stored_file"

    key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoredFileChunk(db.Model):
    __tablename__ = "stored_file_chunk"

    file_key: Mapped[str] = mapped_column(sa.ForeignKey("stored_file.key", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)


class DatabaseStorage(Storage):
    """Files as chunk rows in the application's database (PostgreSQL in production; SQLite works too).

    Writes go through the session, so they commit or roll back with the request. Reads use their own connection,
    one chunk per statement, so a download never holds a whole file (nor the request's transaction)."""

    name = "database"

    def save(self, key: str, stream: BinaryIO) -> int:
        _check_key(key)
        session = db.session()
        session.execute(sa.insert(StoredFile).values(key=key, size=0, created_at=utcnow()))
        size, seq = 0, 0
        while chunk := stream.read(CHUNK_SIZE):
            session.execute(sa.insert(StoredFileChunk).values(file_key=key, seq=seq, data=chunk))
            size += len(chunk)
            seq += 1
        session.execute(sa.update(StoredFile).where(StoredFile.key == key).values(size=size))
        return size

    def read(self, key: str) -> Iterator[bytes]:
        seq = 0
        with db.engine.connect() as conn:
            while True:
                chunk = conn.execute(sa.select(StoredFileChunk.data).where(
                    StoredFileChunk.file_key == key, StoredFileChunk.seq == seq)).scalar()
                conn.rollback()  # no transaction stays open between chunks
                if chunk is None:
                    return
                yield bytes(chunk)
                seq += 1

    def size(self, key: str) -> int | None:
        return db.session.scalar(sa.select(StoredFile.size).where(StoredFile.key == key))

    def keys(self) -> Iterator[str]:
        last = ""
        while True:
            batch = db.session.scalars(sa.select(StoredFile.key).where(StoredFile.key > last)
                                       .order_by(StoredFile.key).limit(500)).all()
            if not batch:
                return
            yield from batch
            last = batch[-1]

    def remove_now(self, key: str) -> None:
        db.session.execute(sa.delete(StoredFileChunk).where(StoredFileChunk.file_key == key))
        db.session.execute(sa.delete(StoredFile).where(StoredFile.key == key))

    def delete(self, key: str) -> None:
        self.remove_now(key)  # in the transaction itself: a rollback keeps the file

    def send(self, key: str, *, mimetype: str, download_name: str, as_attachment: bool = True,
             max_age: int | None = None) -> Response:
        size = self.size(key)
        if size is None:
            abort(404)
        response = Response(stream_with_context(self.read(key)), mimetype=mimetype, direct_passthrough=True)
        response.headers["Content-Length"] = str(size)
        disposition = content_disposition(download_name, as_attachment)
        response.headers.set("Content-Disposition", disposition.pop("value"), **disposition)
        if max_age:
            response.cache_control.public = True
            response.cache_control.max_age = max_age
        else:
            response.cache_control.no_cache = True
        return response


BACKENDS = ("filesystem", "database")


def make_storage(name: str, app: Flask | None = None) -> Storage:
    app = app or current_app
    if name == "filesystem":
        return FileSystemStorage(app.config["UPLOAD_DIR"])
    if name == "database":
        return DatabaseStorage()
    raise StorageError(f"unknown storage backend {name!r} (choose from {', '.join(BACKENDS)})")


def storage() -> Storage:
    """The backend the app is configured with (``STORAGE_BACKEND``)."""
    app = current_app._get_current_object()
    backend = app.extensions.get("canyu_storage")
    if backend is None:
        backend = app.extensions["canyu_storage"] = make_storage(app.config.get("STORAGE_BACKEND", "filesystem"), app)
    return backend


def store_upload(area: str, upload: Upload, ext: str) -> tuple[str, int]:
    """Store a checked upload under a new random key in ``area``; returns (key, size)."""
    key = new_key(area, ext)
    upload.stream.seek(0)
    size = storage().save(key, upload.stream)
    return key, size


def copy(source: Storage, target: Storage, key: str) -> int:
    """Copy one file between backends, one chunk at a time (the caller commits)."""
    return target.save(key, _ChunkReader(source.read(key)))


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of chunks."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return b""
        if size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


# ------------------------------------------------------------------------------ the transaction decides

@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_NEW, None)  # committed: the new files stay
    for backend, key in session.info.pop(_DELETE, []):
        try:
            backend.remove_now(key)
        except OSError:  # pragma: no cover - a file that cannot be removed is only wasted space
            pass


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint or a subtransaction; the outermost transaction decides
    # Still listed here: the transaction ended without a commit, so its new files go.
    for backend, key in session.info.pop(_NEW, []):
        backend.remove_now(key)
    session.info.pop(_DELETE, None)
