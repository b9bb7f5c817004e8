"""Uploads of comments and consultation documents, on each storage backend (SQLite and, with TEST_DATABASE_URL,
PostgreSQL): a failed upload leaves nothing behind, and a stored file is served with the name and type it was
checked as."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
import time_machine

from app import signals
from app.consultations import services
from app.consultations.models import Comment, CommentAttachment, ConsultationDocument
from tests.conftest import files_on_disk
from tests.consultations.conftest import DURING
from tests.consultations.test_views import EXE, post_comment

PDF = b"%PDF-1.4\n" + b"0123456789" * 40_000 + b"\n%%EOF\n"  # 400 KB: more than one storage chunk
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 300


def stored_keys(file_storage) -> list[str]:
    return list(file_storage.keys())


def test_nul_in_a_file_name_is_dropped_and_the_file_served_as_checked(client, auth, make_consultation, resident,
                                                                       staff, db, file_storage):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        response = post_comment(client, c, attachments=[(io.BytesIO(PDF), "意见\x00.pdf"),
                                                        (io.BytesIO(PNG), "photo.exe")])
    assert response.status_code == 302
    atts = {a.mime_type: a for a in db.session.scalars(sa.select(CommentAttachment))}
    assert atts["application/pdf"].filename == "意见.pdf" and atts["application/pdf"].size == len(PDF)
    assert atts["image/png"].filename == "photo.exe.png"  # the name ends in the type it was checked as
    assert len(stored_keys(file_storage)) == 2
    auth.logout()
    auth.login(staff)
    pdf = client.get(f"/manage/consultations/attachments/{atts['application/pdf'].id}")
    assert pdf.status_code == 200 and pdf.get_data() == PDF and pdf.mimetype == "application/pdf"
    assert "attachment;" in pdf.headers["Content-Disposition"]
    assert "UTF-8''%E6%84%8F%E8%A7%81.pdf" in pdf.headers["Content-Disposition"]
    png = client.get(f"/manage/consultations/attachments/{atts['image/png'].id}")
    assert png.mimetype == "image/png" and 'filename=photo.exe.png' in png.headers["Content-Disposition"]
    assert png.headers["X-Content-Type-Options"] == "nosniff"


def test_a_refused_upload_stores_nothing(client, auth, make_consultation, resident, db, app, file_storage):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        response = post_comment(client, c, attachments=[(io.BytesIO(PDF), "ok.pdf"), (io.BytesIO(EXE), "x.pdf")])
    assert response.status_code in (400, 422) and "x.pdf" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 0
    assert stored_keys(file_storage) == [] and files_on_disk(app) == []


def test_a_failure_after_the_files_are_stored_leaves_nothing(client, auth, make_consultation, resident, db, app,
                                                              file_storage, monkeypatch):
    """The files are written, then the request fails before the commit (here a receiver of ``comment_submitted``
    breaks): the transaction rolls back and takes the files with it."""
    c = make_consultation()

    def broken_receiver(*args, **kwargs):
        raise RuntimeError("a receiver broke")

    with time_machine.travel(DURING, tick=False), signals.comment_submitted.connected_to(broken_receiver):
        auth.login(resident)
        with pytest.raises(RuntimeError):
            post_comment(client, c, attachments=[(io.BytesIO(PDF), "a.pdf"), (io.BytesIO(PNG), "b.png")])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CommentAttachment)) == 0
    assert stored_keys(file_storage) == [] and files_on_disk(app) == []


def test_documents_are_stored_served_and_removed_after_the_commit(client, auth, make_consultation, staff, db, app,
                                                                   file_storage):
    c = make_consultation()
    auth.login(staff)
    r = client.post(f"/manage/consultations/{c.id}/documents",
                    data={"documents": [(io.BytesIO(PDF), "草案\x00全文.pdf")]}, content_type="multipart/form-data")
    assert r.status_code == 302
    doc = db.session.scalar(sa.select(ConsultationDocument))
    assert doc.filename == "草案全文.pdf" and len(stored_keys(file_storage)) == 1
    with time_machine.travel(DURING, tick=False):
        public = client.get(f"/consultations/{c.id}/documents/{doc.id}")
    assert public.get_data() == PDF and public.mimetype == "application/pdf"
    client.post(f"/manage/consultations/{c.id}/documents", data={"remove": str(doc.id)})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConsultationDocument)) == 0
    assert stored_keys(file_storage) == [] and files_on_disk(app) == []


def test_service_checks_only_the_head_and_stores_in_chunks(make_consultation, resident, db, file_storage):
    c = make_consultation()
    reads = []

    class Tracking(io.BytesIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    with time_machine.travel(DURING, tick=False):
        comment, _ = services.submit_comment(resident, c, text="附件很大。", idempotency_key="k" * 32,
                                             uploads=[services.Upload("big.pdf", stream=Tracking(PDF))])
        db.session.commit()
    assert all(0 < n <= 256 * 1024 for n in reads)  # never "read everything"
    assert b"".join(file_storage.read(services.file_key(comment.attachments[0]))) == PDF


@pytest.mark.slow  # no date logic: twice in CI, not nine times
def test_the_commenter_sees_and_downloads_own_attachments_on_the_tracking_page(client, auth, make_consultation,
                                                                               resident, make_user, db):
    from app.accounts.models import Role

    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        post_comment(client, c, attachments=[(io.BytesIO(PDF), "停车调查.pdf")])
        comment = db.session.scalar(sa.select(Comment))
        att = comment.attachments[0]
        page = client.get(f"/consultations/track/{comment.tracking_number}").get_data(as_text=True)
        assert "您上传的附件" in page and "停车调查.pdf" in page
        got = client.get(f"/consultations/track/{comment.tracking_number}/attachments/{att.id}")
        assert got.status_code == 200 and got.get_data() == PDF
        auth.logout()
        auth.login(make_user(Role.RESIDENT, email="other@example.com"))  # someone else with the number
        assert "停车调查.pdf" not in client.get(f"/consultations/track/{comment.tracking_number}").get_data(as_text=True)
        assert client.get(f"/consultations/track/{comment.tracking_number}/attachments/{att.id}").status_code == 404
