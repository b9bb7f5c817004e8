"""Languages and display preferences: ?lang=en|zh and ?view=large|standard on any page, remembered in cookies.

Catalogues: msgids are Chinese (the first language); each module keeps its English catalogue in
``app/<module>/translations/en/LC_MESSAGES/messages.po``, and the shared pages' in ``app/translations``.
Flask-Babel merges them.
"""
from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, Response, current_app, g, has_request_context, request
from flask_babel import get_locale, get_translations
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

APP_DIR = Path(__file__).resolve().parent
LANG_COOKIE = "lang"
VIEW_COOKIE = "view"
VIEWS = ("standard", "large")
YEAR = 365 * 24 * 3600


def translation_directories() -> list[Path]:
    """Every catalogue folder: app/translations first, then each module's, in a stable order."""
    dirs = [APP_DIR / "translations"]
    dirs += sorted(p for p in APP_DIR.glob("*/translations") if p.is_dir())
    return dirs


def compile_catalogs() -> int:
    """Compile each .po to .mo when the .mo is missing or older. Returns how many were written."""
    written = 0
    for directory in translation_directories():
        for po_path in directory.glob("*/LC_MESSAGES/messages.po"):
            mo_path = po_path.with_suffix(".mo")
            if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            with po_path.open("rb") as f:
                catalog = read_po(f)
            with mo_path.open("wb") as f:
                write_mo(f, catalog)
            written += 1
    return written


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        # A job or a command: the default language, unless the caller chose one with force_locale().
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    asked = request.args.get("lang")
    if asked in languages:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in languages:
        return cookie
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def current_language() -> str:
    return str(get_locale() or "zh")


def current_view() -> str:
    if not has_request_context():
        return "standard"
    asked = request.args.get("view")
    if asked in VIEWS:
        return asked
    cookie = request.cookies.get(VIEW_COOKIE)
    return cookie if cookie in VIEWS else "standard"


def template_gettext() -> dict:
    """``gettext`` and ``ngettext`` bound to the current language's catalogue, for one render.

    Flask-Babel installs them in the Jinja environment as functions that look up the language and its catalogue
    again on every ``_()`` a template calls (a page calls dozens). Given in the render's context, these are found
    first. They behave as Jinja's "newstyle" ones: the text is escaped where autoescaping is on, and always
    formatted with the variables given (``num`` too, for ngettext)."""
    translations = get_translations()

    @pass_context
    def gettext(context, string: str, **variables) -> str:
        text = translations.ugettext(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    @pass_context
    def ngettext(context, singular: str, plural: str, num: int, **variables) -> str:
        variables.setdefault("num", num)
        text = translations.ungettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return {"gettext": gettext, "ngettext": ngettext}


def init_app(app: Flask) -> None:
    @app.after_request
    def remember_preferences(response) -> Response:
        secure = app.config["SESSION_COOKIE_SECURE"]
        lang = request.args.get("lang")
        if lang in app.config["LANGUAGES"] and request.cookies.get(LANG_COOKIE) != lang:
            response.set_cookie(LANG_COOKIE, lang, max_age=YEAR, samesite="Lax", secure=secure, httponly=True)
            g.language_changed = lang
        view = request.args.get("view")
        if view in VIEWS and request.cookies.get(VIEW_COOKIE) != view:
            response.set_cookie(VIEW_COOKIE, view, max_age=YEAR, samesite="Lax", secure=secure, httponly=True)
        return response

    @app.context_processor
    def language_context() -> dict:
        return {"current_language": current_language(), "current_view": current_view(), **template_gettext()}
