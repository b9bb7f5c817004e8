"""Malformed input never gives a 5xx, on any route, for any role (issue 10).

The test walks ``app.url_map`` (so a new route is covered without new code) and sends a fixed corpus of malformed
values: NUL and other control characters, CR/LF, integers beyond the database's range, negative ids, far dates,
invalid UTF-8, a 1 MB field, a deeply nested cursor. One value class per request, put into every path parameter,
query argument, form field and file name of the route together. Each route gets a few classes per role, rotated
so that across routes every role meets every class: about 1,400 requests instead of the ~3,800 a full cross
product would take. Anything the corpus makes the app store is checked afterwards: no control character in any
text column, no file left on disk for an upload that failed.
"""
from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from flask_wtf import FlaskForm
from werkzeug.routing import AnyConverter, IntegerConverter
from wtforms.fields import FileField, MultipleFileField
from wtforms.fields.core import UnboundField

from app.accounts.demo import DEMO_ACCOUNTS
from app.api.core import ENDPOINTS
from app.cli import DEMO_LOADERS
from app.extensions import db
from tests.conftest import files_on_disk

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NESTED_CURSOR = base64.urlsafe_b64encode(b"[" * 3_000).decode().rstrip("=")  # deeper than the recursion limit

# value class -> the value every field, argument and string path parameter gets (``str``), or a callable of the
# field's position for classes that vary (dates: year 1 and year 9999 in turn).
CLASSES: dict[str, object] = {
    "nul": "申请\x00a\x01\x08\x1b\x7f\u0085\ufffeb",
    "crlf": "/a\r\nSet-Cookie: x=1",
    "huge": "99999999999999999999999",
    "ints": lambda i: ("2147483648", "-1", "0")[i % 3],
    "dates": lambda i: ("0001-01-01", "9999-12-31")[i % 2],
    "utf8": b"\xff\xfe\xc3(",
    "big": "big",
    "nested": NESTED_CURSOR,
}
INT_CLASSES = {"huge", "ints"}
ROLES = ["anonymous", "resident", "staff", "admin"]
ACCOUNTS = {"resident": "zhang.wei@canyu.example", "staff": "housing@canyu.example", "admin": "admin@canyu.example"}
PER_ROLE = 2  # value classes per route, method and role; 4 roles x 2 = 8 classes, so every route meets each


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def form_fields() -> tuple[list[str], list[str]]:
    """Every field name of every form (text fields, file fields), and the names views read from request.form."""
    text, files = set(), set()
    for form in _subclasses(FlaskForm):
        for name in dir(form):
            attr = getattr(form, name, None)
            if isinstance(attr, UnboundField) and not name.startswith("_"):
                (files if issubclass(attr.field_class, (FileField, MultipleFileField)) else text).add(name)
    source = "\n".join(p.read_text() for p in (ROOT / "app").rglob("*.py"))
    text |= set(re.findall(r"request\.(?:form|values)\.get(?:list)?\(\s*\"(\w+)\"", source))
    files |= set(re.findall(r"request\.files\.getlist\(\s*\"(\w+)\"", source))
    return sorted(text - files - {"csrf_token", "submit"}), sorted(files)


def query_names() -> list[str]:
    """The query arguments views read (``request.args.get("x")``, ``request.values.get("x")``, the inputs helpers,
    forms filled from args)."""
    source = "\n".join(p.read_text() for p in (ROOT / "app").rglob("*.py"))
    names = set(re.findall(r"(?:request\.(?:args|values)\.get|arg_\w+)\(\s*\"(\w+)\"", source))
    for form_name in re.findall(r"(\w+Form)\(formdata=request\.args", source):
        form = next(f for f in _subclasses(FlaskForm) if f.__name__ == form_name)
        names |= {n for n in dir(form) if isinstance(getattr(form, n, None), UnboundField)}
    return sorted(names - {"lang", "view"})


def value(cls: str, i: int, big: bool = False):
    v = CLASSES[cls]
    if callable(v):
        return v(i)
    if cls == "big":
        return "长" * 350_000 if big else "长" * 400  # ~1 MB in one field, 1.2 kB in each of the others
    return v


def path_for(rule, cls: str) -> str:
    parts = {}
    for i, name in enumerate(sorted(rule.arguments)):
        conv = rule._converters[name]
        if isinstance(conv, AnyConverter):
            parts[name] = sorted(conv.items)[0]
        elif isinstance(conv, IntegerConverter):
            parts[name] = value(cls, i) if cls in INT_CLASSES else "1"
        else:
            raw = value(cls, i) if cls not in INT_CLASSES else "1"
            raw = raw[:2000] if isinstance(raw, str) else raw
            parts[name] = quote(raw, safe="")
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: parts[m.group(1)], re.sub(r"\(.*?\)", "", rule.rule))


def encode(pairs: list[tuple[str, object]]) -> str:
    return urlencode([(k, v.encode() if isinstance(v, str) else v) for k, v in pairs])


def request_for(rule, method: str, cls: str, names: dict):
    path = path_for(rule, cls)
    api = names["api"].get(rule.rule)
    args = api if api is not None else names["query"]
    # A URL is short (servers refuse one of more than ~8 kB): the big values go into the form fields.
    query = encode([(n, value(cls, i)[:300] if cls == "big" else value(cls, i)) for i, n in enumerate(args)])
    kwargs: dict = {"query_string": query}
    if method == "POST":
        data = {n: value(cls, i, big=(i == 0)) for i, n in enumerate(names["form"])}
        bad_name = value(cls, 0) if isinstance(value(cls, 0), str) else "a\x00b"
        for n in names["files"]:
            data[n] = (io.BytesIO(b"not really a PDF\x00"), f"{bad_name[:200]}.pdf")
        kwargs["data"] = data
        kwargs["content_type"] = "multipart/form-data"
    return path, kwargs


def sign_in(client, role: str) -> None:
    if role != "anonymous":
        password = DEMO_ACCOUNTS[0][2]
        response = client.post("/accounts/login", data={"email": ACCOUNTS[role], "password": password})
        assert response.status_code == 302, role


def refused(response) -> bool:
    return response.status_code in (401, 403) or (
        response.status_code == 302 and "/accounts/login" in response.headers.get("Location", ""))


def text_columns_with_controls() -> list[str]:
    """Text columns holding NUL or another control character (SQLite stores them; PostgreSQL refuses NUL)."""
    found = []
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, (sa.String, sa.Text)) or isinstance(column.type, sa.Enum):
                    continue
                postgres = conn.dialect.name == "postgresql"
                for char in ("\x01", "\x1b") if postgres else ("\x00", "\x01", "\x1b"):
                    hit = conn.execute(sa.select(sa.func.count()).select_from(table).where(
                        sa.func.strpos(column, char) > 0 if postgres
                        else sa.func.instr(column, char) > 0)).scalar()
                    if hit:
                        found.append(f"{table.name}.{column.name} holds {char!r}")
    return found


def test_no_route_answers_malformed_input_with_a_server_error(app):
    import importlib
    import time

    started = time.process_time()
    for loader in DEMO_LOADERS:
        module, _, name = loader.partition(":")
        getattr(importlib.import_module(module), name)()
        db.session.commit()
    demo_cpu = time.process_time() - started
    text, files = form_fields()
    names = {"form": text, "files": files, "query": query_names(),
             "api": {ep.rule: [p.name for p in ep.params] for ep in ENDPOINTS}}
    disk_before = files_on_disk(app)
    clients = {}
    for role in ROLES:
        clients[role] = app.test_client()
        sign_in(clients[role], role)

    rules = sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule)
    failures, count, order = [], 0, list(CLASSES)
    for i, rule in enumerate(rules):
        for method in sorted(rule.methods & {"GET", "POST"}):
            for r, role in enumerate(ROLES):
                client = clients[role]
                for j in range(PER_ROLE):
                    cls = order[(i + r * PER_ROLE + j) % len(order)]
                    path, kwargs = request_for(rule, method, cls, names)
                    count += 1
                    try:
                        response = client.open(path, method=method, **kwargs)
                    except Exception as error:  # the testing app raises what would be a 500
                        db.session.rollback()
                        failures.append(f"{type(error).__name__} {method} {rule.rule} {role} {cls}: "
                                        f"{str(error)[:120]!r}")
                        continue
                    if response.status_code >= 500 and not (rule.rule == "/readyz" and response.status_code == 503):
                        failures.append(f"{response.status_code} {method} {rule.rule} {role} {cls}")
                    elif path.startswith("/api/") and response.status_code >= 400:
                        if response.mimetype != "application/json":
                            failures.append(f"not JSON: {response.status_code} {method} {rule.rule} {cls}")
                    if role != "anonymous" and not client.get_cookie("session"):
                        sign_in(client, role)  # the route signed out (or deleted) the account: sign in again
                    if refused(response):
                        break  # the role may not use the route: its input is never read
    print(f"{count} requests; CPU: demo data {demo_cpu:.1f} s, requests {time.process_time() - started - demo_cpu:.1f} s")
    assert not failures, f"{len(failures)} of {count} requests failed:\n" + "\n".join(failures)
    assert text_columns_with_controls() == []
    assert files_on_disk(app) == disk_before
