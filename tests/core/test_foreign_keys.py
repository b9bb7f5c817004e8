"""Foreign keys hold on SQLite as on PostgreSQL: every SQLite connection enforces them, so the ON DELETE rules of
the models do what they say on the default database too."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.oversight.models import Invitation


def test_every_sqlite_connection_enforces_foreign_keys(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL always enforces them")
    with db.engine.connect() as first, db.engine.connect() as second:
        assert first.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert second.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_an_invitation_needs_its_consultation(db, resident):
    db.session.add(Invitation(consultation_id=987654, user_id=resident.id, target_group="grassroots"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_deleting_a_consultation_deletes_its_invitations_and_comments(db, make_consultation, make_comment, resident):
    from app.consultations.models import Comment, Consultation

    c = make_consultation()
    make_comment(c, resident)
    db.session.add(Invitation(consultation_id=c.id, user_id=resident.id, target_group="grassroots"))
    db.session.commit()
    db.session.execute(sa.delete(Consultation).where(Consultation.id == c.id))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Comment.id))) == 0


def test_a_deleted_account_leaves_its_audit_entries_without_an_actor(db, make_user):
    """ON DELETE SET NULL works on both databases (audit entries outlive the account they name)."""
    from app.accounts.models import User
    from app.core.audit import AuditEntry, audit

    person = make_user()
    audit(person, "test.action")
    db.session.commit()
    db.session.execute(sa.delete(User).where(User.id == person.id))
    db.session.commit()
    entry = db.session.scalar(sa.select(AuditEntry))
    assert entry.actor_id is None and entry.actor_label.endswith(person.email)
