"""Jobs run from the scheduler process: outside any request, each safe to run twice."""
from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from app.openday import services
from app.openday.models import Registration, RegistrationState as RS
from app.scheduler import run_job


def _in_scheduler_thread(app, path):
    """As the scheduler runs a job: a new thread, an app context of its own, no request."""
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("result", run_job(app, path)))
    thread.start()
    thread.join(30)
    return out.get("result")


def test_expire_offers_job_outside_a_request(app, db, lapsed_offer):
    _, _, _, rc = lapsed_offer()
    assert _in_scheduler_thread(app, "app.openday.jobs.expire_offers") == 1
    assert _in_scheduler_thread(app, "app.openday.jobs.expire_offers") == 0
    db.session.expire_all()
    assert db.session.get(Registration, rc.id).state is RS.OFFERED


def test_reminder_job_outside_a_request(app, db, clock, make_activity, people):
    session = make_activity().sessions[0]
    services.sign_up(people(1)[0], session)
    db.session.commit()
    clock.move_to(session.starts_at - timedelta(hours=12))
    assert _in_scheduler_thread(app, "app.openday.jobs.send_reminders") == 1
    assert _in_scheduler_thread(app, "app.openday.jobs.send_reminders") == 0
    db.session.expire_all()
    assert db.session.scalar(sa.select(Registration.reminder_sent_at)) is not None
