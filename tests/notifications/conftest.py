"""A real SMTP server (aiosmtpd) on a free local port, wired into app.config for one test.

The port is taken by binding a socket to port 0 and keeping it: a bound socket that does not listen refuses
connections (a mail server that is down), and nothing else on the machine can take the port meanwhile. Starting the
server makes that very socket listen, so there is no moment when the port is free (a port found free and closed
again could be taken by another process before the server binds it).
"""
from __future__ import annotations

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller


def held_socket(port: int = 0) -> socket.socket:
    """A TCP socket bound to 127.0.0.1, not listening: on any free port (0), or again on the port of a server that
    stopped (SO_REUSEADDR while binding, as the server's past connections may linger in TIME_WAIT; then off, so that
    nobody else can bind the port while we hold it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
    return sock


class _HeldSocketController(Controller):
    """aiosmtpd's threaded controller, serving on a socket we already hold instead of binding host:port."""

    def __init__(self, handler, sock: socket.socket):
        self._sock = sock
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port)

    def _create_server(self):
        # As every listening server does: the accepted connections inherit SO_REUSEADDR, so that their TIME_WAIT
        # after a stop does not keep the port from being held (and served) again.
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class _Collector:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        return "250 Message accepted for delivery"


class SmtpServer:
    """Start and stop at will: before start() the port refuses connections (a mail server outage)."""

    def __init__(self):
        self._sock: socket.socket | None = held_socket()
        self.port: int = self._sock.getsockname()[1]
        self.handler = _Collector()
        self.controller: Controller | None = None

    @property
    def messages(self):
        return self.handler.messages

    def start(self) -> None:
        if self._sock is None:  # released
            self._sock = held_socket(self.port)
        self.controller = _HeldSocketController(self.handler, self._sock)
        self.controller.start()

    def stop(self, *, release: bool = False) -> None:
        """Stop serving; the port is held again at once (refusing connections) unless ``release``."""
        if self.controller is not None:
            self.controller.stop()  # closes the listening socket
            self.controller = None
            self._sock = None if release else held_socket(self.port)
        if release and self._sock is not None:
            self._sock.close()
            self._sock = None


def _mail_to(app, monkeypatch, server: SmtpServer) -> SmtpServer:
    """Send the app's mail for real, to ``server``'s port."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
    monkeypatch.setitem(app.config, "MAIL_SUPPRESS_SEND", False)
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 5)
    return server


@pytest.fixture
def smtp(app, monkeypatch):
    server = _mail_to(app, monkeypatch, SmtpServer())
    server.start()
    yield server
    server.stop(release=True)


@pytest.fixture
def smtp_down(app, monkeypatch):
    """A port where nothing listens (connection refused), with a server object to start there later."""
    server = _mail_to(app, monkeypatch, SmtpServer())
    yield server
    server.stop(release=True)
