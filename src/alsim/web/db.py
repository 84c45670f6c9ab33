"""Database engine, sessions and migrations.

SQLite (the default) is opened with WAL journaling, ``foreign_keys=ON`` and a busy timeout on
every connection, so concurrent writers wait for each other instead of failing. Any other
SQLAlchemy URL (PostgreSQL) is used as given. :func:`migrate` brings a database to the newest
schema with Alembic, configured in code (no ``alembic.ini``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from alsim.errors import InputError

BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, foreign keys and a busy timeout."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
                pool_pre_ping=True,
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:  # bad URL, missing driver
        raise InputError("database URL", f"cannot use {_shown(url)} ({exc})") from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is switched off: SQLAlchemy emits BEGIN itself
    # (see _sqlite_begin), so a write transaction takes the lock up front (no upgrade deadlock).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    """Alembic configuration built in code: scripts inside the package, the given URL."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, *, engine: Engine | None = None) -> None:
    """Upgrade the database at ``url`` to the newest schema (creates it when empty).

    A database that cannot be opened (unreachable server, a file that is not a database)
    raises :class:`InputError` naming the URL, without a traceback.
    """
    from alembic import command

    config = alembic_config(url)
    own = engine is None
    engine = engine or make_engine(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise InputError("database", f"cannot open {_shown(url)} ({reason})") from None
    finally:
        if own:
            engine.dispose()


def _shown(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database URL"


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (``None`` when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
