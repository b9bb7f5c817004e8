"""Time can be moved for every test: ``--clock`` starts each test at given instants (tests/conftest.py), and the
application takes every stored time from Python's clock, never from the database's, so that moving one moves all."""
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from app.extensions import db
from tests.conftest import clock_instants

ROOT = Path(__file__).resolve().parents[2]

INNER = '''
from datetime import date, datetime, timedelta, timezone

from app.core.timeutil import local_today, utcnow


def test_starts_at_its_instant_and_ticks(request):
    instant = request.node.callspec.params["_clock"]
    now = utcnow()
    assert instant <= now < instant + timedelta(minutes=1)
    assert utcnow() >= now  # ticking: never back
    print("AT", request.node.name, now.strftime("%Y-%m-%dT%H:%M"), local_today().isoformat())
'''


@pytest.mark.slow  # a pytest of its own, with its own instants: nothing to gain from running it at others
def test_the_clock_option_runs_each_test_once_at_each_instant(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-s", "-p", "tests.conftest", "--rootdir", str(tmp_path),
         str(tmp_path / "test_inner.py"), "--clock", "2026-12-31T15:59:30Z, 2027-01-01T00:00:30+08:00"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    # The second instant, given in Shanghai time, is 16:00:30 UTC: the same UTC day, the next Shanghai day.
    assert re.findall(r"AT (\S+) (\S+) (\S+)", result.stdout) == [
        ("test_starts_at_its_instant_and_ticks[clock=2026-12-31T15:59:30Z]", "2026-12-31T15:59", "2026-12-31"),
        ("test_starts_at_its_instant_and_ticks[clock=2026-12-31T16:00:30Z]", "2026-12-31T16:00", "2027-01-01"),
    ]
    assert "clock: every test starts at 2026-12-31 16:00:30 UTC (2027-01-01 00:00:30 in Shanghai)" in result.stdout


def test_clock_instants_need_an_offset():
    assert clock_instants("") == []
    assert clock_instants("2026-02-14T09:30+08:00") == [datetime(2026, 2, 14, 1, 30, tzinfo=timezone.utc)]
    with pytest.raises(pytest.UsageError, match="needs a UTC offset"):
        clock_instants("2026-12-31T15:59:30")
    with pytest.raises(pytest.UsageError, match="not an ISO 8601 instant"):
        clock_instants("yesterday")


def test_stored_times_come_from_python_not_from_the_database(app):
    """PostgreSQL's now() (and SQLite's CURRENT_TIMESTAMP) cannot be moved by a test: no column or migration uses
    them; every time is set from app.core.timeutil.utcnow()."""
    database_clock = re.compile(r"now\(|current_(timestamp|date|time)|localtimestamp|datetime\('now", re.I)
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            for default in (column.server_default, column.server_onupdate):
                text = str(getattr(default, "arg", "") or "")
                assert not database_clock.search(text), f"{table.name}.{column.name}: {text}"
    for migration in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        assert not database_clock.search(migration.read_text()), migration.name
    for source in sorted((ROOT / "app").rglob("*.py")):
        assert not re.search(r"func\.(now|current_timestamp|current_date)\b", source.read_text()), source.name
