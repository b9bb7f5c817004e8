"""Every CSV or XLSX download goes through app.core.exports (neutralised cells, no-store, audit), now and later."""
from __future__ import annotations

import sys
from pathlib import Path

import app as app_package

APP_DIR = Path(app_package.__file__).parent
# Writing spreadsheets (reading them, as the messages import does, is fine).
WRITERS = ("csv.writer", "csv.DictWriter", "xlsxwriter", "openpyxl.Workbook(", "text/csv")


def test_no_module_writes_spreadsheets_by_itself():
    for path in APP_DIR.rglob("*.py"):
        if path == APP_DIR / "core" / "exports.py":
            continue
        source = path.read_text(encoding="utf-8")
        for writer in WRITERS:
            assert writer not in source, f"{path.relative_to(APP_DIR)} uses {writer!r}: go through app.core.exports"


def test_every_csv_and_xlsx_route_lives_in_a_module_that_uses_the_shared_download(app):
    from app.core import exports

    found = 0
    for rule in app.url_map.iter_rules():
        if rule.rule.endswith((".csv", ".xlsx", ".<fmt>")):
            found += 1
            module = sys.modules[app.view_functions[rule.endpoint].__module__]
            assert any(value is exports for value in vars(module).values()), rule.rule
    assert found >= 6  # consultations, Open Month, hearings, oversight (csv and xlsx): more may come
