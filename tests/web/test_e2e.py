"""End-to-end in real headless Chromium (Debian's, driven by Playwright) against a real server.

Register, create a patient, enter visits, see the total, the stages and the prognosis change,
switch to Chinese, and run a small research scenario to its results table.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import LiveServer

from alsim.web import i18n

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None,
    reason=f"end-to-end tests need Debian's Chromium at {CHROMIUM} (CI installs it)",
)

#: Three visits of a worsening patient (ALSFRS-R order; item 5 is 5a); the first without FVC,
#: so the ENCALS prognosis (which needs FVC) appears only with the second visit.
VISITS = [
    ("2023-08-20", [4, 4, 4, 4, 3, 4, 4, 3, 3, 4, 4, 4], ""),
    ("2023-09-01", [4, 4, 4, 3, 3, 4, 4, 3, 3, 4, 4, 4], "92"),
    ("2024-09-01", [2, 2, 1, 2, 1, 2, 2, 1, 0, 2, 2, 3], "61"),
]


@pytest.fixture
def browser_page(live_server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: errors.append(msg.text) if msg.type == "error" else None,
        )
        page.base_url = live_server.url  # type: ignore[attr-defined]
        yield page
        context.close()
        browser.close()
        assert errors == [], f"browser errors: {errors}"


def add_visit(page: Any, date: str, items: list[int], fvc: str) -> None:
    page.fill("#visit_date", date)
    for index, score in enumerate(items, start=1):
        name = "q5a" if index == 5 else f"q{index}"
        page.check(f"input[name='{name}'][value='{score}']")
    assert page.inner_text("#live-total") == str(sum(items))  # the small script adds up
    if fvc:
        page.fill("#fvc_percent", fvc)
    page.click("#save-visit")
    page.wait_for_url("**/patients/*?done=visit_saved*")


def stage_and_prognosis(page: Any) -> tuple[str, str, str, str]:
    return (
        page.inner_text("#latest-total"),
        page.inner_text("#kings-stage"),
        page.inner_text("#mitos-stage"),
        page.inner_text("#prognosis"),
    )


def test_clinic_workflow_and_research(browser_page: Any) -> None:
    page = browser_page
    base = page.base_url
    page.goto(f"{base}/register")
    page.fill("#username", "dr_e2e")
    page.fill("#password", "a long enough password")
    page.click("#register-form button[type=submit]")
    page.wait_for_url(f"{base}/patients")

    page.click("#new-patient")
    page.fill("#label", "E2E-1")
    page.select_option("#sex", "female")
    page.fill("#birth_year", "1962")
    page.fill("#onset_date", "2023-01-15")
    page.fill("#diagnosis_date", "2023-08-01")
    page.select_option("#onset_region", "spinal")
    page.select_option("#genotype", "SOD1")
    page.select_option("#el_escorial", "probable")
    page.select_option("#ftd", "no")
    page.click("#save-patient")
    page.wait_for_url("**/patients/*?done=patient_created*")
    record_url = page.url.split("?")[0]
    assert "tofersen" in page.inner_text("#genotype")

    seen = []
    for date, items, fvc in VISITS:
        add_visit(page, date, items, fvc)
        seen.append(stage_and_prognosis(page))
        assert seen[-1][0] == str(sum(items))  # the ALSFRS-R total shown
    # without FVC there is no prognosis yet; the second visit brings one
    assert page.locator("#prognosis-median").count() == 1
    assert "FVC" in seen[0][3] and seen[1][3] != seen[0][3]
    # the third visit moves King's and MiToS stage on
    assert (seen[2][1], seen[2][2]) != (seen[1][1], seen[1][2])
    assert page.locator("#visits-table tbody tr").count() == 3
    assert page.locator("#chart-total svg").count() == 1

    page.click("#lang-zh")
    page.wait_for_url(f"{record_url}*")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert i18n.t("zh", "record.total") in page.inner_text("#summary-cards")
    assert i18n.t("zh", "prognosis.uncertainty_title") in page.inner_text("#uncertainty")
    page.click("#lang-en")
    page.wait_for_url(f"{record_url}*")

    run_small_scenario(page, base)


def run_small_scenario(page: Any, base: str) -> None:
    """Research: start the small example scenario with few trials and wait for its results."""
    page.goto(f"{base}/research")
    page.fill("#n_rep", "20")
    page.click("#run-example")
    page.wait_for_url(f"{base}/research/runs/*")
    deadline = time.monotonic() + 45
    while page.locator("#oc-table").count() == 0:
        status = page.get_attribute("#run-status", "data-status")
        assert status in ("queued", "running"), f"run ended as {status}"
        assert time.monotonic() < deadline, "the scenario run did not finish in 45 s"
        time.sleep(0.5)
        page.reload()
    assert page.get_attribute("#run-status", "data-status") == "done"
    assert page.locator("#oc-table tbody tr").count() >= 1
