"""Fixtures for the web tests: settings on tmp_path, the app, clients logged in as alice or bob.

The database schema is migrated once per test session into a template file that each test
copies, so every test starts from a fresh, fully migrated SQLite database in its own data
directory.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alsim.web.app import create_app
from alsim.web.config import DATABASE_FILE, Settings
from alsim.web.db import migrate

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No web test ever touches the user's real data directory or database."""
    monkeypatch.setenv("ALSIM_DATA_DIR", str(tmp_path_factory.mktemp("default-data")))
    for name in ("ALSIM_DATABASE_URL", "ALSIM_OPEN_REGISTRATION", "ALSIM_SECURE_COOKIES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with minimal cost in tests (the server uses argon2-cffi's defaults, ~0.1 s each)."""
    from argon2 import PasswordHasher

    from alsim.web import auth

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", cheap)
    monkeypatch.setattr(auth, "_DUMMY_HASH", cheap.hash("not a password"))


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / DATABASE_FILE
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def settings(tmp_path: Path, migrated_template: Path) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(migrated_template, data / DATABASE_FILE)
    return Settings.load(data_dir=data)


@pytest.fixture
def app(settings: Settings) -> Any:
    return create_app(settings)


@pytest.fixture
def make_client(app: Any) -> Iterator[Callable[[], TestClient]]:
    """A factory of independent clients (each with its own cookies) sharing the app."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(app, raise_server_exceptions=True)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[[], TestClient]) -> TestClient:
    """An anonymous client."""
    return make_client()


def register(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, Any]:
    """Register and log in ``client``; it then sends the session's CSRF token on every call."""
    response = client.post(
        "/api/v1/auth/register", json={"username": username, "password": password}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    client.headers["X-CSRF-Token"] = body["csrf_token"]
    return body


@pytest.fixture
def login(make_client: Callable[[], TestClient]) -> Callable[[str], TestClient]:
    """``login("carol")``: a new client registered and logged in as that user."""

    def make(username: str) -> TestClient:
        client = make_client()
        register(client, username)
        return client

    return make


@pytest.fixture
def alice(login: Callable[[str], TestClient]) -> TestClient:
    return login("alice")


@pytest.fixture
def bob(login: Callable[[str], TestClient]) -> TestClient:
    return login("bob")


PATIENT = {
    "label": "P-001",
    "sex": "female",
    "birth_year": 1960,
    "onset_date": "2023-01-15",
    "diagnosis_date": "2023-09-01",
    "onset_region": "spinal",
    "genotype": "SOD1",
    "el_escorial": "probable",
    "ftd": False,
}

ITEMS = [4, 4, 4, 3, 3, 3, 3, 3, 2, 4, 4, 4]


def visit_body(date: str = "2024-01-10", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "visit_date": date,
        "items": list(ITEMS),
        "gastrostomy": False,
        "fvc_percent": 85.0,
        "weight_kg": 70.5,
        "nfl_pg_ml": 60.0,
        "nfl_matrix": "serum",
    }
    body.update(changes)
    return body


def create_patient(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post("/api/v1/patients", json={**PATIENT, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def add_visit(client: TestClient, patient_id: int, **changes: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/patients/{patient_id}/visits", json=visit_body(**changes))
    assert response.status_code == 201, response.text
    return response.json()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A real uvicorn server for ``app`` on a free localhost port, in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server
