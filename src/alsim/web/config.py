"""Settings of the web app: where its data lives and how it is reached.

Zero configuration by default: the data directory is the user's data directory
(``platformdirs.user_data_dir("alsim")``) unless ``ALSIM_DATA_DIR`` is set; the database is
``sqlite:///<data_dir>/alsim.db`` unless ``ALSIM_DATABASE_URL`` names another SQLAlchemy URL
(e.g. PostgreSQL). No server secret is needed: session tokens are random and stored hashed
(:mod:`alsim.web.auth`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from alsim.errors import InputError

DATABASE_FILE = "alsim.db"


@dataclass(frozen=True)
class Settings:
    """Resolved settings (build them with :meth:`load`)."""

    data_dir: Path
    database_url: str
    runs_dir: Path
    open_registration: bool = True
    session_hours: float = 24.0 * 14
    secure_cookies: bool = False
    max_upload_bytes: int = 10 * 1024 * 1024
    login_attempts: int = 5
    login_window_seconds: float = 300.0

    @classmethod
    def load(
        cls,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        database_url: str | None = None,
        open_registration: bool | None = None,
        secure_cookies: bool | None = None,
    ) -> Settings:
        """Resolve settings from arguments, then ``ALSIM_*`` variables, then defaults.

        Creates the data directory (and the runs directory) when missing.
        """
        root = Path(data_dir or os.environ.get("ALSIM_DATA_DIR") or _default_data_dir())
        root = root.expanduser().absolute()
        try:
            if not root.exists():  # health data: only the server's user may read it
                root.mkdir(parents=True, mode=0o700)
            runs = root / "runs"
            runs.mkdir(exist_ok=True)
        except OSError as exc:
            raise InputError(
                "data directory", f"cannot create {root} ({exc.strerror or exc})"
            ) from None
        url = database_url or os.environ.get("ALSIM_DATABASE_URL") or _sqlite_url(root)
        if open_registration is None:
            open_registration = _env_flag("ALSIM_OPEN_REGISTRATION", True)
        if secure_cookies is None:
            secure_cookies = _env_flag("ALSIM_SECURE_COOKIES", False)
        return cls(
            data_dir=root,
            database_url=url,
            runs_dir=runs,
            open_registration=open_registration,
            secure_cookies=secure_cookies,
        )


def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("alsim"))


def _sqlite_url(root: Path) -> str:
    return f"sqlite:///{(root / DATABASE_FILE).as_posix()}"


def _env_flag(name: str, default: bool) -> bool:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise InputError(name, f"must be true or false, got {text!r}")
