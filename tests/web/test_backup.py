"""Backup and restore: an identical round trip; bad files are refused and change nothing."""

from __future__ import annotations

import json
import os

import pytest
from conftest import add_visit, create_patient
from sqlalchemy import select

from alsim.errors import InputError
from alsim.web.backup import backup, database_summary, restore
from alsim.web.config import Settings
from alsim.web.db import make_engine
from alsim.web.models import Base

API = "/api/v1"


def _dump(settings: Settings) -> dict[str, list[dict]]:
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            return {
                table.name: [dict(r) for r in connection.execute(select(table)).mappings()]
                for table in Base.metadata.sorted_tables
                if table.name not in ("auth_sessions", "login_attempts")
            }
    finally:
        engine.dispose()


@pytest.fixture
def filled(settings, alice, bob):
    team = alice.post(f"{API}/teams", json={"name": "Clinic"}).json()
    pid = create_patient(alice, team_id=team["id"], notes="ünïcode ✓")["id"]
    add_visit(alice, pid, date="2024-01-10")
    add_visit(alice, pid, date="2024-03-10", gastrostomy=True, nfl_pg_ml=None, nfl_matrix=None)
    create_patient(bob, label="B-1")
    return settings


def _other(tmp_path, name="restored") -> Settings:
    return Settings.load(data_dir=tmp_path / name)


def test_round_trip_is_identical(filled, tmp_path):
    out = tmp_path / "alsim.backup.jsonl"
    info = backup(filled, out)
    assert info.rows > 0 and out.is_file()
    target = _other(tmp_path)
    restored = restore(target, out)
    assert restored.rows == info.rows
    assert _dump(target) == _dump(filled)
    assert sum(database_summary(make_engine(target.database_url)).values()) == info.rows


def test_restored_database_serves_the_app(filled, tmp_path):
    from fastapi.testclient import TestClient

    from alsim.web.app import create_app

    out = tmp_path / "b.jsonl"
    backup(filled, out)
    target = _other(tmp_path)
    restore(target, out)
    with TestClient(create_app(target)) as client:
        login = client.post(
            f"{API}/auth/login", json={"username": "alice", "password": "correct horse battery"}
        )
        assert login.status_code == 200
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        patients = client.get(f"{API}/patients").json()
        assert [p["n_visits"] for p in patients] == [2]
        new = client.post(f"{API}/patients", json={"label": "after restore"})
        assert new.status_code == 201 and new.json()["id"] > patients[0]["id"]


def test_backup_refuses_to_overwrite(filled, tmp_path):
    out = tmp_path / "b.jsonl"
    out.write_text("keep me")
    with pytest.raises(InputError, match="exists already"):
        backup(filled, out)
    assert out.read_text() == "keep me"
    backup(filled, out, overwrite=True)
    assert out.read_text().startswith('{"alsim"')


def _corrupt(lines: list[str], how: str) -> str:
    if how == "edited":
        row = json.loads(lines[3])
        row["row"] = (
            {**row["row"], "username": "mallory"} if "username" in row["row"] else row["row"]
        )
        lines[3] = json.dumps(row) + "\n"
        lines[2] = lines[2].replace('"', "'", 1)
    elif how == "truncated":
        lines = lines[:-2]
    elif how == "not json":
        return "hello\n"
    elif how == "empty":
        return ""
    elif how == "other format":
        lines[0] = json.dumps({"format": "something"}) + "\n"
    return "".join(lines)


@pytest.mark.parametrize("how", ["edited", "truncated", "not json", "empty", "other format"])
def test_restore_refuses_a_bad_file_and_changes_nothing(filled, tmp_path, how):
    out = tmp_path / "b.jsonl"
    backup(filled, out)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(_corrupt(out.read_text().splitlines(keepends=True), how))
    before = _dump(filled)
    with pytest.raises(InputError) as err:
        restore(filled, bad, force=True)
    message = str(err.value)
    assert message.startswith(str(bad)) and "\n" not in message
    assert _dump(filled) == before


def test_restore_refuses_a_non_empty_database_without_force(filled, tmp_path):
    out = tmp_path / "b.jsonl"
    backup(filled, out)
    with pytest.raises(InputError, match="not empty.*--force"):
        restore(filled, out)
    restore(filled, out, force=True)


def test_restore_of_a_missing_file(settings, tmp_path):
    with pytest.raises(InputError, match="file not found"):
        restore(settings, tmp_path / "nope.jsonl")


def test_restore_rolls_back_when_a_row_is_rejected(filled, tmp_path):
    """A row the database refuses (a visit of an unknown patient) aborts the whole restore."""
    import hashlib

    out = tmp_path / "b.jsonl"
    backup(filled, out)
    lines = out.read_text().splitlines(keepends=True)
    visit = next(i for i, line in enumerate(lines) if '"table": "visits"' in line)
    row = json.loads(lines[visit])
    row["row"]["patient_id"] = 999
    lines[visit] = json.dumps(row, sort_keys=True) + "\n"
    digest = hashlib.sha256("".join(lines[:-1]).encode()).hexdigest()
    lines[-1] = json.dumps({"rows": len(lines) - 2, "sha256": digest}) + "\n"
    bad = tmp_path / "fk.jsonl"
    bad.write_text("".join(lines))
    target = _other(tmp_path)
    with pytest.raises(InputError, match="database is unchanged"):
        restore(target, bad)
    assert sum(database_summary(make_engine(target.database_url)).values()) == 0


def test_backup_file_is_readable_by_its_owner_only(filled, tmp_path):
    """A backup holds health data and password hashes: never group- or world-readable."""
    out = tmp_path / "alsim.backup"
    old_umask = os.umask(0o022)
    try:
        backup(filled, out)
    finally:
        os.umask(old_umask)
    assert out.stat().st_mode & 0o777 == 0o600
