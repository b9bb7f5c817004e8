"""Targeted invitations on consultation_published, the tracked open link, and the staff reach page."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app import signals
from app.accounts.models import Role, TagKind
from app.notifications import subscriptions as subs
from app.notifications.models import OutboxEmail
from app.notifications.notices import Notice
from app.oversight.jobs import send_invitations
from app.oversight.models import Invitation


def mails(db, template):
    return db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.template == template)
                              .order_by(OutboxEmail.id)).all()


@pytest.fixture
def invite_elderly(db, make_user, make_tag, make_consultation, staff):
    """Residents tagged 老年人 (one per address given) and a consultation published for the grassroots, which
    invites them: (the consultation, the residents)."""
    def invite(*emails: str):
        elderly = make_tag("老年人", kind=TagKind.GROUP)
        people = [make_user(email=email, tags=[elderly]) for email in emails]
        c = make_consultation(tags=[elderly], target_groups=["grassroots"])
        signals.consultation_published.send(c, actor=staff)
        db.session.commit()
        return c, people

    return invite


def test_publishing_invites_matching_accounts_per_group(db, make_user, make_tag, make_consultation, staff):
    catering = make_tag("餐饮住宿", kind=TagKind.INDUSTRY)
    retail = make_tag("商贸零售", kind=TagKind.INDUSTRY)
    chamber = make_tag("行业协会商会", kind=TagKind.INDUSTRY)
    elderly = make_tag("老年人", kind=TagKind.GROUP)
    restaurant = make_user(Role.ENTERPRISE, email="restaurant@example.com", tags=[catering])
    shop = make_user(Role.ENTERPRISE, email="shop@example.com", tags=[retail])
    association = make_user(Role.ENTERPRISE, email="assoc@example.com", tags=[chamber, catering])
    grandma = make_user(Role.RESIDENT, email="grandma@example.com", tags=[elderly], locale="en")
    young = make_user(Role.RESIDENT, email="young@example.com")
    make_user(Role.RESIDENT, email="unverified@example.com", tags=[elderly], verified=False)
    c = make_consultation(tags=[catering, elderly], target_groups=["enterprises", "associations", "grassroots"])

    signals.consultation_published.send(c, actor=staff)
    db.session.commit()

    invited = {i.user_id: i.target_group for i in db.session.scalars(sa.select(Invitation))}
    assert invited == {restaurant.id: "enterprises", association.id: "enterprises", grandma.id: "grassroots"}
    assert shop.id not in invited and young.id not in invited
    # Publishing records the invitations; the scheduled job writes the mail, once however often it runs.
    assert mails(db, "oversight/emails/invitation") == []
    assert send_invitations() == 3
    assert send_invitations() == 0
    sent = mails(db, "oversight/emails/invitation")
    assert sorted(m.recipient for m in sent) == ["assoc@example.com", "grandma@example.com",
                                                   "restaurant@example.com"]
    english = next(m for m in sent if m.recipient == "grandma@example.com")
    assert english.subject.startswith("You are invited to comment")
    assert "/invitations/" in english.body_text and "/notifications/unsubscribe/" in english.body_text
    # Publishing again (a repeated signal) invites nobody twice.
    signals.consultation_published.send(c, actor=staff)
    db.session.commit()
    send_invitations()
    assert len(mails(db, "oversight/emails/invitation")) == 3


def test_named_group_matches_a_tag_name(db, make_user, make_tag, make_consultation, staff):
    drivers = make_tag("网约车司机")
    driver = make_user(email="driver@example.com", tags=[drivers])
    make_user(email="other@example.com")
    c = make_consultation(named="网约车司机")
    signals.consultation_published.send(c, actor=staff)
    db.session.commit()
    rows = db.session.scalars(sa.select(Invitation)).all()
    assert [(r.user_id, r.target_group) for r in rows] == [(driver.id, "named:网约车司机")]


def test_open_link_and_comment_are_counted_on_the_reach_page(client, auth, db, make_comment, staff, invite_elderly):
    c, (a, _b) = invite_elderly("a@example.com", "b@example.com")
    send_invitations()
    mail = next(m for m in mails(db, "oversight/emails/invitation") if m.recipient == "a@example.com")
    link = re.search(r"http://localhost(/invitations/\S+)", mail.body_text).group(1)
    response = client.get(link)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/consultations/{c.id}")
    comment = make_comment(c, a)
    signals.comment_submitted.send(comment)
    db.session.commit()

    auth.login(staff)
    page = client.get(f"/manage/consultations/{c.id}/reach")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = re.search(r'<th scope="row">基层群众</th>(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', row) == ["2", "1", "1"]


def test_reach_page_is_for_the_owning_department(client, auth, db, make_user, make_department, make_consultation):
    other = make_user(Role.STAFF, department=make_department())
    c = make_consultation()
    auth.login(other)
    assert client.get(f"/manage/consultations/{c.id}/reach").status_code == 404


def test_tampered_open_link_is_404(client):
    assert client.get("/invitations/not-a-token").status_code == 404


def test_publishing_tells_subscribers(db, make_user, make_tag, make_consultation, staff):
    tag = make_tag("青年")
    fan = make_user(email="fan@example.com")
    subs.update_subscriptions(fan, tag_ids=[tag.id], deliveries={subs.NewsKind.NEW_CONSULTATION: subs.Delivery.NOW})
    db.session.commit()
    c = make_consultation(tags=[tag])
    signals.consultation_published.send(c, actor=staff)
    db.session.commit()
    assert [m.recipient for m in mails(db, "oversight/emails/news")] == ["fan@example.com"]
    assert db.session.scalar(sa.select(Notice.link).where(Notice.user_id == fan.id)) == f"/consultations/{c.id}"


def test_an_account_deleted_before_the_mail_goes_out_gets_nothing(db, invite_elderly):
    _c, (gone,) = invite_elderly("gone@example.com")
    gone.email, gone.deleted_at = None, gone.created_at
    db.session.commit()
    assert send_invitations() == 1
    assert mails(db, "oversight/emails/invitation") == []
    assert db.session.scalar(sa.select(Invitation.mailed_at)) is not None  # handled, not retried forever


def test_commenting_without_the_link_counts_as_opened_and_the_first_comment_is_kept(db, make_comment,
                                                                                    invite_elderly):
    c, (a,) = invite_elderly("a@example.com")
    signals.comment_submitted.send(make_comment(c, a))
    db.session.commit()
    invitation = db.session.scalar(sa.select(Invitation).where(Invitation.user_id == a.id))
    first = invitation.commented_at
    assert first is not None and invitation.opened_at == first
    signals.comment_submitted.send(make_comment(c, a))
    db.session.commit()
    db.session.refresh(invitation)
    assert invitation.commented_at == first
