"""The scheduler keeps running through PostgreSQL restarts: the standby and the active one reconnect and the lock is
taken again by itself (with back-off); mail queued after the restart reaches the SMTP server."""
from __future__ import annotations

import time

import pytest

from tests.reliability.cluster import advisory_lock_holders, wait_for
from tests.reliability.conftest import queue_mail

pytestmark = pytest.mark.slow


def test_schedulers_survive_a_postgresql_restart_and_mail_queued_after_it_is_sent(cluster, smtp_server, schedulers):
    first, second = schedulers(), schedulers()  # one takes the lock (active), the other waits (standby)
    assert wait_for(lambda: advisory_lock_holders(cluster.url()), 20), first.output() + second.output()
    # Both are up before the restart: one active, the other a standby waiting for the lock (a slow start would let the
    # second one simply take the lock after the restart, and the test would not see a standby survive it).
    assert wait_for(lambda: "waiting" in first.output() + second.output(), 30), first.output() + second.output()
    queue_mail(cluster.app, "before@example.com")
    assert wait_for(lambda: "before@example.com" in smtp_server.recipients(), 15), first.output()

    cluster.restart()
    restarted = time.monotonic()
    assert wait_for(lambda: advisory_lock_holders(cluster.url()), 15, step=0.05), first.output() + second.output()
    retaken = time.monotonic() - restarted
    queue_mail(cluster.app, "after@example.com")
    queued = time.monotonic()
    assert wait_for(lambda: "after@example.com" in smtp_server.recipients(), 15), first.output() + second.output()
    delivered = time.monotonic() - queued
    print(f"lock retaken {retaken:.1f} s after the restart; mail queued after it delivered in {delivered:.1f} s")

    # Neither process gave up: the standby did not exit on its dead connection, the active one took the lock again.
    assert first.alive and second.alive, first.output() + second.output()
    # The active one noticed at its next heartbeat (every second here), and carried on.
    assert wait_for(lambda: "lost" in first.output() + second.output(), 15), first.output() + second.output()
    assert first.alive and second.alive, first.output() + second.output()
