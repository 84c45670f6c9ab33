"""Page rendering: one Jinja2 environment (autoescaped) and :func:`render`.

Every template gets ``t`` (translate in the request's language), ``lang``, ``user`` (or
``None``), ``csrf_token`` (embed it in every form), ``disclaimer`` (translated) and
``request``; pages add their own context.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from alsim.web import deps, i18n

TEMPLATES_DIR = Path(__file__).with_name("templates")


def _number(value: Any, digits: int = 1) -> str:
    """A number for display: ``-`` when missing or not finite."""
    if value is None:
        return "–"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number != number or number in (float("inf"), float("-inf")):
        return "–"
    if digits == 0:
        return f"{number:.0f}"
    return f"{number:.{digits}f}"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _number
    return env


def current_user(request: Request) -> Any:
    """The logged-in user if the request's session was looked up (by a page dependency)."""
    record = getattr(request.state, "auth_session", None)
    return None if record is None else record.user


def translator(lang: str) -> Any:
    def t(key: str, /, **fmt: Any) -> str:
        return i18n.t(lang, key, **fmt)

    return t


def context(request: Request, ctx: dict[str, Any] | None = None) -> dict[str, Any]:
    lang = deps.get_lang(request)
    t = translator(lang)
    base: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "html_lang": i18n.HTML_LANG[lang],
        "languages": i18n.LANGUAGES,
        "language_names": i18n.LANGUAGE_NAMES,
        "t": t,
        "t_opt": lambda key, default, **fmt: i18n.t_opt(lang, key, default, **fmt),
        "user": current_user(request),
        "csrf_token": deps.csrf_token(request),
        "disclaimer": t("disclaimer"),
        "flash": None,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    base.update(ctx or {})
    return base


def render_text(request: Request, name: str, ctx: dict[str, Any] | None = None) -> str:
    return environment().get_template(name).render(context(request, ctx))


def render(
    request: Request, name: str, ctx: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """The template ``name`` rendered for ``request`` as an HTML response."""
    return HTMLResponse(render_text(request, name, ctx), status_code=status_code)
