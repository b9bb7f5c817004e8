"""Keep the English catalogues complete.

    .venv/bin/python scripts/i18n.py update accounts   # extract the module's strings into its .po
    .venv/bin/python scripts/i18n.py check             # list every string without an English translation

Message ids are Chinese (the first language). Each module owns app/<module>/translations/en/LC_MESSAGES/messages.po
for the strings in app/<module>/ and templates/<module>/; the shared pages (app/*.py, app/core, templates/*.html,
templates/core, templates/errors) use app/translations.
"""
from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None, "N_": None}
JINJA_OPTIONS = {"extensions": "jinja2.ext.do,jinja2.ext.loopcontrols", "trimmed": "false"}


def module_sources(module: str) -> list[Path]:
    if module == "core":
        files = [p for p in (ROOT / "app").glob("*.py")]
        files += list((ROOT / "app" / "core").rglob("*.py"))
        files += list((ROOT / "templates").glob("*.html"))
        for folder in ("core", "errors"):
            files += [p for p in (ROOT / "templates" / folder).rglob("*") if p.suffix in (".html", ".txt")]
        return sorted(files)
    files = list((ROOT / "app" / module).rglob("*.py"))
    files += [p for p in (ROOT / "templates" / module).rglob("*") if p.suffix in (".html", ".txt")]
    return sorted(files)


def po_path(module: str) -> Path:
    base = ROOT / "app" / "translations" if module == "core" else ROOT / "app" / module / "translations"
    return base / "en" / "LC_MESSAGES" / "messages.po"


def modules() -> list[str]:
    found = ["core"]
    for p in sorted((ROOT / "app").iterdir()):
        if p.is_dir() and (p / "__init__.py").exists() and p.name != "core" and p.name != "translations":
            found.append(p.name)
    return found


def extract(module: str) -> Catalog:
    catalog = Catalog(locale="en", domain="messages", project="canyu")
    for path in module_sources(module):
        method = "python" if path.suffix == ".py" else "jinja2.ext:babel_extract"
        options = {} if path.suffix == ".py" else JINJA_OPTIONS
        for lineno, message, comments, context in extract_from_file(method, str(path), keywords=KEYWORDS,
                                                                       options=options):
            catalog.add(message, None, [(str(path.relative_to(ROOT)), lineno)], auto_comments=comments,
                        context=context)
    return catalog


def load(module: str) -> Catalog:
    path = po_path(module)
    if not path.exists():
        return Catalog(locale="en", domain="messages", project="canyu")
    with path.open("rb") as f:
        return read_po(f, locale="en")


def untranslated(module: str) -> list[str]:
    """Strings the module's code uses that its English catalogue does not translate."""
    catalog = load(module)
    missing = []
    for message in extract(module):
        if not message.id:
            continue
        existing = catalog.get(message.id, context=message.context)
        strings = existing.string if existing is not None else None
        if isinstance(strings, (list, tuple)):
            ok = all(strings)
        else:
            ok = bool(strings)
        if not ok:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def update(module: str) -> int:
    template = extract(module)
    catalog = load(module)
    catalog.update(template, no_fuzzy_matching=True)
    path = po_path(module)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=120, omit_header=False, sort_output=False, ignore_obsolete=True)
    missing = untranslated(module)
    print(f"{module}: {len(template)} strings, {len(missing)} without English -> {path.relative_to(ROOT)}")
    return len(missing)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "update":
        for module in argv[1:] if argv[1] != "all" else modules():
            update(module)
        return 0
    if argv and argv[0] == "check":
        total = 0
        for module in modules():
            missing = untranslated(module)
            total += len(missing)
            for msgid in missing:
                print(f"{module}: {msgid}")
        print(f"{total} strings without English")
        return 1 if total else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
