"""Accounts and security: Argon2 hashes, hashed session tokens, cookie flags, expiry, CSRF on
every unsafe route, login throttling, closed registration."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from conftest import PASSWORD, create_patient, register
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from alsim.web.app import create_app
from alsim.web.auth import SESSION_COOKIE, token_hash
from alsim.web.models import AuthSession, User

API = "/api/v1"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
NO_CSRF = {f"{API}/auth/login", f"{API}/auth/register"}


def test_passwords_are_argon2_hashes(alice, app):
    with app.state.sessions() as db:
        stored = db.scalar(select(User.password_hash).where(User.username == "alice"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_session_cookie_flags_and_hashed_token(client, app):
    response = client.post(f"{API}/auth/register", json={"username": "eve", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    assert "Secure" not in cookie and "strict-transport-security" not in response.headers
    token = re.match(rf"{SESSION_COOKIE}=([^;]+)", cookie).group(1)
    with app.state.sessions() as db:
        hashes = list(db.scalars(select(AuthSession.token_hash)))
    assert hashes == [token_hash(token)] and token not in hashes


def test_secure_cookie_when_configured(settings):
    app = create_app(dataclasses.replace(settings, secure_cookies=True), migrate=False)
    with TestClient(app, base_url="https://testserver") as client:
        response = client.post(
            f"{API}/auth/register", json={"username": "eve", "password": PASSWORD}
        )
    assert "Secure" in response.headers["set-cookie"]
    assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_expired_session_is_401(alice, app):
    with app.state.sessions() as db:
        db.execute(
            update(AuthSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        db.commit()
    response = alice.get(f"{API}/patients")
    assert response.status_code == 401 and "log in" in response.json()["detail"]


def test_forged_cookie_is_401(client):
    client.cookies.set(SESSION_COOKIE, "x" * 43)
    assert client.get(f"{API}/auth/me").status_code == 401


def test_logout_deletes_the_session(alice, app):
    assert alice.post(f"{API}/auth/logout").status_code == 200
    with app.state.sessions() as db:
        assert list(db.scalars(select(AuthSession))) == []
    assert alice.get(f"{API}/patients").status_code == 401


def _unsafe_routes(app):
    """Every unsafe API operation in the OpenAPI schema (H2's research routes included)."""
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            if method.upper() in UNSAFE and path.startswith(API) and path not in NO_CSRF:
                yield method.upper(), re.sub(r"\{[^}]+\}", "1", path)


def test_every_unsafe_route_needs_the_csrf_token(alice, app):
    create_patient(alice)
    token = alice.headers.pop("X-CSRF-Token")
    routes = list(_unsafe_routes(app))
    assert len(routes) >= 15
    for method, path in routes:
        missing = alice.request(method, path, json={})
        assert missing.status_code == 403, (method, path, missing.text)
        assert "CSRF" in missing.json()["detail"]
        wrong = alice.request(method, path, json={}, headers={"X-CSRF-Token": token[::-1]})
        assert wrong.status_code == 403, (method, path)
    assert alice.get(f"{API}/patients/1").status_code == 200  # nothing was deleted


def test_csrf_token_of_another_session_is_rejected(alice, bob):
    stolen = bob.headers["X-CSRF-Token"]
    alice.headers["X-CSRF-Token"] = stolen
    assert alice.post(f"{API}/patients", json={"label": "x"}).status_code == 403


def test_unsafe_routes_without_login_are_401(client):
    assert client.post(f"{API}/patients", json={"label": "x"}).status_code == 401
    assert client.post(f"{API}/auth/logout").status_code == 401


def test_login_is_throttled_after_repeated_failures(client, alice):
    for _ in range(5):
        bad = client.post(f"{API}/auth/login", json={"username": "alice", "password": "wrong!!"})
        assert bad.status_code == 401
    blocked = client.post(f"{API}/auth/login", json={"username": "alice", "password": PASSWORD})
    assert blocked.status_code == 429 and "wait" in blocked.json()["detail"]
    # another user is not blocked by alice's failures
    client.post(f"{API}/auth/register", json={"username": "zed", "password": PASSWORD})


def test_successful_login_clears_failures(client, alice):
    for _ in range(4):
        client.post(f"{API}/auth/login", json={"username": "alice", "password": "wrong!!"})
    ok = client.post(f"{API}/auth/login", json={"username": "alice", "password": PASSWORD})
    assert ok.status_code == 200
    for _ in range(4):
        client.post(f"{API}/auth/login", json={"username": "alice", "password": "wrong!!"})
    assert (
        client.post(
            f"{API}/auth/login", json={"username": "alice", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_registration_can_be_closed(settings):
    app = create_app(dataclasses.replace(settings, open_registration=False), migrate=False)
    with TestClient(app) as client:
        response = client.post(
            f"{API}/auth/register", json={"username": "eve", "password": PASSWORD}
        )
    assert response.status_code == 403 and "closed" in response.json()["detail"]


@pytest.mark.parametrize("method", ["header", "form"])
def test_require_csrf_before_login_uses_the_cookie(app, method):
    """Pre-login forms (login, register pages) are protected by the alsim_csrf cookie."""
    from fastapi import Depends

    from alsim.web.deps import csrf_token, require_csrf

    @app.get("/_t/token")
    def token(request: __import__("fastapi").Request) -> dict[str, str]:
        request.state.auth_session = None
        return {"token": csrf_token(request)}

    @app.post("/_t/form", dependencies=[Depends(require_csrf)])
    def form() -> dict[str, bool]:
        return {"ok": True}

    with TestClient(app) as client:
        assert client.post("/_t/form", data={"x": "1"}).status_code == 403
        value = client.get("/_t/token").json()["token"]
        assert client.cookies.get("alsim_csrf") == value
        if method == "header":
            ok = client.post("/_t/form", headers={"X-CSRF-Token": value})
        else:
            ok = client.post("/_t/form", data={"csrf_token": value})
        assert ok.status_code == 200
        assert client.post("/_t/form", data={"csrf_token": "y" * 43}).status_code == 403


def test_page_user_redirects_to_login_with_next(app):
    from fastapi import Depends

    from alsim.web.deps import page_user

    @app.get("/_t/page")
    def page(user=Depends(page_user)) -> dict[str, str]:  # noqa: B008
        return {"user": user.username}

    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/_t/page?tab=visits")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/_t/page%3Ftab%3Dvisits"
        register(client, "frank")
        assert client.get("/_t/page").json() == {"user": "frank"}


def test_get_lang(app):
    from fastapi import Depends

    from alsim.web.deps import get_lang

    @app.get("/_t/lang")
    def lang(value: str = Depends(get_lang)) -> dict[str, str]:
        return {"lang": value}

    with TestClient(app) as client:
        assert client.get("/_t/lang").json() == {"lang": "en"}
        assert client.get("/_t/lang?lang=zh").json() == {"lang": "zh"}
        assert client.get("/_t/lang?lang=fr").json() == {"lang": "en"}
        client.cookies.set("alsim_lang", "zh")
        assert client.get("/_t/lang").json() == {"lang": "zh"}
        assert client.get("/_t/lang?lang=en").json() == {"lang": "en"}


def test_errors_are_one_message_and_never_a_traceback(app):
    @app.get("/api/v1/_t/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/_t/boom")
        assert response.status_code == 500
        assert response.json() == {"detail": "internal error; it has been logged"}
        missing = client.get("/api/v1/no/such/thing")
        assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
        html = client.get("/_t/boom-html-missing", headers={"Accept": "text/html"})
        assert html.status_code == 404 and "<h1>404</h1>" in html.text


def test_logging_in_again_ends_the_previous_session(alice, make_client):
    old = alice.cookies.get(SESSION_COOKIE)
    again = alice.post(f"{API}/auth/login", json={"username": "alice", "password": PASSWORD})
    assert again.status_code == 200 and alice.cookies.get(SESSION_COOKIE) != old
    thief = make_client()
    thief.cookies.set(SESSION_COOKIE, old)
    assert thief.get(f"{API}/auth/me").status_code == 401


def test_every_unsafe_page_route_needs_the_csrf_token(alice, app):
    """Every unsafe route outside the JSON API (pages and research pages): no token is 403."""
    from alsim.web import pages, research

    create_patient(alice)
    alice.headers.pop("X-CSRF-Token")
    routes = [
        (method, re.sub(r"\{[^}]+\}", "1", route.path))
        for route in [*pages.router.routes, *research.router.routes]
        if not route.path.startswith(API)
        for method in sorted(route.methods & UNSAFE)
    ]
    assert len(routes) >= 15
    for method, path in routes:
        missing = alice.request(method, path, data={"x": "1"}, follow_redirects=False)
        assert missing.status_code == 403, (method, path, missing.text)
        wrong = alice.request(method, path, data={"csrf_token": "x" * 43}, follow_redirects=False)
        assert wrong.status_code == 403, (method, path)
    assert alice.get(f"{API}/patients/1").status_code == 200  # nothing was deleted


def test_simultaneous_logins_cannot_outrun_the_throttle(alice, live_server, monkeypatch):
    """Twelve guesses at once: only the allowed five get their password checked."""
    import threading
    import time

    import httpx

    from alsim.web import auth

    checked: list[str] = []
    real_verify = auth.verify_password

    def slow_verify(stored: str, password: str) -> bool:
        checked.append(password)
        time.sleep(0.3)  # like Argon2 at full cost: every guess is in flight together
        return real_verify(stored, password)

    monkeypatch.setattr(auth, "verify_password", slow_verify)
    statuses: list[int] = []
    barrier = threading.Barrier(12)

    def guess(k: int) -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as client:
            barrier.wait()
            body = {"username": "alice", "password": f"guess {k}"}
            statuses.append(client.post(f"{API}/auth/login", json=body).status_code)

    threads = [threading.Thread(target=guess, args=(k,)) for k in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 5 + [429] * 7
    assert len(checked) == 5


def test_registering_while_logged_in_ends_the_old_session(alice, app):
    old_cookie = alice.cookies.get(SESSION_COOKIE)
    response = alice.post(f"{API}/auth/register", json={"username": "eve", "password": PASSWORD})
    assert response.status_code == 201
    with app.state.sessions() as db:
        assert (
            db.scalar(select(AuthSession).where(AuthSession.token_hash == token_hash(old_cookie)))
            is None
        )
