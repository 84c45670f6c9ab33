"""`alsim serve`, `alsim backup`, `alsim restore` and `alsim user add`: the web app's commands.

Registered on the main app by :mod:`alsim.cli.main`. ``alsim serve`` needs no configuration: it
creates the data directory (the user's data directory, or ``--data-dir`` / ``ALSIM_DATA_DIR``),
brings the database to the newest schema and prints the address. Errors are one line on stderr
with exit status 2, as for every alsim command.
"""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from alsim import DISCLAIMER
from alsim.errors import InputError

stdout = Console(highlight=False)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (default: ALSIM_DATA_DIR or the user's data directory).",
        file_okay=False,
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy database URL (default: ALSIM_DATABASE_URL or SQLite in the data directory).",
    ),
]


def _require_web_extra() -> None:
    """One clear line instead of an ImportError when the ``web`` extra is not installed."""
    import importlib.util

    missing = [
        name
        for name in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "argon2", "platformdirs")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise InputError(
            "alsim web app",
            f"needs the 'web' extra ({', '.join(missing)} missing): pip install 'alsim[web]'",
        )


def _settings(data_dir: Path | None, database_url: str | None):  # type: ignore[no-untyped-def]
    _require_web_extra()
    from alsim.web.config import Settings

    return Settings.load(data_dir=data_dir, database_url=database_url)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)
    ] = 8000,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser window.")
    ] = False,
) -> None:
    """Start the web app (patients' records, prognosis, trial eligibility, research runs)."""
    _require_web_extra()
    import uvicorn

    from alsim.web.app import create_app
    from alsim.web.db import migrate

    _check_port(host, port)
    settings = _settings(data_dir, database_url)
    migrate(settings.database_url)
    app = create_app(settings, migrate=False)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}/"
    stdout.print(f"alsim web app: [bold]{escape(url)}[/bold]  (Ctrl+C to stop)", soft_wrap=True)
    stdout.print(f"data: {escape(str(settings.data_dir))}", soft_wrap=True)
    stdout.print(f"[dim]{DISCLAIMER}[/dim]")
    sys.stdout.flush()
    if not no_browser:
        threading.Timer(1.0, _open_browser, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InputError(
                "--port", f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another"
            ) from None


def _open_browser(url: str) -> None:
    import webbrowser

    try:
        webbrowser.open(url)
    except Exception:  # pragma: no cover - no browser is fine
        pass


def backup(
    out: Annotated[Path, typer.Argument(help="Backup file to write (JSON lines).")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Back up the web database (users, patients, visits, criteria sets, audit log, runs)."""
    from alsim.web.backup import backup as write_backup

    info = write_backup(_settings(data_dir, database_url), out, overwrite=force)
    stdout.print(f"Backup written to [bold]{escape(str(info.path))}[/bold] ({info.rows} rows)")


def restore(
    file: Annotated[Path, typer.Argument(help="Backup file written by `alsim backup`.")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the content of a database that has data.")
    ] = False,
) -> None:
    """Restore the web database from a backup (all or nothing)."""
    from alsim.web.backup import restore as read_restore

    info = read_restore(_settings(data_dir, database_url), file, force=force)
    stdout.print(f"Restored {info.rows} rows from [bold]{escape(str(info.path))}[/bold]")


user_app = typer.Typer(help="Manage web app accounts.", no_args_is_help=True)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Username.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    display_name: Annotated[
        str, typer.Option("--display-name", help="Name shown in the app.")
    ] = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Create a web app account (works even when registration is closed)."""
    from pydantic import ValidationError

    from alsim.web import auth
    from alsim.web.db import make_engine, migrate, session_factory, session_scope
    from alsim.web.models import User
    from alsim.web.schemas import RegisterIn

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        body = RegisterIn(username=name, password=password, display_name=display_name)
    except ValidationError as err:
        first = err.errors()[0]
        field = {"username": "NAME", "password": "password"}.get(str(first["loc"][0]), "input")
        raise InputError(field, str(first["msg"])) from None
    settings = _settings(data_dir, database_url)
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(session_factory(engine)) as db:
            if auth.username_taken(db, body.username):
                raise InputError("NAME", f"user {body.username!r} exists already")
            db.add(
                User(
                    username=body.username,
                    password_hash=auth.hash_password(body.password),
                    display_name=body.display_name or body.username,
                    is_admin=admin,
                )
            )
    finally:
        engine.dispose()
    stdout.print(
        f"User [bold]{escape(body.username)}[/bold] created" + (" (admin)" if admin else "")
    )


def register(app: typer.Typer) -> None:
    """Add the web app commands to the main app."""
    app.command()(serve)
    app.command()(backup)
    app.command()(restore)
    app.add_typer(user_app, name="user")
