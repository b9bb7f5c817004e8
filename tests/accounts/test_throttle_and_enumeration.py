"""Sign-in: equal hashing work for unknown accounts, throttling counted atomically, and the e-mailed sign-in link
that lets the owner in while the password form waits (issue 10)."""
from __future__ import annotations

import threading

import argon2
import sqlalchemy as sa

from app.accounts import signin
from app.accounts.models import LoginThrottle
from tests.conftest import PASSWORD

from .conftest import errors_of


def test_an_unknown_address_costs_the_same_password_check(client, resident, monkeypatch):
    calls = []
    real = argon2.PasswordHasher.verify
    monkeypatch.setattr(argon2.PasswordHasher, "verify", lambda self, h, p: calls.append(h) or real(self, h, p))
    for email in (resident.email, "nobody@example.com"):
        calls.clear()
        response = client.post("/accounts/login", data={"email": email, "password": "wrong-password-1"})
        assert "电子邮箱或密码不正确" in errors_of(response)
        assert len(calls) == 1, email  # one Argon2id verification either way


def test_a_throttled_owner_gets_in_with_the_emailed_link(client, db, resident, outbox):
    for _ in range(6):
        client.post("/accounts/login", data={"email": resident.email, "password": "wrong-password-1"})
    response = client.post("/accounts/login", data={"email": resident.email, "password": PASSWORD})
    assert "秒后再试" in errors_of(response) and "登录链接" in errors_of(response)
    assert "用邮件中的登录链接登录" in client.get("/accounts/login").get_data(as_text=True)
    client.post("/accounts/signin-link", data={"email": resident.email})
    client.post("/accounts/signin-link", data={"email": "nobody@example.com"})  # same answer, no mail
    link = outbox.link(resident.email, "accounts/emails/signin_link")
    assert client.get(link).status_code == 200 and client.get("/accounts/profile").status_code == 302
    assert client.post(link).status_code == 302
    assert client.get("/accounts/profile").status_code == 200
    client.post("/accounts/logout")
    assert client.post(link).status_code == 400  # once only
    # The link cleared the account's failures: the password works again (from an address not itself throttled).
    assert client.post("/accounts/login", data={"email": resident.email, "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "10.3.3.3"}).status_code == 302


def test_twenty_parallel_guesses_get_no_more_checks_than_allowed(app, db, resident, monkeypatch):
    free = app.config["LOGIN_FREE_FAILURES"]
    checks, lock = [], threading.Lock()
    real = signin.check_password

    def counting(user, password):
        with lock:
            checks.append(password)
        return real(user, password)

    monkeypatch.setattr(signin, "check_password", counting)
    email, start = resident.email, threading.Barrier(20)
    outcomes = []

    def guess(n: int) -> None:
        with app.app_context(), app.test_request_context("/"):
            start.wait()
            try:
                signin.authenticate(email, f"guess-{n}-xxxxx", f"10.7.0.{n}")
            except signin.AccountError as exc:
                outcomes.append(exc.message)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 20
    assert len(checks) == free, f"{len(checks)} password checks for {free} allowed"
    assert sum("秒后再试" in m for m in outcomes) == 20 - free
    assert db.session.scalar(sa.select(LoginThrottle.failures).where(LoginThrottle.key == f"email:{email}")) == free
