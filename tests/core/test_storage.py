"""File storage: both backends behave alike, follow the transaction and stream in chunks (SQLite and, with
TEST_DATABASE_URL, PostgreSQL)."""
from __future__ import annotations

import io
import os

import pytest
import sqlalchemy as sa

from app.core import storage as st
from app.core.storage import StoredFile, StoredFileChunk


@pytest.fixture(autouse=True)
def _own_upload_dir(app, tmp_path):
    previous = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    app.extensions.pop("canyu_storage", None)
    yield
    app.config["UPLOAD_DIR"] = previous
    app.extensions.pop("canyu_storage", None)


@pytest.fixture
def backend(file_storage):
    return file_storage


class CountingStream(io.BytesIO):
    """Records the largest read, to show a backend never asks for a whole file at once."""

    largest = 0

    def read(self, size=-1):
        self.largest = max(self.largest, size if size is not None and size >= 0 else len(self.getvalue()))
        return super().read(size)


def _content(n: int) -> bytes:
    return bytes((i * 7) % 251 for i in range(n))


def test_saved_file_reads_back_in_chunks_after_commit(backend, db):
    data = _content(3 * st.CHUNK_SIZE + 123)
    stream = CountingStream(data)
    key = st.new_key("consultations", "pdf")
    assert backend.save(key, stream) == len(data)
    db.session.commit()
    assert stream.largest <= st.CHUNK_SIZE
    chunks = list(backend.read(key))
    assert b"".join(chunks) == data and max(len(c) for c in chunks) <= st.CHUNK_SIZE
    assert backend.size(key) == len(data) and key in set(backend.keys())


def test_database_backend_keeps_chunk_rows(app, db):
    app.config["STORAGE_BACKEND"] = "database"
    app.extensions.pop("canyu_storage", None)
    try:
        key = st.new_key("openday", "png")
        st.storage().save(key, io.BytesIO(_content(st.CHUNK_SIZE * 2 + 1)))
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StoredFileChunk)
                                 .where(StoredFileChunk.file_key == key)) == 3
        assert db.session.get(StoredFile, key).size == st.CHUNK_SIZE * 2 + 1
    finally:
        app.config["STORAGE_BACKEND"] = "filesystem"
        app.extensions.pop("canyu_storage", None)


def test_rollback_leaves_nothing_behind(backend, db, app):
    key = st.new_key("consultations", "pdf")
    backend.save(key, io.BytesIO(b"%PDF-1.4 rolled back"))
    assert backend.exists(key)  # readable inside its own transaction
    db.session.rollback()
    assert not backend.exists(key)
    assert list(backend.keys()) == []
    if backend.name == "filesystem":
        assert os.listdir(os.path.join(app.config["UPLOAD_DIR"], "consultations")) == []


def test_a_transaction_ended_without_commit_leaves_nothing(backend, db):
    key = st.new_key("consultations", "pdf")
    backend.save(key, io.BytesIO(b"%PDF-1.4 abandoned"))
    db.session.remove()  # the request ends without a commit (an exception nobody caught, a forgotten commit)
    assert not backend.exists(key)


def test_delete_happens_only_when_the_transaction_commits(backend, db):
    key = st.new_key("consultations", "pdf")
    backend.save(key, io.BytesIO(b"%PDF-1.4 keep"))
    db.session.commit()
    backend.delete(key)
    db.session.rollback()
    assert backend.exists(key)
    backend.delete(key)
    db.session.commit()
    assert not backend.exists(key)


def test_keys_are_checked(backend):
    for bad in ("../etc/passwd", "consultations/../../x.pdf", "consultations/a.pdf/../b", "x"):
        with pytest.raises(st.StorageError):
            backend.save(bad, io.BytesIO(b"x"))


@pytest.mark.parametrize("given, ext, expected", [
    ("report.pdf", "pdf", "report.pdf"),
    ("C:\\Users\\me\\意见.docx", "docx", "意见.docx"),
    ("../../etc/passwd", "pdf", "passwd.pdf"),
    ("evil\x00.pdf", "pdf", "evil.pdf"),
    ("photo.exe", "png", "photo.exe.png"),
    ("photo.JPEG", "jpg", "photo.JPEG"),
    ("\x00", "pdf", "file.pdf"),
    ("a\r\nb.pdf", "pdf", "ab.pdf"),
    ("x" * 300 + ".pdf", "pdf", "x" * 251 + ".pdf"),
])
def test_download_names_are_safe_and_match_the_checked_type(given, ext, expected):
    assert st.safe_filename(given, ext) == expected


def test_move_command_copies_every_file_and_can_run_again(app, db, runner):
    fs = st.make_storage("filesystem", app)
    dbs = st.make_storage("database", app)
    keys = [st.new_key("consultations", "pdf"), st.new_key("openday", "png")]
    for i, key in enumerate(keys):
        fs.save(key, io.BytesIO(_content(st.CHUNK_SIZE + i)))
    db.session.commit()
    result = runner.invoke(args=["storage", "move", "--from", "filesystem", "--to", "database"])
    assert result.exit_code == 0, result.output
    assert "2 file(s) copied" in result.output
    for i, key in enumerate(keys):
        assert b"".join(dbs.read(key)) == _content(st.CHUNK_SIZE + i)
    again = runner.invoke(args=["storage", "move", "--to", "database", "--delete-source"])
    assert "0 file(s) copied" in again.output and "2 already there" in again.output
    assert list(fs.keys()) == [] and sorted(dbs.keys()) == sorted(keys)
    back = runner.invoke(args=["storage", "move", "--to", "filesystem"])
    assert "2 file(s) copied" in back.output
    assert b"".join(fs.read(keys[0])) == _content(st.CHUNK_SIZE)


def test_database_backend_serves_with_name_and_type(app, db):
    dbs = st.make_storage("database", app)
    key = st.new_key("consultations", "pdf")
    dbs.save(key, io.BytesIO(b"%PDF-1.4 hello"))
    db.session.commit()
    with app.test_request_context("/"):
        response = dbs.send(key, mimetype="application/pdf", download_name="意见 1.pdf")
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Length"] == str(len(b"%PDF-1.4 hello"))
        assert "filename*=UTF-8''%E6%84%8F%E8%A7%81%201.pdf" in response.headers["Content-Disposition"]
        assert b"".join(response.response) == b"%PDF-1.4 hello"
