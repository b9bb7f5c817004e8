"""Fixtures shared by every test: app, client, runner, auth, db and factories.

Every test runs on SQLite; with TEST_DATABASE_URL set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)
the same tests run on PostgreSQL. Tables are created once per session and emptied after each test.

``--clock=2026-12-31T15:59:30Z`` (or the environment variable ``CANYU_TEST_CLOCK``) starts every test at that
instant, with the clock ticking (time-machine), so that the suite can be run where dates change (Shanghai
midnight, the ends of months, quarters and years, holidays and make-up working days): a test that passes at any
hour passes there too. Several instants run each test once per instant. Tests that travel themselves still do;
only what runs outside this Python process keeps the real clock (the browser of the e2e tests, subprocesses,
PostgreSQL's ``now()``, which the application never uses). ``make test-clock`` runs the fast tests (not ``e2e``,
not ``slow``) at the instants of ``CLOCK_INSTANTS``.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
import os

import pytest
import time_machine
from flask import g
import sqlalchemy as sa

from app import create_app
from app.accounts import demo as accounts_demo
from app.accounts.models import Department, DepartmentKind, Role, Tag, TagKind, User
from app.accounts.services import set_password
from app.core.timeutil import utcnow
from app.extensions import db as _db
from app.extensions import limiter
from app.i18n import compile_catalogs
from config import TestingConfig

PASSWORD = "correct-horse-42"
_counter = itertools.count(1)


def pytest_addoption(parser):
    parser.addoption("--clock", default=os.environ.get("CANYU_TEST_CLOCK", ""), metavar="INSTANTS",
                     help="start every test at this instant, the clock ticking: ISO 8601 with an offset, e.g. "
                          "2026-12-31T15:59:30Z; several instants (separated by commas or spaces) run every test "
                          "once at each. Default: $CANYU_TEST_CLOCK, else the real clock.")


def clock_instants(value: str) -> list[datetime]:
    """The instants of ``--clock``, in UTC. Each needs its offset ("Z" or "+08:00"): a failure must say exactly
    which instant it happened at, whatever the machine's time zone."""
    instants = []
    for part in value.replace(",", " ").split():
        try:
            instant = datetime.fromisoformat(part.replace("Z", "+00:00"))
        except ValueError:
            raise pytest.UsageError(f"--clock: not an ISO 8601 instant: {part}") from None
        if instant.tzinfo is None:
            raise pytest.UsageError(f"--clock: {part} needs a UTC offset (e.g. {part}Z or {part}+08:00)")
        instants.append(instant.astimezone(timezone.utc))
    return instants


_CLOCK = pytest.StashKey[list]()


def pytest_configure(config):
    config.stash[_CLOCK] = clock_instants(config.getoption("--clock"))


def pytest_report_header(config):
    from app.core.timeutil import SHANGHAI

    return [f"clock: every test starts at {i:%Y-%m-%d %H:%M:%S} UTC ({i.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S} "
            f"in Shanghai), ticking" for i in config.stash.get(_CLOCK, [])]


def _clock_id(instant: datetime) -> str:
    return f"clock={instant:%Y-%m-%dT%H:%M:%SZ}"


def pytest_generate_tests(metafunc):
    """With ``--clock``, every test runs once at each instant (its id ends in ``clock=...``)."""
    instants = metafunc.config.stash.get(_CLOCK, [])
    if instants and "_clock" in metafunc.fixturenames:
        metafunc.parametrize("_clock", instants, indirect=True, ids=_clock_id)


@pytest.fixture(autouse=True)
def _clock(request):
    """With ``--clock``, travel to the test's instant for the whole test, its function-scoped fixtures included
    (this autouse fixture of the root conftest is set up before them)."""
    instant = getattr(request, "param", None)
    if instant is None:
        yield None
        return
    with time_machine.travel(instant, tick=True) as traveller:
        yield traveller


def postgres_database(url: str, suffix: str = "") -> str:
    """The PostgreSQL database a test process uses: ``url``'s database, plus ``suffix``, plus the pytest-xdist
    worker's name when tests run in parallel (each worker empties its tables, so each needs its own database).
    Created when missing."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    base = sa.engine.make_url(url)
    if base.get_backend_name() != "postgresql":
        return url
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = base.database + suffix + (f"_{worker}" if worker else "")
    if name == base.database:
        return url
    engine = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return postgres_database(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def _app(tmp_path_factory):
    compile_catalogs()
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
    }, config_class=TestingConfig)

    @app.before_request
    def _fresh_request_caches():
        # Tests hold an app context, which requests then share, and with it `g`. Drop what extensions cache on
        # `g` per request (the language, the signed-in user) so that each request starts as in production.
        g.pop("_flask_babel", None)
        g.pop("_login_user", None)

    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        if _db.engine.dialect.name != "postgresql":
            _db.drop_all()


_refusing_delete: list[str] | None = None


def _tables_refusing_delete(conn) -> list[str]:
    """The tables with a trigger of their own (not a foreign key's), found once: the append-only ones."""
    global _refusing_delete
    if _refusing_delete is None:
        _refusing_delete = list(conn.exec_driver_sql(
            "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace").scalars())
    return _refusing_delete


def _empty_tables() -> None:
    _db.session.rollback()
    _db.session.remove()
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # What TRUNCATE ... RESTART IDENTITY did, in a tenth of its time (it made new files for every table and
            # index after every test: about 0.3 s each, half of a PostgreSQL test run): DELETE, referencing tables
            # first, and every sequence back to 1, as one simple query (one round trip). A table whose own trigger
            # refuses DELETE (the lottery's append-only event log) is truncated, when it holds rows.
            guarded = _tables_refusing_delete(conn)
            statements = [f'DO $$ BEGIN IF EXISTS (SELECT 1 FROM "{name}") THEN TRUNCATE "{name}" CASCADE; END IF; '
                          f'END $$' for name in guarded]
            statements += [f'DELETE FROM "{t.name}"' for t in reversed(_db.metadata.sorted_tables)
                           if t.name not in guarded]
            statements.append("SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                              "c.relnamespace WHERE c.relkind = 'S' AND n.nspname = current_schema()")
            conn.exec_driver_sql("; ".join(statements), execution_options={"no_parameters": True})
        else:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def app(_app):
    # Flask-Limiter keeps one switch for the process, and every create_app() sets it from that app's settings: a
    # test that builds a production-like app leaves rate limits on for the tests after it, whose sign-ins then
    # meet "30 per minute" when they run fast (or all start at the same instant, under --clock). Start each test
    # with the switch as the testing app has it.
    limiter.enabled = _app.config["RATELIMIT_ENABLED"]
    with _app.app_context():
        yield _app
        _empty_tables()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, user_or_email, password: str = PASSWORD):
        email = getattr(user_or_email, "email", user_or_email)
        return self._client.post("/accounts/login", data={"email": email, "password": password})

    def logout(self):
        return self._client.post("/accounts/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


def _committed(db, row):
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def make_department(db):
    def make(name: str | None = None, code: str | None = None, kind=DepartmentKind.BUREAU) -> Department:
        n = next(_counter)
        return _committed(db, Department(code=code or f"dept-{n}", name=name or f"测试局{n}",
                                         name_en=f"Test bureau {n}", kind=kind))

    return make


@pytest.fixture
def make_tag(db):
    def make(name: str | None = None, kind=TagKind.GROUP) -> Tag:
        n = next(_counter)
        return _committed(db, Tag(name=name or f"标签{n}", name_en=f"Tag {n}", kind=kind))

    return make


@pytest.fixture
def make_user(db):
    def make(role: Role = Role.RESIDENT, *, email: str | None = None, name: str = "张三", department=None,
             verified: bool = True, password: str = PASSWORD, **fields) -> User:
        n = next(_counter)
        user = User(email=email or f"user{n}@example.com", name=name, role=role, **fields)
        if role is Role.ENTERPRISE:
            user.organisation_name = user.organisation_name or "上海测试科技有限公司"
            user.uscc = user.uscc or "91310000MA1FL8XQ37"
        if department is not None:
            user.department_id = department.id
        if verified:
            user.email_verified_at = utcnow()
        set_password(user, password)
        return _committed(db, user)

    return make


@pytest.fixture
def load_demo(db):
    """``load_demo(module)``: the accounts' demo data (departments, tags, people), then ``module``'s demo data,
    committed; returns what ``module.load()`` said (empty when it added nothing)."""

    def load(module) -> str:
        accounts_demo.load()
        db.session.commit()
        said = module.load()
        db.session.commit()
        return said

    return load


@pytest.fixture
def resident(make_user):
    return make_user(Role.RESIDENT, name="张三", district="xuhui", age_band="30_44")


@pytest.fixture
def department(make_department):
    return make_department()


@pytest.fixture
def staff(make_user, department):
    return make_user(Role.STAFF, name="王五", department=department)


@pytest.fixture
def admin(make_user):
    return make_user(Role.ADMIN, name="周敏")


# Consultations built directly from the consultations module's models, for the tests of the modules that read
# them (API, my space, oversight). tests/consultations has its own factory, built through its services.
_comment_counter = itertools.count(1)


@pytest.fixture
def make_consultation(db, department):
    from app.consultations.models import Article, Consultation, DocumentType

    def make(dept=None, *, title="停车管理办法（征求意见稿）", tags=(), target_groups=(), named="", days=30,
             published=True):
        now = utcnow()
        c = Consultation(department_id=(dept or department).id, title=title, document_type=DocumentType.OTHER,
                         target_groups=list(target_groups), target_group_other=named,
                         opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=days),
                         published_at=now if published else None)
        c.tags = list(tags)
        c.articles = [Article(position=1, label="第一条", body="为了规范停车管理，制定本办法。")]
        db.session.add(c)
        db.session.flush()
        return c

    return make


@pytest.fixture
def make_comment(db):
    from app.consultations.models import Comment, CommenterType, ModerationState

    def make(consultation, user, *, text="建议增加夜间停车位。", state=ModerationState.PENDING):
        n = next(_comment_counter)
        comment = Comment(consultation_id=consultation.id, user_id=user.id if user else None,
                          tracking_number=f"C2026-{n:06d}", idempotency_key=f"k{n}", text_original=text,
                          text_public=text, commenter_type=CommenterType.RESIDENT,
                          public_name=user.masked_name if user else "**", moderation_state=state,
                          published_at=utcnow() if state is ModerationState.PUBLISHED else None)
        db.session.add(comment)
        db.session.flush()
        return comment

    return make


@pytest.fixture
def make_registration(db, department):
    """``make_registration(user, title=..., state=..., **fields)``: a published activity with one session a week
    ahead and ``user``'s registration for it, built from the Open Month's models for the tests of the modules that
    read them (tests/openday builds through its services)."""
    from app.openday.models import Activity, ActivitySession, Registration, RegistrationState

    def make(user, *, title="走进水厂", state=RegistrationState.CONFIRMED, **fields) -> Registration:
        now = utcnow()
        activity = Activity(department_id=department.id, title=title, signup_opens_at=now - timedelta(days=1),
                            signup_closes_at=now + timedelta(days=5), published_at=now)
        session = ActivitySession(activity=activity, starts_at=now + timedelta(days=7),
                                  ends_at=now + timedelta(days=7, hours=2), capacity=10)
        db.session.add_all([activity, session])
        db.session.flush()
        return _committed(db, Registration(session_id=session.id, activity_id=activity.id, user_id=user.id,
                                           state=state, starts_at=session.starts_at, ends_at=session.ends_at,
                                           **fields))

    return make


@pytest.fixture(params=["filesystem", "database"])
def file_storage(request, app, tmp_path):
    """Each storage backend in turn, with an upload folder of the test's own (so it can be checked empty)."""
    from app.core import storage

    saved = app.config["STORAGE_BACKEND"], app.config["UPLOAD_DIR"]
    app.config["STORAGE_BACKEND"], app.config["UPLOAD_DIR"] = request.param, str(tmp_path / "uploads")
    app.extensions.pop("canyu_storage", None)
    yield storage.storage()
    app.config["STORAGE_BACKEND"], app.config["UPLOAD_DIR"] = saved
    app.extensions.pop("canyu_storage", None)


def files_on_disk(app) -> list[str]:
    """Every file under the upload folder (any backend must leave nothing there that it was not asked to keep)."""
    root = app.config["UPLOAD_DIR"]
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)
