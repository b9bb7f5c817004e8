"""Scheduled work of the hearings module; every job is safe to run twice."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from app.extensions import db
from app.hearings import lottery_runs, selection_services
from app.hearings.models import LotteryRun, LotteryStatus


def run_queued_lotteries() -> int:
    """Compute queued lottery runs one by one. A run is claimed by moving it from queued to running in one
    UPDATE, so two schedulers never compute the same run."""

    done = 0
    with force_locale("zh"):
        lottery_runs.fail_dead_runs()  # its process is gone (a killed scheduler)
        lottery_runs.fail_stale_runs(current_app.config["LOTTERY_TIME_LIMIT_SECONDS"])
        while True:
            run_id = db.session.scalar(sa.select(LotteryRun.id).where(LotteryRun.status == LotteryStatus.QUEUED)
                                       .order_by(LotteryRun.id).limit(1))
            if run_id is None:
                return done
            run = db.session.get(LotteryRun, run_id)
            lottery_runs.execute_lottery_run(run)
            done += 1


def expire_unanswered() -> int:
    """Selected observers who did not answer by the deadline decline; the next alternate moves in."""
    with force_locale("zh"):
        n = selection_services.expire_unanswered()
        db.session.commit()
    return n
