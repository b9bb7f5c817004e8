"""Browser tests: a live server, Playwright on Debian's Chromium, an axe-core check, the outbox.

Every test in this folder is marked ``e2e`` and is skipped, with the reason printed, when Chromium is not
installed at /usr/bin/chromium (install it with ``apt-get install chromium fonts-noto-cjk``).

Fixtures (see each docstring):
- ``live_server``: the app served on a free port in a thread; ``.url``, ``.app``, ``.create_user(...)``,
  ``.create_department(...)``, ``.session()``. One per test session, on its own SQLite file (or, with
  TEST_DATABASE_URL on PostgreSQL, its own database ``<name>_e2e``), with CSRF on as in production. Tests share it, so use e-mail addresses of your own.
- ``page``: a fresh Playwright page (own cookies) in Chromium; console CSP violations fail the test.
- ``check_a11y(page)``: axe-core; fails on any serious or critical violation.
- ``outbox(to)``: the newest mail body for an address; ``outbox.email(to)`` the row; ``outbox.url(to, "/verify/")``.
- ``find_url(text, contains)``: the first URL in a text that contains ``contains``.
- ``login(page, email, password)``: sign in through the form; ``logout(page)`` (a function) signs out.
- ``open_as(page, email, path, shot)``: sign in, open a page, check it with axe-core, take its screenshots.
- ``screenshot(page, "module/name")``: PNGs at 1280 and 360 px in /tmp/shots/module/.
"""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import postgres_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SHOTS = Path("/tmp/shots")
HERE = Path(__file__).resolve().parent
PASSWORD = "correct-horse-42"  # the same as tests.conftest.PASSWORD


def _database_url(tmp_path_factory, suffix: str = "_e2e") -> str:
    """Its own SQLite file; with TEST_DATABASE_URL on PostgreSQL, a sibling database ``<name><suffix>``.

    A database of its own, because the unit tests empty their tables only after each test: rows the live server
    leaves behind would otherwise appear in the next unit test.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('e2e-db') / (suffix.lstrip('_') + '.db')}"
    return postgres_database(url, suffix)  # parallel runs: one database per worker


def _skip_reason() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"Chromium not installed at {CHROMIUM}: browser tests skipped"
    try:
        import axe_playwright_python  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright or axe-playwright-python missing ({exc}): browser tests skipped"
    return None


SKIP_REASON = _skip_reason()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            if SKIP_REASON:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if SKIP_REASON:
        terminalreporter.write_line(SKIP_REASON, yellow=True, bold=True)


# The live server ----------------------------------------------------------------------------------------------

class LiveServer:
    def __init__(self, app, server):
        self.app = app
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_port}"

    def session(self):
        """An app context for reading or preparing data: ``with live_server.session() as db: ...``."""
        from contextlib import contextmanager

        from app.extensions import db

        @contextmanager
        def ctx():
            with self.app.app_context():
                try:
                    yield db
                finally:
                    db.session.remove()

        return ctx()

    def create_department(self, code: str, name: str, name_en: str = ""):
        from app.accounts.models import Department

        with self.session() as db:
            dept = Department(code=code, name=name, name_en=name_en or code)
            db.session.add(dept)
            db.session.commit()
            return dept.id

    def create_user(self, email: str, name: str = "张三", *, role=None, department_id: int | None = None,
                    password: str | None = None, verified: bool = True, **fields) -> int:
        """A user straight in the database (for staff and admins, who do not register). Returns the id."""
        from app.accounts.models import Role, User
        from app.accounts.services import set_password
        from app.core.timeutil import utcnow

        with self.session() as db:
            user = User(email=email, name=name, role=role or Role.RESIDENT, department_id=department_id, **fields)
            if verified:
                user.email_verified_at = utcnow()
            set_password(user, password or PASSWORD)
            db.session.add(user)
            db.session.commit()
            return user.id


@contextmanager
def serve_app(app):
    """Serve ``app`` with werkzeug in a thread on a free port; yields a LiveServer. E-mailed links point there."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):  # one line per request drowns a failure's report
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    live = LiveServer(app, server)
    app.config["BASE_URL"] = live.url
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield live
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The app (TestingConfig, CSRF on, no demo data) served by werkzeug in a thread on a free port."""
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    from app import create_app
    from app.extensions import db
    from app.i18n import compile_catalogs
    from config import TestingConfig

    compile_catalogs()
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("e2e-uploads")),
        "WTF_CSRF_ENABLED": True,
        "MAIL_SHOW_IN_APP": True,
        "MAIL_SUPPRESS_SEND": True,
    }, config_class=TestingConfig)
    with app.app_context():
        db.drop_all()
        db.create_all()
    with serve_app(app) as live:
        yield live
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# The browser --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)  # as the page's own timeout: a loaded CI machine is slow, not broken
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A new page with its own cookies, 1280 px wide.

    Fails the test on a Content-Security-Policy violation (an inline style or script) and on a stylesheet, script
    or image of the app that does not load (every asset must be served by the app).
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                  base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems: list[str] = []

    def on_console(msg):
        # axe-core's own injected helpers are not the app's doing.
        if msg.type == "error" and "Content Security Policy" in msg.text and not getattr(page, "_axe_running", 0):
            problems.append(f"CSP violation on {page.url}: {msg.text}")

    def on_response(response):
        if response.url.startswith(live_server.url + "/static/") and response.status >= 400:
            problems.append(f"asset {response.url} answered {response.status} (page {page.url})")

    page.on("console", on_console)
    page.on("response", on_response)
    yield page
    context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def check_a11y():
    """``check_a11y(page)``: run axe-core on the page; fail listing every serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page, *, ignore: tuple[str, ...] = ()):
        page._axe_running = 1
        try:
            results = axe.run(page)
        finally:
            page._axe_running = 0
        bad = [v for v in results.response["violations"]
               if v.get("impact") in ("serious", "critical") and v["id"] not in ignore]
        if bad:
            lines = [f"axe-core found {len(bad)} serious/critical violation(s) on {page.url}:"]
            for v in bad:
                lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v.get('helpUrl', '')})")
                for node in v["nodes"][:5]:
                    lines.append(f"    {', '.join(map(str, node['target']))}: {node.get('failureSummary', '')}"
                                 .replace("\n", " "))
            pytest.fail("\n".join(lines), pytrace=False)
        return results

    return check


# Mail ---------------------------------------------------------------------------------------------------------

URL_RE = re.compile(r"https?://[^\s<>\"']+")


def find_url_in(text: str, contains: str = "") -> str:
    for url in URL_RE.findall(text or ""):
        url = url.rstrip(".,;)）。")
        if contains in url:
            return url
    raise AssertionError(f"no URL containing {contains!r} in:\n{text}")


@pytest.fixture
def find_url():
    """``find_url(text, contains="")``: the first URL in ``text`` that contains ``contains``."""
    return find_url_in


class Outbox:
    def __init__(self, live_server):
        self.live_server = live_server

    def email(self, to: str):
        """The newest OutboxEmail row for an address (detached, attributes loaded), once the scheduler's jobs that
        queue the busiest paths' mail (a comment's receipt, a sign-up's confirmation; every 5 s) have run."""
        import sqlalchemy as sa

        from app.consultations.jobs import mail_receipts
        from app.notifications.models import OutboxEmail
        from app.openday.jobs import mail_signups

        with self.live_server.session() as db:
            mail_receipts()
            mail_signups()
            row = db.session.scalar(sa.select(OutboxEmail).where(sa.func.lower(OutboxEmail.recipient) == to.lower())
                                    .order_by(OutboxEmail.id.desc()).limit(1))
            assert row is not None, f"no mail to {to} in the outbox"
            db.session.expunge(row)
            return row

    def __call__(self, to: str) -> str:
        return self.email(to).body_text

    def url(self, to: str, contains: str = "") -> str:
        return find_url_in(self(to), contains)


@pytest.fixture
def outbox(live_server):
    """``outbox(to)`` the newest mail body for an address, ``outbox.url(to, contains)`` a link in it."""
    return Outbox(live_server)


# Helpers for journeys -----------------------------------------------------------------------------------------

@pytest.fixture
def login():
    """``login(page, email, password)``: sign in through the form (Chinese labels or English)."""

    def do(page, email: str, password: str = PASSWORD):
        page.goto("/accounts/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state()

    return do


def logout(page) -> None:
    """Sign out with the header's button."""
    page.get_by_role("button", name="退出").click()
    page.wait_for_load_state()


@pytest.fixture
def open_as(login, check_a11y, screenshot):
    """``open_as(page, email, path, shot=None)``: sign in as ``email``, open ``path``, check it with axe-core and,
    with ``shot`` ("module/name"), take its screenshots."""

    def do(page, email: str, path: str, shot: str | None = None) -> None:
        login(page, email)
        page.goto(path)
        check_a11y(page)
        if shot:
            screenshot(page, shot)

    return do


@pytest.fixture
def screenshot():
    """``screenshot(page, "module/name")``: full-page PNGs at 1280 and 360 px wide; returns their paths."""

    def shoot(page, name: str, widths: tuple[int, ...] = (1280, 360)) -> list[Path]:
        original = page.viewport_size
        paths = []
        for width in widths:
            page.set_viewport_size({"width": width, "height": 900})
            path = SHOTS / f"{name}-{width}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=True, caret="initial", animations="allow")
            paths.append(path)
        if original:
            page.set_viewport_size(original)
        return paths

    return shoot
