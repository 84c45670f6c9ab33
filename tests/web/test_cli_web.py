"""`alsim serve`, `alsim backup`, `alsim restore`, `alsim user add` from the command line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import httpx
import pytest
from conftest import free_port

import clitools
from alsim.cli.main import main

API = "/api/v1"


def run(capsys, monkeypatch, *argv, stdin: str | None = None):
    """``clitools.run`` with ``stdin`` given to the command (e.g. ``--password-stdin``)."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return clitools.run(capsys, *argv)


one_error = clitools.one_error_line


def test_serve_starts_with_zero_configuration_and_answers(tmp_path):
    data = tmp_path / "data"  # does not exist yet: serve creates it
    port = free_port()
    env = {**os.environ, "ALSIM_DATA_DIR": str(data)}
    env.pop("ALSIM_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "alsim.cli.main", "serve", "--port", str(port), "--no-browser"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                response = httpx.get(f"http://127.0.0.1:{port}{API}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "alsim serve did not answer within 60 s"
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["status"] == "ok"
        assert (data / "alsim.db").is_file()
        assert data.stat().st_mode & 0o077 == 0  # a new data directory is private
    finally:
        process.terminate()
        out, _err = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out
    assert "not medical advice" in out


def test_serve_refuses_a_busy_port(tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out, err = run(
            capsys, monkeypatch, "serve", "--port", port, "--data-dir", tmp_path, "--no-browser"
        )
    one_error(code, out, err, f"--port: cannot listen on 127.0.0.1:{port}")


def test_user_add_then_login(tmp_path, capsys, monkeypatch):
    data = tmp_path / "d"
    code, out, err = run(
        capsys, monkeypatch, "user", "add", "admin", "--password-stdin", "--admin",
        "--data-dir", data, stdin="a long password\n",
    )  # fmt: skip
    assert code == 0, err
    assert "admin" in out
    from fastapi.testclient import TestClient

    from alsim.web.app import create_app
    from alsim.web.config import Settings

    with TestClient(create_app(Settings.load(data_dir=data))) as client:
        ok = client.post(
            f"{API}/auth/login", json={"username": "admin", "password": "a long password"}
        )
        assert ok.status_code == 200 and ok.json()["user"]["is_admin"] is True
    code, out, err = run(
        capsys, monkeypatch, "user", "add", "admin", "--password-stdin", "--data-dir", data,
        stdin="another password\n",
    )  # fmt: skip
    one_error(code, out, err, "exists already")
    code, out, err = run(
        capsys, monkeypatch, "user", "add", "Admin", "--password-stdin", "--data-dir", data,
        stdin="another password\n",
    )  # fmt: skip
    one_error(code, out, err, "exists already")


def test_user_add_rejects_a_short_password(tmp_path, capsys, monkeypatch):
    code, out, err = run(
        capsys, monkeypatch, "user", "add", "x", "--password-stdin", "--data-dir", tmp_path,
        stdin="short\n",
    )  # fmt: skip
    one_error(code, out, err, "password")


def test_backup_and_restore_commands(tmp_path, capsys, monkeypatch):
    source, target = tmp_path / "a", tmp_path / "b"
    run(capsys, monkeypatch, "user", "add", "u1", "--password-stdin", "--data-dir", source,
        stdin="password one\n")  # fmt: skip
    out_file = tmp_path / "backup.jsonl"
    code, out, err = run(capsys, monkeypatch, "backup", out_file, "--data-dir", source)
    assert code == 0, err
    assert "Backup written" in out and out_file.is_file()
    code, out, err = run(capsys, monkeypatch, "backup", out_file, "--data-dir", source)
    one_error(code, out, err, "exists already")
    code, out, err = run(capsys, monkeypatch, "restore", out_file, "--data-dir", target)
    assert code == 0, err
    assert "Restored" in out
    code, out, err = run(capsys, monkeypatch, "restore", out_file, "--data-dir", target)
    one_error(code, out, err, "--force")
    code, out, err = run(capsys, monkeypatch, "restore", out_file, "--data-dir", target, "--force")
    assert code == 0, err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("garbage\n" * 3)
    code, out, err = run(capsys, monkeypatch, "restore", bad, "--data-dir", target, "--force")
    one_error(code, out, err, "bad.jsonl")


@pytest.mark.parametrize("command", ["serve", "backup", "restore", "user"])
def test_help(command, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, command, "--help")
    assert code == 0 and "Usage" in out


def test_a_file_that_is_not_a_database_is_one_error(tmp_path, capsys, monkeypatch):
    (tmp_path / "alsim.db").write_text("not a database, just text " * 10)
    code, out, err = run(
        capsys, monkeypatch, "backup", tmp_path / "b.jsonl", "--data-dir", tmp_path
    )
    one_error(code, out, err, "file is not a database")
    code, out, err = run(
        capsys, monkeypatch, "restore", tmp_path / "b.jsonl", "--database-url", "nonsense://",
        "--data-dir", tmp_path,
    )  # fmt: skip
    one_error(code, out, err, "database URL: cannot use nonsense://")


def test_serve_without_the_web_extra_is_one_line(monkeypatch, capsys):
    """Without FastAPI and friends: one error line naming the extra, exit 2, no traceback."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a)
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--no-browser", "--port", "8765"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "pip install 'alsim[web]'" in err and "uvicorn" in err and "Traceback" not in err
