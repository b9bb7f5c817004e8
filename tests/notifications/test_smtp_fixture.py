"""The test SMTP server holds its port from the start: refused while down, served while up, the same port again
after a restart (an outage and its end, as the outbox tests use it)."""
from __future__ import annotations

import smtplib
import socket

import pytest


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except ConnectionRefusedError:
        return False


def test_down_refuses_up_serves_and_restarts_on_the_same_port(smtp_down):
    port = smtp_down.port
    assert not _connects(port)
    with pytest.raises(OSError):  # the port stays ours while down: nobody else can bind it
        socket.create_server(("127.0.0.1", port)).close()
    smtp_down.start()
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: one\r\n\r\nbody")
    smtp_down.stop()
    assert not _connects(port)
    with pytest.raises(OSError):
        socket.create_server(("127.0.0.1", port)).close()
    smtp_down.start()
    assert smtp_down.port == port
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.sendmail("a@example.com", ["b@example.com"], "Subject: two\r\n\r\nbody")
    assert [m["Subject"] for m in smtp_down.messages] == ["one", "two"]
