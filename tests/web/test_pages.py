"""Server-rendered pages: both languages, form validation, access control, CSRF."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from conftest import PATIENT, add_visit, create_patient
from fastapi.testclient import TestClient

from alsim.web import i18n

HIDDEN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
FIELD_ERROR = re.compile(r'<span class="error" id="err-([\w-]+)" role="alert">([^<]*)</span>')
SECOND_ITEMS = [3, 3, 3, 2, 2, 2, 2, 2, 1, 3, 3, 3]


def en(key: str, **fmt: Any) -> str:
    return i18n.t("en", key, **fmt)


def zh(key: str, **fmt: Any) -> str:
    return i18n.t("zh", key, **fmt)


def text(response: Any) -> str:
    return unescape(response.text)


def token_of(response: Any) -> str:
    match = HIDDEN_TOKEN.search(response.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


def errors_of(response: Any) -> dict[str, str]:
    return {name: unescape(message) for name, message in FIELD_ERROR.findall(response.text)}


@pytest.fixture
def page(login: Callable[[str], TestClient]) -> Callable[[str], TestClient]:
    """A logged-in client that, like a browser, sends the CSRF token only in form fields."""

    def make(name: str) -> TestClient:
        client = login(name)
        del client.headers["X-CSRF-Token"]
        return client

    return make


def form_post(client: TestClient, url: str, data: dict[str, Any], *, token_from: str) -> Any:
    token = token_of(client.get(token_from))
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


def visit_form(date: str, items: list[int], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"visit_date": date}
    for index, score in enumerate(items, start=1):
        name = (
            "q5b"
            if index == 5 and extra.get("gastrostomy")
            else ("q5a" if index == 5 else f"q{index}")
        )
        data[name] = str(score)
    data.update({k: v for k, v in extra.items() if v is not None})
    return data


# -- anonymous pages ------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_login_and_register_render_in_both_languages(client: TestClient, lang: str) -> None:
    for url, key in (("/login", "auth.login_title"), ("/register", "auth.register_title")):
        response = client.get(f"{url}?lang={lang}")
        assert response.status_code == 200
        assert f'<html lang="{i18n.HTML_LANG[lang]}">' in response.text
        assert i18n.t(lang, key) in text(response)
        assert i18n.t(lang, "disclaimer") in text(response)
        assert token_of(response)


def test_pages_need_login(client: TestClient) -> None:
    for url in ("/patients", "/patients/new", "/patients/1", "/criteria", "/patients/1/print"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next=")
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_register_and_login_forms(client: TestClient) -> None:
    page = client.get("/register")
    bad = client.post(
        "/register",
        data={"csrf_token": token_of(page), "username": "carol", "password": "short"},
    )
    assert bad.status_code == 422
    assert "password" in errors_of(bad)
    assert 'value="carol"' in bad.text  # input kept
    good = client.post(
        "/register",
        data={"csrf_token": token_of(page), "username": "carol", "password": "a long password"},
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == "/patients"
    assert client.get("/patients").status_code == 200
    # log out, then a wrong password, then the right one
    out = client.post(
        "/logout", data={"csrf_token": token_of(client.get("/patients"))}, follow_redirects=False
    )
    assert out.status_code == 303
    assert client.get("/patients", follow_redirects=False).status_code == 303
    assert client.get("/register").status_code == 200
    taken = client.post(
        "/register",
        data={
            "csrf_token": token_of(client.get("/register")),
            "username": "carol",
            "password": "another password",
        },
    )
    assert taken.status_code == 409
    assert errors_of(taken)["username"] == en("auth.taken", name="carol")
    login = client.get("/login")
    wrong = client.post(
        "/login",
        data={"csrf_token": token_of(login), "username": "carol", "password": "not it at all"},
    )
    assert wrong.status_code == 401
    assert en("auth.bad_login") in text(wrong)
    right = client.post(
        "/login",
        data={
            "csrf_token": token_of(login),
            "username": "carol",
            "password": "a long password",
            "next": "/criteria",
        },
        follow_redirects=False,
    )
    assert right.status_code == 303 and right.headers["location"] == "/criteria"


def test_login_redirect_stays_on_this_site(client: TestClient) -> None:
    page = client.get("/register")
    client.post(
        "/register",
        data={"csrf_token": token_of(page), "username": "dave", "password": "a long password"},
    )
    client.cookies.delete("alsim_session")
    login = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": token_of(login),
            "username": "dave",
            "password": "a long password",
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/patients"


def test_csrf_is_enforced_on_forms(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    missing = alice.post("/patients/new", data={"label": "X"})
    assert missing.status_code == 403
    wrong = alice.post("/patients/new", data={"label": "X", "csrf_token": "x" * 40})
    assert wrong.status_code == 403
    anonymous = TestClient(alice.app)
    assert anonymous.post("/login", data={"username": "a", "password": "b"}).status_code == 403
    assert alice.get("/api/v1/patients").json() == []  # nothing was created


def test_language_switch_keeps_the_page(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    response = alice.get("/lang/zh", params={"next": "/criteria"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/criteria"
    assert "alsim_lang=zh" in response.headers["set-cookie"]
    shown = alice.get("/criteria")
    assert '<html lang="zh-Hans">' in shown.text
    assert zh("criteria.title") in text(shown)
    away = alice.get("/lang/en", params={"next": "https://evil.example/"}, follow_redirects=False)
    assert away.headers["location"] == "/"
    assert (
        alice.get("/lang/xx", params={"next": "/patients"}, follow_redirects=False).status_code
        == 303
    )


# -- patients -------------------------------------------------------------------------------------
def test_patient_form_validates_and_keeps_input(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    response = form_post(
        alice,
        "/patients/new",
        {"label": "", "birth_year": "19x0", "onset_date": "2999-01-01", "notes": "kept <b>"},
        token_from="/patients/new",
    )
    assert response.status_code == 422
    errors = errors_of(response)
    assert errors["label"] == en("form.required")
    assert errors["birth_year"] == en("form.integer")
    assert "future" in errors["onset_date"]
    assert 'value="19x0"' in response.text
    assert "kept &lt;b&gt;" in response.text  # escaped, kept
    order = form_post(
        alice,
        "/patients/new",
        {"label": "P", "onset_date": "2023-05-01", "diagnosis_date": "2023-01-01"},
        token_from="/patients/new",
    )
    assert order.status_code == 422
    assert "diagnosis_date" in errors_of(order)
    bad_choice = form_post(
        alice, "/patients/new", {"label": "P", "genotype": "XYZ"}, token_from="/patients/new"
    )
    assert bad_choice.status_code == 422
    assert errors_of(bad_choice)["genotype"] == en("form.choice")


def test_patient_create_edit_list(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    created = form_post(
        alice,
        "/patients/new",
        {
            "label": "ALS-7",
            "sex": "male",
            "birth_year": "1958",
            "onset_date": "2023-02-01",
            "diagnosis_date": "2023-08-01",
            "onset_region": "bulbar",
            "genotype": "C9orf72",
            "el_escorial": "definite",
            "ftd": "no",
        },
        token_from="/patients/new",
    )
    assert created.status_code == 303
    pid = int(re.search(r"/patients/(\d+)", created.headers["location"]).group(1))
    stored = alice.get(f"/api/v1/patients/{pid}").json()
    assert stored["genotype"] == "C9orf72" and stored["ftd"] is False
    assert stored["birth_year"] == 1958
    listing = alice.get("/patients")
    assert "ALS-7" in listing.text and en("choice.genotype.C9orf72") in text(listing)
    edit = alice.get(f"/patients/{pid}/edit")
    assert 'value="ALS-7"' in edit.text
    saved = alice.post(
        f"/patients/{pid}/edit",
        data={
            "csrf_token": token_of(edit),
            "version": str(stored["version"]),
            "label": "ALS-7b",
            "onset_date": "2023-02-01",
            "genotype": "C9orf72",
            "ftd": "yes",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert alice.get(f"/api/v1/patients/{pid}").json()["ftd"] is True
    stale = alice.post(
        f"/patients/{pid}/edit",
        data={"csrf_token": token_of(edit), "version": str(stored["version"]), "label": "old"},
    )
    assert stale.status_code == 409
    assert en("form.stale") in text(stale)
    assert alice.get(f"/api/v1/patients/{pid}").json()["label"] == "ALS-7b"


def test_other_users_patient_is_404_on_every_page(
    page: Callable[[str], TestClient], login: Callable[[str], TestClient]
) -> None:
    owner = login("alice")
    pid = create_patient(owner)["id"]
    vid = add_visit(owner, pid)["id"]
    bob = page("bob")
    for url in (
        f"/patients/{pid}",
        f"/patients/{pid}/edit",
        f"/patients/{pid}/print",
        f"/patients/{pid}/eligibility",
        f"/patients/{pid}/visits/{vid}/edit",
    ):
        assert bob.get(url).status_code == 404, url
    token = token_of(bob.get("/patients"))
    for url, data in (
        (f"/patients/{pid}/visits", visit_form("2024-03-01", SECOND_ITEMS)),
        (f"/patients/{pid}/edit", {"label": "stolen", "version": "1"}),
        (f"/patients/{pid}/delete", {}),
        (f"/patients/{pid}/visits/{vid}/delete", {}),
    ):
        assert bob.post(url, data={**data, "csrf_token": token}).status_code == 404, url
    assert "P-001" not in bob.get("/patients").text
    assert len(owner.get(f"/api/v1/patients/{pid}/visits").json()) == 1


# -- visits and the record ------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_visit_form_shows_every_answer_option(page: Callable[[str], TestClient], lang: str) -> None:
    alice = page("alice")
    pid = create_patient(alice, genotype="SOD1")["id"] if False else None
    client = alice
    client.headers["X-CSRF-Token"] = token_of(client.get("/patients"))
    pid = create_patient(client)["id"]
    del client.headers["X-CSRF-Token"]
    response = client.get(f"/patients/{pid}?lang={lang}")
    assert response.status_code == 200
    body = text(response)
    for item in (*(f"q{i}" for i in range(1, 13) if i != 5), "q5a", "q5b"):
        assert i18n.t(lang, f"alsfrs.{item}.title") in body
        for score in range(5):
            assert f'name="{item}" value="{score}"' in response.text, (item, score)
            assert i18n.t(lang, f"alsfrs.{item}.o{score}") in body, (item, score)


def test_visit_validation_errors_next_to_the_field(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    alice.headers["X-CSRF-Token"] = token_of(alice.get("/patients"))
    pid = create_patient(alice)["id"]  # onset 2023-01-15
    del alice.headers["X-CSRF-Token"]
    data = visit_form("2024-02-01", SECOND_ITEMS, fvc_percent="250", weight_kg="abc")
    del data["q3"]
    response = form_post(alice, f"/patients/{pid}/visits", data, token_from=f"/patients/{pid}")
    assert response.status_code == 422
    errors = errors_of(response)
    assert errors["q3"] == en("form.item_missing")
    assert errors["fvc_percent"] == en("form.max", limit=200)
    assert errors["weight_kg"] == en("form.number")
    assert 'value="abc"' in response.text
    assert 'name="q1" value="3" checked' in response.text  # chosen answers kept
    early = form_post(
        alice,
        f"/patients/{pid}/visits",
        visit_form("2022-12-01", SECOND_ITEMS),
        token_from=f"/patients/{pid}",
    )
    assert early.status_code == 422
    assert "onset" in errors_of(early)["visit_date"]
    first = form_post(
        alice,
        f"/patients/{pid}/visits",
        visit_form("2024-02-01", SECOND_ITEMS),
        token_from=f"/patients/{pid}",
    )
    assert first.status_code == 303
    again = form_post(
        alice,
        f"/patients/{pid}/visits",
        visit_form("2024-02-01", SECOND_ITEMS),
        token_from=f"/patients/{pid}",
    )
    assert again.status_code == 409
    assert "2024-02-01" in errors_of(again)["visit_date"]
    assert len(alice.get(f"/api/v1/patients/{pid}/visits").json()) == 1


def _patient_with_visits(client: TestClient, **changes: Any) -> int:
    client.headers["X-CSRF-Token"] = token_of(client.get("/patients"))
    pid = create_patient(client, **changes)["id"]
    add_visit(client, pid, date="2023-09-01")
    add_visit(client, pid, date="2024-03-01", items=SECOND_ITEMS, fvc_percent=72.0)
    del client.headers["X-CSRF-Token"]
    return pid


def test_record_shows_scores_stages_prognosis(page: Callable[[str], TestClient]) -> None:
    from alsim.web.records import patient_summary  # noqa: F401 - needs the clinical service

    alice = page("alice")
    pid = _patient_with_visits(alice)
    response = alice.get(f"/patients/{pid}")
    assert response.status_code == 200
    body = text(response)
    latest = re.search(r'id="latest-total">\s*(\d+)<', response.text)
    assert latest and int(latest.group(1)) == sum(SECOND_ITEMS)
    for key in (
        "record.kings",
        "record.mitos",
        "record.delta_fs",
        "prognosis.title",
        "prognosis.uncertainty_1",
        "record.d50",
    ):
        assert en(key) in body, key
    assert en("genotype.SOD1.tofersen") in body  # PATIENT is SOD1
    assert en("disclaimer") in body
    assert response.text.count("<svg") >= 3  # total, domains, FVC (+ survival) charts
    assert "http://" not in response.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    zh_page = alice.get(f"/patients/{pid}?lang=zh")
    assert zh("prognosis.uncertainty_1") in text(zh_page)
    assert zh("genotype.SOD1.tofersen") in text(zh_page)


def test_visit_edit_and_delete(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    pid = _patient_with_visits(alice)
    visits = alice.get(f"/api/v1/patients/{pid}/visits").json()
    vid = visits[0]["id"]
    edit = alice.get(f"/patients/{pid}/visits/{vid}/edit")
    assert edit.status_code == 200
    assert 'name="q1" value="4" checked' in edit.text
    data = visit_form(
        "2023-09-02", SECOND_ITEMS, gastrostomy="on", version=str(visits[0]["version"])
    )
    saved = alice.post(
        f"/patients/{pid}/visits/{vid}/edit",
        data={**data, "csrf_token": token_of(edit)},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    stored = alice.get(f"/api/v1/patients/{pid}/visits/{vid}").json()
    assert stored["visit_date"] == "2023-09-02" and stored["gastrostomy"] is True
    stale = alice.post(
        f"/patients/{pid}/visits/{vid}/edit", data={**data, "csrf_token": token_of(edit)}
    )
    assert stale.status_code == 409
    deleted = alice.post(
        f"/patients/{pid}/visits/{vid}/delete",
        data={"csrf_token": token_of(edit)},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert len(alice.get(f"/api/v1/patients/{pid}/visits").json()) == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_renders_in_both_languages(page: Callable[[str], TestClient], lang: str) -> None:
    alice = page("alice")
    pid = _patient_with_visits(alice)
    vid = alice.get(f"/api/v1/patients/{pid}/visits").json()[0]["id"]
    alice.cookies.set("alsim_lang", lang)
    pages = {
        "/patients": "patients.title",
        "/patients/new": "patients.new_title",
        f"/patients/{pid}": "record.summary",
        f"/patients/{pid}/edit": "patients.label",
        f"/patients/{pid}/visits/{vid}/edit": "visit.save",
        f"/patients/{pid}/print": "record.print_button",
        f"/patients/{pid}/eligibility": "eligibility.choose_set",
        "/criteria": "criteria.title",
        "/criteria/new": "criteria.spec",
        "/research": "research.title",
        "/research/experiments": "research.gallery_title",
    }
    for url, key in pages.items():
        response = alice.get(url)
        assert response.status_code == 200, url
        assert f'<html lang="{i18n.HTML_LANG[lang]}">' in response.text, url
        assert i18n.t(lang, key) in text(response), url
        assert i18n.t(lang, "disclaimer") in text(response), url


# -- print, eligibility, criteria sets, import ----------------------------------------------------
def test_print_page_has_results_and_print_css(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    pid = _patient_with_visits(alice)
    response = alice.get(f"/patients/{pid}/print")
    assert response.status_code == 200
    assert "P-001" in response.text and 'id="visits-table"' in response.text
    assert 'id="visit-form"' not in response.text
    css = alice.get("/static/style.css")
    assert css.status_code == 200 and "@media print" in css.text and "max-width: 600px" in css.text


def test_eligibility_checker(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    pid = _patient_with_visits(alice)
    sets = alice.get("/api/v1/criteria-sets").json()
    assert len(sets) >= 3  # the built-in examples
    for row in sets:
        response = alice.get(f"/patients/{pid}/eligibility", params={"set": row["id"]})
        assert response.status_code == 200
        body = text(response)
        assert row["name"] in body
        assert any(
            en(f"eligibility.overall.{o}") in body
            for o in ("eligible", "not_eligible", "undetermined")
        )
        assert body.count('class="badge status ') == len(row["spec"]["criteria"])
        assert en("disclaimer") in body


def test_criteria_set_editor_validates(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    builtin = alice.get("/api/v1/criteria-sets").json()[0]
    copy = alice.get("/criteria/new", params={"copy": builtin["id"]})
    assert copy.status_code == 200 and "criteria:" in text(copy)
    token = token_of(copy)
    broken = alice.post(
        "/criteria/new", data={"csrf_token": token, "name": "Mine", "spec": "a: [1"}
    )
    assert broken.status_code == 422
    assert "YAML" in errors_of(broken)["spec"]
    assert "a: [1" in text(broken)
    wrong = alice.post(
        "/criteria/new",
        data={
            "csrf_token": token,
            "name": "Mine",
            "spec": "name: x\ncriteria:\n  - id: a\n    op: '~'\n",
        },
    )
    assert wrong.status_code == 422
    assert errors_of(wrong)["spec"]
    nameless = alice.post("/criteria/new", data={"csrf_token": token, "name": " ", "spec": "x: 1"})
    assert nameless.status_code == 422 and errors_of(nameless)["name"] == en("form.required")
    spec_text = re.search(r'<textarea id="spec"[^>]*>(.*?)</textarea>', copy.text, re.S).group(1)
    saved = alice.post(
        "/criteria/new",
        data={"csrf_token": token, "name": "Mine", "spec": unescape(spec_text)},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    own = [r for r in alice.get("/api/v1/criteria-sets").json() if not r["builtin"]]
    assert [r["name"] for r in own] == ["Mine"]
    assert alice.get(f"/criteria/{builtin['id']}/edit").status_code == 403
    edit = alice.get(f"/criteria/{own[0]['id']}/edit")
    assert edit.status_code == 200
    bob = page("bob")
    assert bob.get(f"/criteria/{own[0]['id']}/edit").status_code == 404


def test_import_form(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    pid = _patient_with_visits(alice)
    exported = alice.get(f"/api/v1/patients/{pid}/export", params={"format": "csv"})
    assert exported.status_code == 200
    token = token_of(alice.get("/patients"))
    bob = page("bob")
    bob_token = token_of(bob.get("/patients"))
    response = bob.post(
        "/import",
        data={"csrf_token": bob_token, "format": "csv"},
        files={"file": ("p.csv", exported.content, "text/csv")},
    )
    assert response.status_code == 200
    assert en("patients.imported", patients=1, visits=2) in text(response)
    assert len(bob.get("/api/v1/patients").json()) == 1
    garbage = alice.post(
        "/import",
        data={"csrf_token": token, "format": "csv"},
        files={"file": ("p.csv", b"not,a,valid\nfile", "text/csv")},
    )
    assert garbage.status_code == 422
    assert errors_of(garbage)["file"]
    nofile = alice.post("/import", data={"csrf_token": token, "format": "csv"})
    assert nofile.status_code == 422
    assert errors_of(nofile)["file"] == en("patients.import_missing_file")
    assert len(alice.get("/api/v1/patients").json()) == 1


def test_patient_text_is_escaped(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    alice.headers["X-CSRF-Token"] = token_of(alice.get("/patients"))
    evil = "<script>alert(1)</script>"
    pid = create_patient(alice, label=evil, notes="<img src=x>")["id"]
    add_visit(alice, pid)
    add_visit(alice, pid, date="2024-06-10")
    spec = alice.get("/api/v1/criteria-sets").json()[0]["spec"]
    spec["criteria"][0]["label"] = evil
    cid = alice.post("/api/v1/criteria-sets", json={"name": evil, "spec": spec}).json()["id"]
    alice.post("/api/v1/teams", json={"name": evil})
    del alice.headers["X-CSRF-Token"]
    for url in (
        "/patients",
        f"/patients/{pid}",
        f"/patients/{pid}/edit",
        f"/patients/{pid}/print",
        f"/patients/{pid}/eligibility?set={cid}",
        "/criteria",
        f"/criteria/{cid}/edit",
        "/teams",
        f"/patients?done=patient_created&name={evil}",
    ):
        response = alice.get(url)
        assert response.status_code == 200, url
        assert "<script>alert(1)</script>" not in response.text
        assert "&lt;script&gt;" in response.text


def test_patient_fixture_is_sod1() -> None:
    assert PATIENT["genotype"] == "SOD1"


def test_criteria_editor_refuses_yaml_aliases(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    token = token_of(alice.get("/criteria/new"))
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    response = alice.post("/criteria/new", data={"csrf_token": token, "name": "B", "spec": bomb})
    assert response.status_code == 422
    assert "aliases" in errors_of(response)["spec"]


def test_language_switch_refuses_disguised_external_targets(client: TestClient) -> None:
    for target in ("/\t/evil.example", "/\\evil.example", "//evil.example", "http://evil"):
        response = client.get("/lang/zh", params={"next": target}, follow_redirects=False)
        assert response.headers["location"] == "/", target


ODD_VALUES = [
    "",
    " ",
    "nan",
    "inf",
    "-1",
    "1e309",
    "99999999999999999999999",
    "x" * 6000,
    "２０２４-01-01",
    "<script>",
    "0x10",
    "4.5",
    "\x00",
    "null",
]


def test_odd_form_values_never_cause_a_server_error(page: Callable[[str], TestClient]) -> None:
    alice = page("alice")
    pid = _patient_with_visits(alice)
    vid = alice.get(f"/api/v1/patients/{pid}/visits").json()[0]["id"]
    token = token_of(alice.get("/patients"))
    fields = {
        "/patients/new": ["label", "birth_year", "onset_date", "sex", "ftd", "team_id", "notes"],
        f"/patients/{pid}/edit": ["version", "label", "diagnosis_date", "genotype"],
        f"/patients/{pid}/visits": [
            "visit_date",
            "q1",
            "q5a",
            "fvc_percent",
            "nfl_pg_ml",
            "nfl_matrix",
            "gastrostomy",
        ],
        f"/patients/{pid}/visits/{vid}/edit": ["version", "visit_date", "q12", "weight_kg"],
        "/criteria/new": ["name", "spec"],
        "/import": ["format", "time_zero"],
    }
    base = {
        "label": "L",
        "version": "1",
        "name": "N",
        "spec": "name: x",
        "visit_date": "2024-05-01",
        **{f"q{i}": "2" for i in range(1, 13) if i != 5},
        "q5a": "2",
    }
    for url, names in fields.items():
        for name in names:
            for value in ODD_VALUES:
                data = {**base, name: value, "csrf_token": token}
                response = alice.post(url, data=data, follow_redirects=False)
                assert response.status_code < 500, (url, name, value[:20])
    for url in (
        f"/patients/{pid}/eligibility?set=-1",
        f"/patients/{pid}/eligibility?set=x",
        "/criteria/new?copy=99999999999999999999",
        "/patients/0",
        "/patients/abc",
    ):
        assert alice.get(url).status_code < 500, url


def test_teams_page_shares_patients(page: Callable[[str], TestClient]) -> None:
    alice, bob = page("alice"), page("bob")
    token = token_of(alice.get("/teams"))
    made = alice.post(
        "/teams", data={"csrf_token": token, "name": "ALS clinic"}, follow_redirects=False
    )
    assert made.status_code == 303
    team_id = alice.get("/api/v1/teams").json()[0]["id"]
    again = alice.post("/teams", data={"csrf_token": token, "name": "ALS clinic"})
    assert again.status_code == 409 and "exists" in errors_of(again)["name"]
    blank = alice.post("/teams", data={"csrf_token": token, "name": "  "})
    assert blank.status_code == 422 and errors_of(blank)["name"] == en("form.required")
    nobody = alice.post(f"/teams/{team_id}/members", data={"csrf_token": token, "username": "zed"})
    assert nobody.status_code == 404 and "zed" in errors_of(nobody)[f"member-{team_id}"]
    added = alice.post(
        f"/teams/{team_id}/members",
        data={"csrf_token": token, "username": "bob"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert "bob" in alice.get("/teams").text
    assert "ALS clinic" in bob.get("/teams").text
    # a patient shared with the team appears on bob's list and record pages
    created = form_post(
        alice,
        "/patients/new",
        {"label": "SHARED-1", "team_id": str(team_id)},
        token_from="/patients/new",
    )
    pid = int(re.search(r"/patients/(\d+)", created.headers["location"]).group(1))
    assert "SHARED-1" in bob.get("/patients").text
    assert bob.get(f"/patients/{pid}").status_code == 200
    carol = page("carol")
    outsider = carol.post(
        f"/teams/{team_id}/members",
        data={"csrf_token": token_of(carol.get("/teams")), "username": "carol"},
    )
    assert outsider.status_code == 404


def test_patient_data_is_never_cached(page: Callable[[str], TestClient]) -> None:
    """Pages and API answers with health data say no-store (Back after logout shows nothing)."""
    alice = page("alice")
    alice.headers["X-CSRF-Token"] = token_of(alice.get("/patients"))
    pid = create_patient(alice)["id"]
    for url in (f"/patients/{pid}", f"/patients/{pid}/print", f"/api/v1/patients/{pid}/summary"):
        assert alice.get(url).headers["cache-control"] == "no-store", url
    assert "no-store" not in alice.get("/static/style.css").headers.get("cache-control", "")


def test_logout_after_the_session_expired_goes_to_login(
    page: Callable[[str], TestClient], app: Any
) -> None:
    """Clicking "log out" on a page whose session has expired is not a CSRF error page."""
    import datetime as dt

    from sqlalchemy import update

    from alsim.web.models import AuthSession

    alice = page("alice")
    token = token_of(alice.get("/patients"))
    with app.state.sessions() as db:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        db.execute(update(AuthSession).values(expires_at=past))
        db.commit()
    out = alice.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert "alsim_session=" in out.headers["set-cookie"]
