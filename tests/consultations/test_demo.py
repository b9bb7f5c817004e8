"""Demo data: one open consultation with at least 10 articles and comments, one closed with its report; idempotent."""
import pytest
import sqlalchemy as sa

from app.consultations import demo
from app.consultations.models import Comment, Consultation, ConsultationState


def test_demo_loads_once(db, client, load_demo):
    assert load_demo(demo)
    assert demo.load() == ""
    items = db.session.scalars(sa.select(Consultation).order_by(Consultation.id)).all()
    assert [c.state for c in items] == [ConsultationState.OPEN, ConsultationState.FEEDBACK_PUBLISHED]
    assert len(items[0].articles) >= 10 and items[0].interpretation
    assert items[0].published_comment_count == db.session.scalar(
        sa.select(sa.func.count(Comment.id)).where(Comment.consultation_id == items[0].id)) >= 3
    page = client.get(f"/consultations/{items[1].id}").get_data(as_text=True)
    assert "意见采纳情况反馈" in page and "三个工作日" in page
    assert "13812345678" not in client.get(f"/consultations/{items[0].id}").get_data(as_text=True)


@pytest.mark.slow  # no date logic: twice in CI, not nine times
def test_demo_comments_are_attached_to_the_article_they_talk_about(db, load_demo):
    import re

    load_demo(demo)
    comments = db.session.scalars(sa.select(Comment)).all()
    on_articles = [c for c in comments if c.article is not None]
    assert len(on_articles) >= 5
    for comment in on_articles:
        assert re.findall(r"第[一二三四五六七八九十]+条", comment.text_original)[0] == comment.article.label
