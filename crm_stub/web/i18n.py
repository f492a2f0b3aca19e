"""pt-BR and English: chosen from the browser's Accept-Language, switched with ?lang=."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request, session
from flask_babel import Babel

LANGUAGES = ("en", "pt_BR")
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def current_language() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    best = request.accept_languages.best_match(["en", "pt-BR", "pt"], default="en")
    return "en" if best == "en" else "pt_BR"


def add_translations(app: Flask, directory: Path) -> None:
    """Let an addon bring its own catalog (same ``messages`` domain, merged with the host's)."""
    # Flask-Babel reads its directories once, at init; addons register after it.
    directories = app.extensions["babel"].translation_directories
    if str(directory) not in directories:
        directories.append(str(directory))


def init(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=current_language)

    @app.context_processor
    def language() -> dict[str, object]:
        lang = current_language()
        return {"lang": lang, "html_lang": lang.replace("_", "-"), "languages": LANGUAGES}
