"""HTML rendering helpers: a Jinja2 environment with autoescaping and atomic file writing."""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
from pathlib import Path

import jinja2
import pandas as pd

from alsim import DISCLAIMER, __version__

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


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
