"""Every page fits a 360 px phone in Chinese, in English and in large text (Chinese and English), and axe-core
finds nothing to fix.

The list of pages is ``app.url_map``: every GET endpoint is either a page (visited, its path parameters filled
from the demo data) or listed in ``NOT_PAGES`` with what it serves instead, so a new page is covered as soon as
it exists (``test_every_endpoint_is_classified`` fails until it is placed). Public pages are opened signed out,
``/me`` and the rest of a person's own pages as the demo resident, ``/manage/...`` as the oversight admin (who
sees every department's staff pages).

Kept fast (it runs twice in CI): one server with the demo data for the module, one browser context per mode and
role, one page reused for every address, the width measured in a single evaluate, axe-core run once per page (in
Chinese; the other modes check the width only).
"""
from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import serve_app

pytestmark = pytest.mark.e2e

WIDTH = 360
DEMO_PASSWORD = "canyu-demo-2026"
RESIDENT = "zhang.wei@canyu.example"
ADMIN = "admin@canyu.example"
ROLES = ("anonymous", "resident", "admin")
MODES = {  # name: (cookies, run axe)
    "zh": ({"lang": "zh"}, True),
    "en": ({"lang": "en"}, False),
    "large": ({"lang": "zh", "view": "large"}, False),
    "large-en": ({"lang": "en", "view": "large"}, False),  # long English words in large type: the widest case
}
# GET endpoints that are not HTML pages, and why.
NOT_PAGES = {
    "static": "files",
    "core.healthz": "probe (JSON)", "core.readyz": "probe (JSON)", "metrics": "Prometheus text",
    "accounts.download_my_data": "JSON download",
    "consultations.document": "file download", "consultations.manage_attachment": "file download",
    "consultations.track_attachment": "file download",
    "consultations.manage_export_csv": "CSV", "consultations.manage_export_xlsx": "XLSX",
    "hearings.manage_export": "CSV/XLSX", "hearings.manage_lottery_status": "JSON polled by the meeting page",
    "hearings.pool_file": "JSON", "hearings.panels_file": "JSON", "hearings.draw_file": "JSON",
    "hearings.verify_script": "Python script",
    "openday.manage_export": "CSV/XLSX", "openday.image": "image", "openday.ticket_qr": "SVG",
    "openday.ticket_ics": "iCalendar",
    "oversight.manage_compliance_csv": "CSV", "oversight.manage_compliance_xlsx": "XLSX",
    "messages.attachment": "file download", "consultations.track_attachment": "file download",
    "hearings.record_file": "JSON", "messages.manage_report_download": "CSV/XLSX",
}
NOT_PAGE_BLUEPRINTS = {"api": "JSON, Atom and iCalendar"}
# A person's own pages, visited as the demo resident.
RESIDENT_PAGES = {
    "accounts.profile", "accounts.change_email", "accounts.change_password", "accounts.my_data",
    "accounts.delete_account", "accounts.unverified", "notifications.subscriptions", "oversight.me",
    "hearings.my_application", "openday.my_tickets", "openday.ticket", "openday.vote", "consultations.track",
    "messages.new", "messages.track",
}


def _params() -> dict[str, list[dict]]:
    """Path parameters for every endpoint that has some, from the demo data (called in an app context)."""
    import sqlalchemy as sa

    from app.accounts.models import Department, Tag, User
    from app.consultations.models import Comment, CommentGroup, Consultation, FaqItem, FeedbackReport
    from app.extensions import db
    from app.hearings.models import Application, Meeting
    from app.messages.models import CommonProblem, ImportBatch, Message
    from app.openday.models import Activity, ActivitySession, Registration
    from app.oversight.metrics import FIGURES

    def first(stmt):
        return db.session.scalar(stmt.limit(1))

    resident = first(sa.select(User.id).where(User.email == RESIDENT))
    consultations = list(db.session.scalars(sa.select(Consultation.id).order_by(Consultation.id.desc())))
    reported = first(sa.select(FeedbackReport.consultation_id))
    comment = db.session.get(Comment, first(sa.select(Comment.id).order_by((Comment.user_id == resident).desc(),
                                                                           Comment.id)))
    group = db.session.get(CommentGroup, first(sa.select(CommentGroup.id)))
    faq = db.session.get(FaqItem, first(sa.select(FaqItem.id)))
    meetings = list(db.session.scalars(sa.select(Meeting.id).order_by(Meeting.id.desc())))  # the furthest on first
    applied = first(sa.select(Application.meeting_id).where(Application.user_id == resident))
    activities = list(db.session.scalars(sa.select(Activity.id).order_by(Activity.id)))
    session = first(sa.select(ActivitySession.id).order_by(ActivitySession.id))
    ticket = first(sa.select(Registration.id).where(Registration.user_id == resident).order_by(Registration.id))
    assert comment and applied and ticket, f"the demo data must give {RESIDENT} a comment, an application and a ticket"
    department = first(sa.select(Department.id).order_by(Department.id))
    batch = first(sa.select(ImportBatch.id).order_by(ImportBatch.id))
    published = first(sa.select(Message.id).where(Message.published_at.is_not(None), Message.hidden_at.is_(None))
                      .order_by(Message.id))
    message = db.session.get(Message, first(sa.select(Message.id).order_by((Message.user_id == resident).desc(),
                                                                           Message.id)))
    token = [{"token": "no-such-link"}]
    one = [{"id": consultations[-1]}]
    return {
        "accounts.manage_department_edit": [{"department_id": department}],
        "accounts.manage_staff": [{"department_id": department}],
        "accounts.manage_tag_edit": [{"tag_id": first(sa.select(Tag.id))}],
        "accounts.confirm_email_change": token, "accounts.verify": token, "accounts.reset_password": token,
        "accounts.accept_invitation": token, "notifications.unsubscribe": token, "oversight.open_invitation": token,
        "accounts.signin_with_link": token, "accounts.undo_email_change": token,
        "consultations.show": [{"id": i} for i in consultations],
        "consultations.track": [{"number": comment.tracking_number}],
        "consultations.manage_edit": one, "consultations.manage_show": one, "consultations.manage_extend": one,
        "consultations.manage_withdraw": one, "consultations.manage_moderation": one,
        "consultations.manage_groups": one, "consultations.manage_answers": one,
        "consultations.manage_report": [{"id": reported}],
        "consultations.manage_answer_comment": [{"id": comment.consultation_id, "comment_id": comment.id}],
        "consultations.manage_answer_group": [{"id": group.consultation_id, "group_id": group.id}],
        "consultations.manage_faq": [{"id": faq.consultation_id}, {"id": faq.consultation_id, "faq_id": faq.id}],
        "oversight.manage_reach": [{"consultation_id": consultations[-1]}],
        "oversight.manage_list": [{"name": name} for name in FIGURES],
        "hearings.show": [{"id": i} for i in meetings],
        "hearings.selection": [{"id": i} for i in meetings],
        "hearings.my_application": [{"id": applied}],
        "hearings.manage_edit": [{"id": meetings[-1]}],
        "hearings.manage_meeting": [{"id": i} for i in meetings],
        "hearings.manage_applications": [{"id": i} for i in meetings],
        "openday.show": [{"activity_id": activities[0]}, {"activity_id": activities[-1]}],
        "openday.manage_show": [{"activity_id": activities[0]}],
        "openday.manage_edit": [{"activity_id": activities[0]}],
        "openday.manage_edit_session": [{"session_id": session}],
        "openday.manage_participants": [{"session_id": session}],
        "openday.check_in": [{"session_id": session}],
        "openday.ticket": [{"registration_id": ticket}],
        "messages.show": [{"id": published}],
        "messages.track": [{"number": message.tracking_number}],
        "messages.manage_show": [{"id": message.id}],
        "messages.manage_import_report": [{"id": batch}],
        "messages.manage_problem": [{"id": first(sa.select(CommonProblem.id).order_by(CommonProblem.id))}],
        "consultations.manage_redact": [{"id": comment.consultation_id, "comment_id": comment.id}],
        "hearings.manage_applications": [{"id": i} for i in meetings],
    }


def _get_endpoints(app) -> list:
    rules = [r for r in app.url_map.iter_rules() if "GET" in r.methods]
    return [r for r in rules if r.endpoint not in NOT_PAGES
            and r.endpoint.partition(".")[0] not in NOT_PAGE_BLUEPRINTS]


def _pages(app) -> dict[str, list[tuple[str, str]]]:
    """{"anonymous"|"resident"|"admin": [(endpoint, url), ...]} for every page in the url map."""
    from flask import url_for

    pages: dict[str, list[tuple[str, str]]] = {"anonymous": [], "resident": [], "admin": []}
    with app.app_context():
        params = _params()
        with app.test_request_context():
            for rule in _get_endpoints(app):
                role = ("admin" if rule.rule.startswith("/manage") else
                        "resident" if rule.endpoint in RESIDENT_PAGES else "anonymous")
                for values in params.get(rule.endpoint, [{}]):
                    if set(rule.arguments) <= set(values):
                        url = url_for(rule.endpoint, **values)
                        if (rule.endpoint, url) not in pages[role]:
                            pages[role].append((rule.endpoint, url))
    return pages


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """The app with the demo data (and a comment group and a message import, which the demo has none of)."""
    import importlib

    from app import create_app
    from app.cli import DEMO_LOADERS
    from app.extensions import db
    from app.i18n import compile_catalogs
    from config import TestingConfig
    from tests.e2e.conftest import _database_url

    compile_catalogs()
    app = create_app({"SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory, "_layout"),
                      "UPLOAD_DIR": str(tmp_path_factory.mktemp("layout-uploads")),
                      "SEND_FILE_MAX_AGE_DEFAULT": 3600},  # styles and scripts from the cache, as behind nginx
                     config_class=TestingConfig)
    with app.app_context():
        import sqlalchemy as sa

        from app.consultations.models import Comment, CommentGroup
        from app.messages.models import ImportBatch, MessageSource

        db.drop_all()
        db.create_all()
        for path in DEMO_LOADERS:
            module, _, name = path.partition(":")
            getattr(importlib.import_module(module), name)()
            db.session.commit()
        comments = list(db.session.scalars(sa.select(Comment).order_by(Comment.id).limit(2)))
        db.session.add(CommentGroup(consultation_id=comments[0].consultation_id, title="加装电梯费用分摊",
                                    comments=comments, similarity=0.8))
        db.session.add(ImportBatch(source=list(MessageSource)[-1], filename="12345-2026-11.csv", rows_total=3,
                                   rows_imported=1, rows_duplicate=1, errors=[{"line": 3, "reason": "缺少留言内容"}]))
        db.session.commit()
        db.session.remove()
    from flask import template_rendered

    def record(sender, template, context, **extra):
        RENDERED.append(template.name)

    template_rendered.connect(record, app)
    with serve_app(app) as live:
        yield live
    template_rendered.disconnect(record, app)


def test_every_endpoint_is_classified(demo_server):
    """A new GET endpoint with path parameters must get demo values here (or be listed as not a page)."""
    with demo_server.app.app_context():
        filled = _params()
    missing = [r.endpoint for r in _get_endpoints(demo_server.app)
               if r.arguments and not any(set(r.arguments) <= set(v) for v in filled.get(r.endpoint, []))]
    assert not missing, f"give these endpoints demo values in _params() or list them in NOT_PAGES: {missing}"


# The document's width; when wider than the viewport, what sticks out (text or boxes not inside a scrolling region).
MEASURE = """() => {
  const root = document.documentElement, limit = root.clientWidth;
  const result = {width: root.scrollWidth, limit, wide: []};
  if (root.scrollWidth <= limit) return result;
  const clipped = el => {
    for (let a = el; a && a !== document.body; a = a.parentElement)
      if (getComputedStyle(a).overflowX !== 'visible') return true;
    return false;
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walker.nextNode()) && result.wide.length < 5;) {
    const range = document.createRange();
    range.selectNodeContents(n);
    const right = range.getBoundingClientRect().right;
    if (right > limit + 1 && !clipped(n.parentElement))
      result.wide.push(`${name(n.parentElement)} ${Math.round(right)} px: ${n.textContent.trim().slice(0, 40)}`);
  }
  for (const el of document.body.querySelectorAll('*')) {
    if (result.wide.length >= 5) break;
    const right = el.getBoundingClientRect().right;
    if (right > limit + 1 && !el.children.length && !clipped(el.parentElement))
      result.wide.push(`${name(el)} ${Math.round(right)} px`);
  }
  for (const el of document.body.querySelectorAll('*')) {  // e.g. absolutely positioned text escaping a region
    if (result.wide.length >= 5) break;
    const right = el.getBoundingClientRect().right;
    if (right > limit + 1 && !el.children.length) result.wide.push(`${name(el)} ${Math.round(right)} px`);
  }
  return result;
}"""
# Table rows after the fifth repeat the markup of the first ones: leaving them out makes axe several times faster.
# axe-core, fast: once per template and role; table rows and list items after the fifth (articles after the third)
# repeat the markup of the first ones; the header and footer (the same on every page) are checked on the first page of each role only; no CSS selectors
# unless something is wrong.
AXE_RUN = """([everything, selectors]) => {
  const exclude = [['tbody > tr:nth-child(n+6)'], ['main li:nth-child(n+6)'], ['main article:nth-of-type(n+4)']].concat(everything ? [] : [['body > header'], ['body > footer']]);
  return axe.run({exclude}, {resultTypes: ['violations'], selectors}).then(r => r.violations
    .filter(v => ['moderate', 'serious', 'critical'].includes(v.impact))
    .map(v => `axe [${v.impact}] ${v.id}: ${v.help} ` + v.nodes.slice(0, 3).map(n => (n.target || []).join(' ')).join(', ')));
}"""


TIMES: collections.Counter = collections.Counter()  # seconds spent loading pages and in axe-core, printed
RENDERED: list[str] = []  # the templates the server rendered for the page being visited


def _visit(page, url: str, axe_source: str | None, checked: set) -> list[str]:
    """The problems of one page: an error answer, a document wider than the viewport, and with ``axe_source``,
    axe-core's violations on the first page of each template (``checked``: the templates seen so far)."""
    started = time.monotonic()
    RENDERED.clear()
    response = page.goto(url, wait_until="load")
    TIMES["load"] += time.monotonic() - started
    if response is None or response.status >= 500 or (response.status == 404 and "no-such-link" not in url):
        return [f"answered {response and response.status}"]
    problems = []
    size = page.evaluate(MEASURE)
    if size["width"] > size["limit"]:
        problems.append(f"{size['width']} px wide in {size['limit']} px: " + "; ".join(size["wide"]))
    template = tuple(RENDERED)
    if axe_source and template not in checked:
        started = time.monotonic()
        page.evaluate(axe_source)
        if page.evaluate(AXE_RUN, [not checked, False]):
            problems += page.evaluate(AXE_RUN, [not checked, True])
        TIMES["axe"] += time.monotonic() - started
        checked.add(template)
    return problems


def _sign_in(page, role: str) -> None:
    page.goto("/accounts/login")
    page.fill("input[name=email]", RESIDENT if role == "resident" else ADMIN)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "/accounts/login" not in page.url, f"the demo {role} could not sign in"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("mode", list(MODES))
def test_every_page_fits_360_px(mode, role, demo_server, browser):
    """One test per mode and role, so that parallel runs (-n 2) share the work out."""
    cookies, with_axe = MODES[mode]
    problems: list[str] = []
    started, visited = time.monotonic(), 0
    axe_source = (Path(__import__("axe_playwright_python").__file__).parent / "axe.min.js").read_text()
    context = browser.new_context(viewport={"width": WIDTH, "height": 800}, base_url=demo_server.url)
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": k, "value": v, "url": demo_server.url} for k, v in cookies.items()])
    page = context.new_page()
    if role != "anonymous":
        _sign_in(page, role)
    checked: set = set()
    for _endpoint, url in _pages(demo_server.app)[role]:
        problems += [f"{mode} {role} {url}: {p}" for p in _visit(page, url, with_axe and axe_source, checked)]
        visited += 1
    context.close()
    print(f"\nlayout {mode} {role}: {visited} pages in {time.monotonic() - started:.1f} s "
          f"(loading {TIMES['load']:.1f} s, axe {TIMES['axe']:.1f} s)")
    TIMES.clear()
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)
