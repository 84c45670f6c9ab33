"""Backup and restore of the web database as portable JSON lines with a checksum.

A backup file is UTF-8 text, one JSON object per line:

1. a header ``{"format": "alsim-web-backup", "format_version": 1, "schema": <Alembic revision>,
   "created_at": ..., "alsim": <version>}``;
2. one ``{"table": <name>, "row": {<column>: <value>}}`` per row, parents before children
   (users, teams, memberships, patients, visits, criteria sets, audit events, research runs);
   login sessions and failed-login records are not backed up;
3. a trailer ``{"rows": <count>, "sha256": <hex digest of every line before it>}``.

It is written to a temporary file that is renamed into place only when complete. It works with
SQLite and PostgreSQL alike (dates as ISO text). :func:`restore` checks the whole file (format,
schema revision, checksum, tables and columns) before it touches the database, refuses a
database that already holds data unless ``force``, and replaces the content in one transaction:
on any error the database is left as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, Engine, Table, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from alsim import __version__
from alsim.errors import InputError
from alsim.web import db
from alsim.web.config import Settings
from alsim.web.models import AuthSession, Base, LoginAttempt, Patient, User

FORMAT = "alsim-web-backup"
FORMAT_VERSION = 1
#: Tables that are not backed up (secrets and throttling state; a restore clears them).
TRANSIENT = frozenset({AuthSession.__tablename__, LoginAttempt.__tablename__})


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    rows: int
    schema: str


def _tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name not in TRANSIENT]


def backup(
    settings: Settings, out_path: str | os.PathLike[str], *, overwrite: bool = False
) -> BackupInfo:
    """Write the database of ``settings`` to ``out_path`` (atomically); returns what was written."""
    target = Path(out_path)
    if target.is_dir():
        raise InputError(str(target), "is a directory; name the backup file to write")
    if target.exists() and not overwrite:
        raise InputError(str(target), "exists already; choose another name or pass --force")
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(settings.database_url, engine=engine)
        schema = db.current_revision(engine) or ""
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
        digest = hashlib.sha256()
        rows = 0
        try:
            # Health data and password hashes: readable by the owner only, from the start.
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(descriptor, "w", encoding="utf-8", newline="\n") as handle:

                def emit(obj: dict[str, Any]) -> None:
                    line = (
                        json.dumps(obj, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"
                    )
                    digest.update(line.encode("utf-8"))
                    handle.write(line)

                emit(
                    {
                        "format": FORMAT,
                        "format_version": FORMAT_VERSION,
                        "schema": schema,
                        "created_at": dt.datetime.now(dt.UTC).isoformat(),
                        "alsim": __version__,
                    }
                )
                with engine.connect() as connection:
                    for table in _tables():
                        order = list(table.primary_key.columns)
                        for row in connection.execute(select(table).order_by(*order)).mappings():
                            emit({"table": table.name, "row": _encode(table, row)})
                            rows += 1
                handle.write(json.dumps({"rows": rows, "sha256": digest.hexdigest()}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise InputError(str(target), f"cannot write the backup ({exc.strerror or exc})") from None
    finally:
        engine.dispose()
    return BackupInfo(target, rows, schema)


def restore(settings: Settings, path: str | os.PathLike[str], *, force: bool = False) -> BackupInfo:
    """Replace the database content of ``settings`` with the backup at ``path`` (all or nothing)."""
    source = Path(path)
    engine = db.make_engine(settings.database_url)
    try:
        db.migrate(settings.database_url, engine=engine)
        schema = db.current_revision(engine) or ""
        rows = read_backup(source, schema)
        with engine.begin() as connection:
            if not force:
                users = connection.scalar(select(func.count()).select_from(User.__table__))
                patients = connection.scalar(select(func.count()).select_from(Patient.__table__))
                if users or patients:
                    raise InputError(
                        "database",
                        f"is not empty ({users} user(s), {patients} patient(s)); "
                        "pass --force to replace its content with the backup",
                    )
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
            for table in _tables():
                batch = rows.get(table.name)
                if batch:
                    connection.execute(insert(table), batch)
            _reset_sequences(connection)
    except SQLAlchemyError as exc:
        raise InputError(
            str(source), f"cannot be restored; the database is unchanged ({type(exc).__name__})"
        ) from None
    finally:
        engine.dispose()
    return BackupInfo(source, sum(len(v) for v in rows.values()), schema)


def read_backup(source: Path, schema: str) -> dict[str, list[dict[str, Any]]]:
    """Parse and check a backup file completely; rows per table, ready to insert."""
    name = str(source)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise InputError(name, "file not found") from None
    except OSError as exc:
        raise InputError(name, f"cannot be read ({exc.strerror or exc})") from None
    try:
        lines = data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        raise InputError(name, "is not an alsim backup (not UTF-8 text)") from None
    if len(lines) < 2:
        raise InputError(name, "is not an alsim backup (too short)")
    header = _json_line(name, lines[0], 1)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InputError(name, "is not an alsim backup (no alsim-web-backup header)")
    if header.get("format_version") != FORMAT_VERSION:
        raise InputError(name, f"has backup format {header.get('format_version')!r}; expected 1")
    if header.get("schema") != schema:
        raise InputError(
            name, f"is from database schema {header.get('schema')!r}; this alsim uses {schema!r}"
        )
    trailer = _json_line(name, lines[-1], len(lines))
    digest = hashlib.sha256("".join(lines[:-1]).encode("utf-8")).hexdigest()
    if not isinstance(trailer, dict) or trailer.get("sha256") != digest:
        raise InputError(name, "is damaged or incomplete (checksum mismatch)")
    if trailer.get("rows") != len(lines) - 2:
        raise InputError(name, "is damaged or incomplete (row count mismatch)")
    tables = {t.name: t for t in _tables()}
    rows: dict[str, list[dict[str, Any]]] = {}
    for number, line in enumerate(lines[1:-1], start=2):
        item = _json_line(name, line, number)
        table = tables.get(item.get("table")) if isinstance(item, dict) else None
        if table is None or not isinstance(item.get("row"), dict):
            raise InputError(f"{name}, line {number}", "is not a row of a known table")
        rows.setdefault(table.name, []).append(
            _decode(table, item["row"], f"{name}, line {number}")
        )
    return rows


def _json_line(name: str, line: str, number: int) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        raise InputError(f"{name}, line {number}", "is not valid JSON (damaged backup?)") from None


def _encode(table: Table, row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in table.columns:
        value = row[column.key]
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        out[column.key] = value
    return out


def _decode(table: Table, row: dict[str, Any], where: str) -> dict[str, Any]:
    names = {c.key for c in table.columns}
    unknown = set(row) - names
    if unknown:
        raise InputError(where, f"table {table.name} has no column {sorted(unknown)[0]!r}")
    out: dict[str, Any] = {}
    for column in table.columns:
        value = row.get(column.key)
        kind = _time_kind(column.type)
        if value is not None and kind is not None:
            try:
                value = (
                    dt.date.fromisoformat(value)
                    if kind is Date
                    else dt.datetime.fromisoformat(value)
                )
            except (TypeError, ValueError):
                raise InputError(where, f"{table.name}.{column.key}: bad date {value!r}") from None
        out[column.key] = value
    return out


def _time_kind(column_type: Any) -> type | None:
    """``Date``, ``DateTime`` or ``None`` for a column type (looking through TypeDecorators)."""
    base = getattr(column_type, "impl", column_type)
    base = base if not isinstance(base, type) else base()
    if isinstance(base, DateTime):
        return DateTime
    if isinstance(base, Date):
        return Date
    return None


def _reset_sequences(connection: Any) -> None:
    """PostgreSQL: move each id sequence past the restored ids (SQLite needs nothing)."""
    if connection.dialect.name != "postgresql":
        return
    for table in _tables():
        if "id" in table.columns and table.name:
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )


def database_summary(engine: Engine) -> dict[str, int]:
    """Row count per backed-up table (used by tests and the CLI)."""
    with engine.connect() as connection:
        return {
            t.name: connection.scalar(select(func.count()).select_from(t)) or 0 for t in _tables()
        }
