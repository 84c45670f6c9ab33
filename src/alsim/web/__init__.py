"""The alsim web app: server-rendered pages and a JSON API over the clinical toolkit.

Research and education only, not medical advice. Importing this package is cheap; FastAPI and
SQLAlchemy are loaded only when :func:`create_app` is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI

    from alsim.web.config import Settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, **kwargs: Any) -> FastAPI:
    """Build the FastAPI application; see :func:`alsim.web.app.create_app`."""
    from alsim.web.app import create_app as _create_app

    return _create_app(settings, **kwargs)
