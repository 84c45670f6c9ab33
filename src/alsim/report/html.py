"""HTML rendering helpers: a Jinja2 environment with autoescaping and atomic file writing."""

from __future__ import annotations

import datetime as _dt

import jinja2
import pandas as pd

from alsim import DISCLAIMER, __version__
from alsim.fileio import write_text_atomic  # noqa: F401  (re-exported for report writers)

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("alsim.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(template: str, **context) -> str:
    """Render a packaged template with the disclaimer, version and generation time filled in."""
    context.setdefault("disclaimer", DISCLAIMER)
    context.setdefault("version", __version__)
    context.setdefault("generated", _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return _ENV.get_template(template).render(**context)


def table_html(frame: pd.DataFrame, *, float_format: str = "{:.2f}") -> str:
    """A DataFrame as an escaped HTML table (missing values shown blank)."""
    formatters = {
        col: (lambda v, f=float_format: "" if pd.isna(v) else f.format(v))
        for col in frame.columns
        if pd.api.types.is_float_dtype(frame[col])
    }
    return frame.to_html(index=False, border=0, na_rep="", formatters=formatters, escape=True)
