"""Alembic migrations: an empty database upgraded to head has exactly the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from alsim.web.db import alembic_config, current_revision, make_engine, migrate
from alsim.web.models import Base


def test_upgrade_on_empty_database_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set(Base.metadata.tables)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            assert compare_metadata(context, Base.metadata) == []
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        assert current_revision(engine) == head == "0001"
    finally:
        engine.dispose()


def test_migrate_is_idempotent_and_keeps_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'again.db'}"
    migrate(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO users (username, password_hash, display_name, created_at, is_admin) "
                "VALUES ('a', 'h', 'A', '2024-01-01 00:00:00', 0)"
            )
        migrate(url)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT username FROM users").scalars().all() == ["a"]
    finally:
        engine.dispose()


def test_downgrade_removes_every_table(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'down.db'}"
    migrate(url)
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    finally:
        engine.dispose()
